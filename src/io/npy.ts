/**
 * NumPy `.npy` (format 1.0 / 2.0 / 3.0) read and write, little-endian, C order.
 * Enough for fixtures (float32, float64, int64) and for the CLI's outputs (float32).
 */
import { FormatError } from './errors.js';
import { numel } from '../tensor.js';

export type NpyData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface NpyArray {
  readonly descr: '<f4' | '<f8' | '<i8' | '<i4' | '|u1' | '|b1';
  readonly shape: readonly number[];
  readonly data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

const BYTES: Record<NpyArray['descr'], number> = { '<f4': 4, '<f8': 8, '<i8': 8, '<i4': 4, '|u1': 1, '|b1': 1 };

export function parseNpy(bytes: Uint8Array, source = '<bytes>'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) {
    throw new FormatError(source, `not a .npy file (bad magic)`);
  }
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw new FormatError(source, `unsupported .npy format version ${major}.${bytes[7]} (1.0, 2.0 and 3.0 are read)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12; // versions 2 and 3 have a 4-byte header length
  if (bytes.length < start) throw new FormatError(source, `truncated .npy header (${bytes.length} bytes)`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (start + headerLen > bytes.length) throw new FormatError(source, `truncated .npy header`);
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new FormatError(source, `unreadable .npy header ${header}`);
  if (fortran === 'True') throw new FormatError(source, `Fortran-order .npy is not supported`);
  if (!Object.hasOwn(BYTES, descr)) throw new FormatError(source, `unsupported .npy dtype ${descr}`);
  const d = descr as NpyArray['descr'];
  const dimTexts = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  // Plain non-negative integers only: Number() would also take '', '1.5', '1e3', '0x10' and 'NaN'.
  const badDim = dimTexts.find((s) => !/^\d{1,15}$/.test(s));
  if (badDim !== undefined) throw new FormatError(source, `.npy shape (${shapeText}) has ${JSON.stringify(badDim)}, not a dimension`);
  const shape = dimTexts.map(Number);
  const n = numel(shape);
  const offset = start + headerLen;
  const need = n * BYTES[d];
  if (offset + need > bytes.length) {
    throw new FormatError(source, `truncated .npy data (${bytes.length - offset} bytes, shape needs ${need})`);
  }
  // Copy (Node's Buffer#slice would share memory) so the result is aligned and independent.
  const raw = new Uint8Array(bytes.subarray(offset, offset + need)).buffer;
  const data: NpyData =
    d === '<f4' ? new Float32Array(raw)
    : d === '<f8' ? new Float64Array(raw)
    : d === '<i8' ? new BigInt64Array(raw)
    : d === '<i4' ? new Int32Array(raw)
    : new Uint8Array(raw);
  return { descr: d, shape, data };
}

function descrOf(data: NpyData): NpyArray['descr'] {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof BigInt64Array) return '<i8';
  if (data instanceof Int32Array) return '<i4';
  return '|u1';
}

export function formatNpy(shape: readonly number[], data: NpyData): Uint8Array {
  if (numel(shape) !== data.length) {
    throw new Error(`npy: shape [${shape.join(', ')}] does not match ${data.length} values`);
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descrOf(data)}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Header padded with spaces so the data starts on a 64-byte boundary, newline-terminated.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + head.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, head.length, true);
  out.set(head, 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + head.length);
  return out;
}
