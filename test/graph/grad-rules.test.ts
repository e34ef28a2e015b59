/**
 * Finite-difference checks of every derivative rule on tensors small enough to read: for each op,
 * loss = Σ op(inputs) ⊙ R with a fixed random R; the gradient graph's cotangents are compared with
 * central differences of the same forward graph run by ONNX Runtime.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { encodeModel, type OnnxNode, type OnnxTensor, type OnnxAttrValue } from '../../src/graph/onnx.js';
import { gradients, type Dim } from '../../src/graph/grad.js';
import { OnnxGradGraph, nodeRecords } from '../helpers/grad-onnx.js';
import { Rng } from '../../src/rng.js';

interface Case {
  name: string;
  /** Differentiable inputs (float32) with their shapes. */
  inputs: Record<string, number[]>;
  /** Constant tensors (initializers). */
  consts?: OnnxTensor[];
  nodes: OnnxNode[];
  /** The value whose weighted sum is the loss. */
  output: string;
  /** Positive-only inputs (Log, Sqrt, Div denominators). */
  positive?: string[];
}

const i64 = (name: string, v: number[]): OnnxTensor => ({ name, dtype: 'int64', dims: [v.length], data: BigInt64Array.from(v.map(BigInt)) });
const f32s = (name: string, v: number): OnnxTensor => ({ name, dtype: 'float32', dims: [], data: new Float32Array([v]) });
const node = (opType: string, inputs: string[], outputs: string[], attributes: [string, OnnxAttrValue][] = []): OnnxNode => ({ opType, inputs, outputs, attributes });
const ints = (v: number[]): OnnxAttrValue => ({ type: 'ints', value: v });
const int = (v: number): OnnxAttrValue => ({ type: 'int', value: v });
const flt = (v: number): OnnxAttrValue => ({ type: 'float', value: v });

const cases: Case[] = [
  { name: 'Add (broadcast [3] over [2,3])', inputs: { a: [2, 3], b: [3] }, nodes: [node('Add', ['a', 'b'], ['y'])], output: 'y' },
  { name: 'Sub (broadcast [2,1])', inputs: { a: [2, 3], b: [2, 1] }, nodes: [node('Sub', ['a', 'b'], ['y'])], output: 'y' },
  { name: 'Mul (broadcast [1,3])', inputs: { a: [2, 3], b: [1, 3] }, nodes: [node('Mul', ['a', 'b'], ['y'])], output: 'y' },
  { name: 'Div', inputs: { a: [2, 3], b: [2, 3] }, positive: ['b'], nodes: [node('Div', ['a', 'b'], ['y'])], output: 'y' },
  { name: 'Neg, Exp', inputs: { a: [5] }, nodes: [node('Neg', ['a'], ['n']), node('Exp', ['n'], ['y'])], output: 'y' },
  { name: 'Log', inputs: { a: [5] }, positive: ['a'], nodes: [node('Log', ['a'], ['y'])], output: 'y' },
  { name: 'Sqrt', inputs: { a: [5] }, positive: ['a'], nodes: [node('Sqrt', ['a'], ['y'])], output: 'y' },
  { name: 'Reciprocal', inputs: { a: [5] }, positive: ['a'], nodes: [node('Reciprocal', ['a'], ['y'])], output: 'y' },
  { name: 'Abs', inputs: { a: [6] }, nodes: [node('Abs', ['a'], ['y'])], output: 'y' },
  { name: 'Pow (constant exponent 3)', inputs: { a: [5] }, consts: [f32s('three', 3)], nodes: [node('Pow', ['a', 'three'], ['y'])], output: 'y' },
  { name: 'Pow (constant exponent 2)', inputs: { a: [5] }, consts: [f32s('two', 2)], nodes: [node('Pow', ['a', 'two'], ['y'])], output: 'y' },
  { name: 'Relu', inputs: { a: [6] }, nodes: [node('Relu', ['a'], ['y'])], output: 'y' },
  { name: 'Tanh', inputs: { a: [5] }, nodes: [node('Tanh', ['a'], ['y'])], output: 'y' },
  { name: 'Sigmoid', inputs: { a: [5] }, nodes: [node('Sigmoid', ['a'], ['y'])], output: 'y' },
  { name: 'Erf', inputs: { a: [5] }, nodes: [node('Erf', ['a'], ['y'])], output: 'y' },
  { name: 'Gelu (exact)', inputs: { a: [6] }, nodes: [node('Gelu', ['a'], ['y'])], output: 'y' },
  { name: 'com.microsoft.Gelu (the training graph\'s GELU)', inputs: { a: [7] }, nodes: [{ ...node('Gelu', ['a'], ['y']), domain: 'com.microsoft' }], output: 'y' },
  { name: 'Gelu (tanh)', inputs: { a: [6] }, nodes: [node('Gelu', ['a'], ['y'], [['approximate', { type: 'string', value: 'tanh' }]])], output: 'y' },
  { name: 'MatMul (batched)', inputs: { a: [2, 3, 4], b: [2, 4, 5] }, nodes: [node('MatMul', ['a', 'b'], ['y'])], output: 'y' },
  { name: 'MatMul (Linear: [2,3,4] x [4,5])', inputs: { a: [2, 3, 4], b: [4, 5] }, nodes: [node('MatMul', ['a', 'b'], ['y'])], output: 'y' },
  { name: 'Gemm (transB, alpha, bias)', inputs: { a: [3, 4], b: [5, 4], c: [5] }, nodes: [node('Gemm', ['a', 'b', 'c'], ['y'], [['transB', int(1)], ['alpha', flt(0.5)]])], output: 'y' },
  { name: 'Gemm (plain)', inputs: { a: [3, 4], b: [4, 5] }, nodes: [node('Gemm', ['a', 'b'], ['y'])], output: 'y' },
  { name: 'Gemm (transA, beta, bias [3, 1])', inputs: { a: [4, 3], b: [4, 5], c: [3, 1] }, nodes: [node('Gemm', ['a', 'b', 'c'], ['y'], [['transA', int(1)], ['beta', flt(2)]])], output: 'y' },
  { name: 'Gemm (transA, transB, alpha)', inputs: { a: [4, 3], b: [5, 4] }, nodes: [node('Gemm', ['a', 'b'], ['y'], [['transA', int(1)], ['transB', int(1)], ['alpha', flt(-1.5)]])], output: 'y' },
  { name: 'Transpose', inputs: { a: [2, 3, 4] }, nodes: [node('Transpose', ['a'], ['y'], [['perm', ints([2, 0, 1])]])], output: 'y' },
  { name: 'Reshape', inputs: { a: [2, 6] }, consts: [i64('s', [3, 4])], nodes: [node('Reshape', ['a', 's'], ['y'])], output: 'y' },
  { name: 'Unsqueeze + Expand', inputs: { a: [3] }, consts: [i64('ax', [0]), i64('s', [4, 3])], nodes: [node('Unsqueeze', ['a', 'ax'], ['u']), node('Expand', ['u', 's'], ['y'])], output: 'y' },
  { name: 'Concat (axis 1)', inputs: { a: [2, 1, 3], b: [2, 4, 3] }, nodes: [node('Concat', ['a', 'b'], ['y'], [['axis', int(1)]])], output: 'y' },
  { name: 'Slice', inputs: { a: [3, 5] }, consts: [i64('st', [1]), i64('en', [4]), i64('ax', [1])], nodes: [node('Slice', ['a', 'st', 'en', 'ax'], ['y'])], output: 'y' },
  { name: 'Gather (scalar index, axis 1)', inputs: { a: [2, 4, 3] }, consts: [{ name: 'ix', dtype: 'int64', dims: [], data: new BigInt64Array([1n]) }], nodes: [node('Gather', ['a', 'ix'], ['y'], [['axis', int(1)]])], output: 'y' },
  { name: 'ReduceSum (keepdims 0)', inputs: { a: [2, 3, 4] }, consts: [i64('ax', [1])], nodes: [node('ReduceSum', ['a', 'ax'], ['y'], [['keepdims', int(0)]])], output: 'y' },
  { name: 'ReduceMean (keepdims 1)', inputs: { a: [2, 3, 4] }, consts: [i64('ax', [2])], nodes: [node('ReduceMean', ['a', 'ax'], ['y'], [['keepdims', int(1)]])], output: 'y' },
  { name: 'Softmax (last axis)', inputs: { a: [2, 5] }, nodes: [node('Softmax', ['a'], ['y'], [['axis', int(-1)]])], output: 'y' },
  { name: 'LogSoftmax', inputs: { a: [2, 5] }, nodes: [node('LogSoftmax', ['a'], ['y'], [['axis', int(-1)]])], output: 'y' },
  { name: 'LayerNormalization', inputs: { a: [2, 3, 6], g: [6], b: [6] }, nodes: [node('LayerNormalization', ['a', 'g', 'b'], ['y'], [['axis', int(-1)], ['epsilon', flt(1e-5)]])], output: 'y' },
  {
    name: 'LayerNormalization with its Mean and InvStdDev outputs (the rule reads them: the training graph)',
    inputs: { a: [2, 3, 6], g: [6], b: [6] },
    nodes: [node('LayerNormalization', ['a', 'g', 'b'], ['y', 'mean', 'invstd'], [['axis', int(-1)], ['epsilon', flt(1e-5)]])],
    output: 'y',
  },
  {
    name: 'LayerNormalization over the last two axes, with Mean and InvStdDev',
    inputs: { a: [2, 3, 4], g: [3, 4] },
    nodes: [node('LayerNormalization', ['a', 'g'], ['y', 'mean', 'invstd'], [['axis', int(1)], ['epsilon', flt(1e-5)]])],
    output: 'y',
  },
  { name: 'Where', inputs: { a: [5], b: [5] }, consts: [{ name: 'c', dtype: 'bool', dims: [5], data: new Uint8Array([1, 0, 1, 1, 0]) }], nodes: [node('Where', ['c', 'a', 'b'], ['y'])], output: 'y' },
  { name: 'Conv (patch embedding: overlapping stride)', inputs: { w: [3, 1, 3, 3], b: [3] }, consts: [], nodes: [node('Conv', ['x', 'w', 'b'], ['y'], [['strides', ints([2, 2])], ['kernel_shape', ints([3, 3])]])], output: 'y' },
];

const xConv: OnnxTensor = { name: 'x', dtype: 'float32', dims: [2, 1, 7, 8], data: Float32Array.from({ length: 112 }, (_, i) => Math.sin(i * 0.7)) };
cases.find((c) => c.name.startsWith('Conv'))!.consts!.push(xConv);

async function session(nodes: OnnxNode[], inputs: Record<string, number[]>, consts: OnnxTensor[], outputs: string[]): Promise<ort.InferenceSession> {
  const bytes = encodeModel({
    graph: {
      name: 'g',
      nodes,
      inputs: Object.entries(inputs).map(([name, dims]) => ({ name, dtype: 'float32', dims })),
      outputs: outputs.map((name) => ({ name, dtype: "float32" as const, dims: [] as Dim[] })),
      initializers: consts,
    },
    opsets: [{ domain: '', version: 20 }, { domain: 'com.microsoft', version: 1 }],
  });
  return ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
}

for (const c of cases) {
  test(`VJP ${c.name} matches central differences`, async () => {
    const rng = new Rng(7);
    const consts = [...(c.consts ?? [])];
    const feeds: Record<string, ort.Tensor> = {};
    const values: Record<string, Float32Array> = {};
    for (const [name, dims] of Object.entries(c.inputs)) {
      const n = dims.reduce((a, b) => a * b, 1);
      const pos = c.positive?.includes(name);
      // away from 0 for Relu / Abs kinks: |v| >= 0.2
      values[name] = Float32Array.from({ length: n }, () => {
        const v = rng.uniform() * 1.6 + 0.2;
        return pos ? v : rng.uniform() < 0.5 ? -v : v;
      });
    }
    // forward once with every value as an output, to learn each value's shape
    const allValues = [...new Set(c.nodes.flatMap((n) => n.outputs))];
    const probe = await session(c.nodes, c.inputs, consts, allValues);
    for (const [k, v] of Object.entries(values)) feeds[k] = new ort.Tensor('float32', v, c.inputs[k]!);
    const probed = await probe.run(feeds);
    const shapes = new Map<string, Dim[]>();
    for (const [k, dims] of Object.entries(c.inputs)) shapes.set(k, dims);
    for (const t of consts) shapes.set(t.name, [...t.dims]);
    for (const k of allValues) shapes.set(k, [...probed[k]!.dims]);
    const outDims = shapes.get(c.output)!;
    const R = Float32Array.from({ length: outDims.reduce((a, b) => (a as number) * (b as number), 1) as number }, () => rng.uniform() * 2 - 1);
    const weightsT: OnnxTensor = { name: 'R', dtype: 'float32', dims: outDims as number[], data: R };
    const lossNodes = [...c.nodes, node('Mul', [c.output, 'R'], ['yr']), node('ReduceSum', ['yr'], ['loss'], [['keepdims', int(0)]])];
    shapes.set('R', outDims);
    shapes.set('yr', outDims);
    shapes.set('loss', []);
    const allConsts = [...consts, weightsT];
    const constVals = new Map(allConsts.map((t) => [t.name, Array.from(t.data as ArrayLike<number | bigint>, Number)]));
    const nodes = [...lossNodes];
    const inits: OnnxTensor[] = [...allConsts];
    const g = new OnnxGradGraph({ shape: (v) => shapes.get(v), constValue: (v) => constVals.get(v), nodes, initializers: inits });
    const wrt = Object.keys(c.inputs);
    const grads = gradients(g, nodeRecords(lossNodes), 'loss', wrt);
    const gradNames = wrt.map((w) => grads.get(w)!);
    const idNodes = gradNames.map((gn, i) => node('Identity', [gn], [`d_${wrt[i]}`]));
    const train = await session([...nodes, ...idNodes], c.inputs, inits, ['loss', ...wrt.map((w) => `d_${w}`)]);
    const fwd = await session(lossNodes, c.inputs, allConsts, ['loss']);
    const out = await train.run(feeds);
    const lossAt = async (name: string, i: number, delta: number): Promise<number> => {
      const v = Float32Array.from(values[name]!);
      v[i]! += delta;
      const f = { ...feeds, [name]: new ort.Tensor('float32', v, c.inputs[name]!) };
      return Number((await fwd.run(f)).loss!.data[0]);
    };
    const eps = 1e-2;
    for (const w of wrt) {
      const got = out[`d_${w}`]!.data as Float32Array;
      assert.equal(got.length, values[w]!.length, `${w}: gradient has ${got.length} values`);
      let worst = 0;
      for (let i = 0; i < got.length; i++) {
        const fd = ((await lossAt(w, i, eps)) - (await lossAt(w, i, -eps))) / (2 * eps);
        worst = Math.max(worst, Math.abs(fd - got[i]!) / Math.max(1, Math.abs(fd)));
      }
      // float32 forward, step 1e-2: truncation ~eps²·f''' and rounding ~1e-7/eps stay below 1e-3 on these sizes;
      // a wrong rule is off by O(1)
      assert.ok(worst < 3e-3, `${c.name} d/d${w}: worst relative error ${worst}`);
    }
  });
}
