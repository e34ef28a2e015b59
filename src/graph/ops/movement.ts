/**
 * Ops that move or select data without arithmetic: Transpose, Reshape, Flatten, (Un)Squeeze, Expand,
 * Concat, Split, Slice, Gather, Pad, Shape — rules and typed builders together.
 */
import type { Dim, NodeRecord } from '../types.js';
import type { Value } from '../value.js';
import { attrInts, attrNum, broadcast, normAxis, staticDims, type OpEmitter, type OpTable } from './kit.js';

/** A dim as coefficient x symbols ('batch*1214' -> 1214, ['batch']). */
function factor(d: Dim): { coef: number; syms: string[] } {
  if (typeof d === 'number') return { coef: d, syms: [] };
  let coef = 1;
  const syms: string[] = [];
  for (const part of d.split('*')) {
    if (/^\d+$/.test(part)) coef *= Number(part);
    else syms.push(part);
  }
  return { coef, syms };
}

/** prod(all) / prod(rest), symbolically: what a -1 in Reshape stands for. */
function divideDims(all: readonly Dim[], rest: readonly Dim[]): Dim {
  let coef = 1;
  const syms: string[] = [];
  for (const d of all) {
    const f = factor(d);
    coef *= f.coef;
    syms.push(...f.syms);
  }
  for (const d of rest) {
    const f = factor(d);
    coef /= f.coef;
    for (const s of f.syms) {
      const k = syms.indexOf(s);
      if (k < 0) return 'unknown';
      syms.splice(k, 1);
    }
  }
  if (syms.length === 0) return coef;
  syms.sort();
  return coef === 1 ? syms.join('*') : `${syms.join('*')}*${coef}`;
}

/** What the builder answers about recorded values, for `describedShape`. */
export interface RecordedGraph {
  producerOf(v: Value): NodeRecord<Value> | undefined;
  constValue(v: Value): readonly number[] | undefined;
}

/** When `v` is Shape(b) (or a Concat / Slice of shape pieces), the dims it describes. */
export function describedShape(g: RecordedGraph, v: Value): readonly Dim[] | undefined {
  const node = g.producerOf(v);
  if (!node) return undefined;
  if (node.op === 'Shape' && !node.attrs.start && node.attrs.end === undefined) return node.inputs[0]!.dims;
  if (node.op === 'Concat') {
    const parts: Dim[] = [];
    for (const p of node.inputs) {
      const c = g.constValue(p!);
      if (c) parts.push(...c);
      else {
        const s = describedShape(g, p!);
        if (!s) return undefined;
        parts.push(...s);
      }
    }
    return parts;
  }
  if (node.op === 'Slice') {
    const src = describedShape(g, node.inputs[0]!);
    const starts = g.constValue(node.inputs[1]!);
    const ends = g.constValue(node.inputs[2]!);
    if (!src || !starts || !ends) return undefined;
    const clamp = (e: number) => Math.min(Math.max(e < 0 ? e + src.length : e, 0), src.length);
    return src.slice(clamp(starts[0]!), clamp(ends[0]!));
  }
  return undefined;
}

/** Reshape-like ops: the cotangent takes the input's shape back. */
const reshapeBack: OpTable[string]['vjp'] = (_g, n, [dy], x) => [dy && x.reshapeLike(dy, n.inputs[0]!)];

export const MOVEMENT_OPS: OpTable = {
  Transpose: {
    shape: (c) => {
      const perm = attrInts(c, 'perm') ?? c.x.map((_, i) => c.x.length - 1 - i);
      return [perm.map((p) => c.x[p]!)];
    },
    vjp: (g, n, [dy], x) => {
      if (!dy) return [];
      const rank = g.shape(n.inputs[0]!).length;
      const perm = attrInts(n, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
      const inv = new Array<number>(rank);
      perm.forEach((p, i) => (inv[p] = i));
      return [x.transpose(dy, inv)];
    },
  },
  Shape: { shape: (c) => [[c.dims[0] ? c.dims[0].length : 'rank']], dtype: () => 'int64' },
  Reshape: {
    shape: (c) => {
      const target = c.constOf(1);
      if (!target) {
        // Reshape to the shape of another value: Reshape(a, Shape(b)) has b's shape
        const src = c.describedShape(1);
        return [src ? [...src] : undefined];
      }
      const known: Dim[] = target.map((d, i) => (d === 0 ? c.x[i]! : d));
      const neg = known.indexOf(-1);
      if (neg >= 0) known[neg] = divideDims(c.x, known.filter((_, i) => i !== neg));
      return [known];
    },
    vjp: reshapeBack,
  },
  Flatten: {
    shape: (c) => {
      const axis = normAxis(attrNum(c, 'axis', 1), c.x.length);
      const prod = (ds: readonly Dim[]) => (ds.every((d) => typeof d === 'number') ? (ds as number[]).reduce((a, b) => a * b, 1) : `flat`);
      return [[prod(c.x.slice(0, axis)), prod(c.x.slice(axis))]];
    },
    vjp: reshapeBack,
  },
  Unsqueeze: {
    shape: (c) => {
      const axes = c.constOf(1);
      if (!axes) return undefined;
      const r = c.x.length + axes.length;
      const ax = axes.map((a) => normAxis(a, r));
      const out: Dim[] = [];
      let k = 0;
      for (let i = 0; i < r; i++) out.push(ax.includes(i) ? 1 : c.x[k++]!);
      return [out];
    },
    vjp: reshapeBack,
  },
  Squeeze: {
    shape: (c) => {
      const axes = c.constOf(1)?.map((a) => normAxis(a, c.x.length)) ?? c.x.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
      return [c.x.filter((_, i) => !axes.includes(i))];
    },
    vjp: reshapeBack,
  },
  Expand: {
    shape: (c) => {
      const src = c.constOf(1) ?? c.describedShape(1);
      if (!src) return undefined;
      return [broadcast([c.x, src])];
    },
    unbroadcast: true,
    vjp: (_g, _n, [dy]) => [dy], // summed back to the input's shape by the walk
  },
  Concat: {
    shape: (c) => {
      const axis = normAxis(attrNum(c, 'axis', 0), c.x.length);
      const out = [...c.x];
      const parts = c.dims.map((d) => d![axis]!);
      out[axis] = parts.every((p) => typeof p === 'number') ? (parts as number[]).reduce((a, b) => a + b, 0) : `concat`;
      return [out];
    },
    vjp: (g, n, [dy]) => {
      if (!dy) return [];
      const rank = g.shape(n.outputs[0]!).length;
      const axis = normAxis(attrNum(n, 'axis', 0), rank);
      const sizes = n.inputs.map((v) => g.shape(v!)[axis]);
      staticDims(sizes as Dim[], `Concat input along axis ${axis}`);
      return g.op('Split', [dy, g.constI64(sizes as number[], [sizes.length])], { axis }, sizes.length);
    },
  },
  Split: {
    shape: (c) => {
      const axis = normAxis(attrNum(c, 'axis', 0), c.x.length);
      const sizes = c.constOf(1) ?? new Array<number>(c.numOutputs).fill((c.x[axis] as number) / c.numOutputs);
      return sizes.map((s) => {
        const o = [...c.x];
        o[axis] = s;
        return o;
      });
    },
  },
  Slice: {
    shape: (c) => {
      const starts = c.constOf(1);
      const ends = c.constOf(2);
      const axes = c.inputs[3] ? c.constOf(3) : starts?.map((_, i) => i);
      const steps = c.inputs[4] ? c.constOf(4) : undefined;
      if (!starts || !ends || !axes) return undefined;
      const out = [...c.x];
      axes.forEach((a0, i) => {
        const a = normAxis(a0, c.x.length);
        const size = c.x[a]!;
        const step = steps?.[i] ?? 1;
        if (typeof size !== 'number') {
          out[a] = `${c.inputs[0]!.name}_sliced`;
          return;
        }
        const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
        out[a] = Math.max(0, Math.ceil((clamp(ends[i]!) - clamp(starts[i]!)) / step));
      });
      return [out];
    },
    vjp: (g, n, [dy], x) => {
      if (!dy) return [];
      const data = n.inputs[0]!;
      const inDims = g.shape(data);
      const starts = g.constValue(n.inputs[1]!);
      const ends = g.constValue(n.inputs[2]!);
      const axes = n.inputs[3] ? g.constValue(n.inputs[3]) : starts?.map((_, i) => i);
      const steps = n.inputs[4] ? g.constValue(n.inputs[4]) : undefined;
      if (!starts || !ends || !axes) throw new Error('autodiff: Slice needs constant starts, ends and axes');
      if (steps && steps.some((s) => s !== 1)) throw new Error('autodiff: Slice with steps other than 1 is not supported');
      const rank = inDims.length;
      const pads = new Array<number>(2 * rank).fill(0);
      axes.forEach((a0, i) => {
        const a = normAxis(a0, rank);
        const size = inDims[a]!;
        if (typeof size !== 'number') throw new Error(`autodiff: Slice along axis ${a} of symbolic size ${size}`);
        const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
        const s = clamp(starts[i]!);
        const e = clamp(ends[i]!);
        pads[a] = s;
        pads[rank + a] = size - Math.max(e, s);
      });
      return [x.pad(dy, pads)];
    },
  },
  Gather: {
    shape: (c) => {
      const axis = normAxis(attrNum(c, 'axis', 0), c.x.length);
      const idx = c.dims[1]!;
      return [[...c.x.slice(0, axis), ...idx, ...c.x.slice(axis + 1)]];
    },
    vjp: (g, n, [dy], x) => {
      if (!dy) return [];
      const inDims = g.shape(n.inputs[0]!);
      const rank = inDims.length;
      const axis = normAxis(attrNum(n, 'axis', 0), rank);
      if (typeof inDims[axis] !== 'number') throw new Error(`autodiff: Gather along axis ${axis} of symbolic size`);
      const idx = g.constValue(n.inputs[1]!);
      const idxDims = g.shape(n.inputs[1]!);
      if (!idx || idx.length !== 1) throw new Error('autodiff: Gather is differentiable only with one constant index');
      const size = inDims[axis] as number;
      const i = idx[0]! < 0 ? idx[0]! + size : idx[0]!;
      // a scalar index drops the axis: put it back, then pad zeros around it
      const d = idxDims.length === 0 ? x.unsqueeze(dy, [axis]) : dy;
      const pads = new Array<number>(2 * rank).fill(0);
      pads[axis] = i;
      pads[rank + axis] = size - i - 1;
      return [x.pad(d, pads)];
    },
  },
  Pad: {
    shape: (c) => {
      const pads = c.constOf(1);
      if (!pads) return undefined;
      const r = c.x.length;
      return [c.x.map((d, i) => (typeof d === 'number' ? d + pads[i]! + pads[i + r]! : d))];
    },
  },
};

/** A shape given as numbers (an int64 constant; 0 copies the input's dim, -1 is inferred) or as a value. */
const shapeInput = (g: OpEmitter, s: readonly number[] | Value): Value => (Array.isArray(s) ? g.constI64(s) : (s as Value));

export const movementBuilders = {
  /** Permutes the axes (reversed when `perm` is omitted). */
  transpose(this: OpEmitter, x: Value, perm?: readonly number[]): Value {
    return this.op1('Transpose', [x], perm ? { perm: [...perm] } : {});
  },
  reshape(this: OpEmitter, x: Value, shape: readonly number[] | Value): Value {
    return this.op1('Reshape', [x, shapeInput(this, shape)]);
  },
  unsqueeze(this: OpEmitter, x: Value, axes: readonly number[]): Value {
    return this.op1('Unsqueeze', [x, this.constI64(axes)]);
  },
  /** Broadcasts `x` to `shape`. */
  expand(this: OpEmitter, x: Value, shape: readonly number[] | Value): Value {
    return this.op1('Expand', [x, shapeInput(this, shape)]);
  },
  /** x cut along `axis` into pieces of the given sizes (e.g. a fused query/key/value projection). */
  split(this: OpEmitter, x: Value, sizes: readonly number[], axis: number): Value[] {
    return this.op('Split', [x, this.constI64(sizes, [sizes.length])], { axis }, sizes.length);
  },
  concat(this: OpEmitter, values: readonly Value[], axis: number): Value {
    return this.op1('Concat', values, { axis });
  },
  /** x[starts:ends] along `axes` (all leading axes when omitted). */
  slice(this: OpEmitter, x: Value, starts: readonly number[] | Value, ends: readonly number[] | Value, axes?: readonly number[]): Value {
    const inputs = [x, shapeInput(this, starts), shapeInput(this, ends)];
    if (axes) inputs.push(this.constI64(axes));
    return this.op1('Slice', inputs);
  },
  /** The runtime shape of `x`, as an int64 vector. */
  shapeOf(this: OpEmitter, x: Value): Value {
    return this.op1('Shape', [x]);
  },
};
