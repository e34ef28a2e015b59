/**
 * Reverse-mode autodiff over the recorded ONNX graph (after tinygrad's gradient.py):
 * every derivative rule is one entry of `VJP`, keyed by ONNX op type; `gradients` walks the
 * recorded nodes once in reverse topological order, sums the cotangents of values used more
 * than once, and un-broadcasts — once, here, not in each rule — the cotangents of the
 * broadcasting element-wise ops back to their input's shape.
 *
 * The rules emit ordinary ONNX ops through `GradGraph`, so the gradient is part of the same
 * graph that ONNX Runtime runs: one session computes loss, logits and every weight's gradient.
 */

/** A static dimension: a number, or a symbolic name such as 'batch'. */
export type Dim = number | string;

export type AttrValue = number | string | number[] | string[] | Float32Array;
export type Attrs = Readonly<Record<string, AttrValue>>;

/** One recorded forward node, as the builder keeps it. */
export interface NodeRecord<V> {
  readonly op: string;
  readonly domain?: string;
  readonly inputs: readonly (V | null)[];
  readonly outputs: readonly V[];
  readonly attrs: Attrs;
}

/** What the rules need from the graph under construction. */
export interface GradGraph<V> {
  /** Emits one node and returns its outputs. */
  op(type: string, inputs: readonly (V | null)[], attrs?: Attrs, numOutputs?: number): V[];
  /** The value's static shape (symbolic names allowed); used to un-broadcast and to size slices. */
  shape(v: V): readonly Dim[];
  /** The numbers of a value that is a constant (initializer or Constant), else undefined. */
  constValue(v: V): readonly number[] | undefined;
  constF32(values: readonly number[], dims: readonly number[]): V;
  constI64(values: readonly number[], dims?: readonly number[]): V;
}

/**
 * A rule: cotangent of each output (undefined = zero) -> cotangent of each input (undefined = none).
 * `wants[i]` says whether input i needs one; rules skip the work for the others (the graph keeps no dead nodes).
 */
export type Vjp = <V>(g: GradGraph<V>, node: NodeRecord<V>, dOut: readonly (V | undefined)[], x: Ops<V>, wants: readonly boolean[]) => (V | undefined)[];

/** Element-wise ops whose inputs broadcast (numpy rules): the walk sums their cotangents back to shape. */
const BROADCASTING = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Where', 'Max', 'Min', 'Expand']);

/** Small helpers over `op`, so the rules read like the math. */
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
  reshapeLike = (a: V, like: V): V => this.one('Reshape', [a, this.shapeOf(like)]);
  reshape = (a: V, dims: number[]): V => this.one('Reshape', [a, this.g.constI64(dims, [dims.length])]);
  sum = (a: V, axes: number[], keepdims: boolean): V =>
    this.one('ReduceSum', [a, this.g.constI64(axes, [axes.length])], { keepdims: keepdims ? 1 : 0 });
  mean = (a: V, axes: number[], keepdims: boolean): V =>
    this.one('ReduceMean', [a, this.g.constI64(axes, [axes.length])], { keepdims: keepdims ? 1 : 0 });
  expandLike = (a: V, like: V): V => this.one('Expand', [a, this.shapeOf(like)]);
  /** 1 where a > 0 else 0, as float. */
  positive = (a: V): V => this.one('Cast', [this.one('Greater', [a, this.scalar(0)])], { to: 1 });
  where = (c: V, a: V, b: V): V => this.one('Where', [c, a, b]);
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function attrNum(node: { attrs: Attrs }, name: string, dflt: number): number {
  const v = node.attrs[name];
  return typeof v === 'number' ? v : dflt;
}

function attrInts(node: { attrs: Attrs }, name: string): number[] | undefined {
  const v = node.attrs[name];
  return Array.isArray(v) ? (v as number[]) : undefined;
}

function staticDims(dims: readonly Dim[], what: string): number[] {
  return dims.map((d) => {
    if (typeof d !== 'number') throw new Error(`autodiff: ${what} needs a static shape, got [${dims.join(', ')}]`);
    return d;
  });
}

/** The derivative rules, one per primitive op (plus LayerNormalization, Softmax, Gelu as composites). */
export const VJP: Record<string, Vjp> = {
  Identity: (_g, _n, [dy]) => [dy],
  Cast: (_g, _n, [dy]) => [dy],
  Add: (_g, _n, [dy]) => [dy, dy],
  Sub: (_g, _n, [dy], x) => [dy, dy && x.neg(dy)],
  Mul: (_g, n, [dy], x, w) => [dy && w[0] ? x.mul(dy, n.inputs[1]!) : undefined, dy && w[1] ? x.mul(dy, n.inputs[0]!) : undefined],
  Div: (_g, n, [dy], x, w) => {
    if (!dy) return [];
    const b = n.inputs[1]!;
    if (!w[1]) return [x.div(dy, b)];
    const da = x.div(dy, b);
    return [da, x.neg(x.div(x.mul(dy, n.outputs[0]!), b))]; // d(a/b)/db = -(a/b)/b
  },
  Neg: (_g, _n, [dy], x) => [dy && x.neg(dy)],
  Exp: (_g, n, [dy], x) => [dy && x.mul(dy, n.outputs[0]!)],
  Log: (_g, n, [dy], x) => [dy && x.div(dy, n.inputs[0]!)],
  Sqrt: (_g, n, [dy], x) => [dy && x.div(x.scale(dy, 0.5), n.outputs[0]!)],
  Reciprocal: (_g, n, [dy], x) => [dy && x.neg(x.mul(dy, x.mul(n.outputs[0]!, n.outputs[0]!)))],
  Abs: (g, n, [dy], x) => [dy && x.mul(dy, g.op('Sign', [n.inputs[0]!])[0]!)],
  Pow: (g, n, [dy], x) => {
    if (!dy) return [];
    const e = g.constValue(n.inputs[1]!);
    if (!e || e.length !== 1) throw new Error('autodiff: Pow is differentiable only with a constant scalar exponent');
    const p = e[0]!;
    const d = p === 2 ? x.scale(n.inputs[0]!, 2) : x.scale(x.g.op('Pow', [n.inputs[0]!, x.scalar(p - 1)])[0]!, p);
    return [x.mul(dy, d)];
  },
  Relu: (_g, n, [dy], x) => [dy && x.mul(dy, x.positive(n.inputs[0]!))],
  Tanh: (_g, n, [dy], x) => {
    const y = n.outputs[0]!;
    return [dy && x.mul(dy, x.sub(x.scalar(1), x.mul(y, y)))];
  },
  Sigmoid: (_g, n, [dy], x) => {
    const y = n.outputs[0]!;
    return [dy && x.mul(dy, x.mul(y, x.sub(x.scalar(1), y)))];
  },
  Erf: (_g, n, [dy], x) => {
    const a = n.inputs[0]!;
    // d erf(a) = 2/√π · e^{−a²} = e^{ln(2/√π) − a²}: the constant folded into the exponent saves a pass
    return [dy && x.mul(dy, x.exp(x.sub(x.scalar(Math.log(2 / Math.sqrt(Math.PI))), x.mul(a, a))))];
  },
  /** ONNX Gelu (opset 20): exact d/dx [x Φ(x)] = Φ(x) + x φ(x); tanh form differentiated directly. */
  Gelu: (g, n, [dy], x) => {
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
  Where: (_g, n, [dy], x, w) => {
    if (!dy) return [];
    const zero = x.scalar(0);
    return [undefined, w[1] ? x.where(n.inputs[0]!, dy, zero) : undefined, w[2] ? x.where(n.inputs[0]!, zero, dy) : undefined];
  },
  MatMul: (g, n, [dy], x, w) => {
    if (!dy) return [];
    const [a, b] = [n.inputs[0]!, n.inputs[1]!];
    const ra = g.shape(a).length;
    const rb = g.shape(b).length;
    const da = w[0] ? x.matmul(dy, x.mT(b)) : undefined;
    let db: ReturnType<typeof x.add> | undefined;
    if (!w[1]) db = undefined;
    else if (rb === 2 && ra > 2) {
      // a Linear layer: fold the batch axes into one GEMM, dW = a^T dy  // [K, N]
      const k = g.shape(a)[ra - 1] as number;
      const nOut = g.shape(b)[1] as number;
      db = x.matmul(x.transpose(x.reshape(a, [-1, k]), [1, 0]), x.reshape(dy, [-1, nOut]));
    } else {
      if (ra !== rb) throw new Error(`autodiff: MatMul of ranks ${ra} and ${rb} is not supported`);
      db = x.matmul(x.mT(a), dy);
    }
    return [da, db];
  },
  Gemm: (g, n, [dy], x) => {
    if (!dy) return [];
    const [a, b, c] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2] ?? null];
    const alpha = attrNum(n, 'alpha', 1);
    const beta = attrNum(n, 'beta', 1);
    const tA = attrNum(n, 'transA', 0) === 1;
    const tB = attrNum(n, 'transB', 0) === 1;
    const dyA = alpha === 1 ? dy : x.scale(dy, alpha);
    // d op(A) = dY op(B)^T and d op(B) = op(A)^T dY, where op(B)^T is B itself when transB
    const dOpA = x.matmul(dyA, tB ? b : x.transpose(b, [1, 0]));
    const dOpB = x.matmul(tA ? a : x.transpose(a, [1, 0]), dyA);
    const t2 = (v: typeof dOpA): typeof dOpA => x.transpose(v, [1, 0]); // Gemm is 2-D
    const out: (typeof dOpA | undefined)[] = [tA ? t2(dOpA) : dOpA, tB ? t2(dOpB) : dOpB];
    if (c) {
      const dc = beta === 1 ? dy : x.scale(dy, beta);
      out.push(unbroadcast(g, x, dc, g.shape(n.outputs[0]!), c));
    }
    return out;
  },
  Transpose: (g, n, [dy], x) => {
    if (!dy) return [];
    const rank = g.shape(n.inputs[0]!).length;
    const perm = attrInts(n, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inv = new Array<number>(rank);
    perm.forEach((p, i) => (inv[p] = i));
    return [x.transpose(dy, inv)];
  },
  Reshape: (_g, n, [dy], x) => [dy && x.reshapeLike(dy, n.inputs[0]!)],
  Flatten: (_g, n, [dy], x) => [dy && x.reshapeLike(dy, n.inputs[0]!)],
  Squeeze: (_g, n, [dy], x) => [dy && x.reshapeLike(dy, n.inputs[0]!)],
  Unsqueeze: (_g, n, [dy], x) => [dy && x.reshapeLike(dy, n.inputs[0]!)],
  Expand: (_g, _n, [dy]) => [dy], // summed back to the input's shape by the walk
  Concat: (g, n, [dy], x) => {
    if (!dy) return [];
    const rank = g.shape(n.outputs[0]!).length;
    const axis = normAxis(attrNum(n, 'axis', 0), rank);
    const sizes = n.inputs.map((v) => g.shape(v!)[axis]);
    staticDims(sizes as Dim[], `Concat input along axis ${axis}`);
    return g.op('Split', [dy, g.constI64(sizes as number[], [sizes.length])], { axis }, sizes.length);
  },
  Slice: (g, n, [dy], x) => {
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
    return [x.g.op('Pad', [dy, g.constI64(pads, [pads.length])], { mode: 'constant' })[0]!];
  },
  Gather: (g, n, [dy], x) => {
    if (!dy) return [];
    const data = n.inputs[0]!;
    const inDims = g.shape(data);
    const rank = inDims.length;
    const axis = normAxis(attrNum(n, 'axis', 0), rank);
    if (typeof inDims[axis] !== 'number') throw new Error(`autodiff: Gather along axis ${axis} of symbolic size`);
    const idx = g.constValue(n.inputs[1]!);
    const idxDims = g.shape(n.inputs[1]!);
    if (!idx || idx.length !== 1) throw new Error('autodiff: Gather is differentiable only with one constant index');
    const size = inDims[axis] as number;
    const i = idx[0]! < 0 ? idx[0]! + size : idx[0]!;
    // a scalar index drops the axis: put it back, then pad zeros around it
    const d = idxDims.length === 0 ? g.op('Unsqueeze', [dy, g.constI64([axis], [1])])[0]! : dy;
    const pads = new Array<number>(2 * rank).fill(0);
    pads[axis] = i;
    pads[rank + axis] = size - i - 1;
    return [g.op('Pad', [d, g.constI64(pads, [pads.length])], { mode: 'constant' })[0]!];
  },
  ReduceSum: (g, n, [dy], x) => {
    if (!dy) return [];
    return [x.expandLike(keepReducedAxes(g, x, n, dy), n.inputs[0]!)];
  },
  ReduceMean: (g, n, [dy], x) => {
    if (!dy) return [];
    const inDims = g.shape(n.inputs[0]!);
    const axes = reducedAxes(g, n, inDims.length);
    const count = numelStatic(axes.map((a) => inDims[a]!), 'ReduceMean reduced axes');
    return [x.expandLike(x.scale(keepReducedAxes(g, x, n, dy), 1 / count), n.inputs[0]!)];
  },
  Softmax: (g, n, [dy], x) => {
    if (!dy) return [];
    const y = n.outputs[0]!;
    const axis = normAxis(attrNum(n, 'axis', -1), g.shape(y).length);
    // dx = y ⊙ (dy − Σ_axis dy ⊙ y)
    return [x.mul(y, x.sub(dy, x.sum(x.mul(dy, y), [axis], true)))];
  },
  LogSoftmax: (g, n, [dy], x) => {
    if (!dy) return [];
    const y = n.outputs[0]!;
    const axis = normAxis(attrNum(n, 'axis', -1), g.shape(y).length);
    // dx = dy − softmax ⊙ Σ_axis dy
    return [x.sub(dy, x.mul(x.exp(y), x.sum(dy, [axis], true)))];
  },
  /** LayerNormalization over the last axes from `axis`: the usual three-term rule, statistics recomputed. */
  LayerNormalization: (g, n, [dy], x, w) => {
    if (!dy) return [];
    const [a, gamma, beta] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2] ?? null];
    const rank = g.shape(a).length;
    const axis = normAxis(attrNum(n, 'axis', -1), rank);
    const eps = attrNum(n, 'epsilon', 1e-5);
    const normAxes = Array.from({ length: rank - axis }, (_, i) => axis + i);
    const outerAxes = Array.from({ length: axis }, (_, i) => i);
    const mu = x.mean(a, normAxes, true);
    const xc = x.sub(a, mu);
    const rstd = x.div(x.scalar(1), x.sqrt(x.add(x.mean(x.mul(xc, xc), normAxes, true), x.scalar(eps))));
    const xhat = x.mul(xc, rstd);
    const dxhat = x.mul(dy, gamma);
    // dx = rstd ⊙ (dxhat − mean(dxhat) − xhat ⊙ mean(dxhat ⊙ xhat))
    const dx = !w[0] ? undefined : x.mul(rstd, x.sub(x.sub(dxhat, x.mean(dxhat, normAxes, true)), x.mul(xhat, x.mean(x.mul(dxhat, xhat), normAxes, true))));
    const dGamma = w[1] ? x.reshapeLike(x.sum(x.mul(dy, xhat), outerAxes, false), gamma) : undefined;
    const dBeta = beta && w[2] ? x.reshapeLike(x.sum(dy, outerAxes, false), beta) : undefined;
    return [dx, dGamma, dBeta];
  },
  /**
   * Conv (2-D, group 1, no padding — the patch embedding). dW[o,c,i,j] = Σ_{b,p,q} dY[b,o,p,q] X[b,c,p·s+i,q·s+j]
   * is itself a convolution of X (batch and channel swapped) with dY as the kernel, dilated by the stride.
   */
  Conv: (g, n, [dy], x) => {
    if (!dy) return [];
    const [input, w, b] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2] ?? null];
    const wDims = staticDims(g.shape(w), 'Conv weight');
    const strides = attrInts(n, 'strides') ?? [1, 1];
    const pads = attrInts(n, 'pads') ?? [0, 0, 0, 0];
    const dil = attrInts(n, 'dilations') ?? [1, 1];
    if (wDims.length !== 4 || attrNum(n, 'group', 1) !== 1 || pads.some((p) => p !== 0) || dil.some((d) => d !== 1)) {
      throw new Error('autodiff: only 2-D Conv with group 1, no padding and no dilation is supported');
    }
    const xT = x.transpose(input, [1, 0, 2, 3]); // [C, B, H, W]
    const dyT = x.transpose(dy, [1, 0, 2, 3]); // [O, B, P, Q]
    const full = g.op('Conv', [xT, dyT], { dilations: strides, strides: [1, 1] })[0]!; // [C, O, >=kh, >=kw]
    const cut = g.op('Slice', [full, g.constI64([0, 0], [2]), g.constI64([wDims[2]!, wDims[3]!], [2]), g.constI64([2, 3], [2])])[0]!;
    const dW = x.transpose(cut, [1, 0, 2, 3]); // [O, C, kh, kw]
    const dB = b ? x.sum(dy, [0, 2, 3], false) : undefined;
    return [undefined, dW, dB];
  },
};

function numelStatic(dims: readonly Dim[], what: string): number {
  return staticDims(dims, what).reduce((a, b) => a * b, 1);
}

/** The axes a Reduce* node reduces (input or attribute; all when none). */
function reducedAxes<V>(g: GradGraph<V>, n: NodeRecord<V>, rank: number): number[] {
  const axesV = n.inputs[1] ? g.constValue(n.inputs[1]) : attrInts(n, 'axes');
  return axesV ? axesV.map((a) => normAxis(a, rank)) : Array.from({ length: rank }, (_, i) => i);
}

/** Re-inserts the axes a Reduce* node dropped (keepdims=0) so the cotangent broadcasts back. */
function keepReducedAxes<V>(g: GradGraph<V>, x: Ops<V>, n: NodeRecord<V>, dy: V): V {
  if (attrNum(n, 'keepdims', 1) === 1) return dy;
  const axes = reducedAxes(g, n, g.shape(n.inputs[0]!).length);
  return g.op('Unsqueeze', [dy, g.constI64([...axes].sort((p, q) => p - q), [axes.length])])[0]!;
}

/** Sums a cotangent of shape `from` back to the shape of `target` (numpy broadcasting in reverse). */
function unbroadcast<V>(g: GradGraph<V>, x: Ops<V>, d: V, from: readonly Dim[], target: V): V {
  const to = g.shape(target);
  if (from.length === to.length && from.every((f, i) => f === to[i])) return d;
  const lead = from.length - to.length;
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    if (i < lead || (to[i - lead] === 1 && from[i] !== 1)) axes.push(i);
  }
  const summed = axes.length ? x.sum(d, axes, true) : d;
  return x.reshapeLike(summed, target);
}

/**
 * Cotangents of `wrt` for the scalar `loss`, emitted into the same graph. `nodes` are the recorded
 * forward nodes in the order they were built (a topological order).
 */
export interface GradientOptions<V> {
  /**
   * Forward nodes to recompute in the backward pass instead of keeping their outputs alive from the
   * forward pass (rematerialisation): attention probabilities [B, heads, T, T] are the largest
   * activations of a transformer, and recomputing them costs one batched MatMul and a Softmax.
   */
  rematerialize?: (node: NodeRecord<V>) => boolean;
}

export function gradients<V>(
  g: GradGraph<V>,
  nodes: readonly NodeRecord<V>[],
  loss: V,
  wrt: readonly V[],
  options: GradientOptions<V> = {},
): Map<V, V> {
  const x = new Ops(g);
  // recomputed copies of rematerialised forward values, emitted once, on first use in the backward pass
  const producer = new Map<V, NodeRecord<V>>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const recomputed = new Map<V, V>();
  // The recomputation must wait for the backward pass: its inputs are tied to a cotangent by adding
  // 0·(one element of it). Without that tie ONNX Runtime's common-subexpression elimination merges the
  // copy with the forward node again and the activation stays alive after all.
  let anchor: V | undefined;
  const tied = new Map<V, V>();
  const tie = (v: V): V => {
    let t = tied.get(v);
    if (t === undefined) {
      const one = g.op('Slice', [x.reshape(anchor!, [-1]), g.constI64([0]), g.constI64([1])])[0]!; // [1]
      t = x.add(v, x.mul(one, x.scalar(0)));
      tied.set(v, t);
    }
    return t;
  };
  const fwd = (v: V | null, root = true): V | null => {
    if (v === null) return null;
    const p = producer.get(v);
    if (!p || !options.rematerialize?.(p)) return root ? v : tie(v);
    const done = recomputed.get(v);
    if (done !== undefined) return done;
    if (p.domain) throw new Error(`autodiff: cannot rematerialise ${p.domain}.${p.op}`);
    const outs = g.op(p.op, p.inputs.map((i) => (i === null || g.constValue(i) ? i : fwd(i, false))), p.attrs, p.outputs.length);
    p.outputs.forEach((o, i) => recomputed.set(o, outs[i]!));
    return recomputed.get(v)!;
  };
  // values that depend on a wrt value: only their producers need a rule
  const needs = new Set<V>(wrt);
  for (const n of nodes) if (n.inputs.some((v) => v !== null && needs.has(v))) for (const o of n.outputs) needs.add(o);
  if (!needs.has(loss)) throw new Error('autodiff: the loss does not depend on any value asked for');

  const cot = new Map<V, V>();
  cot.set(loss, g.constF32([1], [])); // d loss / d loss, a scalar
  const accumulate = (v: V, d: V): void => {
    const prev = cot.get(v);
    cot.set(v, prev === undefined ? d : x.add(prev, d));
  };
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k]!;
    const dOut = n.outputs.map((o) => cot.get(o));
    if (dOut.every((d) => d === undefined)) continue;
    if (!n.inputs.some((v) => v !== null && needs.has(v))) continue;
    const rule = VJP[n.op];
    if (!rule || (n.domain && n.domain !== '' && n.domain !== 'ai.onnx')) {
      throw new Error(`autodiff: no derivative rule for ${n.domain ? n.domain + '.' : ''}${n.op}`);
    }
    const wants = n.inputs.map((v) => v !== null && needs.has(v));
    anchor = dOut.find((d) => d !== undefined);
    const view: NodeRecord<V> = options.rematerialize ? { ...n, inputs: n.inputs.map((v) => fwd(v)), outputs: n.outputs.map((o) => fwd(o)!) } : n;
    const dIn = rule(g, view, dOut, x, wants);
    n.inputs.forEach((v, i) => {
      const d = dIn[i];
      if (v === null || d === undefined || !needs.has(v)) return;
      accumulate(v, BROADCASTING.has(n.op) ? unbroadcast(g, x, d, g.shape(n.outputs[0]!), v) : d);
    });
  }
  const out = new Map<V, V>();
  for (const w of wrt) {
    const d = cot.get(w);
    if (d === undefined) throw new Error('autodiff: a value asked for does not reach the loss');
    out.set(w, d);
  }
  return out;
}
