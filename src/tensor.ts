/**
 * The one tensor type that crosses module boundaries: a typed array plus its shape.
 * Row-major, like PyTorch's contiguous tensors and NumPy's C order.
 */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'bool';

export interface DataOf {
  float32: Float32Array;
  float16: Uint16Array; // raw IEEE half bits
  bfloat16: Uint16Array; // raw bfloat16 bits (upper half of a float32)
  int64: BigInt64Array;
  int32: Int32Array;
  bool: Uint8Array;
}

export interface Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly dims: readonly number[];
  readonly data: DataOf[D];
}

export type Float32Tensor = Tensor<'float32'>;

export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function float32Tensor(dims: readonly number[], data?: Float32Array): Float32Tensor {
  const n = numel(dims);
  if (data && data.length !== n) {
    throw new Error(`tensor data has ${data.length} values but shape [${dims.join(', ')}] needs ${n}`);
  }
  return { dtype: 'float32', dims: [...dims], data: data ?? new Float32Array(n) };
}

/**
 * Rows of one shape stacked along a new leading axis: B x [rowDims] -> [B, ...rowDims]. The one place a
 * model input batch ([B, T, M]) is assembled (the batcher and the feature extractor both call it).
 */
export function stackRows(rows: readonly Float32Array[], rowDims: readonly number[]): Float32Tensor {
  const per = numel(rowDims);
  rows.forEach((r, b) => {
    if (r.length !== per) throw new Error(`stackRows: row ${b} has ${r.length} values, expected ${per} ([${rowDims.join(', ')}])`);
  });
  // one row is used as it is (no copy); more are copied into one fresh array
  const data = rows.length === 1 ? rows[0]! : new Float32Array(rows.length * per);
  if (rows.length > 1) rows.forEach((r, b) => data.set(r, b * per));
  return float32Tensor([rows.length, ...rowDims], data);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 half -> float32, exact (every half is representable). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** bfloat16 -> float32, exact: bf16 is the upper 16 bits of a float32. */
export function bfloat16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0]!;
}

/** float32 -> half with round-to-nearest-even, as torch's `.half()`. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

/** float32 -> bfloat16 with round-to-nearest-even, as torch's `.bfloat16()`. */
export function floatToBfloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff; // quiet NaN
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** Widens fp16/bf16 storage to float32; float32 passes through unchanged (no copy). */
export function toFloat32(t: Tensor): Float32Tensor {
  if (t.dtype === 'float32') return t as Float32Tensor;
  const src = t.data;
  const out = new Float32Array(src.length);
  if (t.dtype === 'float16') {
    const s = src as Uint16Array;
    for (let i = 0; i < s.length; i++) out[i] = halfToFloat(s[i]!);
  } else if (t.dtype === 'bfloat16') {
    const s = src as Uint16Array;
    for (let i = 0; i < s.length; i++) out[i] = bfloat16ToFloat(s[i]!);
  } else {
    throw new Error(`cannot convert ${t.dtype} tensor to float32`);
  }
  return { dtype: 'float32', dims: [...t.dims], data: out };
}
