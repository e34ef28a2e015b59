import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, readdirSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/node/index.js';
import { runTraining, runEval } from '../../src/node/training.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { makeToneDataset, TINY_CONFIG } from './helpers.js';
import { fixturesDir } from '../helpers/fixtures.js';

function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ast-train-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('training the tiny config from scratch on generated tones makes the loss fall', () =>
  withTemp(async (dir) => {
    makeToneDataset(join(dir, 'data'), 10);
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify(TINY_CONFIG));
    const r = await runTraining({ data: join(dir, 'data'), config: join(dir, 'tiny.json'), out: join(dir, 'run'), epochs: 4, batchSize: 6, lr: 1e-3, seed: 3, validationSplit: 0.2 });
    const losses = r.history.map((h) => (h as { trainLoss: number }).trainLoss);
    // three classes start near ln 3 = 1.10; a working gradient step drives it well below
    assert.ok(losses[0]! > 0.9, `first epoch loss ${losses[0]}`);
    assert.ok(losses[3]! < 0.8 * losses[0]!, `losses ${losses.join(', ')}`);
    // HF layout at the top, one checkpoint per epoch
    for (const f of ['config.json', 'preprocessor_config.json', 'model.safetensors']) assert.ok(existsSync(join(dir, 'run', f)), f);
    assert.ok(existsSync(join(dir, 'run', 'checkpoint-epoch-4', 'trainer_state.json')));
    // written through temporary names that are renamed into place: none is left behind
    assert.deepEqual(readdirSync(join(dir, 'run')).filter((n) => n.includes('.tmp')), []);
    const cfg = JSON.parse(readFileSync(join(dir, 'run', 'config.json'), 'utf8'));
    assert.deepEqual(cfg.id2label, { 0: 'high', 1: 'low', 2: 'mid' });
    const ev = await runEval(join(dir, 'run'), join(dir, 'data'));
    assert.equal(ev.clips, 30);
    assert.ok(ev.accuracy! > 0.6, `accuracy ${ev.accuracy}`);
  }));

test('a killed and resumed run ends with the same weights as an uninterrupted one', () =>
  withTemp(async (dir) => {
    makeToneDataset(join(dir, 'data'), 6);
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify(TINY_CONFIG));
    // augmentation, mixup and balanced sampling all draw from the RNG, so its state must be restored too
    const common = {
      data: join(dir, 'data'), config: join(dir, 'tiny.json'), epochs: 3, batchSize: 4, lr: 1e-3, seed: 11,
      freqMask: 4, timeMask: 8, mixupAlpha: 2, mixupProb: 0.5, balanced: true, warmupSteps: 2, schedule: 'cosine' as const,
      gradientAccumulationSteps: 2, threads: 1,
    };
    await runTraining({ ...common, out: join(dir, 'full') });
    await runTraining({ ...common, out: join(dir, 'killed'), stopAfterEpoch: 1 });
    assert.ok(!existsSync(join(dir, 'killed', 'model.safetensors')), 'the killed run has no final model');
    await runTraining({ ...common, out: join(dir, 'killed'), resume: true });
    const a = parseSafetensors(readFileSync(join(dir, 'full', 'model.safetensors')), 'full').tensors;
    const b = parseSafetensors(readFileSync(join(dir, 'killed', 'model.safetensors')), 'resumed').tensors;
    assert.equal(a.size, b.size);
    for (const [k, t] of a) assert.deepEqual(b.get(k)!.data, t.data, `${k} differs after resume`);
    // and the runs did move the weights (the comparison is not of two untouched initialisations)
    const first = parseSafetensors(readFileSync(join(dir, 'killed', 'checkpoint-epoch-1', 'model.safetensors')), 'e1').tensors;
    const w = 'classifier.dense.weight';
    assert.notDeepEqual(first.get(w)!.data, a.get(w)!.data);
  }));

test('fine-tuning a pretrained checkpoint on a new label set and max_length replaces the head and adapts positions', () =>
  withTemp(async (dir) => {
    makeToneDataset(join(dir, 'data'), 4);
    const logs: string[] = [];
    const progress = { start() {}, update() {}, stop() {}, log: (m: string) => logs.push(m) };
    await runTraining({
      data: join(dir, 'data'), model: join(fixturesDir, 'models', 'tiny'), out: join(dir, 'ft'),
      epochs: 1, batchSize: 4, lr: 1e-4, maxLength: 64, progress, normStats: 'checkpoint',
    });
    assert.ok(logs.some((l) => /notice: classifier\.dense\.weight: checkpoint \[5, 64\] vs config \[3, 64\]/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /notice: .*position_embeddings: patch grid 2x12 -> 2x5/.test(l)), logs.join('\n'));
    const cfg = JSON.parse(readFileSync(join(dir, 'ft', 'config.json'), 'utf8'));
    assert.equal(cfg.max_length, 64);
    assert.equal(cfg.num_labels ?? Object.keys(cfg.id2label).length, 3);
    const pre = JSON.parse(readFileSync(join(dir, 'ft', 'preprocessor_config.json'), 'utf8'));
    const orig = JSON.parse(readFileSync(join(fixturesDir, 'models', 'tiny', 'preprocessor_config.json'), 'utf8'));
    assert.equal(pre.mean, orig.mean); // --norm-stats checkpoint keeps the pretrained statistics
    assert.equal(pre.max_length, 64);
    const w = parseSafetensors(readFileSync(join(dir, 'ft', 'model.safetensors')), 'ft').tensors;
    assert.deepEqual(w.get('audio_spectrogram_transformer.embeddings.position_embeddings')!.dims, [1, 2 * 5 + 2, 64]);
    assert.deepEqual(w.get('classifier.dense.weight')!.dims, [3, 64]);
  }));

test('fine-tuning on the checkpoint\'s own label set keeps its label order and its head', () =>
  withTemp(async (dir) => {
    // a copy of the tiny checkpoint whose id2label is not in sorted order
    const ckpt = join(dir, 'ckpt');
    mkdirSync(ckpt);
    for (const f of ['model.safetensors', 'preprocessor_config.json']) copyFileSync(join(fixturesDir, 'models', 'tiny', f), join(ckpt, f));
    const cfg = JSON.parse(readFileSync(join(fixturesDir, 'models', 'tiny', 'config.json'), 'utf8'));
    const names = ['e', 'd', 'c', 'b', 'a'];
    cfg.id2label = Object.fromEntries(names.map((n, i) => [String(i), n]));
    cfg.label2id = Object.fromEntries(names.map((n, i) => [n, i]));
    writeFileSync(join(ckpt, 'config.json'), JSON.stringify(cfg));
    const tones = join(dir, 'tones');
    makeToneDataset(tones, 1);
    for (const n of names) {
      mkdirSync(join(dir, 'data', n), { recursive: true });
      copyFileSync(join(tones, 'low', '0.wav'), join(dir, 'data', n, 'a.wav'));
    }
    const logs: string[] = [];
    const progress = { start() {}, update() {}, stop() {}, log: (m: string) => logs.push(m) };
    // lr 0: the step leaves every weight where it was, so the head must come out as the checkpoint's
    await runTraining({ data: join(dir, 'data'), model: ckpt, out: join(dir, 'run'), epochs: 1, batchSize: 5, lr: 0, validationSplit: 0, progress });
    assert.ok(!logs.some((l) => l.includes('newly initialised')), logs.join('\n'));
    const out = JSON.parse(readFileSync(join(dir, 'run', 'config.json'), 'utf8'));
    assert.deepEqual(out.id2label, cfg.id2label);
    const before = parseSafetensors(readFileSync(join(ckpt, 'model.safetensors')), 'ckpt').tensors.get('classifier.dense.weight')!;
    const after = parseSafetensors(readFileSync(join(dir, 'run', 'model.safetensors')), 'run').tensors.get('classifier.dense.weight')!;
    assert.deepEqual(after.data, before.data);
  }));
