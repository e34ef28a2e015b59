/**
 * A small typed graph builder: every op is recorded as a `NodeRecord` (op type, domain, input and
 * output values, attributes) in build order, which is a topological order; `gradients()` in
 * `grad.ts` walks these records in reverse. Values carry their element type and static shape
 * (numbers, or symbolic names such as 'batch'), inferred per op as nodes are added.
 *
 * `toModel()` / `encode()` turn the records into ONNX (opset 18 + com.microsoft 1) with the
 * weights as initializers. Browser-safe: no Node APIs.
 */
import type { AttrValue, Attrs, Dim, GradGraph, NodeRecord } from './grad.js';
import { encodeModel, type OnnxAttrValue, type OnnxElemType, type OnnxModel, type OnnxNode, type OnnxTensor } from './onnx.js';

export type { Dim, Attrs, AttrValue, NodeRecord } from './grad.js';

/** 18: Reduce* take their axes as an input (what grad.ts emits); LayerNormalization is 17. */
export const OPSET = 18;
export const MS_DOMAIN = 'com.microsoft';

/** A value in the graph: a graph input, an initializer, or a node output. */
export class Value {
  /** @internal set once, when the value becomes a named graph output */
  name: string;
  constructor(
    name: string,
    readonly dtype: OnnxElemType,
    /** Static shape; `undefined` when the op's shape rule is not known (then `shape()` throws). */
    readonly dims: readonly Dim[] | undefined,
    readonly kind: 'input' | 'initializer' | 'node',
  ) {
    this.name = name;
  }
  toString(): string {
    return `${this.name}: ${this.dtype}[${this.dims?.join(', ') ?? '?'}]`;
  }
}

/** Attributes ONNX declares as FLOAT (or FLOATS); every other numeric attribute is INT(S). */
const FLOAT_ATTRS = new Set(['epsilon', 'alpha', 'beta', 'gamma', 'scale', 'mask_filter_value', 'value_float', 'bias', 'lambd']);

interface ConstInfo {
  values: readonly number[];
}

export class GraphBuilder implements GradGraph<Value> {
  readonly nodes: NodeRecord<Value>[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  private readonly initializers = new Map<Value, OnnxTensor>();
  private readonly consts = new Map<Value, ConstInfo>();
  private readonly producers = new Map<Value, NodeRecord<Value>>();
  private readonly constCache = new Map<string, Value>();
  private readonly names = new Set<string>();
  private counter = 0;
  /** Domains used, with opset versions. */
  private readonly domains = new Map<string, number>([['', OPSET]]);

  constructor(readonly name = 'graph') {}

  private fresh(base: string): string {
    let n = base;
    while (this.names.has(n)) n = `${base}_${this.counter++}`;
    this.names.add(n);
    return n;
  }

  /** A graph input fed at run time. */
  input(name: string, dtype: OnnxElemType, dims: readonly Dim[]): Value {
    if (this.names.has(name)) throw new Error(`graph: duplicate value name "${name}"`);
    const v = new Value(this.fresh(name), dtype, [...dims], 'input');
    this.inputs.push(v);
    return v;
  }

  /** A weight stored in the model (an initializer). The data is referenced, not copied, until encode(). */
  initializer(name: string, dims: readonly number[], data: Float32Array): Value {
    if (this.names.has(name)) throw new Error(`graph: duplicate value name "${name}"`);
    const n = dims.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new Error(`graph: initializer ${name} has ${data.length} values for [${dims.join(', ')}]`);
    const v = new Value(this.fresh(name), 'float32', [...dims], 'initializer');
    this.initializers.set(v, { name: v.name, dtype: 'float32', dims: [...dims], data });
    return v;
  }

  /** A weight of another element type (int8 quantised data, float16 halves, ...), stored as given. */
  typedInitializer(name: string, dtype: OnnxElemType, dims: readonly number[], data: OnnxTensor['data']): Value {
    if (this.names.has(name)) throw new Error(`graph: duplicate value name "${name}"`);
    const n = dims.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new Error(`graph: initializer ${name} has ${data.length} values for [${dims.join(', ')}]`);
    const v = new Value(this.fresh(name), dtype, [...dims], 'initializer');
    this.initializers.set(v, { name: v.name, dtype, dims: [...dims], data });
    return v;
  }

  /** The float32 data of an initializer (what a low-precision Linear quantises), else undefined. */
  initializerData(v: Value): Float32Array | undefined {
    const t = this.initializers.get(v);
    return t && t.dtype === 'float32' && t.data instanceof Float32Array ? t.data : undefined;
  }

  private constant(dtype: 'float32' | 'int64', values: readonly number[], dims: readonly number[]): Value {
    const key = `${dtype}:${dims.join(',')}:${values.join(',')}`;
    const small = values.length <= 64;
    const cached = small ? this.constCache.get(key) : undefined;
    if (cached) return cached;
    const v = new Value(this.fresh(dtype === 'float32' ? 'const_f' : 'const_i'), dtype, [...dims], 'initializer');
    const data = dtype === 'float32' ? Float32Array.from(values) : BigInt64Array.from(values.map((x) => BigInt(x)));
    this.initializers.set(v, { name: v.name, dtype, dims: [...dims], data });
    this.consts.set(v, { values: [...values] });
    if (small) this.constCache.set(key, v);
    return v;
  }

  constF32(values: readonly number[], dims: readonly number[] = [values.length]): Value {
    return this.constant('float32', values, dims);
  }

  constI64(values: readonly number[], dims: readonly number[] = [values.length]): Value {
    return this.constant('int64', values, dims);
  }

  /** The node that computes `v` (undefined for inputs and initializers). */
  producerOf(v: Value): NodeRecord<Value> | undefined {
    return this.producers.get(v);
  }

  constValue(v: Value): readonly number[] | undefined {
    return this.consts.get(v)?.values;
  }

  shape(v: Value): readonly Dim[] {
    if (!v.dims) throw new Error(`graph: the shape of ${v.name} is not known statically`);
    return v.dims;
  }

  /** Emits one node (ONNX domain unless `domain` is given) and returns its outputs. */
  op(type: string, inputs: readonly (Value | null)[], attrs: Attrs = {}, numOutputs = 1, domain = ''): Value[] {
    if (domain) this.domains.set(domain, 1);
    const shapes = inferShapes(this, type, domain, inputs, attrs, numOutputs);
    const dtypes = inferDtypes(type, inputs, attrs, numOutputs);
    const outputs = Array.from(
      { length: numOutputs },
      (_, i) => new Value(this.fresh(`${type}_${this.nodes.length}${numOutputs > 1 ? `_${i}` : ''}`), dtypes[i]!, shapes?.[i], 'node'),
    );
    const node: NodeRecord<Value> = { op: type, domain: domain || undefined, inputs: [...inputs], outputs, attrs };
    this.nodes.push(node);
    for (const o of outputs) this.producers.set(o, node);
    return outputs;
  }

  /** One-output shorthand for `op`. */
  op1(type: string, inputs: readonly (Value | null)[], attrs: Attrs = {}, domain = ''): Value {
    return this.op(type, inputs, attrs, 1, domain)[0]!;
  }

  /** Marks a value as a graph output named `name` (an Identity when the value is an input, initializer or another output). */
  output(v: Value, name: string): Value {
    if (this.names.has(name) && v.name !== name) throw new Error(`graph: duplicate value name "${name}"`);
    // inputs and initializers keep their names; a value already output under another name needs a second one
    if (v.kind !== 'node' || this.outputs.includes(v)) return this.output(this.op1('Identity', [v]), name);
    this.names.delete(v.name);
    this.names.add(name);
    v.name = name;
    this.outputs.push(v);
    return v;
  }

  toModel(): OnnxModel {
    const nodes: OnnxNode[] = this.nodes.map((n, i) => ({
      opType: n.op,
      domain: n.domain,
      name: `n${i}_${n.op}`,
      inputs: n.inputs.map((v) => (v ? v.name : '')),
      outputs: n.outputs.map((v) => v.name),
      attributes: Object.entries(n.attrs).map(([k, a]) => [k, toOnnxAttr(k, a)] as const),
    }));
    const info = (v: Value) => ({ name: v.name, dtype: v.dtype, dims: v.dims ?? [] });
    const used = new Set<Value>(this.outputs);
    for (const n of this.nodes) for (const v of n.inputs) if (v) used.add(v);
    return {
      graph: {
        name: this.name,
        nodes,
        inputs: this.inputs.map(info),
        outputs: this.outputs.map((v) => (v.dims ? info(v) : { name: v.name, dtype: v.dtype, dims: [] })),
        // only what a node or an output reads: a Linear emitted in low precision leaves its float32 weight unused
        initializers: [...this.initializers.entries()].filter(([v]) => used.has(v)).map(([, t]) => t),
      },
      opsets: [...this.domains].map(([domain, version]) => ({ domain, version })),
      irVersion: 8,
    };
  }

  /** The ONNX bytes for InferenceSession.create, weights included (self-contained). */
  encode(): Uint8Array {
    return encodeModel(this.toModel());
  }

  /**
   * The ONNX bytes with every initializer of at least `minBytes` left where it already is in memory:
   * each distinct ArrayBuffer holding weights becomes one external-data "file" (`weights_<k>.bin`, the
   * whole buffer) and the tensor points at its byte offset. Pass `externalData` to the session
   * (SessionOptions.externalData); nothing is copied into the model. For a safetensors checkpoint that
   * is the file's own buffer, so ORT reads the weights straight from the bytes that were read from disk.
   */
  encodeWithExternalData(minBytes = 1024): { model: Uint8Array; externalData: { path: string; data: Uint8Array }[] } {
    const model = this.toModel();
    const files = new Map<ArrayBufferLike, string>();
    const externalData: { path: string; data: Uint8Array }[] = [];
    const initializers = model.graph.initializers.map((t) => {
      if (t.data.byteLength < minBytes || t.data.byteOffset % 4 !== 0) return t;
      let path = files.get(t.data.buffer);
      if (!path) {
        path = `weights_${files.size}.bin`;
        files.set(t.data.buffer, path);
        externalData.push({ path, data: new Uint8Array(t.data.buffer) });
      }
      return { ...t, external: { location: path, offset: t.data.byteOffset } };
    });
    return { model: encodeModel({ ...model, graph: { ...model.graph, initializers } }), externalData };
  }
}

function toOnnxAttr(name: string, a: AttrValue): OnnxAttrValue {
  if (typeof a === 'string') return { type: 'string', value: a };
  if (typeof a === 'number') return FLOAT_ATTRS.has(name) ? { type: 'float', value: a } : { type: 'int', value: a };
  if (a instanceof Float32Array) return { type: 'floats', value: a };
  if (a.length > 0 && typeof a[0] === 'string') return { type: 'strings', value: a as string[] };
  return FLOAT_ATTRS.has(name) ? { type: 'floats', value: a as number[] } : { type: 'ints', value: a as number[] };
}

// ---------------------------------------------------------------- type and shape rules

const DTYPE_BY_ONNX: Record<number, OnnxElemType> = { 1: 'float32', 2: 'uint8', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 16: 'bfloat16' };
const BOOL_OPS = new Set(['Greater', 'Less', 'Equal', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or']);

function inferDtypes(type: string, inputs: readonly (Value | null)[], attrs: Attrs, n: number): OnnxElemType[] {
  let t: OnnxElemType;
  if (type === 'Cast') t = DTYPE_BY_ONNX[attrs.to as number] ?? 'float32';
  else if (type === 'Shape') t = 'int64';
  else if (BOOL_OPS.has(type)) t = 'bool';
  else if (type === 'Where') t = inputs[1]?.dtype ?? 'float32';
  else t = inputs.find((v) => v)?.dtype ?? 'float32';
  return new Array<OnnxElemType>(n).fill(t);
}

const UNARY = new Set([
  'Identity', 'Cast', 'Neg', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Abs', 'Relu', 'Tanh', 'Sigmoid', 'Erf', 'Gelu',
  'Softmax', 'LogSoftmax', 'Sign', 'Not', 'FastGelu', 'QuickGelu', 'BiasGelu',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Greater', 'Less', 'Equal', 'Where', 'And', 'Or']);

function broadcast(shapes: (readonly Dim[])[]): Dim[] | undefined {
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

const norm = (a: number, r: number) => (a < 0 ? a + r : a);

function inferShapes(
  g: GraphBuilder,
  type: string,
  domain: string,
  inputs: readonly (Value | null)[],
  attrs: Attrs,
  n: number,
): (Dim[] | undefined)[] | undefined {
  const dims = inputs.map((v) => v?.dims);
  const x = dims[0];
  const ints = (k: string) => attrs[k] as number[] | undefined;
  const num = (k: string, d: number) => (typeof attrs[k] === 'number' ? (attrs[k] as number) : d);
  const cv = (i: number) => (inputs[i] ? g.constValue(inputs[i]!) : undefined);
  if (inputs.some((v, i) => v && !v.dims && i === 0 && type !== 'Shape')) return undefined;
  if (domain === MS_DOMAIN) {
    if (type === 'FusedMatMul') return [matmulShape(x!, dims[1]!, num('transA', 0) === 1, num('transB', 0) === 1)];
    if (type === 'DynamicQuantizeMatMul') return [matmulShape(x!, dims[1]!, false, false)];
    if (UNARY.has(type)) return [[...x!]];
    if (type === 'MultiHeadAttention' || type === 'Attention') {
      const hidden = type === 'Attention' ? (dims[1]![1] as number) / 3 : (dims[2]?.[2] ?? x![2]!);
      return [[x![0]!, x![1]!, type === 'Attention' ? hidden : x![2]!]];
    }
    return undefined;
  }
  if (UNARY.has(type)) return [[...x!]];
  if (BROADCAST.has(type)) return [broadcast(dims.filter((d): d is Dim[] => !!d))];
  switch (type) {
    case 'LayerNormalization':
      return [[...x!]];
    case 'MatMul':
      return [matmulShape(x!, dims[1]!, false, false)];
    case 'Gemm': {
      const a = num('transA', 0) ? [x![1]!, x![0]!] : x!;
      const b = num('transB', 0) ? [dims[1]![1]!, dims[1]![0]!] : dims[1]!;
      return [[a[0]!, b[1]!]];
    }
    case 'Transpose': {
      const perm = ints('perm') ?? x!.map((_, i) => x!.length - 1 - i);
      return [perm.map((p) => x![p]!)];
    }
    case 'Shape':
      return [[x ? x.length : 'rank']];
    case 'Reshape': {
      const target = cv(1);
      if (!target) {
        // Reshape to the shape of another value: Reshape(a, Shape(b)) has b's shape
        const src = shapeSource(g, inputs[1]!);
        return [src ? [...src] : undefined];
      }
      const known: Dim[] = target.map((d, i) => (d === 0 ? x![i]! : d));
      const neg = known.indexOf(-1);
      if (neg >= 0) known[neg] = divideDims(x!, known.filter((_, i) => i !== neg));
      return [known];
    }
    case 'Flatten': {
      const axis = norm(num('axis', 1), x!.length);
      const prod = (ds: readonly Dim[]) => (ds.every((d) => typeof d === 'number') ? (ds as number[]).reduce((a, b) => a * b, 1) : `flat`);
      return [[prod(x!.slice(0, axis)), prod(x!.slice(axis))]];
    }
    case 'Unsqueeze': {
      const axes = cv(1);
      if (!axes) return undefined;
      const r = x!.length + axes.length;
      const ax = axes.map((a) => norm(a, r));
      const out: Dim[] = [];
      let k = 0;
      for (let i = 0; i < r; i++) out.push(ax.includes(i) ? 1 : x![k++]!);
      return [out];
    }
    case 'Squeeze': {
      const axes = cv(1)?.map((a) => norm(a, x!.length)) ?? x!.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
      return [x!.filter((_, i) => !axes.includes(i))];
    }
    case 'Expand': {
      const target = cv(1);
      const src = target ? target : shapeSource(g, inputs[1]!);
      if (!src) return undefined;
      return [broadcast([x!, src])];
    }
    case 'Concat': {
      const axis = norm(num('axis', 0), x!.length);
      const out = [...x!];
      const parts = dims.map((d) => d![axis]!);
      out[axis] = parts.every((p) => typeof p === 'number') ? (parts as number[]).reduce((a, b) => a + b, 0) : `concat`;
      return [out];
    }
    case 'Split': {
      const axis = norm(num('axis', 0), x!.length);
      const sizes = cv(1) ?? new Array<number>(n).fill((x![axis] as number) / n);
      return sizes.map((s) => {
        const o = [...x!];
        o[axis] = s;
        return o;
      });
    }
    case 'Slice': {
      const starts = cv(1);
      const ends = cv(2);
      const axes = inputs[3] ? cv(3) : starts?.map((_, i) => i);
      const steps = inputs[4] ? cv(4) : undefined;
      if (!starts || !ends || !axes) return undefined;
      const out = [...x!];
      axes.forEach((a0, i) => {
        const a = norm(a0, x!.length);
        const size = x![a]!;
        const step = steps?.[i] ?? 1;
        if (typeof size !== 'number') {
          out[a] = `${inputs[0]!.name}_sliced`;
          return;
        }
        const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
        out[a] = Math.max(0, Math.ceil((clamp(ends[i]!) - clamp(starts[i]!)) / step));
      });
      return [out];
    }
    case 'Gather': {
      const axis = norm(num('axis', 0), x!.length);
      const idx = dims[1]!;
      return [[...x!.slice(0, axis), ...idx, ...x!.slice(axis + 1)]];
    }
    case 'ReduceSum':
    case 'ReduceMean':
    case 'ReduceMax': {
      const axes = (cv(1) ?? ints('axes') ?? x!.map((_, i) => i)).map((a) => norm(a, x!.length));
      const keep = num('keepdims', 1) === 1;
      return [keep ? x!.map((d, i) => (axes.includes(i) ? 1 : d)) : x!.filter((_, i) => !axes.includes(i))];
    }
    case 'Conv': {
      const w = dims[1]!;
      const strides = ints('strides') ?? [1, 1];
      const pads = ints('pads') ?? [0, 0, 0, 0];
      const dil = ints('dilations') ?? [1, 1];
      const out: Dim[] = [x![0]!, w[0]!];
      for (let i = 0; i < 2; i++) {
        const size = x![2 + i]!;
        const k = (w[2 + i] as number - 1) * dil[i]! + 1;
        out.push(typeof size === 'number' ? Math.floor((size + pads[i]! + pads[i + 2]! - k) / strides[i]!) + 1 : `conv`);
      }
      return [out];
    }
    case 'Pad': {
      const pads = cv(1);
      if (!pads) return undefined;
      const r = x!.length;
      return [x!.map((d, i) => (typeof d === 'number' ? d + pads[i]! + pads[i + r]! : d))];
    }
    default:
      return undefined;
  }
}

/** When `v` is Shape(b) (or a Concat of shape pieces), the dims it describes. */
function shapeSource(g: GraphBuilder, v: Value): readonly Dim[] | undefined {
  const node = g.producerOf(v);
  if (!node) return undefined;
  if (node.op === 'Shape' && !node.attrs.start && node.attrs.end === undefined) return node.inputs[0]!.dims;
  if (node.op === 'Concat') {
    const parts: Dim[] = [];
    for (const p of node.inputs) {
      const c = g.constValue(p!);
      if (c) parts.push(...c);
      else {
        const s = shapeSource(g, p!);
        if (!s) return undefined;
        parts.push(...s);
      }
    }
    return parts;
  }
  if (node.op === 'Slice') {
    const src = shapeSource(g, node.inputs[0]!);
    const starts = g.constValue(node.inputs[1]!);
    const ends = g.constValue(node.inputs[2]!);
    if (!src || !starts || !ends) return undefined;
    const clamp = (e: number) => Math.min(Math.max(e < 0 ? e + src.length : e, 0), src.length);
    return src.slice(clamp(starts[0]!), clamp(ends[0]!));
  }
  return undefined;
}

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

function matmulShape(a: readonly Dim[], b: readonly Dim[], tA: boolean, tB: boolean): Dim[] {
  const A = [...a];
  const B = [...b];
  if (tA) [A[A.length - 2], A[A.length - 1]] = [A[A.length - 1]!, A[A.length - 2]!];
  if (tB) [B[B.length - 2], B[B.length - 1]] = [B[B.length - 1]!, B[B.length - 2]!];
  const batch = broadcast([A.slice(0, -2), B.slice(0, -2)]) ?? A.slice(0, -2);
  return [...batch, A[A.length - 2]!, B[B.length - 1]!];
}
