/**
 * Natural logs of a row of float64 values without calling Math.log (a third faster inside the
 * fbank, where V8 calls into C for each Math.log). The exponent comes from the value's bits; the
 * mantissa's top 7 bits pick c = 1 + (i + 0.5)/128 from a table, and log(m/c) is a degree-5
 * series in r = m/c - 1 (|r| < 1/256, truncation below r^6/6 < 2e-15). Within 1.4e-14 of
 * Math.log for |log x| < 40 (test/audio/fast-log.test.ts): far below the float32 rounding
 * (~1e-6) of the features it feeds.
 */

const TABLE_BITS = 7;
const TABLE_SIZE = 1 << TABLE_BITS;
const MANTISSA_HI_BITS = 20; // mantissa bits in the high 32-bit word of a float64

/** 1/c_i and log(c_i) for c_i = 1 + (i + 0.5) / 128: the centres of the mantissa's 128 slices. */
export const INV_C = new Float64Array(TABLE_SIZE);
export const LOG_C = new Float64Array(TABLE_SIZE);
for (let i = 0; i < TABLE_SIZE; i++) {
  const c = 1 + (i + 0.5) / TABLE_SIZE;
  INV_C[i] = 1 / c;
  LOG_C[i] = Math.log(c);
}
/** By biased exponent b: 2^(1023 - b) (exact scaling of x to its mantissa) and (b - 1023) ln 2. */
const SCALE = new Float64Array(2048);
const EXP_LOG = new Float64Array(2048);
for (let b = 1; b < 2047; b++) {
  SCALE[b] = 2 ** (1023 - b);
  EXP_LOG[b] = (b - 1023) * Math.LN2;
}

/** Index of a float64's high 32-bit word in a Uint32Array view (every current platform: 1, little-endian). */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const SMALLEST_NORMAL = 2.2250738585072014e-308;
const LARGEST_FAST = 1e300;

/**
 * out[at + j] = (log(max(values[j], floor)) - shift) * factor for j < n (shift 0, factor 1: the log). `bits` must view the same memory as
 * `values` (`new Uint32Array(values.buffer, values.byteOffset, 2 * values.length)`); the values
 * are read through it after they were written, so no store has to be forwarded. `floor` > 0.
 */
export function logFloorInto(
  values: Float64Array,
  bits: Uint32Array,
  n: number,
  floor: number,
  out: Float32Array | Float64Array,
  at: number,
  shift = 0,
  factor = 1,
): void {
  const logFloor = (Math.log(floor) - shift) * factor;
  const lo = floor > SMALLEST_NORMAL ? floor : SMALLEST_NORMAL;
  for (let j = 0; j < n; j++) {
    const x = values[j]!;
    if (x > lo && x < LARGEST_FAST) {
      const hi = bits[2 * j + HI]!;
      const b = hi >>> MANTISSA_HI_BITS;
      const i = (hi >>> (MANTISSA_HI_BITS - TABLE_BITS)) & (TABLE_SIZE - 1);
      const r = x * SCALE[b]! * INV_C[i]! - 1;
      // log(1 + r) = r - r^2/2 + r^3/3 - r^4/4 + r^5/5
      out[at + j] = (EXP_LOG[b]! - shift + LOG_C[i]! + r * (1 + r * (-0.5 + r * (1 / 3 + r * (-0.25 + r * 0.2))))) * factor;
    } else {
      out[at + j] = x > floor || x !== x ? (Math.log(x) - shift) * factor : logFloor; // huge, Inf, NaN; or at/below the floor
    }
  }
}
