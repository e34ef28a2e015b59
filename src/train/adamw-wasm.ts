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

/** The kernel's four chunk buffers as byte offsets and as views, with views of each length used so far. */
interface Layout {
  k: Kernel;
  at: readonly [number, number, number, number];
  heap: Float32Array;
  /** [p, g, m, v] views of the first n floats of each buffer, by n (a model has a few distinct tensor sizes). */
  views: Map<number, readonly [Float32Array, Float32Array, Float32Array, Float32Array]>;
}
let layout: Layout | undefined;

function loadLayout(): Layout | undefined {
  if (layout) return layout;
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(base64Bytes(ADAMW_WASM_BASE64));
    } catch {
      compiled = null;
    }
  }
  if (!compiled) return undefined;
  kernel ??= new WebAssembly.Instance(compiled, {}).exports as unknown as Kernel;
  const base = (kernel.heapBase() + 63) & ~63;
  const top = base + 4 * 4 * CHUNK;
  const have = kernel.memory.buffer.byteLength;
  if (top > have) kernel.memory.grow(Math.ceil((top - have) / 65536));
  // the memory never grows after this, so the views below stay attached
  const at = [0, 1, 2, 3].map((i) => base + 4 * CHUNK * i) as unknown as Layout['at'];
  layout = { k: kernel, at, heap: new Float32Array(kernel.memory.buffer), views: new Map() };
  return layout;
}

function viewsOf(l: Layout, n: number): readonly [Float32Array, Float32Array, Float32Array, Float32Array] {
  let v = l.views.get(n);
  if (!v) {
    v = l.at.map((a) => l.heap.subarray(a >> 2, (a >> 2) + n)) as unknown as [Float32Array, Float32Array, Float32Array, Float32Array];
    l.views.set(n, v);
  }
  return v;
}

/** One update of p (with its gradient g and moments m, v) in place; false when the kernel is unavailable (nothing written). */
export function adamwWasm(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamWScalars): boolean {
  if (!adamwWasmSettings.enabled) return false;
  const l = loadLayout();
  if (!l) return false;
  const { k, at, heap } = l;
  const whole = p.length <= CHUNK;
  for (let i0 = 0; i0 < p.length; i0 += CHUNK) {
    const n = Math.min(CHUNK, p.length - i0);
    const [pv, , mv, vv] = viewsOf(l, n);
    if (whole) {
      heap.set(p, at[0] >> 2);
      heap.set(g, at[1] >> 2);
      heap.set(m, at[2] >> 2);
      heap.set(v, at[3] >> 2);
    } else {
      heap.set(p.subarray(i0, i0 + n), at[0] >> 2);
      heap.set(g.subarray(i0, i0 + n), at[1] >> 2);
      heap.set(m.subarray(i0, i0 + n), at[2] >> 2);
      heap.set(v.subarray(i0, i0 + n), at[3] >> 2);
    }
    k.adamw(at[0], at[1], at[2], at[3], n, s.decay, s.b1, s.b2, s.c1, s.c2, s.bc2, s.eps, s.negStep);
    p.set(pv, i0);
    m.set(mv, i0);
    v.set(vv, i0);
  }
  return true;
}
