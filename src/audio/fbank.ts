/**
 * Kaldi filter-bank features, faithful to `torchaudio.compliance.kaldi.fbank`: option names are
 * Kaldi's flags with Kaldi's (torchaudio's) defaults. Computed in float64 from the float32
 * waveform; the result is float32 `[frames, numMelBins]`, row-major.
 */
import { FormatError } from '../io/errors.js';
import { powerSpectrum, powerSpectrumDft, realFftPlan } from './fft.js';
import { fbankFramesWasm } from './fbank-wasm.js';
import { logFloorInto } from './fast-log.js';

export type WindowType = 'hanning' | 'hamming' | 'povey' | 'rectangular' | 'blackman';

export interface FbankOptions {
  /** Waveform sampling rate in Hz (Kaldi `--sample-frequency`). */
  sampleFrequency: number;
  /** Frame length in milliseconds (`--frame-length`). */
  frameLength: number;
  /** Frame shift in milliseconds (`--frame-shift`). */
  frameShift: number;
  /** Number of triangular mel bins (`--num-mel-bins`). */
  numMelBins: number;
  /** Lowest mel-bank frequency in Hz (`--low-freq`). */
  lowFreq: number;
  /** Highest mel-bank frequency in Hz; <= 0 means offset from Nyquist (`--high-freq`). */
  highFreq: number;
  /** Frame window (`--window-type`). */
  windowType: WindowType;
  /** Constant of the Blackman window (`--blackman-coeff`). */
  blackmanCoeff: number;
  /** x[j] -= c * x[j-1] within each frame (`--preemphasis-coefficient`). */
  preemphasisCoefficient: number;
  /** Subtract each frame's mean before pre-emphasis (`--remove-dc-offset`). */
  removeDcOffset: boolean;
  /** Gaussian dither amount; only 0 is supported (AST and Hugging Face use 0) (`--dither`). */
  dither: number;
  /** Only frames that fit entirely in the signal; else reflect at the ends (`--snip-edges`). */
  snipEdges: boolean;
  /** Zero-pad each frame to the next power of two before the FFT (`--round-to-power-of-two`). */
  roundToPowerOfTwo: boolean;
  /** Power spectrum if true, magnitude if false (`--use-power`). */
  usePower: boolean;
  /** Log of the mel energies (`--use-log-fbank`). */
  useLogFbank: boolean;
  /** Prepend (append with htkCompat) the frame log-energy (`--use-energy`). */
  useEnergy: boolean;
  /** Energy computed before pre-emphasis and windowing (`--raw-energy`). */
  rawEnergy: boolean;
  /** Floor on the log-energy, absolute (`--energy-floor`). */
  energyFloor: number;
  /** Put the energy last instead of first (`--htk-compat`). */
  htkCompat: boolean;
  /** Subtract the per-bin mean over frames (`--subtract-mean`). */
  subtractMean: boolean;
}

/** torchaudio.compliance.kaldi.fbank's defaults (which are Kaldi's, with dither 0). */
export const FBANK_DEFAULTS: Readonly<FbankOptions> = Object.freeze({
  sampleFrequency: 16000,
  frameLength: 25,
  frameShift: 10,
  numMelBins: 23,
  lowFreq: 20,
  highFreq: 0,
  windowType: 'povey',
  blackmanCoeff: 0.42,
  preemphasisCoefficient: 0.97,
  removeDcOffset: true,
  dither: 0,
  snipEdges: true,
  roundToPowerOfTwo: true,
  usePower: true,
  useLogFbank: true,
  useEnergy: false,
  rawEnergy: true,
  energyFloor: 1.0,
  htkCompat: false,
  subtractMean: false,
});

/** The options Hugging Face's ASTFeatureExtractor passes (Hann window, dither 0, no energy). */
export function astFbankOptions(samplingRate: number, numMelBins: number): Partial<FbankOptions> {
  return { sampleFrequency: samplingRate, numMelBins, windowType: 'hanning', dither: 0, htkCompat: true, useEnergy: false, frameShift: 10 };
}

/** torch.finfo(torch.float32).eps: the floor under log() (Kaldi's `std::numeric_limits<float>::epsilon()`). */
export const EPSILON = 1.1920928955078125e-7;
const MILLISECONDS_TO_SECONDS = 0.001;

export interface FbankResult {
  /** [frames, bins] row-major; bins = numMelBins (+1 with useEnergy). */
  data: Float32Array;
  frames: number;
  bins: number;
}

/** A triangular mel filter stored sparsely: weights for FFT bins [start, start + weights.length). */
interface MelFilter {
  start: number;
  weights: Float64Array;
}

const windowCache = new Map<string, Float64Array>();
const melCache = new Map<string, MelFilter[]>();

/** Smallest power of two >= x (torchaudio's `_next_power_of_2`). */
function nextPowerOfTwo(x: number): number {
  let p = 1;
  while (p < x) p *= 2;
  return p;
}

/** Kaldi's frame window of `size` samples (torch windows with periodic=False). */
export function featureWindow(type: WindowType, size: number, blackmanCoeff = 0.42): Float64Array {
  const key = `${type}:${size}:${blackmanCoeff}`;
  let w = windowCache.get(key);
  if (w) return w;
  w = new Float64Array(size);
  const a = (2 * Math.PI) / (size - 1);
  for (let i = 0; i < size; i++) {
    const hann = 0.5 - 0.5 * Math.cos(a * i);
    switch (type) {
      case 'hanning': w[i] = hann; break;
      case 'hamming': w[i] = 0.54 - 0.46 * Math.cos(a * i); break;
      case 'povey': w[i] = hann ** 0.85; break; // Hann that reaches zero at the edges, sharpened
      case 'rectangular': w[i] = 1; break;
      case 'blackman': w[i] = blackmanCoeff - 0.5 * Math.cos(a * i) + (0.5 - blackmanCoeff) * Math.cos(2 * a * i); break;
      default: throw new Error(`fbank: unknown window type ${String(type)}`);
    }
  }
  windowCache.set(key, w);
  return w;
}

function melScale(freq: number): number {
  return 1127.0 * Math.log(1.0 + freq / 700.0);
}

/**
 * Kaldi's triangular mel bank over FFT bins 0..paddedWindow/2 - 1 (the Nyquist bin gets weight 0,
 * as torchaudio pads a zero column). No VTLN warping (warp factor 1).
 */
export function melBanks(numBins: number, paddedWindowSize: number, sampleFreq: number, lowFreq: number, highFreq: number): MelFilter[] {
  const key = `${numBins}:${paddedWindowSize}:${sampleFreq}:${lowFreq}:${highFreq}`;
  let bank = melCache.get(key);
  if (bank) return bank;
  if (numBins <= 3) throw new Error(`fbank: must have at least 3 mel bins, got ${numBins}`);
  const numFftBins = paddedWindowSize / 2;
  const nyquist = 0.5 * sampleFreq;
  const high = highFreq <= 0 ? highFreq + nyquist : highFreq;
  if (!(lowFreq >= 0 && lowFreq < nyquist && high > 0 && high <= nyquist && lowFreq < high)) {
    throw new Error(`fbank: bad values in options: low-freq ${lowFreq} and high-freq ${highFreq} vs. nyquist ${nyquist}`);
  }
  const fftBinWidth = sampleFreq / paddedWindowSize;
  const melLow = melScale(lowFreq);
  const melHigh = melScale(high);
  // numBins + 1 intervals: the outer bins spread out to the sides.
  const melDelta = (melHigh - melLow) / (numBins + 1);
  const mels = new Float64Array(numFftBins);
  for (let k = 0; k < numFftBins; k++) mels[k] = melScale(fftBinWidth * k);
  bank = [];
  for (let b = 0; b < numBins; b++) {
    const left = melLow + b * melDelta;
    const center = melLow + (b + 1) * melDelta;
    const right = melLow + (b + 2) * melDelta;
    let start = -1;
    let end = -1;
    const full = new Float64Array(numFftBins);
    for (let k = 0; k < numFftBins; k++) {
      const up = (mels[k]! - left) / (center - left);
      const down = (right - mels[k]!) / (right - center);
      const w = Math.max(0, Math.min(up, down));
      full[k] = w;
      if (w > 0) {
        if (start < 0) start = k;
        end = k + 1;
      }
    }
    bank.push(start < 0 ? { start: 0, weights: new Float64Array(0) } : { start, weights: full.slice(start, end) });
  }
  melCache.set(key, bank);
  return bank;
}

function resolveOptions(options: Partial<FbankOptions> | undefined, source: string): FbankOptions {
  const o: FbankOptions = { ...FBANK_DEFAULTS, ...options };
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) (o as unknown as Record<string, unknown>)[k] = (FBANK_DEFAULTS as unknown as Record<string, unknown>)[k];
  }
  if (!(o.sampleFrequency > 0)) throw new Error(`${source}: fbank sampleFrequency must be positive, got ${o.sampleFrequency}`);
  if (!(o.frameShift > 0)) throw new Error(`${source}: fbank frameShift must be positive, got ${o.frameShift}`);
  if (o.dither !== 0) throw new Error(`${source}: fbank dither ${o.dither} is not supported (AST uses dither 0; dithering is random)`);
  if (!(o.preemphasisCoefficient >= 0 && o.preemphasisCoefficient <= 1)) {
    throw new Error(`${source}: preemphasisCoefficient must be between [0,1], got ${o.preemphasisCoefficient}`);
  }
  if (!Number.isInteger(o.numMelBins)) throw new Error(`${source}: numMelBins must be an integer, got ${o.numMelBins}`);
  return o;
}

/** Throws naming the first non-finite sample: NaN/Inf would silently poison every frame. */
export function assertFinite(x: Float32Array, source: string, offset = 0): void {
  // v * 0 is 0 for a finite v and NaN for NaN/Inf, so the sums stay 0 until a bad sample; four
  // sums and no branch in the loop, then a second pass only to name the first bad sample.
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
  const n = x.length;
  for (; i + 3 < n; i += 4) {
    s0 += x[i]! * 0;
    s1 += x[i + 1]! * 0;
    s2 += x[i + 2]! * 0;
    s3 += x[i + 3]! * 0;
  }
  for (; i < n; i++) s0 += x[i]! * 0;
  if (s0 + s1 + s2 + s3 === 0) return;
  for (let j = 0; j < n; j++) {
    const v = x[j]!;
    if (v - v !== 0) throw new FormatError(source, `sample ${offset + j} is ${v} (audio must be finite; NaN/Inf samples are rejected)`);
  }
}

/**
 * Log-mel filter bank of a mono waveform, as torchaudio.compliance.kaldi.fbank.
 * @param source names the audio in errors.
 */
export function fbank(waveform: Float32Array, options?: Partial<FbankOptions>, source = 'waveform'): FbankResult {
  return fbankInto(waveform, options, source);
}

/**
 * fbank that stops after `maxFrames` frames and writes into `dest` (zeroed, [maxFrames, bins]) when
 * given: the feature extractor's truncate-and-pad without computing frames it would drop.
 * `frames` in the result is the count computed (<= maxFrames). With `normalize`, those frames come
 * out as (x - mean) / scale (rows past them are left as they are).
 */
export function fbankInto(
  waveform: Float32Array,
  options: Partial<FbankOptions> | undefined,
  source: string,
  maxFrames = Infinity,
  dest?: Float32Array,
  normalize?: Normalization,
): FbankResult {
  const o = resolveOptions(options, source);
  const windowShift = Math.trunc(o.sampleFrequency * o.frameShift * MILLISECONDS_TO_SECONDS);
  const windowSize = Math.trunc(o.sampleFrequency * o.frameLength * MILLISECONDS_TO_SECONDS);
  const paddedWindowSize = o.roundToPowerOfTwo ? nextPowerOfTwo(windowSize) : windowSize;
  const numSamples = waveform.length;
  if (windowSize < 2) {
    throw new Error(`${source}: frameLength ${o.frameLength} ms at ${o.sampleFrequency} Hz is ${windowSize} samples; a frame needs at least 2`);
  }
  if (windowSize > numSamples) {
    // torchaudio's own wording in parentheses, so both libraries' errors read alike.
    throw new Error(
      `${source}: audio too short: ${numSamples} samples at ${o.sampleFrequency} Hz, one ${o.frameLength} ms frame needs ${windowSize} ` +
        `(choose a window size ${windowSize} that is [2, ${numSamples}])`,
    );
  }
  if (paddedWindowSize % 2 !== 0) {
    throw new Error(`${source}: the padded window size ${paddedWindowSize} must be divisible by two; use roundToPowerOfTwo or change frameLength`);
  }
  assertFinite(waveform, source);

  // Frame start offsets into a (possibly reflected) signal.
  let signal: Float32Array = waveform;
  let frames: number;
  if (o.snipEdges) {
    frames = 1 + Math.floor((numSamples - windowSize) / windowShift);
  } else {
    // Reflect at the ends as [2, 1, 0, | 0, 1, 2 ... n-1 | n-1, n-2 ...], as torchaudio does.
    frames = Math.floor((numSamples + Math.floor(windowShift / 2)) / windowShift);
    const pad = Math.floor(windowSize / 2) - Math.floor(windowShift / 2);
    const head = pad > 0 ? pad : 0; // reflected samples before the signal
    const skip = pad > 0 ? 0 : -pad; // or samples cut from its start
    signal = new Float32Array(head + numSamples - skip + numSamples);
    for (let i = 0; i < head; i++) signal[i] = waveform[head - 1 - i]!;
    signal.set(waveform.subarray(skip), head);
    for (let i = 0; i < numSamples; i++) signal[head + numSamples - skip + i] = waveform[numSamples - 1 - i]!;
  }

  const window = featureWindow(o.windowType, windowSize, o.blackmanCoeff);
  const bank = binMajorMelBank(melBanks(o.numMelBins, paddedWindowSize, o.sampleFrequency, o.lowFreq, o.highFreq));
  const bins = o.numMelBins + (o.useEnergy ? 1 : 0);
  const melOffset = o.useEnergy && !o.htkCompat ? 1 : 0;
  const energyColumn = o.htkCompat ? o.numMelBins : 0;
  if (o.subtractMean && (dest || maxFrames < frames)) {
    // The column mean needs every frame: compute them all, then keep the first maxFrames.
    const full = fbankInto(waveform, options, source, Infinity, undefined, normalize);
    const n = Math.min(full.frames, maxFrames);
    const kept = dest ?? new Float32Array(n * bins);
    kept.set(full.data.subarray(0, n * bins));
    return { data: kept, frames: n, bins };
  }
  frames = Math.min(frames, maxFrames); // frames past maxFrames would be dropped: never computed
  const out = dest ?? new Float32Array(frames * bins); // [frames, bins]
  if (out.length < frames * bins) throw new Error(`${source}: fbank output buffer holds ${out.length} values, needs ${frames * bins}`);
  const frame = new Float64Array(paddedWindowSize); // tail stays zero: the power-of-two padding
  const power = new Float64Array(paddedWindowSize / 2 + 1);
  // Two rows of mel energies, used in turn: each frame's logs are taken one frame later, when the
  // stores that wrote them have long left the CPU's store buffer (reading a value's bits right
  // after writing it stalls on store forwarding and made the logs 2.5x slower).
  const stride = o.numMelBins + 2; // two spare slots per row: see BinMajorMelBank
  const energyRows = [new Float64Array(stride), new Float64Array(stride)];
  const energyBits = energyRows.map((r) => new Uint32Array(r.buffer));
  let pendingAt = -1; // output offset of the frame whose logs are still to take
  // The extractor's (x - mean) / scale taken with the logs (in float64, one rounding to float32)
  // when every output value is a log-mel; otherwise in a pass at the end.
  const fused = normalize !== undefined && o.useLogFbank && !o.useEnergy && !o.subtractMean;
  const shift = fused ? normalize.mean : 0;
  const factor = fused ? 1 / normalize.scale : 1;
  // AST's options (power, log, no energy, power-of-two FFT): the WebAssembly kernel, same arithmetic.
  if (o.usePower && o.useLogFbank && !o.useEnergy && !o.subtractMean && (paddedWindowSize & (paddedWindowSize - 1)) === 0 && paddedWindowSize >= 8) {
    const setup = { window, plan: realFftPlan(paddedWindowSize), ...bank };
    if (fbankFramesWasm(signal, frames, windowShift, windowSize, o.removeDcOffset, o.preemphasisCoefficient, setup, out, EPSILON, shift, factor)) {
      return { data: out, frames, bins };
    }
  }
  const logEnergyFloor = o.energyFloor > 0 ? Math.log(o.energyFloor) : -Infinity;
  const coef = o.preemphasisCoefficient;
  const powerOfTwo = (paddedWindowSize & (paddedWindowSize - 1)) === 0;

  for (let f = 0; f < frames; f++) {
    const off = f * windowShift;
    let mean = 0;
    if (o.removeDcOffset) {
      for (let j = 0; j < windowSize; j++) mean += signal[off + j]!;
      mean /= windowSize;
    }
    let logEnergy = 0;
    if (o.useEnergy && o.rawEnergy) logEnergy = rawLogEnergy(signal, off, windowSize, mean, logEnergyFloor);
    // One pass: DC removal, pre-emphasis (x[j] - c x[j-1], first sample replicated), window.
    // (x[j] - m) - c (x[j-1] - m) = x[j] - c x[j-1] - m (1 - c)
    const dc = mean * (1 - coef);
    let prev = signal[off]!;
    frame[0] = (prev - mean) * (1 - coef) * window[0]!;
    for (let j = 1; j < windowSize; j++) {
      const cur = signal[off + j]!;
      frame[j] = (cur - coef * prev - dc) * window[j]!;
      prev = cur;
    }
    if (o.useEnergy && !o.rawEnergy) logEnergy = windowedLogEnergy(frame, paddedWindowSize, logEnergyFloor);

    if (powerOfTwo) powerSpectrum(frame, paddedWindowSize, power);
    else powerSpectrumDft(frame, paddedWindowSize, power); // roundToPowerOfTwo: false, not a power of two
    if (!o.usePower) for (let k = 0; k < power.length; k++) power[k] = Math.sqrt(power[k]!);

    const row = f & 1;
    melEnergies(bank, power, energyRows[row]!);
    if (!o.useLogFbank) out.set(energyRows[row]!.subarray(0, o.numMelBins), f * bins + melOffset);
    else {
      if (pendingAt >= 0) logFloorInto(energyRows[row ^ 1]!, energyBits[row ^ 1]!, o.numMelBins, EPSILON, out, pendingAt, shift, factor);
      pendingAt = f * bins + melOffset;
    }
    if (o.useEnergy) out[f * bins + energyColumn] = logEnergy;
  }
  if (pendingAt >= 0) logFloorInto(energyRows[(frames - 1) & 1]!, energyBits[(frames - 1) & 1]!, o.numMelBins, EPSILON, out, pendingAt, shift, factor);
  if (o.subtractMean) subtractColumnMean(out, frames, bins);
  if (normalize && !fused) {
    for (let i = 0; i < frames * bins; i++) out[i] = (out[i]! - normalize.mean) / normalize.scale;
  }
  return { data: out, frames, bins };
}

/** Hugging Face's normalisation of the features, (x - mean) / scale (scale = 2 std). */
export interface Normalization {
  mean: number;
  scale: number;
}

/** Log-energy of the frame after DC removal, before pre-emphasis and window (`--raw-energy`). */
function rawLogEnergy(signal: Float32Array, off: number, n: number, mean: number, logFloor: number): number {
  let s = 0;
  for (let j = 0; j < n; j++) {
    const v = signal[off + j]! - mean;
    s += v * v;
  }
  return Math.max(Math.log(Math.max(s, EPSILON)), logFloor);
}

function windowedLogEnergy(frame: Float64Array, n: number, logFloor: number): number {
  let s = 0;
  for (let j = 0; j < n; j++) s += frame[j]! * frame[j]!;
  return Math.max(Math.log(Math.max(s, EPSILON)), logFloor);
}

/**
 * The mel bank bin-major. Kaldi's triangles overlap only pairwise (bin k lies on the rising edge
 * of filter b and the falling edge of filter b - 1), so one loop over the FFT bins with two
 * multiply-adds each replaces 128 loops of 1 to 12 steps. FFT bin k (kStart <= k < kEnd) adds
 * weightLow[k] P[k] to filter low[k] and weightHigh[k] P[k] to filter low[k] + 1; a missing
 * partner has weight 0 (adds +0, exact) and bins in no filter point at the spare slots past the
 * last filter. Each filter still sums its bins in ascending order, as the sparse rows did.
 */
interface BinMajorMelBank {
  numBins: number;
  kStart: number;
  kEnd: number;
  low: Int32Array; // [kEnd]
  weightLow: Float64Array;
  weightHigh: Float64Array;
}

const binMajorCache = new WeakMap<MelFilter[], BinMajorMelBank>();

function binMajorMelBank(bank: MelFilter[]): BinMajorMelBank {
  let bm = binMajorCache.get(bank);
  if (bm) return bm;
  const numBins = bank.length;
  let kStart = Infinity, kEnd = 0;
  for (const f of bank) {
    if (f.weights.length === 0) continue;
    kStart = Math.min(kStart, f.start);
    kEnd = Math.max(kEnd, f.start + f.weights.length);
  }
  if (kEnd === 0) kStart = 0;
  const low = new Int32Array(kEnd).fill(-1);
  const weightLow = new Float64Array(kEnd);
  const weightHigh = new Float64Array(kEnd);
  bank.forEach((f, b) => {
    for (let j = 0; j < f.weights.length; j++) {
      const k = f.start + j, w = f.weights[j]!;
      if (low[k] === -1) {
        low[k] = b;
        weightLow[k] = w;
      } else if (low[k] === b - 1 && weightHigh[k] === 0) {
        weightHigh[k] = w;
      } else {
        // Not a Kaldi bank (three filters on one bin, or a gap): the pairwise layout cannot hold it.
        throw new Error(`fbank: mel filters ${low[k]} and ${b} overlap at FFT bin ${k} in a way Kaldi's bank never does`);
      }
    }
  });
  for (let k = kStart; k < kEnd; k++) if (low[k] === -1) low[k] = numBins; // spare slots numBins, numBins + 1
  bm = { numBins, kStart, kEnd, low, weightLow, weightHigh };
  binMajorCache.set(bank, bm);
  return bm;
}

/** energies[b] = sum_k w[b,k] P[k] for b < numBins (energies has numBins + 2 slots). */
function melEnergies(bank: BinMajorMelBank, power: Float64Array, energies: Float64Array): void {
  const { kStart, kEnd, low, weightLow, weightHigh } = bank;
  energies.fill(0);
  for (let k = kStart; k < kEnd; k++) {
    const p = power[k]!, b = low[k]!;
    energies[b] = energies[b]! + weightLow[k]! * p;
    energies[b + 1] = energies[b + 1]! + weightHigh[k]! * p;
  }
}

function subtractColumnMean(x: Float32Array, rows: number, cols: number): void {
  for (let c = 0; c < cols; c++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += x[r * cols + c]!;
    const m = s / rows;
    for (let r = 0; r < rows; r++) x[r * cols + c] = x[r * cols + c]! - m;
  }
}
