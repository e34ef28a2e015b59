/**
 * The `ast-audio` process itself, as a user runs it (issue 16): every case spawns
 * `node --import tsx src/cli/main.ts`, because commander's parsing (which turned `--top-k all` into '')
 * and the process's stdin, stdout, stderr and exit code are part of what is tested.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../src/node/index.js';
import { pipeline } from '../../src/pipeline/audio-classification.js';
import { parseNpy } from '../../src/io/npy.js';
import { fixturesDir, REPO_ROOT } from '../helpers/fixtures.js';
import { pcm16Wav } from '../helpers/pcm16-wav.js';

const TINY = join(fixturesDir, 'models/tiny');
const EXAMPLES = join(REPO_ROOT, 'models/speech-commands/examples');
const YES = join(EXAMPLES, 'yes.wav');

function cli(args: string[], input?: Uint8Array): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    ...(input ? { input } : { stdio: ['ignore', 'pipe', 'pipe'] }),
  });
}

interface ClassifyJson {
  results: { file: string; labels: { label: string; score: number }[] }[];
}

describe('the real ast-audio process', { timeout: 600_000 }, () => {
  let dir: string;
  let long: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ast-cli-process-'));
    // 3 s: the yes clip three times (three 1 s windows of the embedded model).
    const yes = readFileSync(YES);
    const samples = new Int16Array(yes.buffer.slice(yes.byteOffset + 44, yes.byteOffset + yes.length));
    const clip = Float32Array.from(samples, (s) => s / 32768);
    const three = new Float32Array(3 * clip.length);
    for (let k = 0; k < 3; k++) three.set(clip, k * clip.length);
    long = join(dir, 'three-yes.wav');
    writeFileSync(long, pcm16Wav(three, 16000));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--top-k all prints every label (commander used to turn it into "")', async () => {
    const r = cli(['classify', join(fixturesDir, 'audio/chirp_16k.wav'), '-m', TINY, '--top-k', 'all', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as ClassifyJson;
    const reference = await pipeline('audio-classification', TINY);
    try {
      const expected = await reference(join(fixturesDir, 'audio/chirp_16k.wav'), { topK: null });
      assert.equal(expected.length, 5, 'the tiny fixture model has 5 labels');
      assert.deepEqual(doc.results[0]!.labels, expected);
    } finally {
      await reference.dispose();
    }
  });

  it('--version, -V and `version` print package.json\'s version', () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['--version'], ['-V'], ['version']]) {
      const r = cli(args);
      assert.equal(r.status, 0, `${args[0]}: ${r.stderr}`);
      assert.equal(r.stdout, `${version}\n`);
    }
  });

  it('- reads the audio from standard input (WAV and FLAC bytes), as does a piped /dev/stdin', () => {
    const byPath = cli(['classify', YES, '-k', '3', '--json']);
    assert.equal(byPath.status, 0, byPath.stderr);
    const expected = (JSON.parse(byPath.stdout) as ClassifyJson).results[0]!.labels;
    const piped = cli(['classify', '-', '-k', '3', '--json'], readFileSync(YES));
    assert.equal(piped.status, 0, piped.stderr);
    const doc = JSON.parse(piped.stdout) as ClassifyJson;
    assert.equal(doc.results[0]!.file, '-');
    assert.deepEqual(doc.results[0]!.labels, expected);
    // A shell pipe, as the issue found it ("empty file": a pipe's size is 0).
    const devStdin = spawnSync('/bin/sh', ['-c', `cat "${YES}" | "${process.execPath}" --import tsx src/cli/main.ts classify /dev/stdin -k 3 --json`], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(devStdin.status, 0, devStdin.stderr);
    assert.deepEqual((JSON.parse(devStdin.stdout) as ClassifyJson).results[0]!.labels, expected);

    // FLAC on stdin: the format is found from the bytes, as for a file.
    const flac = join(REPO_ROOT, 'test/data/audio/tone_stereo_16k.flac');
    const flacPath = cli(['classify', flac, '-k', '2', '--json']);
    const flacPiped = cli(['classify', '-', '-k', '2', '--json'], readFileSync(flac));
    assert.equal(flacPiped.status, 0, flacPiped.stderr);
    assert.deepEqual((JSON.parse(flacPiped.stdout) as ClassifyJson).results[0]!.labels, (JSON.parse(flacPath.stdout) as ClassifyJson).results[0]!.labels);

    // features and embed read - too.
    const npy = join(dir, 'stdin.npy');
    const f = cli(['features', '-', '--out', npy, '-m', join(REPO_ROOT, 'models/speech-commands')], readFileSync(YES));
    assert.equal(f.status, 0, f.stderr);
    assert.deepEqual(parseNpy(readFileSync(npy)).shape, [100, 64]);
    const empty = cli(['classify', '-'], new Uint8Array(0));
    assert.equal(empty.status, 2);
    assert.match(empty.stderr, /-: standard input is empty/);
  });

  it('a bad option value is one line naming the option and the value, plus "see --help"', () => {
    const cases: [string[], RegExp][] = [
      [['classify', YES, '-k', '0'], /^ast-audio classify: option '-k, --top-k <n\|all>' argument '0' is invalid\. .* \(see ast-audio classify --help\)\n$/],
      [['classify', YES, '--hop', '0'], /^ast-audio classify: option '--hop <seconds>' argument '0' is invalid\. .* \(see ast-audio classify --help\)\n$/],
      [['classify', YES, '--aggregate', 'median'], /^ast-audio classify: option '--aggregate <how>' argument 'median' is invalid\. .* \(see ast-audio classify --help\)\n$/],
      [['eval', 'data', '--batch-size', 'x'], /^ast-audio eval: option '-b, --batch-size <n>' argument 'x' is invalid\. .* \(see ast-audio eval --help\)\n$/],
      [['classify', YES, '--bogus'], /^ast-audio classify: unknown option '--bogus' \(see ast-audio classify --help\)\n$/],
      [['frobnicate'], /^ast-audio: unknown command 'frobnicate' \(see ast-audio --help\)\n$/],
    ];
    for (const [args, expected] of cases) {
      const r = cli(args);
      assert.equal(r.status, 1, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, expected);
      assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
    }
  });

  it('-m/--model on every command; embed and eval default to the embedded model', () => {
    for (const command of ['classify', 'embed', 'eval', 'train', 'features', 'norm-stats']) {
      const help = cli([command, '--help']);
      assert.equal(help.status, 0);
      assert.match(help.stdout, /-m, --model <id\|dir>/, command);
    }
    const out = join(dir, 'emb');
    const embed = cli(['embed', YES, '--out', out]);
    assert.equal(embed.status, 0, embed.stderr);
    assert.deepEqual(parseNpy(readFileSync(join(out, 'logits.npy'))).shape, [1, 12]);
    assert.match(embed.stdout, /labels\.json: 1 file, 12 labels\n/);

    // eval with no --model: the embedded speech-commands model on its own examples, one folder per label.
    const data = join(dir, 'labelled');
    for (const word of ['yes', 'no', 'up']) {
      mkdirSync(join(data, word), { recursive: true });
      copyFileSync(join(EXAMPLES, `${word}.wav`), join(data, word, `${word}.wav`));
    }
    const ev = cli(['eval', data, '--json']);
    assert.equal(ev.status, 0, ev.stderr);
    const result = JSON.parse(ev.stdout) as { clips: number; accuracy: number };
    assert.equal(result.clips, 3);
    assert.equal(result.accuracy, 1, 'the embedded model labels its own examples right (README)');
    const text = cli(['eval', data, '-m', join(REPO_ROOT, 'models/speech-commands')]);
    assert.match(text.stdout, /^3 clips: /);
  });

  it('embed and features say when they cut a file to its first window', () => {
    const e = cli(['embed', long, '--out', join(dir, 'emb-long')]);
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stderr, /three-yes\.wav: 3\.00 s \(298 frames\) is longer than the model's 100 frames: only the first 1\.00 s are used/);
    const f = cli(['features', long, '--out', join(dir, 'long.npy'), '-m', join(REPO_ROOT, 'models/speech-commands')]);
    assert.equal(f.status, 0, f.stderr);
    assert.match(f.stderr, /only the first 1\.00 s are used .*--no-pad keeps every frame/);
    const free = cli(['features', long, '--out', join(dir, 'long.npy'), '-m', join(REPO_ROOT, 'models/speech-commands'), '--no-pad']);
    assert.doesNotMatch(free.stderr, /longer than/);
  });

  it('progress in seconds of audio with an ETA for one long file, on stderr, only with --progress off a terminal', () => {
    const shown = cli(['classify', long, '--progress', '--csv']);
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stderr, /classify \[[^\]]*\] 1\/1 file \| 3\.0\/3\.0 s audio \| 100% \| ETA 0s/);
    assert.doesNotMatch(shown.stdout, /ETA/);
    const hidden = cli(['classify', long, '--csv']);
    assert.doesNotMatch(hidden.stderr, /ETA|s audio/);
  });

  it('plurals: one input, one failure', () => {
    const r = cli(['classify', join(dir, 'missing.wav')]);
    assert.equal(r.status, 1);
    const broken = join(dir, 'broken.wav');
    writeFileSync(broken, 'RIFF not really');
    const b = cli(['classify', broken]);
    assert.equal(b.status, 2);
    assert.match(b.stderr, /1 of 1 input failed/);
    assert.match(b.stderr, /# model models\/speech-commands: 12 labels;/);
  });
});
