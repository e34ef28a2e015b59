/**
 * AdamW's update loop in WebAssembly SIMD (assembly/adamw.ts, compiled into adamw-wasm.generated.ts): the same
 * float32 operations as the JavaScript loop in adamw.ts, bit for bit, four parameters at a time (the JavaScript
 * loop does every operation in float64 and rounds, one parameter at a time: ~10 ns per parameter). Browser-safe:
 * the module (under 1 KB) is compiled on first use from bytes in the bundle; where WebAssembly is missing or
 * refused, `adamwWasm` returns false and the caller runs the JavaScript loop.
 */
import { ADAMW_WASM_BASE64 } from './adamw-wasm.generated.js';

/** Set `enabled` to false to force the JavaScript loop (the tests check both give the same bits). */
export const adamwWasmSettings = { enabled: true };

/** The scalars of one update, each already a float32 value (torch casts its Python floats to the tensor's type). */
export interface AdamWScalars {
  decay: number;
  b1: number;
  b2: number;
  c1: number;
  c2: number;
  bc2: number;
  eps: number;
  negStep: number;
}

interface Kernel {
  memory: WebAssembly.Memory;
  heapBase: () => number;
  adamw: (p: number, g: number, m: number, v: number, n: number, decay: number, b1: number, b2: number, c1: number, c2: number, bc2: number, eps: number, negStep: number) => void;
}

let compiled: WebAssembly.Module | null | undefined; // undefined: not tried yet; null: unavailable
let kernel: Kernel | undefined;
let heap: Float32Array | undefined;

function base64Bytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/**
 * Parameters per kernel call: p, g, m and v of 8192 parameters are 128 KB, so the copies in, the update and the
 * copies out stay in L2; the arrays themselves are read and written once from memory, as the JavaScript loop does.
 */
const CHUNK = 8192;

function loadKernel(): { k: Kernel; at: number } | undefined {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(base64Bytes(ADAMW_WASM_BASE64));
    } catch {
      compiled = null;
    }
  }
  if (!compiled) return undefined;
  kernel ??= new WebAssembly.Instance(compiled, {}).exports as unknown as Kernel;
  const at = (kernel.heapBase() + 63) & ~63;
  const top = at + 4 * 4 * CHUNK;
  const have = kernel.memory.buffer.byteLength;
  if (top > have) kernel.memory.grow(Math.ceil((top - have) / 65536));
  if (!heap || heap.buffer !== kernel.memory.buffer) heap = new Float32Array(kernel.memory.buffer);
  return { k: kernel, at };
}

/** One update of p (with its gradient g and moments m, v) in place; false when the kernel is unavailable (nothing written). */
export function adamwWasm(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamWScalars): boolean {
  if (!adamwWasmSettings.enabled) return false;
  const loaded = loadKernel();
  if (!loaded) return false;
  const { k, at } = loaded;
  const h = heap!;
  const [pAt, gAt, mAt, vAt] = [0, 1, 2, 3].map((i) => at + 4 * CHUNK * i) as [number, number, number, number];
  for (let i0 = 0; i0 < p.length; i0 += CHUNK) {
    const n = Math.min(CHUNK, p.length - i0);
    const i1 = i0 + n;
    h.set(p.subarray(i0, i1), pAt >> 2);
    h.set(g.subarray(i0, i1), gAt >> 2);
    h.set(m.subarray(i0, i1), mAt >> 2);
    h.set(v.subarray(i0, i1), vAt >> 2);
    k.adamw(pAt, gAt, mAt, vAt, n, s.decay, s.b1, s.b2, s.c1, s.c2, s.bc2, s.eps, s.negStep);
    p.set(h.subarray(pAt >> 2, (pAt >> 2) + n), i0);
    m.set(h.subarray(mAt >> 2, (mAt >> 2) + n), i0);
    v.set(h.subarray(vAt >> 2, (vAt >> 2) + n), i0);
  }
  return true;
}
