/**
 * Every hidden_act of HF's ACT2FN, as the graph computes it on ONNX Runtime, against the textbook
 * formula evaluated in float64 (erf from a high-precision series, not from the graph).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/graph/builder.js';
import { activation } from '../../src/model/ast.js';
import { HIDDEN_ACTS, type HiddenAct } from '../../src/model/config.js';
import { maxAbsDiff } from '../helpers/fixtures.js';

/** erf by its Maclaurin series (|x| <= 3 here: 60 terms converge far below float32 precision). */
function erf(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 100; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const tanhGelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

const FORMULA: Record<HiddenAct, (x: number) => number> = {
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelu_new: tanhGelu,
  gelu_pytorch_tanh: tanhGelu,
  relu: (x) => Math.max(0, x),
  silu: (x) => x * sigmoid(x),
  swish: (x) => x * sigmoid(x),
  quick_gelu: (x) => x * sigmoid(1.702 * x),
};

test('each hidden_act matches its formula within float32 rounding', async () => {
  const xs = Float32Array.from({ length: 121 }, (_, i) => -3 + i * 0.05);
  for (const act of HIDDEN_ACTS) {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [xs.length]);
    g.output(activation(g, x, act), 'y');
    const s = await ort.InferenceSession.create(g.encode());
    const y = (await s.run({ x: new ort.Tensor('float32', xs, [xs.length]) })).y!.data as Float32Array;
    await s.release();
    const ref = Array.from(xs, (v) => FORMULA[act](v));
    const diff = maxAbsDiff(y, ref);
    // values up to 3 in float32: rounding ~2e-7 (ORT's erf/tanh kernels ~1e-6); the variants differ from one
    // another by >= 1e-3 somewhere in [-3, 3], so 1e-5 tells them apart
    assert.ok(diff < 1e-5, `${act}: max |diff| ${diff}`);
  }
});

test('the tanh and erf GELUs really differ (the test above can tell them apart)', () => {
  const gap = Math.max(...Array.from({ length: 61 }, (_, i) => Math.abs(FORMULA.gelu(-3 + i * 0.1) - tanhGelu(-3 + i * 0.1))));
  assert.ok(gap > 1e-4, `gap ${gap}`);
});
