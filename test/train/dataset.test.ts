import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCsvManifest, parseJsonlManifest, labelSet, splitTrainValidation, epochOrder } from '../../src/train/dataset.js';
import { specAugment, mixWaveforms, mixTargets } from '../../src/train/augment.js';
import { Rng } from '../../src/rng.js';

test('CSV manifests: header names the columns, quoted multi-label cells split on ; | or ,', () => {
  const clips = parseCsvManifest('path,labels\na.wav,dog\n"b, c.wav","dog;cat"\nd.wav,"cat,bird"\n', 'm.csv');
  assert.deepEqual(clips, [
    { path: 'a.wav', labels: ['dog'] },
    { path: 'b, c.wav', labels: ['dog', 'cat'] },
    { path: 'd.wav', labels: ['cat', 'bird'] },
  ]);
  assert.deepEqual(labelSet(clips), { labels: ['bird', 'cat', 'dog'], multiLabel: true });
  assert.throws(() => parseCsvManifest('file_path,x\na,b\n', 'bad.csv'), /bad.csv: header must name a path column/);
});

test('JSONL manifests: label or labels; bad lines are named', () => {
  const clips = parseJsonlManifest('{"path":"a.wav","label":"yes"}\n\n{"path":"b.wav","labels":["no"]}\n', 'm.jsonl');
  assert.deepEqual(clips, [{ path: 'a.wav', labels: ['yes'] }, { path: 'b.wav', labels: ['no'] }]);
  assert.deepEqual(labelSet(clips), { labels: ['no', 'yes'], multiLabel: false });
  assert.throws(() => parseJsonlManifest('{"path":"a.wav"}\n', 'm.jsonl'), /m.jsonl: line 1 has no "label"/);
  assert.throws(() => parseJsonlManifest('nope\n', 'm.jsonl'), /m.jsonl: line 1 is not JSON/);
});

test('the split is seeded, disjoint and complete', () => {
  const items = Array.from({ length: 20 }, (_, i) => i);
  const a = splitTrainValidation(items, 0.25, new Rng(5));
  const b = splitTrainValidation(items, 0.25, new Rng(5));
  assert.deepEqual(a, b);
  assert.equal(a.validation.length, 5);
  assert.deepEqual([...a.train, ...a.validation].sort((x, y) => x - y), items);
});

test('balanced sampling draws each class about equally however skewed the data', () => {
  // 90 clips of class 0, 10 of class 1: weights 1/90 and 1/10 make both classes half the draws
  const labels = [...Array.from({ length: 90 }, () => [0]), ...Array.from({ length: 10 }, () => [1])];
  const rng = new Rng(1);
  let ones = 0;
  let total = 0;
  for (let e = 0; e < 50; e++) {
    for (const i of epochOrder(labels, 2, true, rng)) {
      total++;
      if (labels[i]![0] === 1) ones++;
    }
  }
  // 5000 draws with p = 0.5: 4 standard deviations is 0.028
  assert.ok(Math.abs(ones / total - 0.5) < 0.03, `class 1 drawn ${ones} of ${total}`);
  const plain = epochOrder(labels, 2, false, new Rng(2));
  assert.deepEqual([...plain].sort((x, y) => x - y), labels.map((_, i) => i)); // a permutation
});

// torchaudio's mask_along_axis: start ⌊v⌋, end ⌊v + w⌋ with w < F, so the band spans at most F cells
test('SpecAugment masks one band of at most F bins and one of at most T frames', () => {
  const frames = 50;
  const bins = 20;
  for (let seed = 0; seed < 20; seed++) {
    const x = new Float32Array(frames * bins).fill(1);
    specAugment(x, frames, bins, { freqMask: 6, timeMask: 10, maskValue: 0 }, new Rng(seed));
    const maskedBins = new Set<number>();
    const maskedFrames = new Set<number>();
    for (let t = 0; t < frames; t++) {
      let row = 0;
      for (let f = 0; f < bins; f++) if (x[t * bins + f] === 0) row++;
      if (row === bins) maskedFrames.add(t);
    }
    for (let f = 0; f < bins; f++) {
      let col = 0;
      for (let t = 0; t < frames; t++) if (x[t * bins + f] === 0) col++;
      if (col === frames) maskedBins.add(f);
    }
    assert.ok(maskedBins.size <= 6, `seed ${seed}: ${maskedBins.size} bins`);
    assert.ok(maskedFrames.size <= 10, `seed ${seed}: ${maskedFrames.size} frames`);
    const isBand = (s: Set<number>) => s.size === 0 || Math.max(...s) - Math.min(...s) + 1 === s.size;
    assert.ok(isBand(maskedBins) && isBand(maskedFrames));
  }
});

test('mixup: λ·a + (1−λ)·b with b cut or zero-padded; Beta(α, α) has mean 1/2', () => {
  assert.deepEqual(Array.from(mixWaveforms(Float32Array.from([1, 1, 1]), Float32Array.from([3]), 0.25)), [0.25 + 0.75 * 3, 0.25, 0.25]);
  assert.deepEqual(Array.from(mixTargets(Float32Array.from([1, 0]), Float32Array.from([0, 1]), 0.25)), [0.25, 0.75]);
  const rng = new Rng(3);
  let s = 0;
  let s2 = 0;
  const n = 4000;
  for (let i = 0; i < n; i++) {
    const l = rng.beta(2, 2);
    s += l;
    s2 += l * l;
  }
  // Beta(2, 2): mean 1/2, variance 1/20; tolerances are ~5 standard errors
  assert.ok(Math.abs(s / n - 0.5) < 0.02);
  assert.ok(Math.abs(s2 / n - (s / n) ** 2 - 0.05) < 0.01);
});
