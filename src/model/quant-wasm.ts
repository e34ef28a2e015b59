/**
 * The int8 weight quantiser's inner loop in WebAssembly SIMD (assembly/quant.ts, compiled into
 * quant-wasm.generated.ts): the same float32 arithmetic as quantizeF32 in quant.ts, byte for byte, several
 * times faster (it is most of a q8 model's load time). Browser-safe: the module (under 1 KB) is compiled on
 * first use from bytes in the bundle; where WebAssembly is missing or refused, `quantizeF32Wasm` returns false
 * and the caller runs the JavaScript loop.
 */
import { QUANT_WASM_BASE64 } from './quant-wasm.generated.js';

/** Set `enabled` to false to force the JavaScript loop (the tests check both give the same bytes). */
export const quantWasmSettings = { enabled: true };

interface Kernel {
  memory: WebAssembly.Memory;
  heapBase: () => number;
  quantizeRows: (w: number, rows: number, inF: number, dst: number, cols: number, scales: number) => number;
}

let compiled: WebAssembly.Module | null | undefined; // undefined: not tried yet; null: unavailable
let kernel: Kernel | undefined;

function base64Bytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

function loadKernel(): Kernel | undefined {
  if (kernel) return kernel;
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(base64Bytes(QUANT_WASM_BASE64));
    } catch {
      compiled = null;
    }
  }
  if (!compiled) return undefined;
  kernel = new WebAssembly.Instance(compiled, {}).exports as unknown as Kernel;
  return kernel;
}

/** Lets the kernel's memory (a few MB) be collected; the next call makes a fresh instance. */
export function releaseQuantWasm(): void {
  kernel = undefined;
}

/** The compiled kernel, for another thread to instantiate (src/node/quant-thread.ts); undefined where WebAssembly is unavailable. */
export function quantWasmModule(): WebAssembly.Module | undefined {
  if (!quantWasmSettings.enabled || !loadKernel()) return undefined;
  return compiled ?? undefined;
}

/** The kernel instance's exports that runQuantKernel uses. */
export type QuantKernel = Kernel;

/**
 * Channels [0, out) of W [out, inF] into columns [col0, col0 + out) of data [inF, cols] and scales[col0 + n].
 * Returns false when the kernel is unavailable (nothing written); throws on a non-finite weight as the JS loop does.
 */
export function quantizeF32Wasm(w: Float32Array, out: number, inF: number, data: Int8Array, scales: Float32Array, cols: number, col0: number): boolean {
  if (!quantWasmSettings.enabled) return false;
  const k = loadKernel();
  if (!k) return false;
  runQuantKernel(k, w, out, inF, data, scales, cols, col0);
  return true;
}

/**
 * quantizeF32Wasm's work on a given kernel instance. Self-contained on purpose (no free variables, no nested
 * functions): the Node worker that quantises beside the main thread runs this function's own source text
 * (src/node/quant-thread.ts), so both threads run one piece of code. Source rows go through the kernel's memory in
 * chunks of about 256 KB (a multiple of 16 rows, the kernel's step), so both of its passes over them hit L2; the
 * int8 image of the whole matrix stays in the module's memory (2.4 MB for AST-Base's largest) and leaves in one
 * copy per k.
 */
export function runQuantKernel(k: QuantKernel, w: Float32Array, out: number, inF: number, data: Int8Array, scales: Float32Array, cols: number, col0: number): void {
  const chunkBytes = 256 * 1024;
  const rowsPerChunk = Math.min(out, Math.max(16, Math.floor(chunkBytes / (4 * inF) / 16) * 16));
  const wAt = (k.heapBase() + 63) & ~63;
  const dstAt = (wAt + rowsPerChunk * inF * 4 + 63) & ~63;
  const scalesAt = (dstAt + out * inF + 63) & ~63;
  const top = scalesAt + out * 4;
  const have = k.memory.buffer.byteLength;
  if (top > have) k.memory.grow(Math.ceil((top - have) / 65536));
  const heap = k.memory.buffer;
  const heapF32 = new Float32Array(heap);
  const heap8 = new Int8Array(heap);
  heap8.fill(0, dstAt, dstAt + out * inF);
  for (let n0 = 0; n0 < out; n0 += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, out - n0);
    heapF32.set(w.subarray(n0 * inF, (n0 + rows) * inF), wAt / 4);
    const bad = k.quantizeRows(wAt, rows, inF, dstAt + n0, out, scalesAt + 4 * n0);
    if (bad >= 0) {
      const n = n0 + Math.floor(bad / inF);
      const kk = bad % inF;
      throw new Error(`quantizeInt8PerChannel: weight [${n}, ${kk}] is ${w[n * inF + kk]}`);
    }
  }
  scales.set(heapF32.subarray(scalesAt / 4, scalesAt / 4 + out), col0);
  // the int8 image is [inF, out]: one copy when it is the whole destination, else one row of `out` bytes per k
  if (cols === out) data.set(heap8.subarray(dstAt, dstAt + out * inF));
  else for (let kk = 0, from = dstAt, to = col0; kk < inF; kk++, from += out, to += cols) data.set(heap8.subarray(from, from + out), to);
}
