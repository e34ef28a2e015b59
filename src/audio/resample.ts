/**
 * Band-limited resampling faithful to `torchaudio.functional.resample` with its defaults:
 * windowed-sinc interpolation, Hann window, `lowpass_filter_width = 6`, `rolloff = 0.99`,
 * rates reduced by their gcd. The kernel is built in float32 as torchaudio builds it; the convolution runs in float64.
 */

import { SampleRun } from './sample-run.js';

/** Zero crossings of the sinc kept on each side (torchaudio `lowpass_filter_width`). */
export const LOWPASS_FILTER_WIDTH = 6;
/** Cut-off as a fraction of the lower Nyquist frequency (torchaudio `rolloff`). */
export const ROLLOFF = 0.99;

interface ResampleKernel {
  /** Reduced rates. */
  orig: number;
  next: number;
  /** Taps on each side beyond one input period. */
  width: number;
  /**
   * One filter per output phase, torchaudio's [next, 2 * width + orig] kernel stored sparsely: row j
   * holds `span` taps starting at tap `lo[j]`, a window that contains the filter's support. [next, span]
   */
  taps: Float64Array;
  span: number;
  lo: Int32Array;
  /**
   * Per phase, the taps [first, end) inside the filter's support (|t| < lowpass_filter_width).
   * Outside it torchaudio clamps t to the edge, where window x sinc is below 1e-20: skipping those
   * taps changes no output by more than that, and 44.1 -> 16 kHz runs 14x faster. [next]
   */
  first: Int32Array;
  end: Int32Array;
}

/** Kernels kept for reuse; bounded, so files with ever-new odd rates cannot grow it without end. */
const kernelCache = new Map<string, ResampleKernel>();
const KERNEL_CACHE_SIZE = 8;

/**
 * The most kernel values (float64) a resampling may build: 8 MiB, about 0.5 s to compute on a busy
 * core. Only the taps near each phase's support are built (about 12 x orig / min(orig, new) per
 * phase, after reducing the rates by their gcd): 44.1 -> 16 kHz needs 6,400, 44101 -> 16000 Hz (no
 * common factor) 640,000, any rate up to 87 kHz fits; 549154 -> 16000 Hz would need 3.6 million
 * (2 s on a busy machine, found by the fuzzer) and is refused.
 */
export const MAX_RESAMPLE_KERNEL_VALUES = 1 << 20;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Taps stored per phase: the support |t| < lowpass_filter_width spans 2 * 6 * orig / baseFreq taps, plus a margin. */
function spanOf(orig: number, baseFreq: number): number {
  return Math.ceil((2 * LOWPASS_FILTER_WIDTH * orig) / baseFreq) + 6;
}

/** Values in the (sparse) sinc kernel that resampling `origFreq` -> `newFreq` builds: [new / g, ~12 orig / min(orig, new)]. */
export function resampleKernelValues(origFreq: number, newFreq: number): number {
  const g = gcd(origFreq, newFreq);
  const orig = origFreq / g;
  const next = newFreq / g;
  return next * spanOf(orig, Math.min(orig, next) * ROLLOFF);
}

function sincResampleKernel(origFreq: number, newFreq: number): ResampleKernel {
  const key = `${origFreq}:${newFreq}`;
  const hit = kernelCache.get(key);
  if (hit) return hit;
  const g = gcd(origFreq, newFreq);
  const orig = origFreq / g;
  const next = newFreq / g;
  // Anti-aliasing: cut below the lower of the two Nyquist frequencies (also when upsampling,
  // where the zero-padded edges would otherwise ring).
  const baseFreq = Math.min(orig, next) * ROLLOFF;
  const width = Math.ceil((LOWPASS_FILTER_WIDTH * orig) / baseFreq);
  const tapsPerPhase = 2 * width + orig;
  // Only the taps near the support are computed and kept: torchaudio's dense kernel is [next, 2 * width + orig],
  // 706 million values for 44101 -> 16000 Hz, of which 36 per phase are inside the support.
  const span = spanOf(orig, baseFreq);
  const taps = new Float64Array(next * span);
  const lo = new Int32Array(next);
  // torchaudio builds the kernel in the waveform's dtype (float32), step by step; each step is
  // rounded to float32 here too (f32 = Math.fround), because the kernel's rounding is systematic:
  // it shapes the stop band, which is what quiet log-mel bins see. Measured on the fixtures:
  // a float64 kernel puts speech_22k's raw log-mel 4.7e-2 away, this one 5e-4.
  const f32 = Math.fround;
  const baseF = f32(baseFreq);
  const piF = f32(Math.PI);
  const scaleF = f32(baseFreq / orig);
  const first = new Int32Array(next).fill(tapsPerPhase);
  const end = new Int32Array(next);
  for (let j = 0; j < next; j++) {
    const tj = f32(-j / next);
    // |t| < 6 where |(k - width) / orig - j / next| < 6 / baseFreq; a margin of taps on each side
    // absorbs float32 rounding (t is tested exactly below).
    const kLo = Math.max(0, Math.floor(width + orig * (j / next - LOWPASS_FILTER_WIDTH / baseFreq)) - 2);
    const kHi = Math.min(tapsPerPhase, kLo + span);
    lo[j] = kLo;
    for (let k = kLo; k < kHi; k++) {
      // Time of input sample (k - width) relative to output sample j, in units of the cut-off period.
      let t = f32(f32(tj + f32((k - width) / orig)) * baseF);
      if (Math.abs(t) < LOWPASS_FILTER_WIDTH) {
        first[j] = Math.min(first[j]!, k);
        end[j] = k + 1;
      }
      t = Math.min(LOWPASS_FILTER_WIDTH, Math.max(-LOWPASS_FILTER_WIDTH, t));
      const c = f32(Math.cos(f32(f32(f32(t * piF) / LOWPASS_FILTER_WIDTH) / 2)));
      const window = f32(c * c);
      const x = f32(t * piF);
      const sinc = x === 0 ? 1 : f32(f32(Math.sin(x)) / x);
      taps[j * span + (k - kLo)] = f32(sinc * f32(window * scaleF));
    }
  }
  const kernel = { orig, next, width, taps, span, lo, first, end };
  if (kernelCache.size >= KERNEL_CACHE_SIZE) kernelCache.delete(kernelCache.keys().next().value!);
  kernelCache.set(key, kernel);
  return kernel;
}

/**
 * Resamples `x` from `origFreq` to `newFreq` Hz (positive integers). Returns `x` itself when the
 * rates are equal, like torchaudio. Output length ceil(newFreq * x.length / origFreq).
 */
export function resample(x: Float32Array, origFreq: number, newFreq: number): Float32Array {
  if (!(Number.isInteger(origFreq) && Number.isInteger(newFreq) && origFreq > 0 && newFreq > 0)) {
    throw new Error(`resample: rates must be positive integers, got ${origFreq} -> ${newFreq}`);
  }
  if (origFreq === newFreq) return x;
  const values = resampleKernelValues(origFreq, newFreq);
  if (values > MAX_RESAMPLE_KERNEL_VALUES) {
    throw new Error(
      `resample: ${origFreq} Hz -> ${newFreq} Hz needs a sinc kernel of ${values} values (the rates share only the factor ` +
        `${gcd(origFreq, newFreq)}); more than the ${MAX_RESAMPLE_KERNEL_VALUES} allowed`,
    );
  }
  const { orig, next, width, taps, span, lo, first, end } = sincResampleKernel(origFreq, newFreq);
  const length = x.length;
  // The signal zero-padded by `width` on the left and `width + orig` on the right.
  const padded = new Float32Array(length + 2 * width + orig);
  for (let i = 0; i < length; i++) padded[width + i] = x[i]!;
  const blocks = Math.floor(length / orig) + 1; // conv1d output count with stride orig
  const target = Math.ceil((next * length) / orig);
  const out = new Float32Array(target);
  for (let b = 0; b < blocks; b++) {
    const base = b * orig;
    for (let j = 0; j < next; j++) {
      const n = b * next + j;
      if (n >= target) return out;
      const row = j * span - lo[j]!;
      let acc = 0;
      for (let k = first[j]!, e = end[j]!; k < e; k++) acc += padded[base + k]! * taps[row + k]!;
      out[n] = acc;
    }
  }
  return out;
}

/**
 * `resample` over a stream: push the input in chunks of any size and get the same output samples, bit
 * for bit (each output is the same float64 sum over the same taps in the same order), holding only the
 * taps' reach of input. The whole signal's length is known only at `end()`, which adds the outputs
 * that read the zero padding after the last sample, up to resample's ceil(new * length / orig).
 */
export class StreamingResampler {
  private readonly kernel: ResampleKernel;
  /** The input samples the next outputs' taps still read. */
  private readonly input = new SampleRun();
  /** Input samples pushed so far, and outputs produced. */
  private received = 0;
  private produced = 0;
  private ended = false;

  constructor(readonly origFreq: number, readonly newFreq: number) {
    if (!(Number.isInteger(origFreq) && Number.isInteger(newFreq) && origFreq > 0 && newFreq > 0)) {
      throw new Error(`resample: rates must be positive integers, got ${origFreq} -> ${newFreq}`);
    }
    const values = resampleKernelValues(origFreq, newFreq);
    if (values > MAX_RESAMPLE_KERNEL_VALUES) {
      throw new Error(`resample: ${origFreq} Hz -> ${newFreq} Hz needs a sinc kernel of ${values} values; more than the ${MAX_RESAMPLE_KERNEL_VALUES} allowed`);
    }
    this.kernel = sincResampleKernel(origFreq, newFreq);
  }

  /** The outputs that `x` (the next input samples) completes. */
  push(x: Float32Array): Float32Array {
    if (this.ended) throw new Error('StreamingResampler: push after end');
    this.input.append(x);
    this.received += x.length;
    return this.produce(Infinity);
  }

  /** The remaining outputs, once the input is over. */
  end(): Float32Array {
    if (this.ended) return new Float32Array(0);
    this.ended = true;
    const { orig, next } = this.kernel;
    const out = this.produce(Math.ceil((next * this.received) / orig));
    this.input.release();
    return out;
  }

  /** Outputs from `produced` on whose taps are all known (or, after end, up to `target`). */
  private produce(target: number): Float32Array {
    const { orig, next, width, taps, span, lo, first, end } = this.kernel;
    const results: number[] = [];
    const finished = this.ended;
    // the input does not change while outputs are made (it is released only after), so read it once, out of the tap loop
    const { data: input, length: held, start: heldStart } = this.input;
    for (;;) {
      const n = this.produced;
      if (n >= target) break;
      const b = Math.floor(n / next);
      const j = n - b * next;
      // padded[i] = x[i - width]: the last input this output reads is x[b * orig + end[j] - 1 - width].
      if (!finished && b * orig + end[j]! - 1 - width >= this.received) break;
      const row = j * span - lo[j]!;
      const base = b * orig - width - heldStart; // index into input of padded[b * orig]
      let acc = 0;
      for (let k = first[j]!, e = end[j]!; k < e; k++) {
        const i = base + k;
        // zeros before the first and after the last sample, as resample's padding
        const v = i >= 0 && i < held ? input[i]! : 0;
        acc += v * taps[row + k]!;
      }
      results.push(acc);
      this.produced++;
    }
    this.input.discardBefore(Math.floor(this.produced / next) * orig - width);
    return Float32Array.from(results);
  }
}
