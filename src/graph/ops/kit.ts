/**
 * What every op family file is written against: the `OpSpec` entry (shape/dtype rule, attribute types,
 * derivative rule), the context a shape rule reads, the `Ops` helpers the derivative rules read like
 * math with, and the emitter interface the typed builder methods call. Imports types only.
 */
import type { Attrs, Dim, GradGraph, NodeRecord } from '../types.js';
import type { OnnxElemType } from '../onnx.js';
import type { Value } from '../value.js';

/** What a shape rule may ask about the node being added. */
export interface ShapeContext {
  readonly inputs: readonly (Value | null)[];
  /** Each input's static dims (undefined for a missing input or an unknown shape). */
  readonly dims: readonly (readonly Dim[] | undefined)[];
  /** The first input's dims (a rule is only asked when they are known; Shape reads `dims[0]`). */
  readonly x: readonly Dim[];
  readonly attrs: Attrs;
  readonly numOutputs: number;
  /** The numbers of input i when it is a constant. */
  constOf(i: number): readonly number[] | undefined;
  /** The dims input i describes when it is Shape(b), or a Concat / Slice of such pieces. */
  describedShape(i: number): readonly Dim[] | undefined;
}

/** Output shapes (one per output; undefined = not known statically). */
export type ShapeRule = (c: ShapeContext) => (Dim[] | undefined)[] | undefined;
export type DtypeRule = (inputs: readonly (Value | null)[], attrs: Attrs) => OnnxElemType;

/**
 * A derivative rule: cotangent of each output (undefined = zero) -> cotangent of each input (undefined = none).
 * `wants[i]` says whether input i needs one; rules skip the work for the others (the graph keeps no dead nodes).
 */
export type Vjp = <V>(g: GradGraph<V>, node: NodeRecord<V>, dOut: readonly (V | undefined)[], x: Ops<V>, wants: readonly boolean[]) => (V | undefined)[];

/** Everything the graph layer knows about one op type, in one place. */
export interface OpSpec {
  /** Default: unknown (the value then has no static shape). */
  readonly shape?: ShapeRule;
  /** Default: the first present input's element type. */
  readonly dtype?: DtypeRule;
  /** Numeric attributes ONNX declares FLOAT(S); every other numeric attribute is written as INT(S). */
  readonly floatAttrs?: readonly string[];
  /** Reverse-mode rule; an op without one is not differentiable. */
  readonly vjp?: Vjp;
  /** Element-wise with numpy broadcasting: the gradient walk sums input cotangents back to each input's shape. */
  readonly unbroadcast?: boolean;
}

export type OpTable = Readonly<Record<string, OpSpec>>;

/** What the typed builder methods need from the graph (GraphBuilder is one). */
export interface OpEmitter {
  op(type: string, inputs: readonly (Value | null)[], attrs?: Attrs, numOutputs?: number, domain?: string): Value[];
  op1(type: string, inputs: readonly (Value | null)[], attrs?: Attrs, domain?: string): Value;
  constF32(values: readonly number[], dims?: readonly number[]): Value;
  constI64(values: readonly number[], dims?: readonly number[]): Value;
}

/** A tensor operand, or a number that becomes a float32 scalar constant. */
export type Operand = Value | number;

export function operand(g: OpEmitter, v: Operand): Value {
  return typeof v === 'number' ? g.constF32([v], []) : v;
}

// ---------------------------------------------------------------- shared rule pieces

export const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

export function attrNum(node: { attrs: Attrs }, name: string, dflt: number): number {
  const v = node.attrs[name];
  return typeof v === 'number' ? v : dflt;
}

export function attrInts(node: { attrs: Attrs }, name: string): number[] | undefined {
  const v = node.attrs[name];
  return Array.isArray(v) ? (v as number[]) : undefined;
}

export function staticDims(dims: readonly Dim[], what: string): number[] {
  return dims.map((d) => {
    if (typeof d !== 'number') throw new Error(`autodiff: ${what} needs a static shape, got [${dims.join(', ')}]`);
    return d;
  });
}

/** numpy broadcasting of static shapes (symbolic dims meet numbers as the number); undefined when they clash. */
export function broadcast(shapes: (readonly Dim[])[]): Dim[] | undefined {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      if (k < 0) continue;
      const e = s[k]!;
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (d !== e) {
        if (typeof d === 'number' && typeof e === 'number') return undefined;
        if (typeof d === 'string' && typeof e === 'number') d = e;
      }
    }
    out.push(d);
  }
  return out;
}

/** Same shape as the first input. */
export const sameShape: ShapeRule = (c) => [[...c.x]];

/** Small helpers over `op`, so the derivative rules read like the math. */
export class Ops<V> {
  constructor(readonly g: GradGraph<V>) {}
  private one(type: string, inputs: readonly (V | null)[], attrs?: Attrs): V {
    return this.g.op(type, inputs, attrs, 1)[0]!;
  }
  add = (a: V, b: V): V => this.one('Add', [a, b]);
  sub = (a: V, b: V): V => this.one('Sub', [a, b]);
  mul = (a: V, b: V): V => this.one('Mul', [a, b]);
  div = (a: V, b: V): V => this.one('Div', [a, b]);
  neg = (a: V): V => this.one('Neg', [a]);
  exp = (a: V): V => this.one('Exp', [a]);
  sqrt = (a: V): V => this.one('Sqrt', [a]);
  erf = (a: V): V => this.one('Erf', [a]);
  tanh = (a: V): V => this.one('Tanh', [a]);
  sigmoid = (a: V): V => this.one('Sigmoid', [a]);
  sign = (a: V): V => this.one('Sign', [a]);
  pow = (a: V, b: V): V => this.one('Pow', [a, b]);
  matmul = (a: V, b: V): V => this.one('MatMul', [a, b]);
  scalar = (c: number): V => this.g.constF32([c], []);
  scale = (a: V, c: number): V => this.mul(a, this.scalar(c));
  transpose = (a: V, perm: number[]): V => this.one('Transpose', [a], { perm });
  /** Swaps the last two axes. */
  mT = (a: V): V => {
    const r = this.g.shape(a).length;
    const perm = Array.from({ length: r }, (_, i) => i);
    [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
    return this.transpose(a, perm);
  };
  shapeOf = (a: V): V => this.one('Shape', [a]);
  /**
   * `a` reshaped to `like`'s shape (same element count). When that shape is static (at most one symbolic dim,
   * written -1) the target is a constant, and when `a` already has it no node is emitted: a Shape node per
   * reshape is a kernel call per step that a small model's step notices.
   */
  reshapeLike = (a: V, like: V): V => {
    const to = this.dimsOf(like);
    if (to) {
      const from = this.dimsOf(a);
      if (from && from.length === to.length && to.every((d, i) => typeof d === 'number' && d === from[i])) return a;
      if (to.filter((d) => typeof d !== 'number').length <= 1) return this.reshape(a, to.map((d) => (typeof d === 'number' ? d : -1)));
    }
    return this.one('Reshape', [a, this.shapeOf(like)]);
  };
  private dimsOf(v: V): readonly Dim[] | undefined {
    try {
      return this.g.shape(v);
    } catch {
      return undefined;
    }
  }
  reshape = (a: V, dims: number[]): V => this.one('Reshape', [a, this.g.constI64(dims, [dims.length])]);
  unsqueeze = (a: V, axes: number[]): V => this.one('Unsqueeze', [a, this.g.constI64(axes, [axes.length])]);
  pad = (a: V, pads: number[]): V => this.one('Pad', [a, this.g.constI64(pads, [pads.length])], { mode: 'constant' });
  sum = (a: V, axes: number[], keepdims: boolean): V =>
    this.one('ReduceSum', [a, this.g.constI64(axes, [axes.length])], { keepdims: keepdims ? 1 : 0 });
  mean = (a: V, axes: number[], keepdims: boolean): V =>
    this.one('ReduceMean', [a, this.g.constI64(axes, [axes.length])], { keepdims: keepdims ? 1 : 0 });
  expandLike = (a: V, like: V): V => this.one('Expand', [a, this.shapeOf(like)]);
  /** 1 where a > 0 else 0, as float. */
  positive = (a: V): V => this.one('Cast', [this.one('Greater', [a, this.scalar(0)])], { to: 1 });
  where = (c: V, a: V, b: V): V => this.one('Where', [c, a, b]);
}

/** Sums a cotangent of shape `from` back to the shape of `target` (numpy broadcasting in reverse). */
export function unbroadcast<V>(g: GradGraph<V>, x: Ops<V>, d: V, from: readonly Dim[], target: V): V {
  const to = g.shape(target);
  if (from.length === to.length && from.every((f, i) => f === to[i])) return d;
  const lead = from.length - to.length;
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    if (i < lead || (to[i - lead] === 1 && from[i] !== 1)) axes.push(i);
  }
  // only leading axes summed (a Linear's bias): without keepdims the sum has the target's shape already
  const onlyLead = axes.every((i) => i < lead);
  const summed = axes.length ? x.sum(d, axes, !onlyLead) : d;
  return x.reshapeLike(summed, target);
}
