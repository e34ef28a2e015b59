/**
 * `ast-audio features` and `ast-audio norm-stats`, and the norm-stats arithmetic
 * (get_norm_stats.py: mean over batches of batch mean and unbiased batch std).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesDir, readFixtureNpy, maxAbsDiff, REPO_ROOT } from '../helpers/fixtures.js';
import { parseNpy } from '../../src/io/npy.js';
import { NormStatsAccumulator } from '../../src/audio/norm-stats.js';
import { runFeatures } from '../../src/cli/features.js';
import { runNormStats } from '../../src/cli/norm-stats.js';
import { fbank, astFbankOptions } from '../../src/audio/fbank.js';
import { loadAudio } from '../../src/node/audio.js';

const audio = (name: string): string => join(fixturesDir, 'audio', name);
const quiet = { write: () => true } as unknown as NodeJS.WritableStream;

function withTmp(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ast-audio-cli-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('NormStatsAccumulator: mean of batch means and of batch unbiased stds', () => {
  const clips = [
    [1, 2, 3, 4],
    [-1, 0, 5, 2],
    [7, 7, 7, 8],
    [0.5, -3, 2, 2],
    [10, -10, 0, 1],
  ].map((c) => Float32Array.from(c));
  const batchStats = (vals: number[]): [number, number] => {
    const m = vals.reduce((a, b) => a + b, 0) / vals.length;
    const v = vals.reduce((a, b) => a + (b - m) ** 2, 0) / (vals.length - 1);
    return [m, Math.sqrt(v)];
  };
  const acc = new NormStatsAccumulator(2);
  clips.forEach((c) => acc.add(c));
  const r = acc.result();
  const batches = [[0, 1], [2, 3], [4]].map((ix) => batchStats(ix.flatMap((i) => [...clips[i]!])));
  assert.equal(r.batches, 3);
  assert.ok(Math.abs(r.mean - batches.reduce((a, b) => a + b[0], 0) / 3) < 1e-12);
  assert.ok(Math.abs(r.std - batches.reduce((a, b) => a + b[1], 0) / 3) < 1e-12);
  const one = new NormStatsAccumulator();
  clips.forEach((c) => one.add(c));
  const [pm, ps] = batchStats(clips.flatMap((c) => [...c]));
  assert.ok(Math.abs(one.result().mean - pm) < 1e-12 && Math.abs(one.result().std - ps) < 1e-12, 'one batch = pooled');
  assert.throws(() => one.add(new Float32Array(3), 'odd.wav'), /odd\.wav: 3 feature values, other clips have 4/);
});

test('norm-stats over a folder and over a manifest equals the stats of the padded fbanks', withTmp(async (dir) => {
  const names = ['speech_16k.wav', 'tone_16k.wav', 'speech_8k.wav'];
  for (const n of names) copyFileSync(audio(n), join(dir, n));
  writeFileSync(join(dir, 'notes.txt'), 'not audio');
  const fromDir = await runNormStats(dir, {});
  assert.equal(fromDir.clips, 3);
  // Independent arithmetic: pooled two-pass mean and unbiased std of [3, 1024, 128] padded fbanks.
  const all: number[] = [];
  for (const n of [...names].sort()) {
    const fb = fbank(await loadAudio(audio(n), { samplingRate: 16000 }), astFbankOptions(16000, 128));
    const padded = new Float32Array(1024 * 128);
    padded.set(fb.data.subarray(0, padded.length));
    for (const v of padded) all.push(v);
  }
  const m = all.reduce((a, b) => a + b, 0) / all.length;
  const s = Math.sqrt(all.reduce((a, b) => a + (b - m) ** 2, 0) / (all.length - 1));
  assert.ok(Math.abs(fromDir.mean - m) < 1e-9 && Math.abs(fromDir.std - s) < 1e-9, `${fromDir.mean} ${fromDir.std} vs ${m} ${s}`);

  writeFileSync(join(dir, 'train.json'), JSON.stringify({ data: names.map((n) => ({ wav: n, labels: '/m/0' })) }));
  const fromManifest = await runNormStats(join(dir, 'train.json'), {});
  assert.equal(fromManifest.mean, fromDir.mean);
  writeFileSync(join(dir, 'train.csv'), `path,label\n${names.join(',x\n')},x\n`);
  assert.equal((await runNormStats(join(dir, 'train.csv'), {})).std, fromDir.std);

  copyFileSync(audio('tiny_16k.wav'), join(dir, 'tiny.wav'));
  await assert.rejects(runNormStats(dir, {}), /tiny\.wav: audio too short/);
  const skipped: string[] = [];
  const r = await runNormStats(dir, { skipBad: true }, undefined, (msg) => skipped.push(msg));
  assert.equal(r.skipped, 1);
  assert.equal(r.mean, fromDir.mean);
  assert.match(skipped[0]!, /tiny\.wav/);
}));

test('features writes float32 [max_length, bins] equal to the fixture; --no-pad keeps the frame count', withTmp(async (dir) => {
  const out = join(dir, 'f.npy');
  await runFeatures(audio('stereo_44k.wav'), { preprocessor: join(fixturesDir, 'features/short64.preprocessor_config.json'), out, pad: true }, quiet);
  const got = parseNpy(new Uint8Array(readFileSync(out)));
  const ref = readFixtureNpy('features/short64.stereo_44k.npy');
  assert.equal(got.descr, '<f4');
  assert.deepEqual(got.shape, [200, 64]);
  assert.ok(maxAbsDiff(got.data as Float32Array, ref.data as Float32Array) <= 1e-3); // as fixtures.test.ts
  await runFeatures(audio('speech_16k.wav'), { out, pad: false }, quiet);
  const free = parseNpy(new Uint8Array(readFileSync(out)));
  const samples = (await loadAudio(audio('speech_16k.wav'))).length;
  assert.deepEqual(free.shape, [1 + Math.floor((samples - 400) / 160), 128]);
  assert.deepEqual(readdirSync(dir), ['f.npy'], 'no temporary files left');
}));

test('the CLI exits non-zero with the file and the problem, and writes nothing', withTmp(async (dir) => {
  const out = join(dir, 'x.npy');
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
  const r = run('features', audio('tiny_16k.wav'), '--out', out);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /tiny_16k\.wav: audio too short.*choose a window size 400 that is \[2, 320\]/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(dir), []);
  const ok = run('norm-stats', join(fixturesDir, 'audio'), '--skip-bad', '--json');
  assert.equal(ok.status, 0, ok.stderr);
  const stats = JSON.parse(ok.stdout) as { mean: number; std: number; clips: number; skipped: number };
  assert.equal(stats.clips, 8);
  assert.equal(stats.skipped, 1);
  // torchaudio on the same 8 files (resampled to 16 kHz, padded to 1024): mean -1.800596, std 4.2786598
  assert.ok(Math.abs(stats.mean - -1.800596) < 1e-4 && Math.abs(stats.std - 4.2786598) < 1e-4, `${stats.mean} ${stats.std}`);
}));
