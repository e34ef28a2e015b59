/**
 * The fbank's frame loop in WebAssembly (assembly/fbank.ts, compiled into
 * fbank-wasm.generated.ts): the same float64 arithmetic as the JavaScript loop in fbank.ts, about
 * twice as fast (f64x2 SIMD in the FFT's radix-4 stages). Browser-safe: the module (under 4 KB, the most a browser main thread may compile
 * synchronously) is compiled on first use from bytes in the bundle; where that is refused or
 * WebAssembly is missing, `fbankFramesWasm` returns false and the caller runs the JavaScript loop.
 */
import { FBANK_WASM_BASE64 } from './fbank-wasm.generated.js';
import type { RealFftPlan } from './fft.js';
import { INV_C, LOG_C } from './fast-log.js';

/** Set `enabled` to false to force the JavaScript loop (tests run the fixtures both ways). */
export const fbankWasmSettings = { enabled: true };

interface Kernel {
  memory: WebAssembly.Memory;
  heapBase: () => number;
  fbankFrames: (...args: number[]) => void;
}

let kernel: Kernel | null | undefined; // undefined: not tried yet; null: unavailable

function base64Bytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

function loadKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(base64Bytes(FBANK_WASM_BASE64) as Uint8Array<ArrayBuffer>), {});
    kernel = instance.exports as unknown as Kernel;
  } catch {
    kernel = null;
  }
  return kernel;
}

/** Whether the WebAssembly kernel compiled here (always in Node; a browser main thread may refuse it). */
export function fbankWasmAvailable(): boolean {
  return loadKernel() !== null;
}

/** What the kernel needs besides the signal: all cached by the caller per configuration. */
export interface WasmFbankSetup {
  window: Float64Array; // [windowSize]
  plan: RealFftPlan;
  kStart: number;
  kEnd: number;
  low: Int32Array; // [kEnd]
  weightLow: Float64Array; // [kEnd]
  weightHigh: Float64Array; // [kEnd]
  numBins: number;
}

/** Frames per kernel call: bounds the module's memory (about 2.5 MB) for clips of any length. */
const CHUNK_FRAMES = 1024;

const align = (x: number): number => (x + 15) & ~15;

const laneTwiddles = new WeakMap<RealFftPlan, Float64Array>();

/**
 * The plan's radix-4 twiddles (per stage, k-major: w1r w1i w2r w2i w3r w3i for each k) regrouped
 * component-major per stage (six blocks of `half` values), so the kernel loads two k at once.
 */
function twiddlesByComponent(plan: RealFftPlan): Float64Array {
  let t = laneTwiddles.get(plan);
  if (t) return t;
  t = new Float64Array(plan.radix4.length);
  let base = 0;
  for (let half = 4; half * 4 <= plan.m; half *= 4) {
    for (let k = 0; k < half; k++) for (let c = 0; c < 6; c++) t[base + c * half + k] = plan.radix4[base + 6 * k + c]!;
    base += 6 * half;
  }
  laneTwiddles.set(plan, t);
  return t;
}

/**
 * Log-mel rows of `frames` frames of `signal` (frame f starts at f * shift) into
 * out[f * numBins + b], as (log(max(E, floor)) - logShift) * logFactor. False when WebAssembly
 * is unavailable or switched off (nothing written then).
 */
export function fbankFramesWasm(
  signal: Float32Array,
  frames: number,
  shift: number,
  windowSize: number,
  removeDcOffset: boolean,
  preemphasisCoefficient: number,
  s: WasmFbankSetup,
  out: Float32Array,
  floor: number,
  logShift: number,
  logFactor: number,
): boolean {
  if (!fbankWasmSettings.enabled) return false;
  const k = loadKernel();
  if (!k) return false;
  const { plan, numBins } = s;
  const m = plan.m;
  const chunk = Math.min(CHUNK_FRAMES, frames);
  const tables: [string, Float64Array | Float32Array | Uint32Array | Int32Array][] = [
    ['win', s.window], ['rev', plan.bitReverse], ['tw', twiddlesByComponent(plan)], ['cosM', plan.cosM], ['sinM', plan.sinM],
    ['cosN', plan.cosN], ['sinN', plan.sinN], ['low', s.low], ['wLow', s.weightLow], ['wHigh', s.weightHigh],
    ['invC', INV_C], ['logC', LOG_C],
  ];
  const at: Record<string, number> = {};
  let top = align(k.heapBase()); // below: the module's static data
  for (const [name, a] of tables) {
    at[name] = top;
    top = align(top + a.byteLength);
  }
  const scratch: [string, number][] = [
    ['frame', 2 * m * 8], ['re', m * 8], ['im', m * 8], ['power', (m + 1) * 8], ['energies', (numBins + 2) * 8],
    ['sig', ((chunk - 1) * shift + windowSize) * 4], ['out', chunk * numBins * 4],
  ];
  for (const [name, bytes] of scratch) {
    at[name] = top;
    top = align(top + bytes);
  }
  const have = k.memory.buffer.byteLength;
  if (top > have) k.memory.grow(Math.ceil((top - have) / 65536));
  const heap = new Uint8Array(k.memory.buffer);
  for (const [name, a] of tables) heap.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at[name]!);
  heap.fill(0, at.frame!, at.frame! + 2 * m * 8); // the power-of-two padding past the window stays zero
  const sig = new Float32Array(k.memory.buffer, at.sig!, (chunk - 1) * shift + windowSize);
  const rows = new Float32Array(k.memory.buffer, at.out!, chunk * numBins);
  for (let f0 = 0; f0 < frames; f0 += chunk) {
    const n = Math.min(chunk, frames - f0);
    sig.set(signal.subarray(f0 * shift, f0 * shift + (n - 1) * shift + windowSize));
    k.fbankFrames(
      at.sig!, n, shift, windowSize, removeDcOffset ? 1 : 0, preemphasisCoefficient, at.win!, at.frame!,
      m, at.rev!, at.tw!, at.cosM!, at.sinM!, at.cosN!, at.sinN!,
      s.kStart, s.kEnd, at.low!, at.wLow!, at.wHigh!, numBins,
      at.re!, at.im!, at.power!, at.energies!,
      at.out!, numBins, 0, logShift, logFactor, floor, (Math.log(floor) - logShift) * logFactor,
      at.invC!, at.logC!,
    );
    out.set(rows.subarray(0, n * numBins), f0 * numBins);
  }
  return true;
}
