/**
 * A small typed graph builder: every op is recorded as a `NodeRecord` (op type, domain, input and
 * output values, attributes) in build order, which is a topological order; `gradients()` in
 * `grad.ts` walks these records in reverse. Values carry their element type and static shape
 * (numbers, or symbolic names such as 'batch'), inferred per op as nodes are added from the op's
 * entry in `ops/` (one entry per op: shape/dtype rule, attribute types, derivative rule).
 *
 * Call sites use the typed methods (`g.add`, `g.gemm`, `g.layerNorm`, `g.linear`, …, from `ops/`);
 * `op` / `op1` are the low-level form those methods and the derivative rules emit through.
 *
 * `toModel()` / `encode()` turn the records into ONNX (opset 18 + com.microsoft 1) with the
 * weights as initializers. Browser-safe: no Node APIs.
 */
import type { AttrValue, Attrs, Dim, GradGraph, NodeRecord } from './types.js';
import { encodeModel, type OnnxAttrValue, type OnnxElemType, type OnnxModel, type OnnxNode, type OnnxTensor } from './onnx.js';
import { Value } from './value.js';
import { OP_BUILDERS, describedShape, opSpec, type OpBuilders, type OpSpec, type ShapeContext } from './ops/index.js';

export type { Dim, Attrs, AttrValue, NodeRecord } from './types.js';
export { Value } from './value.js';
export { MS_DOMAIN } from './ops/index.js';
export type { LinearDType, LinearOptions, Int8Weight, GemmOptions, ReduceOptions, LayerNormOptions, ConvOptions, MultiHeadAttentionOptions } from './ops/index.js';

/** 18: Reduce* take their axes as an input (what grad.ts emits); LayerNormalization is 17. */
export const OPSET = 18;

interface ConstInfo {
  values: readonly number[];
}

/** The typed op methods (from ops/), mixed into the class below. */
export interface GraphBuilder extends OpBuilders {}

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

  /**
   * Low-level: emits one node (ONNX domain unless `domain` is given) and returns its outputs. Every op
   * type needs an entry in `ops/` (its shape/dtype rule and attribute types); call sites use the typed methods.
   */
  op(type: string, inputs: readonly (Value | null)[], attrs: Attrs = {}, numOutputs = 1, domain = ''): Value[] {
    const spec = opSpec(type, domain);
    if (!spec) throw new Error(`graph: no entry for op ${domain ? domain + '.' : ''}${type} (add one under src/graph/ops/)`);
    if (domain) this.domains.set(domain, 1);
    const shapes = this.inferShapes(spec, type, inputs, attrs, numOutputs);
    const first = inputs.find((v) => v)?.dtype ?? 'float32';
    const dtype: OnnxElemType = spec.dtype ? spec.dtype(inputs, attrs) : first;
    const outputs = Array.from(
      { length: numOutputs },
      (_, i) => new Value(this.fresh(`${type}_${this.nodes.length}${numOutputs > 1 ? `_${i}` : ''}`), dtype, shapes?.[i], 'node'),
    );
    const node: NodeRecord<Value> = { op: type, domain: domain || undefined, inputs: [...inputs], outputs, attrs };
    this.nodes.push(node);
    for (const o of outputs) this.producers.set(o, node);
    return outputs;
  }

  private inferShapes(spec: OpSpec, type: string, inputs: readonly (Value | null)[], attrs: Attrs, n: number): (Dim[] | undefined)[] | undefined {
    const x = inputs[0]?.dims;
    if (!spec.shape || (inputs[0] && !x && type !== 'Shape')) return undefined;
    const ctx: ShapeContext = {
      inputs,
      dims: inputs.map((v) => v?.dims),
      x: x ?? [],
      attrs,
      numOutputs: n,
      constOf: (i) => (inputs[i] ? this.constValue(inputs[i]!) : undefined),
      describedShape: (i) => describedShape(this, inputs[i]!),
    };
    return spec.shape(ctx);
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
      attributes: Object.entries(n.attrs).map(([k, a]) => [k, toOnnxAttr(n, k, a)] as const),
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
    return encodeWithExternalData(this.toModel(), minBytes);
  }
}

/** `GraphBuilder.encodeWithExternalData` for any model (e.g. one rewritten by a pass such as toFloat16). */
export function encodeWithExternalData(model: OnnxModel, minBytes = 1024): { model: Uint8Array; externalData: { path: string; data: Uint8Array }[] } {
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

/** An attribute as ONNX types it: numbers are FLOAT(S) where the op's entry says so, else INT(S). */
function toOnnxAttr(node: NodeRecord<Value>, name: string, a: AttrValue): OnnxAttrValue {
  if (typeof a === 'string') return { type: 'string', value: a };
  if (a instanceof Float32Array) return { type: 'floats', value: a };
  if (typeof a !== 'number' && a.length > 0 && typeof a[0] === 'string') return { type: 'strings', value: a as string[] };
  const nums = typeof a === 'number' ? [a] : (a as number[]);
  if (opSpec(node.op, node.domain)?.floatAttrs?.includes(name)) return typeof a === 'number' ? { type: 'float', value: a } : { type: 'floats', value: nums };
  const bad = nums.find((v) => !Number.isInteger(v));
  if (bad !== undefined) throw new Error(`graph: ${node.op} attribute ${name} is an INT in ONNX, got ${bad}`);
  return typeof a === 'number' ? { type: 'int', value: a } : { type: 'ints', value: nums };
}

Object.assign(GraphBuilder.prototype, OP_BUILDERS);
