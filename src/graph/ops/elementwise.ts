/**
 * Element-wise ops: the broadcasting binaries, comparisons, and the unary math — each entry with its
 * shape/dtype rule and derivative rule, and the typed builder methods that emit them.
 */
import type { OnnxElemType } from '../onnx.js';
import type { Dim } from '../types.js';
import type { Value } from '../value.js';
import { broadcast, operand, sameShape, type OpEmitter, type Operand, type OpTable, type ShapeRule } from './kit.js';

const broadcastShape: ShapeRule = (c) => [broadcast(c.dims.filter((d): d is readonly Dim[] => !!d))];
const bool = (): OnnxElemType => 'bool';
const DTYPE_BY_ONNX: Record<number, OnnxElemType> = { 1: 'float32', 2: 'uint8', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 16: 'bfloat16' };

export const ELEMENTWISE_OPS: OpTable = {
  Add: { shape: broadcastShape, unbroadcast: true, vjp: (_g, _n, [dy]) => [dy, dy] },
  Sub: { shape: broadcastShape, unbroadcast: true, vjp: (_g, _n, [dy], x) => [dy, dy && x.neg(dy)] },
  Mul: {
    shape: broadcastShape,
    unbroadcast: true,
    vjp: (_g, n, [dy], x, w) => [dy && w[0] ? x.mul(dy, n.inputs[1]!) : undefined, dy && w[1] ? x.mul(dy, n.inputs[0]!) : undefined],
  },
  Div: {
    shape: broadcastShape,
    unbroadcast: true,
    vjp: (_g, n, [dy], x, w) => {
      if (!dy) return [];
      const b = n.inputs[1]!;
      if (!w[1]) return [x.div(dy, b)];
      const da = x.div(dy, b);
      return [da, x.neg(x.div(x.mul(dy, n.outputs[0]!), b))]; // d(a/b)/db = -(a/b)/b
    },
  },
  Pow: {
    shape: broadcastShape,
    unbroadcast: true,
    vjp: (g, n, [dy], x) => {
      if (!dy) return [];
      const e = g.constValue(n.inputs[1]!);
      if (!e || e.length !== 1) throw new Error('autodiff: Pow is differentiable only with a constant scalar exponent');
      const p = e[0]!;
      const d = p === 2 ? x.scale(n.inputs[0]!, 2) : x.scale(x.pow(n.inputs[0]!, x.scalar(p - 1)), p);
      return [x.mul(dy, d)];
    },
  },
  Max: { shape: broadcastShape, unbroadcast: true },
  Min: { shape: broadcastShape, unbroadcast: true },
  Where: {
    shape: broadcastShape,
    unbroadcast: true,
    dtype: (inputs) => inputs[1]?.dtype ?? 'float32',
    vjp: (_g, n, [dy], x, w) => {
      if (!dy) return [];
      const zero = x.scalar(0);
      return [undefined, w[1] ? x.where(n.inputs[0]!, dy, zero) : undefined, w[2] ? x.where(n.inputs[0]!, zero, dy) : undefined];
    },
  },
  Greater: { shape: broadcastShape, dtype: bool },
  Less: { shape: broadcastShape, dtype: bool },
  Equal: { shape: broadcastShape, dtype: bool },
  GreaterOrEqual: { dtype: bool },
  LessOrEqual: { dtype: bool },
  And: { shape: broadcastShape, dtype: bool },
  Or: { shape: broadcastShape, dtype: bool },
  Not: { shape: sameShape, dtype: bool },

  Identity: { shape: sameShape, vjp: (_g, _n, [dy]) => [dy] },
  Cast: { shape: sameShape, dtype: (_i, attrs) => DTYPE_BY_ONNX[attrs.to as number] ?? 'float32', vjp: (_g, _n, [dy]) => [dy] },
  Neg: { shape: sameShape, vjp: (_g, _n, [dy], x) => [dy && x.neg(dy)] },
  Exp: { shape: sameShape, vjp: (_g, n, [dy], x) => [dy && x.mul(dy, n.outputs[0]!)] },
  Log: { shape: sameShape, vjp: (_g, n, [dy], x) => [dy && x.div(dy, n.inputs[0]!)] },
  Sqrt: { shape: sameShape, vjp: (_g, n, [dy], x) => [dy && x.div(x.scale(dy, 0.5), n.outputs[0]!)] },
  Reciprocal: { shape: sameShape, vjp: (_g, n, [dy], x) => [dy && x.neg(x.mul(dy, x.mul(n.outputs[0]!, n.outputs[0]!)))] },
  Abs: { shape: sameShape, vjp: (_g, n, [dy], x) => [dy && x.mul(dy, x.sign(n.inputs[0]!))] },
  Sign: { shape: sameShape },
  Relu: { shape: sameShape, vjp: (_g, n, [dy], x) => [dy && x.mul(dy, x.positive(n.inputs[0]!))] },
  Tanh: {
    shape: sameShape,
    vjp: (_g, n, [dy], x) => {
      const y = n.outputs[0]!;
      return [dy && x.mul(dy, x.sub(x.scalar(1), x.mul(y, y)))];
    },
  },
  Sigmoid: {
    shape: sameShape,
    vjp: (_g, n, [dy], x) => {
      const y = n.outputs[0]!;
      return [dy && x.mul(dy, x.mul(y, x.sub(x.scalar(1), y)))];
    },
  },
  Erf: {
    shape: sameShape,
    vjp: (_g, n, [dy], x) => {
      const a = n.inputs[0]!;
      // d erf(a) = 2/√π · e^{−a²} = e^{ln(2/√π) − a²}: the constant folded into the exponent saves a pass
      return [dy && x.mul(dy, x.exp(x.sub(x.scalar(Math.log(2 / Math.sqrt(Math.PI))), x.mul(a, a))))];
    },
  },
  /** ONNX Gelu (opset 20): exact d/dx [x Φ(x)] = Φ(x) + x φ(x); tanh form differentiated directly. */
  Gelu: {
    shape: sameShape,
    vjp: (_g, n, [dy], x) => {
      if (!dy) return [];
      const a = n.inputs[0]!;
      if (n.attrs.approximate === 'tanh') {
        const c = Math.sqrt(2 / Math.PI);
        const inner = x.scale(x.add(a, x.scale(x.mul(a, x.mul(a, a)), 0.044715)), c);
        const t = x.tanh(inner);
        const dInner = x.scale(x.add(x.scalar(1), x.scale(x.mul(a, a), 3 * 0.044715)), c);
        const d = x.add(x.scale(x.add(x.scalar(1), t), 0.5), x.mul(x.scale(a, 0.5), x.mul(x.sub(x.scalar(1), x.mul(t, t)), dInner)));
        return [x.mul(dy, d)];
      }
      const cdf = x.scale(x.add(x.scalar(1), x.erf(x.scale(a, Math.SQRT1_2))), 0.5);
      const pdf = x.scale(x.exp(x.scale(x.mul(a, a), -0.5)), 1 / Math.sqrt(2 * Math.PI));
      return [x.mul(dy, x.add(cdf, x.mul(a, pdf)))];
    },
  },
};

const binary = (type: string) =>
  function (this: OpEmitter, a: Operand, b: Operand): Value {
    return this.op1(type, [operand(this, a), operand(this, b)]);
  };
const unary = (type: string) =>
  function (this: OpEmitter, a: Value): Value {
    return this.op1(type, [a]);
  };

/** Typed builders (numbers become float32 scalar constants). */
export const elementwiseBuilders = {
  add: binary('Add'),
  sub: binary('Sub'),
  mul: binary('Mul'),
  div: binary('Div'),
  pow: binary('Pow'),
  neg: unary('Neg'),
  exp: unary('Exp'),
  log: unary('Log'),
  sqrt: unary('Sqrt'),
  reciprocal: unary('Reciprocal'),
  abs: unary('Abs'),
  relu: unary('Relu'),
  tanh: unary('Tanh'),
  sigmoid: unary('Sigmoid'),
  erf: unary('Erf'),
  identity: unary('Identity'),
  /** cond ? a : b, element-wise. */
  where(this: OpEmitter, cond: Value, a: Operand, b: Operand): Value {
    return this.op1('Where', [cond, operand(this, a), operand(this, b)]);
  },
};
