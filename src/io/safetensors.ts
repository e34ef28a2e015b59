/**
 * safetensors read and write (https://github.com/huggingface/safetensors, format described in its README):
 *   [8 bytes: little-endian u64 header length N][N bytes: JSON header][data]
 * The header maps tensor names to { dtype, shape, data_offsets: [begin, end] } relative to the data
 * start, plus an optional "__metadata__" object of strings. Every byte of the data belongs to exactly
 * one tensor. The whole header is checked before any tensor memory is touched, so a corrupt or
 * hostile file costs at most its header's size.
 */
import { FormatError } from './errors.js';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from './files.js';
import { numel, type DType, type DataOf, type Tensor } from '../tensor.js';

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** safetensors dtype names we read, with their element size and our tensor dtype. */
const READ_DTYPES = {
  F32: { bytes: 4, dtype: 'float32' },
  F16: { bytes: 2, dtype: 'float16' },
  BF16: { bytes: 2, dtype: 'bfloat16' },
  F64: { bytes: 8, dtype: 'float32' }, // narrowed to float32 on read: no float64 tensors in this library
  I64: { bytes: 8, dtype: 'int64' },
  I32: { bytes: 4, dtype: 'int32' },
  BOOL: { bytes: 1, dtype: 'bool' },
} as const satisfies Record<string, { bytes: number; dtype: DType }>;
type StDtype = keyof typeof READ_DTYPES;

/** Element sizes of the dtypes the format defines but we do not read, so errors can say "unsupported" rather than "unknown". */
const OTHER_DTYPES = new Set(['U8', 'I8', 'U16', 'I16', 'U32', 'U64', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);

const WRITE_DTYPES: Record<DType, { name: StDtype; bytes: number }> = {
  float32: { name: 'F32', bytes: 4 },
  float16: { name: 'F16', bytes: 2 },
  bfloat16: { name: 'BF16', bytes: 2 },
  int64: { name: 'I64', bytes: 8 },
  int32: { name: 'I32', bytes: 4 },
  bool: { name: 'BOOL', bytes: 1 },
};

/** The reference implementation refuses headers above 100 MB; so do we (a 527-label AST header is ~30 kB). */
export const MAX_HEADER_BYTES = 100_000_000;

interface Entry {
  name: string;
  dtype: StDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses a whole safetensors file. `source` names it in errors. Aligned tensors are views into `bytes` (no copy). */
export function parseSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  const { entries, metadata, dataStart } = parseHeader(bytes, source);
  const tensors = new Map<string, Tensor>();
  for (const e of entries) tensors.set(e.name, materialize(bytes, dataStart, e));
  return { tensors, metadata };
}

/** Just the header: names, dtypes (safetensors spelling), shapes, and metadata. */
export function readSafetensorsHeader(
  bytes: Uint8Array,
  source: string,
): { tensors: { name: string; dtype: string; shape: number[] }[]; metadata: Record<string, string> } {
  const { entries, metadata } = parseHeader(bytes, source);
  return { tensors: entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape })), metadata };
}

/**
 * The header with each tensor's byte range in the file ([dataStart + begin, dataStart + end)), checked as
 * parseSafetensors checks it. Only the first 8 + header-length bytes of `bytes` are read; it must be the file's
 * full length (a sparse copy whose tensor bytes are still to be read will do), so the ranges can be checked.
 */
export function safetensorsLayout(
  bytes: Uint8Array,
  source: string,
): { tensors: { name: string; dtype: string; shape: number[]; begin: number; end: number }[]; dataStart: number } {
  const { entries, dataStart } = parseHeader(bytes, source);
  return { tensors: entries, dataStart };
}

function parseHeader(
  bytes: Uint8Array,
  source: string,
): { entries: Entry[]; metadata: Record<string, string>; dataStart: number } {
  if (bytes.length < 8) {
    throw new FormatError(source, `truncated safetensors file (${bytes.length} bytes; the 8-byte header length alone is missing)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) {
    throw new FormatError(source, `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit; corrupt, or not a safetensors file`);
  }
  if (headerLen > BigInt(bytes.length - 8)) {
    throw new FormatError(
      source, `header length ${headerLen} is larger than the file (${bytes.length} bytes); truncated, or not a safetensors file`,
    );
  }
  const n = Number(headerLen);
  const dataStart = 8 + n;
  const headerBytes = bytes.subarray(8, dataStart);
  if (n < 2 || headerBytes[0] !== 0x7b /* { */) {
    throw new FormatError(source, `not a safetensors file (header does not start with '{')`);
  }
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
    if (jsonDepthExceeds(text)) throw new Error(`nested more than ${MAX_JSON_DEPTH} levels deep`);
    header = JSON.parse(text);
  } catch (err) {
    throw new FormatError(source, `corrupt safetensors header, not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new FormatError(source, `corrupt safetensors header, not a JSON object`);
  }

  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = readMetadata(info, source);
      continue;
    }
    entries.push(readEntry(name, info, source));
  }

  // Every data byte belongs to exactly one tensor: sorted by offset, the ranges tile [0, dataLength).
  const dataLength = bytes.length - dataStart;
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of byOffset) {
    if (e.begin < expected) {
      const prev = byOffset[byOffset.indexOf(e) - 1]!;
      throw new FormatError(source, `tensors "${prev.name}" and "${e.name}" overlap (data_offsets [${prev.begin}, ${prev.end}] and [${e.begin}, ${e.end}])`);
    }
    if (e.begin > expected) {
      throw new FormatError(source, `${e.begin - expected} bytes before tensor "${e.name}" (offset ${expected}) belong to no tensor`);
    }
    expected = e.end;
  }
  if (expected > dataLength) {
    const last = byOffset[byOffset.length - 1]!;
    throw new FormatError(
      source, `truncated safetensors file: tensors need ${expected} bytes of data but the file has ${dataLength} ` +
        `after its header (tensor "${last.name}" ends at ${last.end})`,
    );
  }
  if (expected < dataLength) {
    throw new FormatError(source, `${dataLength - expected} trailing bytes after the last tensor belong to no tensor`);
  }
  return { entries, metadata, dataStart };
}

function readMetadata(info: unknown, source: string): Record<string, string> {
  if (info === null) return {};
  if (typeof info !== 'object' || Array.isArray(info)) throw new FormatError(source, `__metadata__ must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new FormatError(source, `__metadata__["${k}"] must be a string, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out;
}

function readEntry(name: string, info: unknown, source: string): Entry {
  const where = `tensor "${name}"`;
  if (typeof info !== 'object' || info === null || Array.isArray(info)) throw new FormatError(source, `${where}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== 'string' || !Object.hasOwn(READ_DTYPES, dtype)) {
    const known = Object.keys(READ_DTYPES).join(', ');
    throw new FormatError(
      source,
      OTHER_DTYPES.has(String(dtype))
        ? `${where}: dtype ${dtype} is not supported (readable: ${known})`
        : `${where}: unknown dtype ${JSON.stringify(dtype)} (readable: ${known})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new FormatError(source, `${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[1] < offsets[0]
  ) {
    throw new FormatError(source, `${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
  }
  const st = dtype as StDtype;
  const [begin, end] = offsets as [number, number];
  const count = numel(shape as number[]);
  const need = count * READ_DTYPES[st].bytes;
  if (end - begin !== need) {
    throw new FormatError(
      source,
      `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${st} [${shape.join(', ')}] needs ${need} ` +
        `(${count} x ${READ_DTYPES[st].bytes} bytes)`,
    );
  }
  return { name, dtype: st, shape: shape as number[], begin, end };
}

type Ctor<A> = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): A; new (length: number): A };

/** A typed-array view on the file when the offset is aligned for the element size, else an aligned copy. */
function typedView<A extends ArrayBufferView>(bytes: Uint8Array, start: number, count: number, size: number, C: Ctor<A>): A {
  const abs = bytes.byteOffset + start;
  if (abs % size === 0) return new C(bytes.buffer, abs, count);
  const copy = new Uint8Array(count * size);
  copy.set(bytes.subarray(start, start + count * size));
  return new C(copy.buffer, 0, count);
}

function materialize(bytes: Uint8Array, dataStart: number, e: Entry): Tensor {
  const start = dataStart + e.begin;
  const count = numel(e.shape);
  const dims = e.shape;
  switch (e.dtype) {
    case 'F32':
      return { dtype: 'float32', dims, data: typedView(bytes, start, count, 4, Float32Array) };
    case 'F16':
      return { dtype: 'float16', dims, data: typedView(bytes, start, count, 2, Uint16Array) };
    case 'BF16':
      return { dtype: 'bfloat16', dims, data: typedView(bytes, start, count, 2, Uint16Array) };
    case 'I64':
      return { dtype: 'int64', dims, data: typedView(bytes, start, count, 8, BigInt64Array) };
    case 'I32':
      return { dtype: 'int32', dims, data: typedView(bytes, start, count, 4, Int32Array) };
    case 'BOOL':
      return { dtype: 'bool', dims, data: typedView(bytes, start, count, 1, Uint8Array) };
    case 'F64': {
      const f64 = typedView(bytes, start, count, 8, Float64Array);
      return { dtype: 'float32', dims, data: Float32Array.from(f64) };
    }
  }
}

function bytesOf(t: Tensor): Uint8Array {
  const d = t.data as DataOf[DType];
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/**
 * Serialises tensors as safetensors bytes that torch / the `safetensors` package read: names sorted,
 * data laid out widest dtype first so each tensor is aligned to its element size, header padded with
 * spaces to a multiple of 8 bytes. Metadata values must be strings (the format's rule).
 */
export function formatSafetensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const seen = new Set<string>();
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved and cannot name a tensor');
    if (seen.has(name)) throw new Error(`safetensors: duplicate tensor name "${name}"`);
    seen.add(name);
    const w = WRITE_DTYPES[t.dtype];
    if (!w) throw new Error(`safetensors: tensor "${name}" has unsupported dtype ${String(t.dtype)}`);
    if (numel(t.dims) !== t.data.length) {
      throw new Error(`safetensors: tensor "${name}" has ${t.data.length} values but shape [${t.dims.join(', ')}]`);
    }
  }
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== 'string') throw new Error(`safetensors: metadata "${k}" must be a string`);
  }
  const byName = (a: [string, Tensor], b: [string, Tensor]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const names = [...entries].sort(byName);
  const layout = [...entries].sort((a, b) => WRITE_DTYPES[b[1].dtype].bytes - WRITE_DTYPES[a[1].dtype].bytes || byName(a, b));

  const offsets = new Map<string, [number, number]>();
  let pos = 0;
  for (const [name, t] of layout) {
    const len = t.data.length * WRITE_DTYPES[t.dtype].bytes;
    offsets.set(name, [pos, pos + len]);
    pos += len;
  }
  const header: Record<string, unknown> = {};
  for (const [name, t] of names) {
    header[name] = { dtype: WRITE_DTYPES[t.dtype].name, shape: [...t.dims], data_offsets: offsets.get(name) };
  }
  // Readers look metadata up by key; last, as the reference oracle writes it, so our files match its bytes.
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + pos);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  const dataStart = 8 + json.length;
  for (const [name, t] of layout) out.set(bytesOf(t), dataStart + offsets.get(name)![0]);
  return out;
}

