import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lrMultiplier, warmupStepsFor } from '../../src/train/schedule.js';
import { clipGradNorm } from '../../src/train/clip.js';
import { float32Tensor } from '../../src/tensor.js';

// Values from HF transformers.optimization's lambdas worked by hand for warm-up 2, total 10.
test('linear warm-up then linear decay, as get_linear_schedule_with_warmup', () => {
  const o = { kind: 'linear' as const, warmupSteps: 2, totalSteps: 10 };
  assert.deepEqual([0, 1, 2, 6, 10, 11].map((s) => lrMultiplier(s, o)), [0, 0.5, 1, 0.5, 0, 0]);
});

test('cosine decay after warm-up, as get_cosine_schedule_with_warmup', () => {
  const o = { kind: 'cosine' as const, warmupSteps: 2, totalSteps: 10 };
  assert.equal(lrMultiplier(1, o), 0.5);
  assert.equal(lrMultiplier(2, o), 1);
  assert.ok(Math.abs(lrMultiplier(6, o) - 0.5) < 1e-15); // half-way: 0.5·(1 + cos(π/2))
  assert.ok(Math.abs(lrMultiplier(10, o)) < 1e-15);
});

test('warm-up ratio rounds up, explicit steps win', () => {
  assert.equal(warmupStepsFor(100, undefined, 0.1), 10);
  assert.equal(warmupStepsFor(95, undefined, 0.1), 10);
  assert.equal(warmupStepsFor(95, 3, 0.1), 3);
});

test('clip_grad_norm_: total 2-norm over all tensors, scale max/(norm + 1e-6) only when below 1', () => {
  const g = new Map([
    ['a', float32Tensor([2], new Float32Array([3, 0]))],
    ['b', float32Tensor([1], new Float32Array([4]))],
  ]);
  const total = clipGradNorm(g, 1);
  assert.equal(total, 5); // sqrt(9 + 16)
  const s = 1 / (5 + 1e-6);
  assert.ok(Math.abs(g.get('a')!.data[0]! - 3 * s) < 1e-7);
  assert.ok(Math.abs(g.get('b')!.data[0]! - 4 * s) < 1e-7);
  const h = new Map([['a', float32Tensor([1], new Float32Array([0.5]))]]);
  assert.equal(clipGradNorm(h, 1), 0.5);
  assert.equal(h.get('a')!.data[0], 0.5); // untouched below the limit
});
