/**
 * The builder's ONNX bytes load in onnxruntime-node and compute what a plain-JS calculation of the
 * same expression gives; recorded nodes carry the shapes autodiff needs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/graph/builder.js';
import { maxAbsDiff } from '../helpers/fixtures.js';

function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

test('MatMul + bias + softmax + LayerNormalization match a plain-JS calculation', async () => {
  const [B, K, N] = [3, 5, 4];
  const g = new GraphBuilder('t');
  const x = g.input('x', 'float32', ['batch', K]);
  const wData = seeded(K * N, 1);
  const bData = seeded(N, 2);
  const w = g.initializer('w', [K, N], wData);
  const b = g.initializer('b', [N], bData);
  const y = g.op1('Add', [g.op1('MatMul', [x, w]), b]);
  assert.deepEqual(g.shape(y), ['batch', N]);
  const sm = g.op1('Softmax', [y], { axis: -1 });
  const gamma = g.constF32([1, 2, 3, 4], [N]);
  const beta = g.constF32([0, 0.5, 0, -0.5], [N]);
  const ln = g.op1('LayerNormalization', [y, gamma, beta], { axis: -1, epsilon: 1e-5 });
  g.output(sm, 'softmax');
  g.output(ln, 'ln');
  const t = g.op1('Transpose', [g.op1('Reshape', [y, g.constI64([0, 2, 2])])], { perm: [0, 2, 1] });
  assert.deepEqual(g.shape(t), ['batch', 2, 2]);
  g.output(t, 't');

  const session = await ort.InferenceSession.create(g.encode());
  const xData = seeded(B * K, 3);
  const r = await session.run({ x: new ort.Tensor('float32', xData, [B, K]) });

  const yRef = new Float64Array(B * N);
  for (let i = 0; i < B; i++)
    for (let j = 0; j < N; j++) {
      let acc = bData[j]!;
      for (let k = 0; k < K; k++) acc += xData[i * K + k]! * wData[k * N + j]!;
      yRef[i * N + j] = acc;
    }
  const smRef = new Float64Array(B * N);
  const lnRef = new Float64Array(B * N);
  const g0 = [1, 2, 3, 4];
  const b0 = [0, 0.5, 0, -0.5];
  const tRef = new Float64Array(B * N);
  for (let i = 0; i < B; i++) {
    const row = yRef.subarray(i * N, i * N + N);
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, c) => a + c, 0);
    const mu = row.reduce((a, c) => a + c, 0) / N;
    const va = row.reduce((a, c) => a + (c - mu) ** 2, 0) / N;
    for (let j = 0; j < N; j++) {
      smRef[i * N + j] = e[j]! / s;
      lnRef[i * N + j] = ((row[j]! - mu) / Math.sqrt(va + 1e-5)) * g0[j]! + b0[j]!;
    }
    // [2, 2] transposed
    for (let p = 0; p < 2; p++) for (let q = 0; q < 2; q++) tRef[i * 4 + p * 2 + q] = row[q * 2 + p]!;
  }
  // fp32 kernels vs float64 reference over 5-term sums: ~1e-7 measured; 1e-5 leaves room and still catches any wrong op
  assert.ok(maxAbsDiff(r.softmax!.data as Float32Array, smRef) < 1e-5);
  assert.ok(maxAbsDiff(r.ln!.data as Float32Array, lnRef) < 1e-5);
  assert.ok(maxAbsDiff(r.t!.data as Float32Array, tRef) < 1e-6);
  assert.deepEqual(r.t!.dims, [B, 2, 2]);
});

test('nodes are recorded in build order with their inputs, outputs and attributes', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [2, 3]);
  const y = g.op1('Relu', [x]);
  const z = g.op1('ReduceSum', [y, g.constI64([1])], { keepdims: 0 });
  assert.equal(g.nodes.length, 2);
  assert.equal(g.nodes[1]!.op, 'ReduceSum');
  assert.equal(g.nodes[1]!.inputs[0], y);
  assert.deepEqual(g.nodes[1]!.outputs, [z]);
  assert.deepEqual(g.shape(z), [2]);
  assert.deepEqual(g.constValue(g.nodes[1]!.inputs[1]!), [1]);
  assert.equal(g.producerOf(z), g.nodes[1]);
});
