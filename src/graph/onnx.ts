/**
 * A minimal protobuf encoder for the part of onnx.proto we emit: ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto, ValueInfoProto (field numbers from onnx/onnx.proto, IR version 8).
 *
 * Messages are encoded into lists of byte chunks and concatenated once at the end, so each weight's
 * bytes are copied exactly once: from its Float32Array into the model buffer.
 */

/** ONNX TensorProto.DataType values for the element types we use. */
export const ONNX_DTYPE = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  bfloat16: 16,
} as const;
export type OnnxElemType = keyof typeof ONNX_DTYPE;

export type OnnxDim = number | string;

export interface OnnxTensor {
  name: string;
  dtype: OnnxElemType;
  dims: readonly number[];
  /** Little-endian element bytes (raw_data), e.g. a Uint8Array view over a Float32Array. */
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array;
  /**
   * Store the bytes outside the model (TensorProto data_location EXTERNAL): the runtime reads them from
   * the "file" `location` at `offset`, which the caller supplies in memory (SessionOptions.externalData).
   */
  external?: { location: string; offset: number };
}

export type OnnxAttrValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'floats'; value: ArrayLike<number> }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'strings'; value: readonly string[] }
  | { type: 'tensor'; value: OnnxTensor };

export interface OnnxNode {
  opType: string;
  domain?: string;
  name?: string;
  /** '' marks an omitted optional input. */
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: ReadonlyArray<readonly [string, OnnxAttrValue]>;
}

export interface OnnxValueInfo {
  name: string;
  dtype: OnnxElemType;
  dims: readonly OnnxDim[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  initializers: readonly OnnxTensor[];
  valueInfo?: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  graph: OnnxGraph;
  /** e.g. [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }] */
  opsets: ReadonlyArray<{ domain: string; version: number }>;
  producerName?: string;
  producerVersion?: string;
  irVersion?: number;
}

const WIRE_VARINT = 0;
const WIRE_I32 = 5;
const WIRE_LEN = 2;
const utf8 = new TextEncoder();

/** A message under construction: byte chunks (small ones batched) plus their total length. */
class Writer {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  private scratch = new Uint8Array(256);
  private used = 0;

  private flush(): void {
    if (this.used === 0) return;
    this.chunks.push(this.scratch.slice(0, this.used));
    this.used = 0;
  }

  private byte(b: number): void {
    if (this.used === this.scratch.length) this.flush();
    this.scratch[this.used++] = b;
    this.length++;
  }

  /** Unsigned or negative (two's complement, 10 bytes) varint, exact up to 2^53. */
  varint(v: number): void {
    if (!Number.isSafeInteger(v)) throw new Error(`onnx: varint ${v} is not a safe integer`);
    if (v < 0) {
      let big = BigInt.asUintN(64, BigInt(v));
      for (let i = 0; i < 10; i++) {
        const b = Number(big & 0x7fn);
        big >>= 7n;
        this.byte(big === 0n ? b : b | 0x80);
        if (big === 0n) return;
      }
      return;
    }
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  bytes(data: Uint8Array): void {
    if (data.length <= 64) {
      for (let i = 0; i < data.length; i++) this.byte(data[i]!);
      return;
    }
    this.flush();
    this.chunks.push(data);
    this.length += data.length;
  }

  // ---- fields
  int(field: number, v: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
  }
  float(field: number, v: number): void {
    this.tag(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.bytes(b);
  }
  string(field: number, s: string): void {
    this.lenBytes(field, utf8.encode(s));
  }
  lenBytes(field: number, data: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(data.length);
    this.bytes(data);
  }
  message(field: number, m: Writer): void {
    m.flush();
    this.tag(field, WIRE_LEN);
    this.varint(m.length);
    this.flush();
    for (const c of m.chunks) this.chunks.push(c);
    this.length += m.length;
  }
  packedInts(field: number, vs: readonly number[]): void {
    const m = new Writer();
    for (const v of vs) m.varint(v);
    m.flush();
    this.tag(field, WIRE_LEN);
    this.varint(m.length);
    this.flush();
    for (const c of m.chunks) this.chunks.push(c);
    this.length += m.length;
  }
  packedFloats(field: number, vs: ArrayLike<number>): void {
    const f = Float32Array.from(vs);
    this.lenBytes(field, new Uint8Array(f.buffer));
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

function tensorBytes(t: OnnxTensor): Uint8Array {
  const d = t.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function encodeTensor(t: OnnxTensor): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d); // dims (unpacked is valid for repeated int64)
  w.int(2, ONNX_DTYPE[t.dtype]);
  w.string(8, t.name);
  if (t.external) {
    const entry = (key: string, value: string) => {
      const e = new Writer();
      e.string(1, key);
      e.string(2, value);
      w.message(13, e); // external_data
    };
    entry('location', t.external.location);
    entry('offset', String(t.external.offset));
    entry('length', String(t.data.byteLength));
    w.int(14, 1); // data_location = EXTERNAL
  } else {
    w.lenBytes(9, tensorBytes(t)); // raw_data
  }
  return w;
}

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7, strings: 8 } as const;

function encodeAttribute(name: string, a: OnnxAttrValue): Writer {
  const w = new Writer();
  w.string(1, name);
  switch (a.type) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, encodeTensor(a.value));
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      break;
    case 'strings':
      for (const s of a.value) w.string(9, s);
      break;
  }
  w.int(20, ATTR_TYPE[a.type]);
  return w;
}

function encodeNode(n: OnnxNode): Writer {
  const w = new Writer();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const [name, a] of n.attributes ?? []) w.message(5, encodeAttribute(name, a));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function encodeValueInfo(v: OnnxValueInfo): Writer {
  const shape = new Writer();
  for (const d of v.dims) {
    const dim = new Writer();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new Writer();
  tensorType.int(1, ONNX_DTYPE[v.dtype]);
  tensorType.message(2, shape);
  const type = new Writer();
  type.message(1, tensorType);
  const w = new Writer();
  w.string(1, v.name);
  w.message(2, type);
  return w;
}

function encodeGraph(g: OnnxGraph): Writer {
  const w = new Writer();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  for (const v of g.inputs) w.message(11, encodeValueInfo(v));
  for (const v of g.outputs) w.message(12, encodeValueInfo(v));
  for (const v of g.valueInfo ?? []) w.message(13, encodeValueInfo(v));
  return w;
}

/** Serialises a model to ONNX protobuf bytes (what InferenceSession.create accepts). */
export function encodeModel(m: OnnxModel): Uint8Array {
  const w = new Writer();
  w.int(1, m.irVersion ?? 8);
  w.string(2, m.producerName ?? 'ast-audio');
  if (m.producerVersion) w.string(3, m.producerVersion);
  w.message(7, encodeGraph(m.graph));
  for (const o of m.opsets) {
    const op = new Writer();
    if (o.domain) op.string(1, o.domain);
    op.int(2, o.version);
    w.message(8, op);
  }
  return w.finish();
}
