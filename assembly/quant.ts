// AssemblyScript source of the int8 weight quantiser's WebAssembly kernel (src/model/quant-wasm.ts loads it).
// Rebuild with `npm run build:wasm` (writes src/model/quant-wasm.generated.ts, committed).
//
// The same arithmetic as quantizeF32 in src/model/quant.ts, four weights at a time: per output channel
// scale = f32(max |w| / 127) (f32.div is the correctly rounded float32 quotient, as Math.fround of the float64
// one), q = nearest(f32(w / scale)) with ties to even (f32x4.nearest), so the bytes are identical.
// Pointers are byte offsets into this module's memory, laid out by the caller.

/** First free byte after this module's static data: the caller's layout starts there. */
export function heapBase(): usize {
  return __heap_base;
}

const FLT_MAX: f32 = 3.4028234663852886e38;

@inline function quant4(row: usize, k: i32, vs: v128): v128 {
  const lo = i32x4.splat(-127);
  const hi = i32x4.splat(127);
  return i32x4.max_s(lo, i32x4.min_s(hi, i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(row + (<usize>k << 2)), vs)))));
}

/** Rows r..r+3 at k..k+3 as 16 int8, row-major (r k0..k3, r+1 k0..k3, ...). */
@inline function quant4x4(w: usize, inF: i32, r: i32, k: i32, scales: usize): v128 {
  const rowBytes = <usize>inF << 2;
  const row = w + <usize>r * rowBytes;
  const a = quant4(row, k, divisor(scales, r));
  const b = quant4(row + rowBytes, k, divisor(scales, r + 1));
  const c = quant4(row + 2 * rowBytes, k, divisor(scales, r + 2));
  const d = quant4(row + 3 * rowBytes, k, divisor(scales, r + 3));
  const m = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d));
  // 4x4 byte transpose: k-major (k0: r..r+3, k1: ..., ...)
  return v128.shuffle<i8>(m, m, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
}

/** A row's divisor: its scale, or +Infinity for a zero scale (w / Infinity rounds to 0, as the skipped JS row). */
@inline function divisor(scales: usize, r: i32): v128 {
  const s = load<f32>(scales + (<usize>r << 2));
  return f32x4.splat(s == 0 ? Infinity : s);
}

/**
 * W [rows, inF] float32 at `w` into q at dst[k * cols + n] (int8, `cols` bytes per k) and scales[n] (float32).
 * Returns -1, or the flat index of the first non-finite weight (then nothing is promised about dst).
 * Pass 1 takes every row's scale; pass 2 quantises 16 rows x 4 k at a time and transposes them in registers,
 * so each k gets one 16-byte store (rows left over, and k beyond a multiple of 4, go one by one).
 */
export function quantizeRows(w: usize, rows: i32, inF: i32, dst: usize, cols: i32, scales: usize): i32 {
  const k4 = inF & ~3;
  for (let n = 0; n < rows; n++) {
    const row = w + (<usize>(n * inF) << 2);
    let m = f32x4.splat(0);
    for (let k = 0; k < k4; k += 4) m = f32x4.max(m, f32x4.abs(v128.load(row + (<usize>k << 2))));
    let amax = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
    for (let k = k4; k < inF; k++) amax = max(amax, abs(load<f32>(row + (<usize>k << 2))));
    if (!(amax <= FLT_MAX)) {
      for (let k = 0; k < inF; k++) {
        if (!(abs(load<f32>(row + (<usize>k << 2))) <= FLT_MAX)) return n * inF + k;
      }
    }
    store<f32>(scales + (<usize>n << 2), amax / 127);
  }
  const step = <usize>cols;
  const r16 = rows & ~15;
  for (let r = 0; r < r16; r += 16) {
    let o = dst + <usize>r;
    for (let k = 0; k < k4; k += 4) {
      const a = quant4x4(w, inF, r, k, scales);
      const b = quant4x4(w, inF, r + 4, k, scales);
      const c = quant4x4(w, inF, r + 8, k, scales);
      const d = quant4x4(w, inF, r + 12, k, scales);
      // 32-bit lanes: a = [k0 k1 k2 k3] of rows r..r+3, b of r+4..r+7, ...; gather each k's four lanes
      const t0 = v128.shuffle<i32>(a, b, 0, 4, 1, 5);
      const t1 = v128.shuffle<i32>(c, d, 0, 4, 1, 5);
      const t2 = v128.shuffle<i32>(a, b, 2, 6, 3, 7);
      const t3 = v128.shuffle<i32>(c, d, 2, 6, 3, 7);
      v128.store(o, v128.shuffle<i32>(t0, t1, 0, 1, 4, 5));
      v128.store(o + step, v128.shuffle<i32>(t0, t1, 2, 3, 6, 7));
      v128.store(o + 2 * step, v128.shuffle<i32>(t2, t3, 0, 1, 4, 5));
      v128.store(o + 3 * step, v128.shuffle<i32>(t2, t3, 2, 3, 6, 7));
      o += 4 * step;
    }
  }
  // the rows past the last 16, then every row's k past the last multiple of 4
  for (let n = 0; n < rows; n++) {
    const row = w + (<usize>(n * inF) << 2);
    const scale = load<f32>(scales + (<usize>n << 2));
    if (n >= r16) {
      const vs = divisor(scales, n);
      let o = dst + <usize>n;
      for (let k = 0; k < k4; k += 4) {
        const q = quant4(row, k, vs);
        store<i8>(o, <i8>i32x4.extract_lane(q, 0));
        store<i8>(o + step, <i8>i32x4.extract_lane(q, 1));
        store<i8>(o + 2 * step, <i8>i32x4.extract_lane(q, 2));
        store<i8>(o + 3 * step, <i8>i32x4.extract_lane(q, 3));
        o += 4 * step;
      }
    }
    for (let k = k4; k < inF; k++) {
      const q = scale == 0 ? 0 : <i32>nearest<f32>(load<f32>(row + (<usize>k << 2)) / scale);
      store<i8>(dst + <usize>k * step + <usize>n, <i8>(q > 127 ? 127 : q < -127 ? -127 : q));
    }
  }
  return -1;
}
