/**
 * The loop's bookkeeping, checked with a stand-in model whose gradient is known in closed form:
 * f(w) = mean over the batch of ½(w − x)², so ∂f/∂w = w − mean(x). Accumulation, clipping and the
 * schedule then have values that can be worked out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ASTConfig } from '../../src/model/config.js';
import { train, type Trainable, type Example } from '../../src/train/trainer.js';
import type { Float32Tensor } from '../../src/tensor.js';

function standIn(): Trainable & { calls: number[] } {
  const config = ASTConfig.fromJSON({ num_labels: 2, max_length: 16, num_mel_bins: 16, patch_size: 16 });
  const weights = new Map<string, Float32Tensor>([['w', { dtype: 'float32', dims: [1], data: new Float32Array([0]) }]]);
  const calls: number[] = [];
  return {
    config,
    weights,
    calls,
    async computeGradients({ inputValues }) {
      const B = inputValues.dims[0]!;
      const per = inputValues.data.length / B;
      let mean = 0;
      for (let b = 0; b < B; b++) mean += inputValues.data[b * per]! / B; // first feature of each clip
      calls.push(B);
      const w = weights.get('w')!.data[0]!;
      return {
        loss: 0.5 * (w - mean) ** 2,
        logits: { dtype: 'float32', dims: [B, 2], data: new Float32Array(B * 2) },
        grads: new Map([['w', { dtype: 'float32', dims: [1], data: new Float32Array([w - mean]) }]]),
      };
    },
    async predict(x) {
      return { dtype: 'float32', dims: [x.dims[0]!, 2], data: new Float32Array(x.dims[0]! * 2) };
    },
  };
}

const clip = (v: number): Example => {
  const features = new Float32Array(16 * 16);
  features[0] = v;
  return { features, target: Float32Array.from([1, 0]), labelIds: [0] };
};

const input = { maxLength: 16, numMelBins: 16 }; // no normalize: do_normalize off, raw features
const base = {
  epochs: 1, batchSize: 2, lr: 0.1, weightDecay: 0, schedule: 'constant' as const, warmupSteps: 0, gradientAccumulationSteps: 1,
  maxGradNorm: 0, seed: 1, freqMask: 0, timeMask: 0, mixupAlpha: 0, mixupProb: 0, balanced: false, averageLast: 0,
};

test('gradient accumulation: one optimiser step per N micro-batches, on their mean gradient', async () => {
  const m = standIn();
  // 5 clips, batch 2 -> micro-batches of 2, 2, 1; accumulation 2 -> steps after batches 2 and 3
  const r = await train({ model: m, train: [1, 2, 3, 4, 5].map(clip), validation: [], multiLabel: false, input, options: { ...base, gradientAccumulationSteps: 2 } });
  assert.deepEqual(m.calls, [2, 2, 1]);
  assert.equal(r.state.step, 2);
  assert.equal(r.state.adam.step, 2);
  // the first step's gradient is the mean of its two micro-batches' gradients: w − mean(x) over four clips
  const m2 = standIn();
  const r2 = await train({ model: m2, train: [1, 2, 3, 4].map(clip), validation: [], multiLabel: false, input, options: { ...base, gradientAccumulationSteps: 2 } });
  assert.equal(r2.state.adam.step, 1);
  // Adam's first moment after one step is (1 − β1)·g = 0.1 · (0 − 2.5)
  assert.ok(Math.abs(r2.state.adam.expAvg.get('w')![0]! - -0.25) < 1e-7);
  // and the first step moves w by lr · sign(g) (bias-corrected m/√v = ±1)
  assert.ok(Math.abs(m2.weights.get('w')!.data[0]! - 0.1) < 1e-7);
});

test('warm-up: the first update of a linear warm-up uses lr 0, as HF', async () => {
  const m = standIn();
  await train({ model: m, train: [1, 1].map(clip), validation: [], multiLabel: false, input, options: { ...base, schedule: 'linear', warmupSteps: 1, epochs: 1 } });
  assert.equal(m.weights.get('w')!.data[0], 0); // one step, at lr 0
});

test('a loss that is not finite stops training with an error that says where', async () => {
  const m = standIn();
  await assert.rejects(
    train({ model: m, train: [NaN, 1].map(clip), validation: [], multiLabel: false, input, options: base }),
    /loss became NaN at epoch 1, step 0/,
  );
});
