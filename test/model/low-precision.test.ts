/**
 * dtype 'q8' and 'fp16' against the PyTorch fp32 reference.
 *
 * The bounds, and where they come from:
 *   - One int8 GEMM (DynamicQuantizeMatMul, run by ORT) is checked against the exact float64 product with the
 *     worst-case rounding bound of `int8GemmErrorBound` (half a weight step per element, half an activation step
 *     per element; integer accumulation is exact), plus float32 slack for the final scaling: this is a proof-level
 *     check, including an all-zero output channel, a 100x outlier output channel and a 100x outlier input column.
 *   - Through a whole model the per-GEMM errors pass LayerNorm, softmax and GELU, which no simple bound follows;
 *     the bars below are the largest error measured on the fixture models with a 2x margin, relative to the
 *     reference logits' max |value|:
 *       q8   measured 0.83e-2 (tiny) .. 2.1e-2 (shallow-base)                     -> bar 5e-2
 *       fp16 measured 2.3e-4 .. 1.4e-3 (float16's unit roundoff is 2^-11 = 4.9e-4)  -> bar 5e-3
 *     and the top-1 class must equal the reference's on every classification case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import '../../src/node/index.js';
import { ASTForAudioClassification } from '../../src/model/ast.js';
import { ASTConfig } from '../../src/model/config.js';
import { loadWeights } from '../../src/model/weights.js';
import { readCheckpointTensors } from '../../src/io/checkpoint.js';
import { dirSource } from '../../src/node/files.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { OrtSession } from '../../src/runtime/session.js';
import { int8GemmErrorBound, quantizeInt8PerChannel } from '../../src/model/quant.js';
import { DEFAULT_MODEL_DIR, pipeline } from '../../src/pipeline/audio-classification.js';
import { fixtureIndex, fixturesDir, maxAbs, maxAbsDiff, readFixtureNpy, REPO_ROOT } from '../helpers/fixtures.js';
import type { Float32Tensor } from '../../src/tensor.js';

const BAR = { q8: 5e-2, fp16: 5e-3 } as const;

function argmaxRows(a: ArrayLike<number>, rows: number, n: number): number[] {
  return Array.from({ length: rows }, (_, r) => {
    let b = 0;
    for (let i = 1; i < n; i++) if (a[r * n + i]! > a[r * n + b]!) b = i;
    return b;
  });
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** y = x W^T + b through ORT's int8 kernel, checked element-wise against float64 with the worst-case bound. */
async function checkGemm(label: string, x: Float32Array, rows: number, w: Float32Array, out: number, inF: number, b: Float32Array): Promise<void> {
  const g = new GraphBuilder('q8-linear');
  const xv = g.input('x', 'float32', [rows, inF]);
  const q = quantizeInt8PerChannel(w, out, inF);
  const w8 = { data: g.typedInitializer('w', 'int8', [inF, out], q.data), scale: g.typedInitializer('w_scale', 'float32', [out], q.scales) };
  const y = g.linear(xv, w8, g.initializer('b', [out], b), { dtype: 'q8' });
  g.output(y, 'y');
  const s = await OrtSession.create(g.encode(), { threads: 1 });
  try {
    const r = (await s.run({ x: { dtype: 'float32', dims: [rows, inF], data: x } })).y as Float32Tensor;
    const bound = int8GemmErrorBound(x, rows, w, out, inF);
    let worst = 0;
    for (let m = 0; m < rows; m++) {
      for (let n = 0; n < out; n++) {
        let exact = b[n]!;
        let mag = Math.abs(b[n]!);
        for (let k = 0; k < inF; k++) {
          exact += x[m * inF + k]! * w[n * inF + k]!;
          mag += Math.abs(x[m * inF + k]! * w[n * inF + k]!);
        }
        const got = r.data[m * out + n]!;
        assert.ok(Number.isFinite(got), `${label} [${m}, ${n}] is ${got}`);
        // float32 slack: the scaled accumulator and the bias add are rounded, a few ulps of the magnitudes
        const limit = bound[m * out + n]! + 8 * 2 ** -24 * mag + 1e-30;
        const err = Math.abs(got - exact);
        assert.ok(err <= limit, `${label} [${m}, ${n}]: |${got} - ${exact}| = ${err} > bound ${limit}`);
        worst = Math.max(worst, err / limit);
      }
    }
    console.log(`  ${label}: largest error / bound ${worst.toFixed(3)}`);
  } finally {
    await s.release();
  }
}

test('one int8 GEMM through ORT stays within the worst-case rounding bound: real weights, zero and outlier channels', async () => {
  // a real 768 x 768 matrix: shallow-base's attention output projection (stored fp16)
  const tensors = await readCheckpointTensors(dirSource(join(fixturesDir, 'models/shallow-base')));
  const config = await ASTConfig.fromPretrained(dirSource(join(fixturesDir, 'models/shallow-base')));
  const { weights } = loadWeights(config, tensors, 'classification', 'shallow-base');
  const W = weights.get('audio_spectrogram_transformer.encoder.layer.0.attention.output.dense.weight')!;
  const B = weights.get('audio_spectrogram_transformer.encoder.layer.0.attention.output.dense.bias')!;
  const [out, inF] = W.dims as [number, number];
  const rows = 6;
  const rnd = lcg(1);
  const x = Float32Array.from({ length: rows * inF }, () => (rnd() - 0.45) * 2); // asymmetric range: zero point != 128
  await checkGemm('shallow-base attention.output.dense', x, rows, W.data, out, inF, B.data);

  const small = { out: 48, inF: 64 };
  const w = Float32Array.from({ length: small.out * small.inF }, () => (rnd() - 0.5) * 0.1);
  const b = Float32Array.from({ length: small.out }, () => rnd() - 0.5);
  const xs = Float32Array.from({ length: rows * small.inF }, () => rnd() * 3 - 1);
  const zeroChannel = Float32Array.from(w);
  zeroChannel.fill(0, 5 * small.inF, 6 * small.inF); // output channel 5 all zero: scale 0
  await checkGemm('all-zero output channel', xs, rows, zeroChannel, small.out, small.inF, b);
  const outlierChannel = Float32Array.from(w);
  for (let k = 0; k < small.inF; k++) outlierChannel[7 * small.inF + k]! *= 100;
  await checkGemm('100x outlier output channel', xs, rows, outlierChannel, small.out, small.inF, b);
  const outlierColumn = Float32Array.from(w);
  for (let n = 0; n < small.out; n++) outlierColumn[n * small.inF + 9]! *= 100;
  await checkGemm('100x outlier input column', xs, rows, outlierColumn, small.out, small.inF, b);
});

for (const dtype of ['q8', 'fp16'] as const) {
  for (const c of fixtureIndex.models) {
    const modelDir = join(fixturesDir, 'models', c.model);
    test(`${dtype} ${c.model}/${c.case}: logits within ${BAR[dtype]} of max|ref|, same top-1`, async () => {
      const x = readFixtureNpy(`models/${c.model}/${c.case}/input_values.npy`);
      const ref = readFixtureNpy(`models/${c.model}/${c.case}/logits.npy`);
      const model = await ASTForAudioClassification.fromPretrained(modelDir, { threads: 1, dtype });
      try {
        assert.equal(model.dtype, dtype);
        const out = await model.forward({ inputValues: { dtype: 'float32', dims: x.shape, data: x.data as Float32Array } });
        const r = ref.data as Float32Array;
        const rel = maxAbsDiff(out.logits.data, r) / maxAbs(r);
        console.log(`  ${dtype} ${c.model} (${model.config.toJSON().torch_dtype ?? 'float32'} checkpoint) logits rel ${rel.toExponential(2)}`);
        assert.ok(rel <= BAR[dtype], `${dtype} ${c.model}: logits differ by ${rel} of max|ref|, bar ${BAR[dtype]}`);
        const [rows, n] = ref.shape as [number, number];
        if (n > 1) assert.deepEqual(argmaxRows(out.logits.data, rows, n), argmaxRows(r, rows, n), `${dtype} ${c.model}: top-1`);
      } finally {
        await model.dispose();
      }
    });
  }
}

test('bf16 (strided) and fp16 (shallow-base) checkpoints are what the q8 tests above load', async () => {
  // the loop above covers them; this pins that the fixtures really are stored in those types
  for (const [model, dtype] of [['strided', 'bfloat16'], ['shallow-base', 'float16']] as const) {
    const tensors = await readCheckpointTensors(dirSource(join(fixturesDir, 'models', model)));
    const types = new Set([...tensors.values()].map((t) => t.dtype));
    assert.deepEqual([...types], [dtype], `${model} stores ${[...types].join(', ')}`);
  }
});

test('the embedded model names the same word in fp32, q8 and fp16 for each of its 10 examples', async () => {
  const dir = join(REPO_ROOT, DEFAULT_MODEL_DIR);
  const files = readdirSync(join(dir, 'examples')).filter((f) => f.endsWith('.wav'));
  assert.ok(files.length >= 10);
  const tops: Record<string, string[]> = {};
  for (const dtype of ['fp32', 'q8', 'fp16'] as const) {
    const classify = await pipeline('audio-classification', dir, { threads: 1, dtype });
    try {
      tops[dtype] = [];
      for (const f of files) tops[dtype]!.push((await classify(join(dir, 'examples', f), { topK: 1 }))[0]!.label);
    } finally {
      await classify.dispose();
    }
  }
  // the expectation is the file name (the word espeak-ng said), then agreement with fp32
  assert.deepEqual(tops.fp32, files.map((f) => basename(f, '.wav')));
  assert.deepEqual(tops.q8, tops.fp32);
  assert.deepEqual(tops.fp16, tops.fp32);
});

test('an unknown dtype is a clear error listing the valid ones, before any file is read', async () => {
  const missing = join(fixturesDir, 'models/no-such-model');
  for (const bad of ['int4', 'float16', 'q4', '']) {
    await assert.rejects(
      ASTForAudioClassification.fromPretrained(missing, { dtype: bad as 'q8' }),
      new RegExp(`dtype ${bad} is not supported: valid dtypes are fp32, fp16, q8`),
    );
  }
  await assert.rejects(
    pipeline('audio-classification', join(fixturesDir, 'models/tiny'), { dtype: 'int8' as 'q8' }),
    /dtype "int8" is not supported: valid values are 'fp32', 'fp16', 'q8'/,
  );
});

test('q8 on an execution provider list without cpu or wasm is a clear error', async () => {
  await assert.rejects(
    ASTForAudioClassification.fromPretrained(join(fixturesDir, 'models/tiny'), { dtype: 'q8', executionProviders: ['webgpu'] }),
    /dtype q8 runs on the cpu or wasm execution provider \(com\.microsoft\.DynamicQuantizeMatMul\); got webgpu/,
  );
});

test('q8 after load: hidden states and attentions (graphs built later, from the re-read checkpoint) match the reference; toOnnx needs kept weights', async () => {
  // fromPretrained drops the model's int8 copies once ORT has them; asking for another graph re-reads the
  // checkpoint. The same bar as the logits above, per output, relative to the reference's max |value|.
  const dir = join(fixturesDir, 'models/tiny');
  const caseDir = 'models/tiny/case-single_label';
  const x = readFixtureNpy(`${caseDir}/input_values.npy`);
  const inputValues: Float32Tensor = { dtype: 'float32', dims: x.shape, data: x.data as Float32Array };
  const model = await ASTForAudioClassification.fromPretrained(dir, { threads: 1, dtype: 'q8' });
  try {
    const out = await model.forward({ inputValues, outputHiddenStates: true, outputAttentions: true });
    for (const [name, got] of [
      ['logits', out.logits],
      ['hidden_states', out.hiddenStates],
      ['attentions', out.attentions],
    ] as const) {
      const ref = readFixtureNpy(`${caseDir}/${name}.npy`);
      assert.deepEqual(got!.dims, ref.shape, name);
      const rel = maxAbsDiff(got!.data, ref.data as Float32Array) / maxAbs(ref.data as Float32Array);
      assert.ok(rel <= BAR.q8, `${name}: rel ${rel} > ${BAR.q8}`);
    }
    assert.throws(() => model.toOnnx(), /dropped its int8 weights.*fromWeights/);
  } finally {
    await model.dispose();
  }
  // fromWeights without reloadWeights keeps the int8 weights: toOnnx works and its graph gives the same logits
  const config = await ASTConfig.fromPretrained(dirSource(dir));
  const weights = loadWeights(config, await readCheckpointTensors(dirSource(dir)), 'classification', dir).weights;
  const kept = await ASTForAudioClassification.fromWeights(config, weights, { threads: 1, dtype: 'q8' });
  try {
    const s = await OrtSession.create(kept.toOnnx(), { threads: 1 });
    const viaBytes = (await s.run({ input_values: inputValues })).logits as Float32Tensor;
    await s.release();
    const direct = (await kept.forward({ inputValues })).logits;
    assert.deepEqual([...viaBytes.data], [...direct.data]);
  } finally {
    await kept.dispose();
  }
});
