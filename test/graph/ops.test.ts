/**
 * The typed op methods: `g.linear` computes alpha (x W^T + b) as a plain-JS calculation does, each op's entry
 * types its attributes as ONNX declares them, and an op without an entry is refused by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/graph/builder.js';
import { maxAbsDiff } from '../helpers/fixtures.js';

const seq = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k));

test('g.linear(x, w, b, { alpha }) matches alpha (x W^T + b) computed in plain JS', async () => {
  const [R, K, N] = [3, 4, 5];
  const wData = seq(N * K, 0.7); // PyTorch layout [out, in]
  const bData = seq(N, 1.3);
  const g = new GraphBuilder('t');
  const x = g.input('x', 'float32', ['rows', K]);
  const y = g.linear(x, g.initializer('w', [N, K], wData), g.initializer('b', [N], bData), { dtype: 'fp32', alpha: 0.5 });
  assert.deepEqual(g.shape(y), ['rows', N]);
  g.output(y, 'y');
  const xData = seq(R * K, 0.3);
  const session = await ort.InferenceSession.create(g.encode());
  const r = await session.run({ x: new ort.Tensor('float32', xData, [R, K]) });
  const ref = new Float64Array(R * N);
  for (let i = 0; i < R; i++)
    for (let j = 0; j < N; j++) {
      let acc = bData[j]!;
      for (let k = 0; k < K; k++) acc += xData[i * K + k]! * wData[j * K + k]!;
      ref[i * N + j] = 0.5 * acc;
    }
  // fp32 sums of 4 terms against float64: ~1e-7; 1e-5 still catches a wrong layout or a missing alpha
  assert.ok(maxAbsDiff(r.y!.data as Float32Array, ref) < 1e-5);
});

test("each op's entry types its attributes: FLOAT where ONNX says so, INT otherwise", () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [2, 3]);
  g.output(g.layerNorm(x, g.constF32([1, 1, 1]), null, { epsilon: 1e-5 }), 'ln');
  g.output(g.gemm(x, g.constF32([1, 2, 3], [3, 1]), null, { alpha: 2, beta: 1 }), 'gemm');
  const attrs = Object.fromEntries(g.toModel().graph.nodes.flatMap((n) => (n.attributes ?? []).map(([k, a]) => [`${n.opType}.${k}`, a.type])));
  assert.deepEqual(attrs, { 'LayerNormalization.axis': 'int', 'LayerNormalization.epsilon': 'float', 'Gemm.alpha': 'float', 'Gemm.beta': 'float' });
});

test('an op without an entry, or a fraction for an INT attribute, is refused with its name', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [2, 3]);
  assert.throws(() => g.op1('NoSuchOp', [x]), /no entry for op NoSuchOp/);
  g.output(g.op1('Softmax', [x], { axis: 0.5 }), 'y');
  assert.throws(() => g.encode(), /Softmax attribute axis is an INT in ONNX, got 0.5/);
});
