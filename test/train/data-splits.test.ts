/**
 * Training that cannot quietly use the test set, through the real `ast-audio` process: Hugging Face's
 * audiofolder split layout (train/, validation/, test/), split-named folders among class folders,
 * `--save-total-limit` (checked against a port of HF Trainer's rotation), SpecAugment widths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitOfFolderName } from '../../src/node/data-splits.js';
import { epochsToKeep } from '../../src/train/retention.js';
import { makeToneDataset, TINY_CONFIG } from './helpers.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function withTemp(fn: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ast-splits-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const epochDirs = (out: string) =>
  readdirSync(out)
    .map((n) => /^checkpoint-epoch-(\d+)$/.exec(n))
    .filter((m) => m !== null)
    .map((m) => Number(m![1]))
    .sort((a, b) => a - b);

/**
 * HF Trainer's `_sorted_checkpoints` + `_rotate_checkpoints` (transformers trainer.py), ported line by
 * line: the best checkpoint is bubbled to the second-newest place, a limit of 1 becomes 2 when the best
 * is not the newest, and the oldest beyond the limit are deleted.
 */
function hfKept(saved: number[], limit: number, best: number | undefined): number[] {
  const sorted = [...saved].sort((a, b) => a - b);
  if (best !== undefined && sorted.includes(best)) {
    for (let i = sorted.indexOf(best); i < sorted.length - 2; i++) [sorted[i], sorted[i + 1]] = [sorted[i + 1]!, sorted[i]!];
  }
  if (limit <= 0 || sorted.length <= limit) return [...saved].sort((a, b) => a - b);
  let total = limit;
  if (best !== undefined && total === 1 && sorted[sorted.length - 1] !== best) total = 2;
  const toDelete = Math.max(0, sorted.length - total);
  return sorted.slice(toDelete).sort((a, b) => a - b);
}

test('split folder names are those of the datasets library (SPLIT_KEYWORDS, with a delimiter after)', () => {
  const expected: [string, string | undefined][] = [
    ['train', 'train'], ['training', 'train'], ['Train', 'train'], ['train-0', 'train'], ['train_clean', 'train'],
    ['validation', 'validation'], ['valid', 'validation'], ['dev', 'validation'], ['val', 'validation'], ['val.2', 'validation'],
    ['test', 'test'], ['testing', 'test'], ['eval', 'test'], ['evaluation', 'test'], ['test 1', 'test'],
    ['trainer', undefined], ['devices', undefined], ['value', undefined], ['contest', undefined], ['yes', undefined], ['_silence_', undefined],
  ];
  for (const [name, split] of expected) assert.equal(splitOfFolderName(name), split, name);
});

test('epochsToKeep keeps what HF Trainer keeps, for every limit and best epoch', () => {
  for (let n = 1; n <= 6; n++) {
    const saved = Array.from({ length: n }, (_, i) => i + 1);
    for (let limit = 0; limit <= 7; limit++) {
      for (const best of [undefined, ...saved]) {
        const got = [...epochsToKeep(saved, { limit, best })].sort((a, b) => a - b);
        assert.deepEqual(got, hfKept(saved, limit, best), `${n} saved, limit ${limit}, best ${best}`);
      }
    }
  }
  // --average-last 3 keeps the newest three whatever the limit
  assert.deepEqual([...epochsToKeep([1, 2, 3, 4, 5], { limit: 1, best: 1, keepNewest: 3 })].sort(), [1, 3, 4, 5]);
});

test('the split layout: train/ trains, validation/ validates, test/ is never read; eval scores test/', { timeout: 120_000 }, withTemp((dir) => {
  const data = join(dir, 'data');
  makeToneDataset(join(data, 'train'), 4, 1);
  makeToneDataset(join(data, 'validation'), 2, 2);
  makeToneDataset(join(data, 'test'), 3, 3);
  // Not audio: reading test/ during training would stop it with this file's name.
  writeFileSync(join(data, 'test', 'high', 'not-audio.wav'), 'this would fail to decode');
  writeFileSync(join(dir, 'tiny.json'), JSON.stringify(TINY_CONFIG));
  const out = join(dir, 'run');

  const t = cli('train', data, '--config', join(dir, 'tiny.json'), '--out', out, '--epochs', '4', '--batch-size', '4', '--lr', '1e-3', '--save-total-limit', '2');
  assert.equal(t.status, 0, t.stderr);
  assert.doesNotMatch(t.stderr, /not-audio/);
  assert.match(t.stderr, new RegExp(`split layout: training on ${join(data, 'train')}, validating on ${join(data, 'validation')}; ${join(data, 'test')} is left for eval`));
  assert.match(t.stderr, /12 training clips, 6 validation clips, 3 labels/);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { id2label: Record<string, string> };
  assert.deepEqual(config.id2label, { 0: 'high', 1: 'low', 2: 'mid' }, 'the split names are not labels');

  // --save-total-limit 2: the newest and the best by validation loss (read from the run's own log), as HF.
  const state = JSON.parse(readFileSync(join(out, 'checkpoint-epoch-4', 'trainer_state.json'), 'utf8')) as {
    log_history: { epoch: number; validation: { loss: number } }[];
  };
  const losses = state.log_history.map((h) => h.validation.loss);
  assert.equal(losses.length, 4);
  const best = losses.indexOf(Math.min(...losses)) + 1;
  assert.deepEqual(epochDirs(out), hfKept([1, 2, 3, 4], 2, best));
  assert.ok(!readdirSync(out).some((n) => n.includes('deleting') || n.includes('.tmp')), 'nothing half-deleted is left');

  // eval on the root scores the test split and says so; the undecodable clip there is reported.
  const bad = cli('eval', data, '--model', out);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /scoring the test split: .*test\n.*not-audio\.wav: /);
  rmSync(join(data, 'test', 'high', 'not-audio.wav'));
  const e = cli('eval', data, '--model', out, '--json');
  assert.equal(e.status, 0, e.stderr);
  assert.equal((JSON.parse(e.stdout) as { clips: number }).clips, 9);
  const v = cli('eval', data, '--model', out, '--split', 'validation', '--json');
  assert.equal((JSON.parse(v.stdout) as { clips: number }).clips, 6);
  assert.match(v.stderr, /scoring the validation split/);
}));

test('a split-named folder among class folders is an error that says why; so is a split root given as one set', { timeout: 60_000 }, withTemp((dir) => {
  const data = join(dir, 'data');
  makeToneDataset(data, 2, 1);
  makeToneDataset(join(data, 'test'), 1, 2);
  writeFileSync(join(dir, 'tiny.json'), JSON.stringify(TINY_CONFIG));
  const out = join(dir, 'run');
  const t = cli('train', data, '--config', join(dir, 'tiny.json'), '--out', out, '--epochs', '1');
  assert.equal(t.status, 1);
  assert.equal(t.stderr.trim().split('\n').length, 1, t.stderr);
  assert.match(
    t.stderr,
    new RegExp(`^ast-audio: ${join(data, 'test')}: a folder named like a split \\(test/\\) among class folders \\(high/, low/, mid/\\); read as a class, its clips would be labelled "test"`),
  );
  assert.match(t.stderr, /audiofolder layout .*or, if "test" really is a label, a CSV manifest/);
  assert.ok(!existsSync(out), 'nothing written');

  const splitRoot = join(dir, 'splits');
  makeToneDataset(join(splitRoot, 'train'), 2, 1);
  makeToneDataset(join(splitRoot, 'validation'), 1, 2);
  const v = cli('train', join(splitRoot, 'train'), '--config', join(dir, 'tiny.json'), '--out', out, '--validation', splitRoot, '--epochs', '1');
  assert.equal(v.status, 1);
  assert.match(v.stderr, /splits: holds the splits train\/, validation\/ \(Hugging Face's audiofolder layout\), not class folders; give one split's folder here \(such as .*splits\/validation\)/);
  const noTrain = join(dir, 'no-train');
  mkdirSync(join(noTrain, 'test', 'a'), { recursive: true });
  const n = cli('train', noTrain, '--config', join(dir, 'tiny.json'), '--out', out, '--epochs', '1');
  assert.equal(n.status, 1);
  assert.match(n.stderr, /no-train: no train split \(a train\/ folder\); this folder has the split\(s\) test/);
}));

test('--save-total-limit defaults to 2 and 0 keeps every checkpoint; --average-last keeps what it averages', { timeout: 120_000 }, withTemp((dir) => {
  const data = join(dir, 'data');
  makeToneDataset(data, 3, 1);
  writeFileSync(join(dir, 'tiny.json'), JSON.stringify(TINY_CONFIG));
  const common = ['--config', join(dir, 'tiny.json'), '--epochs', '3', '--batch-size', '4', '--lr', '1e-3', '--validation-split', '0'];
  // No validation set: no best checkpoint, so the newest two.
  const d = cli('train', data, ...common, '--out', join(dir, 'default'));
  assert.equal(d.status, 0, d.stderr);
  assert.deepEqual(epochDirs(join(dir, 'default')), [2, 3]);
  const all = cli('train', data, ...common, '--out', join(dir, 'all'), '--save-total-limit', '0');
  assert.equal(all.status, 0, all.stderr);
  assert.deepEqual(epochDirs(join(dir, 'all')), [1, 2, 3]);
  const avg = cli('train', data, ...common, '--out', join(dir, 'avg'), '--save-total-limit', '1', '--average-last', '3');
  assert.equal(avg.status, 0, avg.stderr);
  assert.match(avg.stderr, /final weights: average of epochs 1\.\.3/);
  assert.deepEqual(epochDirs(join(dir, 'avg')), [1, 2, 3]);
  const bad = cli('train', data, ...common, '--out', join(dir, 'bad'), '--save-total-limit', '-1');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--save-total-limit must be 0 or more, got "-1"/);
}));

test('SpecAugment masks wider than the input are errors, before any clip is read', { timeout: 60_000 }, withTemp((dir) => {
  const data = join(dir, 'data');
  makeToneDataset(data, 1, 1);
  writeFileSync(join(data, 'high', 'not-audio.wav'), 'never decoded: the options are checked first');
  writeFileSync(join(dir, 'tiny.json'), JSON.stringify(TINY_CONFIG)); // 64 frames, 32 mel bins
  const run = (...flags: string[]) => cli('train', data, '--config', join(dir, 'tiny.json'), '--out', join(dir, 'run'), '--epochs', '1', ...flags);
  const time = run('--time-mask', '65');
  assert.equal(time.status, 1);
  assert.match(time.stderr, /--time-mask 65 is wider than the model's input of 64 frames \(max_length\); use at most 64/);
  const freq = run('--freq-mask', '33');
  assert.equal(freq.status, 1);
  assert.match(freq.stderr, /--freq-mask 33 is wider than the model's 32 mel bins \(num_mel_bins\); use at most 32/);
  // the speech-commands model of the README: 100 frames, so the AudioSet recipe's 192 is refused
  const sc = cli('train', data, '--model', join(REPO_ROOT, 'models/speech-commands'), '--out', join(dir, 'run'), '--time-mask', '192');
  assert.equal(sc.status, 1);
  assert.match(sc.stderr, /--time-mask 192 is wider than the model's input of 100 frames/);
  assert.doesNotMatch(`${time.stderr}${freq.stderr}${sc.stderr}`, /not-audio/);
  assert.ok(!existsSync(join(dir, 'run', 'checkpoint-epoch-1')));
}));
