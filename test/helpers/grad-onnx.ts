/**
 * `GradGraph` over plain ONNX node records (onnx.ts's OnnxNode): values are tensor names, new nodes
 * are appended to a node list, new constants to an initializer list. The forward graph's shapes and
 * constants come from whoever built it (the graph builder); the rules only ask about forward values.
 */
import type { Attrs, AttrValue, Dim, GradGraph, NodeRecord } from '../../src/graph/types.js';
import type { OnnxAttrValue, OnnxNode, OnnxTensor } from '../../src/graph/onnx.js';

export interface OnnxGradGraphOptions {
  /** Static shape of a forward value (symbolic dims as strings). */
  shape(name: string): readonly Dim[] | undefined;
  /** Numbers of a forward constant, if the value is one. */
  constValue(name: string): readonly number[] | undefined;
  /** Receives the emitted nodes and constants. */
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  /** Prefix of generated names (must not clash with the forward graph's). */
  prefix?: string;
}

/** Converts rule attributes (plain numbers / arrays) to ONNX attribute values: integers as ints, others as floats. */
export function toOnnxAttr(v: AttrValue): OnnxAttrValue {
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { type: 'int', value: v } : { type: 'float', value: v };
  if (v instanceof Float32Array) return { type: 'floats', value: v };
  if (v.length > 0 && typeof v[0] === 'string') return { type: 'strings', value: v as string[] };
  return { type: 'ints', value: v as number[] };
}

/** ONNX attributes back to rule attributes (numbers, strings, arrays). */
export function fromOnnxAttrs(attrs: OnnxNode['attributes']): Attrs {
  const out: Record<string, AttrValue> = {};
  for (const [k, a] of attrs ?? []) {
    if (a.type === 'tensor') continue;
    out[k] = a.type === 'floats' ? Float32Array.from(a.value) : (a.value as AttrValue);
  }
  return out;
}

/** The forward nodes as records the walk reads ('' inputs become null). */
export function nodeRecords(nodes: readonly OnnxNode[]): NodeRecord<string>[] {
  return nodes.map((n) => ({
    op: n.opType,
    domain: n.domain,
    inputs: n.inputs.map((i) => (i === '' ? null : i)),
    outputs: n.outputs,
    attrs: fromOnnxAttrs(n.attributes),
  }));
}

export class OnnxGradGraph implements GradGraph<string> {
  private counter = 0;
  private readonly prefix: string;
  private readonly newConsts = new Map<string, number[]>();
  private readonly newShapes = new Map<string, Dim[]>();

  constructor(private readonly o: OnnxGradGraphOptions) {
    this.prefix = o.prefix ?? 'grad/';
  }

  private fresh(hint: string): string {
    return `${this.prefix}${hint}_${this.counter++}`;
  }

  op(type: string, inputs: readonly (string | null)[], attrs: Attrs = {}, numOutputs = 1): string[] {
    const outputs = Array.from({ length: numOutputs }, () => this.fresh(type));
    this.o.nodes.push({
      opType: type,
      name: outputs[0],
      inputs: inputs.map((i) => i ?? ''),
      outputs,
      attributes: Object.entries(attrs).map(([k, v]) => [k, toOnnxAttr(v)] as const),
    });
    return outputs;
  }

  shape(v: string): readonly Dim[] {
    const s = this.o.shape(v) ?? this.newShapes.get(v);
    if (!s) throw new Error(`autodiff: no static shape known for "${v}"`);
    return s;
  }

  constValue(v: string): readonly number[] | undefined {
    return this.o.constValue(v) ?? this.newConsts.get(v);
  }

  constF32(values: readonly number[], dims: readonly number[]): string {
    const name = this.fresh('c');
    this.o.initializers.push({ name, dtype: 'float32', dims, data: Float32Array.from(values) });
    this.newConsts.set(name, [...values]);
    this.newShapes.set(name, [...dims]);
    return name;
  }

  constI64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = this.fresh('i');
    this.o.initializers.push({ name, dtype: 'int64', dims, data: BigInt64Array.from(values.map((v) => BigInt(v))) });
    this.newConsts.set(name, [...values]);
    this.newShapes.set(name, [...dims]);
    return name;
  }
}
