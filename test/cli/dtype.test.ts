/**
 * `--dtype` on classify, embed and eval, through the real `ast-audio` process: q8 and fp16 give the answers fp32
 * gives (the file name is the word spoken; embed's logits within the bars of test/model/low-precision.test.ts of the
 * PyTorch reference, our features going in: +5e-4 as in embed.test.ts), and an unknown dtype is a usage error that
 * lists the valid ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseNpy } from '../../src/io/npy.js';
import { REPO_ROOT, fixturesDir, maxAbs, maxAbsDiff, readFixtureNpy } from '../helpers/fixtures.js';

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: REPO_ROOT });
const EXAMPLES = join(REPO_ROOT, 'models/speech-commands/examples');
const WORDS = ['yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go'];

test('classify --dtype q8 and fp16 name the spoken word of each embedded example', () => {
  for (const dtype of ['q8', 'fp16']) {
    const r = cli(['classify', EXAMPLES, '--dtype', dtype, '--json', '--top-k', '1', '--threads', '1']);
    assert.equal(r.status, 0, r.stderr);
    const rows = (JSON.parse(r.stdout) as { results: { file: string; labels: { label: string }[] }[] }).results;
    assert.equal(rows.length, WORDS.length);
    for (const row of rows) assert.equal(row.labels[0]!.label, basename(row.file, '.wav'), `${dtype} ${row.file}`);
  }
});

test('embed --dtype q8 / fp16: logits within the dtype bar of the reference', () => {
  const bars = { q8: 5e-2 + 5e-4, fp16: 5e-3 + 5e-4 };
  for (const [dtype, bar] of Object.entries(bars)) {
    const out = mkdtempSync(join(tmpdir(), 'embed-dtype-'));
    try {
      const audio = ['speech_16k.wav', 'chirp_16k.wav'].map((a) => join(fixturesDir, 'audio', a));
      const r = cli(['embed', '--model', join(fixturesDir, 'models/tiny'), ...audio, '--out', out, '--dtype', dtype, '--threads', '1']);
      assert.equal(r.status, 0, r.stderr);
      const ours = parseNpy(readFileSync(join(out, 'logits.npy')));
      const ref = readFixtureNpy('models/tiny/case-single_label/logits.npy');
      const rel = maxAbsDiff(ours.data as Float32Array, ref.data as Float32Array) / maxAbs(ref.data as Float32Array);
      assert.ok(rel <= bar, `${dtype}: ${rel} of the reference's max, bar ${bar}`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
});

test('eval --dtype q8 scores the embedded examples as fp32 does', () => {
  const data = mkdtempSync(join(tmpdir(), 'eval-dtype-'));
  try {
    for (const w of WORDS) {
      mkdirSync(join(data, w));
      copyFileSync(join(EXAMPLES, `${w}.wav`), join(data, w, `${w}.wav`));
    }
    const results = ['fp32', 'q8'].map((dtype) => {
      const r = cli(['eval', data, '--model', join(REPO_ROOT, 'models/speech-commands'), '--dtype', dtype, '--json', '--threads', '1']);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as { accuracy: number; loss: number; clips: number };
    });
    assert.equal(results[0]!.clips, 10);
    assert.equal(results[0]!.accuracy, 1); // the file names are the words (default-model.test.ts)
    assert.equal(results[1]!.accuracy, results[0]!.accuracy);
    // loss from q8 logits: within a few % of fp32's (logits move by <= ~2 % of their range)
    assert.ok(Math.abs(results[1]!.loss - results[0]!.loss) <= 0.05 * results[0]!.loss + 0.01, `loss q8 ${results[1]!.loss} vs fp32 ${results[0]!.loss}`);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('an unknown --dtype is a usage error listing the valid ones (classify, embed, eval, export)', () => {
  const wav = join(EXAMPLES, 'yes.wav');
  for (const args of [
    ['classify', wav, '--dtype', 'int4'],
    ['embed', '--model', join(fixturesDir, 'models/tiny'), wav, '--out', join(tmpdir(), 'never-written'), '--dtype', 'int4'],
    ['eval', EXAMPLES, '--model', join(fixturesDir, 'models/tiny'), '--dtype', 'int4'],
    ['export', join(fixturesDir, 'models/tiny'), '--out', join(tmpdir(), 'never-written'), '--dtype', 'int4'],
  ]) {
    const r = cli(args);
    assert.equal(r.status, 1, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /--dtype:? int4 is not supported: valid dtypes are fp32, fp16, q8/, args[0]);
  }
});
