/**
 * The synthetic spoken-command generator (scripts/make-speech-commands.ts): clip format,
 * manifests, the split by voice, and seeded determinism. Needs espeak-ng and sox (Debian
 * packages); skipped without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const haveTools = ['espeak-ng', 'sox'].every((t) => !spawnSync(t, ['--version']).error);

function generate(out: string, seed: number): void {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'scripts/make-speech-commands.ts', '--out', out, '--seed', String(seed), '--train', '1', '--validation', '1', '--test', '1'],
    { cwd: root, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `generator failed: ${r.stderr}`);
}

/** Reads a canonical 44-byte-header PCM WAV by hand (independent of the generator's writer). */
function readWav(file: string): { rate: number; channels: number; bits: number; samples: Int16Array } {
  const b = fs.readFileSync(file);
  assert.equal(b.toString('ascii', 0, 4), 'RIFF', file);
  assert.equal(b.toString('ascii', 8, 12), 'WAVE', file);
  assert.equal(b.readUInt16LE(20), 1, `${file}: PCM`);
  const dataBytes = b.readUInt32LE(40);
  assert.equal(b.length, 44 + dataBytes, `${file}: data chunk size`);
  return {
    channels: b.readUInt16LE(22),
    rate: b.readUInt32LE(24),
    bits: b.readUInt16LE(34),
    samples: new Int16Array(b.buffer.slice(b.byteOffset + 44, b.byteOffset + 44 + dataBytes)),
  };
}

function csvRows(file: string): Record<string, string>[] {
  const [head, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n');
  const cols = head!.split(',');
  // The voice/word/label columns hold no commas; the last column (sox effects) may be quoted.
  return lines.map((l) => Object.fromEntries(l.split(',').slice(0, 4).map((v, i) => [cols[i]!, v])));
}

const rms = (x: Int16Array): number => Math.sqrt(x.reduce((s, v) => s + (v / 32768) ** 2, 0) / x.length);

test('make-speech-commands: 1 s 16 kHz mono 16-bit clips, manifests, voices split, seeded', { skip: !haveTools && 'espeak-ng or sox not installed' }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'speech-commands-'));
  try {
    const a = path.join(tmp, 'a');
    generate(a, 7);
    const recipe = JSON.parse(fs.readFileSync(path.join(a, 'recipe.json'), 'utf8')) as {
      labels: string[];
      variants: Record<string, string[]>;
    };
    assert.equal(recipe.labels.length, 12);
    const voicesBySplit: Record<string, Set<string>> = {};
    for (const split of ['train', 'validation', 'test']) {
      const rows = csvRows(path.join(a, `${split}.csv`));
      // 1 clip a class, 2 of _unknown_ in train
      assert.equal(rows.length, split === 'train' ? 13 : 12, `${split}.csv rows`);
      voicesBySplit[split] = new Set();
      for (const r of rows) {
        assert.ok(recipe.labels.includes(r.label!), `label ${r.label}`);
        assert.equal(path.basename(path.dirname(r.path!)), r.label, `${r.path} lies in its class folder`);
        const wav = readWav(path.join(a, r.path!));
        assert.deepEqual([wav.rate, wav.channels, wav.bits, wav.samples.length], [16000, 1, 16, 16000], r.path);
        // every clip carries at least the -90 dBFS noise floor; a spoken word is far above it
        const level = 20 * Math.log10(rms(wav.samples));
        if (r.label === '_silence_') assert.ok(level > -95 && level < -15, `${r.path}: noise at ${level.toFixed(1)} dBFS`);
        else assert.ok(level > -60, `${r.path}: speech at ${level.toFixed(1)} dBFS`);
        if (r.voice) {
          const variant = r.voice.split('+')[1]!;
          assert.ok(recipe.variants[split]!.includes(variant), `${r.path}: voice ${r.voice} belongs to ${split}`);
          voicesBySplit[split]!.add(variant);
        }
      }
    }
    for (const v of voicesBySplit.test!) assert.ok(!voicesBySplit.train!.has(v) && !voicesBySplit.validation!.has(v), `test voice ${v} also elsewhere`);
    for (const v of voicesBySplit.validation!) assert.ok(!voicesBySplit.train!.has(v), `validation voice ${v} also in train`);

    // Same seed -> same bytes; another seed -> other clips.
    const b = path.join(tmp, 'b');
    generate(b, 7);
    const c = path.join(tmp, 'c');
    generate(c, 8);
    const clip = 'test/yes/yes-0000.wav';
    assert.ok(fs.readFileSync(path.join(a, clip)).equals(fs.readFileSync(path.join(b, clip))), 'same seed, same clip');
    assert.ok(!fs.readFileSync(path.join(a, clip)).equals(fs.readFileSync(path.join(c, clip))), 'other seed, other clip');
    assert.equal(fs.readFileSync(path.join(a, 'train.csv'), 'utf8'), fs.readFileSync(path.join(b, 'train.csv'), 'utf8'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
