/** Reductions (axes as an input, opset 18), with shape and derivative rules and typed builders. */
import type { GradGraph, NodeRecord } from '../types.js';
import type { Value } from '../value.js';
import { attrInts, attrNum, normAxis, staticDims, type OpEmitter, type OpTable, type Ops, type ShapeRule } from './kit.js';

/** The axes a Reduce* node reduces (input or attribute; all when none). */
function reducedAxes<V>(g: GradGraph<V>, n: NodeRecord<V>, rank: number): number[] {
  const axesV = n.inputs[1] ? g.constValue(n.inputs[1]) : attrInts(n, 'axes');
  return axesV ? axesV.map((a) => normAxis(a, rank)) : Array.from({ length: rank }, (_, i) => i);
}

/** Re-inserts the axes a Reduce* node dropped (keepdims=0) so the cotangent broadcasts back. */
function keepReducedAxes<V>(g: GradGraph<V>, x: Ops<V>, n: NodeRecord<V>, dy: V): V {
  if (attrNum(n, 'keepdims', 1) === 1) return dy;
  const axes = reducedAxes(g, n, g.shape(n.inputs[0]!).length);
  return x.unsqueeze(dy, [...axes].sort((p, q) => p - q));
}

const reduceShape: ShapeRule = (c) => {
  const axes = (c.constOf(1) ?? attrInts(c, 'axes') ?? c.x.map((_, i) => i)).map((a) => normAxis(a, c.x.length));
  const keep = attrNum(c, 'keepdims', 1) === 1;
  return [keep ? c.x.map((d, i) => (axes.includes(i) ? 1 : d)) : c.x.filter((_, i) => !axes.includes(i))];
};

export const REDUCE_OPS: OpTable = {
  ReduceSum: {
    shape: reduceShape,
    vjp: (g, n, [dy], x) => {
      if (!dy) return [];
      return [x.expandLike(keepReducedAxes(g, x, n, dy), n.inputs[0]!)];
    },
  },
  ReduceMean: {
    shape: reduceShape,
    vjp: (g, n, [dy], x) => {
      if (!dy) return [];
      const inDims = g.shape(n.inputs[0]!);
      const axes = reducedAxes(g, n, inDims.length);
      const count = staticDims(axes.map((a) => inDims[a]!), 'ReduceMean reduced axes').reduce((a, b) => a * b, 1);
      return [x.expandLike(x.scale(keepReducedAxes(g, x, n, dy), 1 / count), n.inputs[0]!)];
    },
  },
  ReduceMax: { shape: reduceShape },
};

export interface ReduceOptions {
  /** Keep the reduced axes as size 1 (ONNX's default: true). */
  keepdims?: boolean;
}

const reduce = (type: string) =>
  /** Reduces `axes` (every axis when omitted). */
  function (this: OpEmitter, x: Value, axes?: readonly number[], o: ReduceOptions = {}): Value {
    return this.op1(type, axes ? [x, this.constI64(axes)] : [x], o.keepdims === undefined ? {} : { keepdims: o.keepdims ? 1 : 0 });
  };

export const reduceBuilders = {
  reduceSum: reduce('ReduceSum'),
  reduceMean: reduce('ReduceMean'),
  reduceMax: reduce('ReduceMax'),
};
