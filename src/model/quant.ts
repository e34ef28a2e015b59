/**
 * Weight quantisation formats, each beside its dequantiser (as llama.cpp keeps a block layout and its
 * (de)quantise pair together). Pure functions over a weight matrix; the graph decides how they run.
 *
 * Every function takes the weight in Hugging Face's nn.Linear layout, W [out, in] row-major, and returns
 * the int8/uint8 data in the layout ONNX Runtime's integer MatMuls want for `y = x W^T`: B [in, out]
 * (K x N), with one scale (and zero point) per output column N.
 *
 *   int8 symmetric per output channel (ours, q8):   W[n, k] ~ scale[n] * q[k, n],              q in [-127, 127]
 *   uint8 asymmetric (onnxruntime quantize_dynamic's QUInt8 weights, the transformers.js peer):
 *                                                    W[n, k] ~ scale[c] * (q[k, n] - zero[c]),  q in [0, 255]
 *   int8 activations are not stored: ORT quantises them per tensor at run time (DynamicQuantizeLinear),
 *   mirrored here by `quantizeActivationsUint8` for the error bound and the tests.
 *
 * Rounding is half to even (numpy's np.round, which onnxruntime's quantiser uses; ORT's run-time
 * QuantizeLinear also rounds half to even).
 */

import { quantizeF32Wasm } from './quant-wasm.js';

/** An int8 matrix B [rows = in, cols = out], row-major, with one scale per column (output channel). */
export interface Int8PerChannel {
  readonly rows: number; // K = in_features
  readonly cols: number; // N = out_features
  readonly data: Int8Array; // [K, N]
  readonly scales: Float32Array; // [N]
}

/** A uint8 matrix B [rows = in, cols = out] with scales and zero points per column, or one of each for the tensor. */
export interface Uint8Asymmetric {
  readonly rows: number;
  readonly cols: number;
  readonly data: Uint8Array; // [K, N]
  readonly scales: Float32Array; // [N] per channel, [1] per tensor
  readonly zeroPoints: Uint8Array; // same length as scales
}

/** 1.5 * 2^52: adding and subtracting it rounds a float64 of magnitude below 2^51 to an integer, ties to even. */
const ROUND_MAGIC = 6755399441055744;

/** Round half to even (banker's rounding), as numpy's np.round and ONNX QuantizeLinear. */
export function roundHalfEven(x: number): number {
  if (Math.abs(x) >= 2 ** 51) return x;
  const r = x + ROUND_MAGIC - ROUND_MAGIC; // IEEE round-to-nearest-even does the work
  return r === 0 && x < 0 ? -0 : r; // np.round(-0.4) is -0.0
}

function checkMatrix(w: ArrayLike<number>, out: number, inF: number, what: string): void {
  if (!Number.isInteger(out) || !Number.isInteger(inF) || out < 1 || inF < 1) {
    throw new Error(`${what}: shape [${out}, ${inF}] is not a matrix`);
  }
  if (w.length !== out * inF) throw new Error(`${what}: ${w.length} values for [${out}, ${inF}]`);
}

/**
 * Symmetric int8 per output channel: scale[n] = max_k |W[n, k]| / 127, q = round(W / scale) (so |q| <= 127:
 * -128 is never used, which keeps the product symmetric and MLAS's u8 x s8 kernels exact).
 * A column that is all zero gets scale 0 and q = 0 (dequantises to exactly 0, never NaN).
 * Non-finite weights are an error: they have no int8 image.
 */
export function quantizeInt8PerChannel(w: ArrayLike<number>, out: number, inF: number, alloc: Int8Alloc = zeroInt8): Int8PerChannel {
  checkMatrix(w, out, inF, 'quantizeInt8PerChannel');
  const scales = new Float32Array(out);
  const data = alloc(inF * out);
  quantizeInto(w, out, inF, { data, scales, cols: out, col0: 0 });
  return { rows: inF, cols: out, data, scales };
}

/** Where int8 weights are allocated: zero-filled, `n` bytes. */
export type Int8Alloc = (n: number) => Int8Array;

const zeroInt8: Int8Alloc = (n) => new Int8Array(n);

/**
 * An Int8Alloc that hands out views of slabs of `slabBytes` (default 64 MiB). Why: each slab is one allocation
 * above glibc's largest mmap threshold (32 MiB), so it is mapped on its own and unmapped when freed, and its pages
 * count in RSS only once written. Many separate 2-10 MB weights instead land in the malloc heap, which keeps
 * their pages after they are freed (measured: a q8 AST-Base kept ~90 MB more RSS after dropping its weights).
 */
export function slabInt8Alloc(slabBytes = 64 * 2 ** 20, shared = false): Int8Alloc {
  // shared: SharedArrayBuffer slabs, which a helper thread can write into (src/model/quant-thread.ts)
  const make = (n: number): Int8Array => (shared ? new Int8Array(new SharedArrayBuffer(n)) : new Int8Array(n));
  let slab: Int8Array = new Int8Array(0);
  let used = 0;
  return (n) => {
    if (n > slabBytes) return make(n);
    if (used + n > slab.length) {
      slab = make(slabBytes);
      used = 0;
    }
    const v = slab.subarray(used, used + n);
    used += (n + 63) & ~63; // 64-byte aligned views (ORT reads them as external data; alignment keeps copies fast)
    return v;
  };
}

/** Output channels per tile: TILE source rows (AST-Base: 16 x 3072 x 4 = 192 KB at most) stay in L2 between the two passes. */
const TILE = 16;
/** float32's largest finite value: |v| <= it is false for NaN and +-Infinity, so one compare checks both. */
const FLT_MAX = 3.4028234663852886e38;

/** The destination of quantizeInto: columns [col0, col0 + out) of data [in, cols], scales[col0 + n]. */
interface Int8Dest {
  data: Int8Array;
  scales: Float32Array;
  cols: number;
  col0: number;
}

function quantizeInto(w: ArrayLike<number>, out: number, inF: number, d: Int8Dest): void {
  if (w instanceof Float32Array) {
    // WebAssembly SIMD where available (the same bytes), else the JavaScript loop
    if (!quantizeF32Wasm(w, out, inF, d.data, d.scales, d.cols, d.col0)) quantizeF32(w, out, inF, d);
  } else {
    quantizeAny(w, out, inF, d);
  }
}

/**
 * W [out, in] float32 into int8 per channel, per tile of TILE channels: pass 1 takes each row's absmax (the
 * rows come from memory once, then from cache), pass 2 writes q transposed. Scale and rounding as documented above.
 */
function quantizeF32(w: Float32Array, out: number, inF: number, { data, scales, cols, col0 }: Int8Dest): void {
  for (let t0 = 0; t0 < out; t0 += TILE) {
    const t1 = Math.min(out, t0 + TILE);
    for (let n = t0; n < t1; n++) {
      const row = n * inF;
      let amax = 0;
      for (let k = 0; k < inF; k++) {
        const a = Math.abs(w[row + k]!);
        if (!(a <= FLT_MAX)) throw new Error(`quantizeInt8PerChannel: weight [${n}, ${k}] is ${w[row + k]}`);
        if (a > amax) amax = a;
      }
      scales[col0 + n] = Math.fround(amax / 127); // 0 for an all-zero channel (or one below float32's smallest scale): q stays 0
    }
    for (let n = t0; n < t1; n++) {
      const scale = scales[col0 + n]!;
      if (scale === 0) continue; // data is zero-filled
      const row = n * inF;
      // w / scale in float32 as numpy would (a float64 quotient of two float32s rounds to the float32 quotient),
      // then half to even (|q| <= 127 < 2^51, so the magic sum is exact)
      for (let k = 0, o = col0 + n; k < inF; k++, o += cols) {
        const q = Math.fround(w[row + k]! / scale) + ROUND_MAGIC - ROUND_MAGIC;
        data[o] = q > 127 ? 127 : q < -127 ? -127 : q;
      }
    }
  }
}

/** quantizeF32 for any array of numbers (plain arrays in tests, float64 data). */
function quantizeAny(w: ArrayLike<number>, out: number, inF: number, { data, scales, cols, col0 }: Int8Dest): void {
  for (let n = 0; n < out; n++) {
    const row = n * inF;
    let amax = 0;
    for (let k = 0; k < inF; k++) {
      const v = w[row + k]!;
      if (!Number.isFinite(v)) throw new Error(`quantizeInt8PerChannel: weight [${n}, ${k}] is ${v}`);
      const a = Math.abs(v);
      if (a > amax) amax = a;
    }
    const scale = (scales[col0 + n] = Math.fround(amax / 127));
    if (scale === 0) continue;
    for (let k = 0; k < inF; k++) {
      const q = Math.fround(w[row + k]! / scale) + ROUND_MAGIC - ROUND_MAGIC;
      data[k * cols + col0 + n] = q > 127 ? 127 : q < -127 ? -127 : q;
    }
  }
}

/** One nn.Linear to prepare: weight [out, in], optional bias [out], and alpha for y = alpha (x W^T + b). */
export interface LinearToQuantize {
  weight: ArrayLike<number>;
  out: number;
  bias?: ArrayLike<number> | null;
  alpha?: number;
}

/**
 * Linears that read the same input (attention's query, key and value), prepared as ONE int8 Linear over their
 * concatenated output channels: since each channel's scale reads only its own row, the result is each part
 * quantised on its own, side by side (each is written straight into its columns; no concatenated float copy).
 * Each part's alpha is folded into its scales and its bias.
 * Returns the int8 weight [in, sum(out)] and the bias [sum(out)] (undefined when no part has one).
 */
export function quantizeLinears(
  parts: readonly LinearToQuantize[],
  inF: number,
  alloc: Int8Alloc = zeroInt8,
): { weight: Int8PerChannel; bias?: Float32Array } {
  const total = parts.reduce((n, p) => n + p.out, 0);
  for (const p of parts) checkMatrix(p.weight, p.out, inF, 'quantizeLinears');
  const weight: Int8PerChannel = { rows: inF, cols: total, data: alloc(total * inF), scales: new Float32Array(total) };
  let o = 0;
  for (const p of parts) {
    quantizeInto(p.weight, p.out, inF, { data: weight.data, scales: weight.scales, cols: total, col0: o });
    o += p.out;
  }
  o = 0;
  for (const p of parts) {
    const alpha = p.alpha ?? 1;
    if (alpha !== 1) for (let c = o; c < o + p.out; c++) weight.scales[c] = Math.fround(weight.scales[c]! * alpha);
    o += p.out;
  }
  return { weight, bias: linearsBias(parts) };
}

/** quantizeLinears's bias: the parts' biases side by side, each times its alpha; undefined when no part has one. */
export function linearsBias(parts: readonly LinearToQuantize[]): Float32Array | undefined {
  if (!parts.some((p) => p.bias)) return undefined;
  const bias = new Float32Array(parts.reduce((n, p) => n + p.out, 0));
  let o = 0;
  for (const p of parts) {
    const alpha = p.alpha ?? 1;
    if (p.bias) for (let c = 0; c < p.out; c++) bias[o + c] = p.bias[c]! * alpha;
    o += p.out;
  }
  return bias;
}

/** W [out, in] back from int8 per channel: scale[n] * q[k, n]. */
export function dequantizeInt8PerChannel(q: Int8PerChannel): Float32Array {
  const { rows: inF, cols: out } = q;
  const w = new Float32Array(out * inF);
  for (let n = 0; n < out; n++) {
    const s = q.scales[n]!;
    for (let k = 0; k < inF; k++) w[n * inF + k] = s * q.data[k * out + n]!;
  }
  return w;
}

/**
 * onnxruntime `quantize_dynamic`'s uint8 weights (QuantType.QUInt8, asymmetric): over each output channel
 * (per_channel=True) or the whole tensor, rmin = min(min W, 0), rmax = max(max W, 0),
 * scale = (rmax - rmin) / (qmax - qmin), zero = round(qmin - rmin / scale), q = clip(round(W / scale) + zero),
 * with [qmin, qmax] = [0, 255], or [0, 127] when reduceRange (quant_utils.compute_scale_zp,
 * get_qmin_qmax_for_qType). A constant-zero range gives scale 1, zero 0, as there.
 */
export function quantizeUint8Asymmetric(
  w: ArrayLike<number>,
  out: number,
  inF: number,
  options: { perChannel: boolean; reduceRange: boolean },
): Uint8Asymmetric {
  checkMatrix(w, out, inF, 'quantizeUint8Asymmetric');
  const qmin = 0;
  const qmax = options.reduceRange ? 127 : 255;
  const groups = options.perChannel ? out : 1;
  const scales = new Float32Array(groups);
  const zeroPoints = new Uint8Array(groups);
  for (let c = 0; c < groups; c++) {
    const from = options.perChannel ? c * inF : 0;
    const to = options.perChannel ? from + inF : out * inF;
    let rmin = 0;
    let rmax = 0;
    for (let i = from; i < to; i++) {
      const v = w[i]!;
      if (!Number.isFinite(v)) throw new Error(`quantizeUint8Asymmetric: weight ${i} is ${v}`);
      if (v < rmin) rmin = v;
      if (v > rmax) rmax = v;
    }
    // numpy computes these in float32 (the weight's type)
    let scale = Math.fround(Math.fround(rmax - rmin) / (qmax - qmin));
    if (scale === 0) scale = 1;
    scales[c] = scale;
    zeroPoints[c] = Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - Math.fround(rmin / scale))));
  }
  const data = new Uint8Array(inF * out);
  for (let n = 0; n < out; n++) {
    const c = options.perChannel ? n : 0;
    const s = scales[c]!;
    const z = zeroPoints[c]!;
    for (let k = 0; k < inF; k++) {
      const q = roundHalfEven(Math.fround(w[n * inF + k]! / s)) + z;
      data[k * out + n] = q < qmin ? qmin : q > qmax ? qmax : q;
    }
  }
  return { rows: inF, cols: out, data, scales, zeroPoints };
}

/** W [out, in] back from uint8 asymmetric: scale * (q - zero). */
export function dequantizeUint8Asymmetric(q: Uint8Asymmetric): Float32Array {
  const { rows: inF, cols: out } = q;
  const perChannel = q.scales.length !== 1;
  const w = new Float32Array(out * inF);
  for (let n = 0; n < out; n++) {
    const c = perChannel ? n : 0;
    const s = q.scales[c]!;
    const z = q.zeroPoints[c]!;
    for (let k = 0; k < inF; k++) w[n * inF + k] = s * (q.data[k * out + n]! - z);
  }
  return w;
}

/**
 * ONNX DynamicQuantizeLinear (what DynamicQuantizeMatMul and the QOperator graphs do to activations):
 * over the whole tensor, rmin = min(min x, 0), rmax = max(max x, 0), scale = (rmax - rmin) / 255,
 * zero = saturate(round(-rmin / scale)), q = saturate(round(x / scale) + zero) in [0, 255].
 */
export function quantizeActivationsUint8(x: ArrayLike<number>): { data: Uint8Array; scale: number; zeroPoint: number } {
  let rmin = 0;
  let rmax = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v < rmin) rmin = v;
    if (v > rmax) rmax = v;
  }
  const scale = Math.fround(Math.fround(rmax - rmin) / 255);
  const zeroPoint = scale === 0 ? 0 : Math.min(255, Math.max(0, roundHalfEven(Math.fround(-rmin / scale))));
  const data = new Uint8Array(x.length);
  if (scale !== 0) {
    for (let i = 0; i < x.length; i++) {
      const q = roundHalfEven(Math.fround(x[i]! / scale)) + zeroPoint;
      data[i] = q < 0 ? 0 : q > 255 ? 255 : q;
    }
  }
  return { data, scale, zeroPoint };
}

/**
 * A worst-case bound on |y_int8[m, n] - y_exact[m, n]| for y = x W^T computed from int8 per-channel weights
 * and dynamically quantised uint8 activations (integer accumulation is exact, so only the two roundings
 * count): with x = x' + dx, |dx| <= sx / 2, and W = W' + dW, |dW[n, k]| <= s[n] / 2,
 *   |x W^T - x' W'^T| <= sum_k |x_k| s[n] / 2 + |W[n, k]| sx / 2 + sx s[n] / 4,
 * plus float32 accumulation of the scaled result (a few ulps, covered by the caller's slack).
 * Returns the bound per output element [rows, out], rows being x's rows.
 */
export function int8GemmErrorBound(x: Float32Array, rows: number, w: ArrayLike<number>, out: number, inF: number): Float64Array {
  checkMatrix(w, out, inF, 'int8GemmErrorBound');
  if (x.length !== rows * inF) throw new Error(`int8GemmErrorBound: x has ${x.length} values for [${rows}, ${inF}]`);
  const { scale: sx } = quantizeActivationsUint8(x);
  const q = quantizeInt8PerChannel(w, out, inF);
  const absW = new Float64Array(out); // sum_k |W[n, k]|
  for (let n = 0; n < out; n++) for (let k = 0; k < inF; k++) absW[n] += Math.abs(w[n * inF + k]!);
  const bound = new Float64Array(rows * out);
  for (let m = 0; m < rows; m++) {
    let absX = 0;
    for (let k = 0; k < inF; k++) absX += Math.abs(x[m * inF + k]!);
    for (let n = 0; n < out; n++) {
      const s = q.scales[n]!;
      bound[m * out + n] = (absX * s) / 2 + (absW[n]! * sx) / 2 + (inF * sx * s) / 4;
    }
  }
  return bound;
}
