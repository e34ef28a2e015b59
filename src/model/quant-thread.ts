/**
 * A second thread for q8's load-time quantisation, supplied by the platform: Node registers one on worker_threads
 * (src/node/quant-thread.ts); elsewhere (browsers, where SharedArrayBuffer needs cross-origin isolation) there is
 * none and the calling thread quantises everything. Browser-safe: only the interface and the registry live here.
 */
import { quantWasmSettings } from './quant-wasm.js';

/** Quantises on another thread, into memory both threads share. */
export interface Int8Helper {
  /**
   * The parts' float32 weights W [out, inF] (views of SharedArrayBuffers) as int8 per output channel, side by side in
   * the columns of `dst` [inF, sum(out)] (a SharedArrayBuffer view, zero-filled); resolves with the scales. The same
   * bytes and scales as quantizeLinears with alpha 1 (the same kernel code runs there).
   */
  quantize(parts: readonly { weight: Float32Array; out: number }[], inF: number, dst: Int8Array): Promise<Float32Array>;
  /** Ends the thread (idempotent). */
  close(): void;
}

let factory: (() => Int8Helper | undefined) | undefined;

/** Called by the platform entry (src/node/index.ts). */
export function registerInt8Helper(f: () => Int8Helper | undefined): void {
  factory = f;
}

/** Set `enabled` to false to quantise on the calling thread only (the tests compare both; benches A/B them). */
export const int8HelperSettings = { enabled: true };

/** A helper thread, or undefined: none registered, turned off, or the JavaScript quantiser forced (quantWasmSettings). */
export function startInt8Helper(): Int8Helper | undefined {
  if (!factory || !int8HelperSettings.enabled || !quantWasmSettings.enabled || typeof SharedArrayBuffer === 'undefined') return undefined;
  return factory();
}
