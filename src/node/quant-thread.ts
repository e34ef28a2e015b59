/**
 * q8's second quantising thread in Node (registered by src/node/index.ts; see src/model/quant-thread.ts): a
 * worker_threads Worker that runs the WebAssembly kernel on SharedArrayBuffer views, beside the main thread.
 *
 * The worker is started from source text, not a module file: it needs no imports (the kernel comes compiled in
 * workerData, its wrapper is `runQuantKernel`'s own source), so it starts in a few ms with or without a build
 * (a module worker loaded from source through tsx took ~260 ms of CPU to start, more than it would save).
 */
import { Worker } from 'node:worker_threads';
import { quantWasmModule, runQuantKernel } from '../model/quant-wasm.js';
import type { Int8Helper } from '../model/quant-thread.js';

interface Job {
  id: number;
  parts: { weight: Float32Array; out: number }[];
  inF: number;
  dst: Int8Array;
}

// `__name`: the identity, for a runQuantKernel transpiled by esbuild with keepNames (tsx), which may call it
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const __name = (f) => f;
const runQuantKernel = ${runQuantKernel.toString()};
const kernel = new WebAssembly.Instance(workerData.module, {}).exports;
parentPort.on('message', (job) => {
  try {
    const total = job.parts.reduce((n, p) => n + p.out, 0);
    const scales = new Float32Array(total);
    let col0 = 0;
    for (const p of job.parts) {
      if (p.weight.length !== p.out * job.inF) throw new Error('quantizeLinears: ' + p.weight.length + ' values for [' + p.out + ', ' + job.inF + ']');
      runQuantKernel(kernel, p.weight, p.out, job.inF, job.dst, scales, total, col0);
      col0 += p.out;
    }
    parentPort.postMessage({ id: job.id, scales }, [scales.buffer]);
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) });
  }
});
`;

/** Starts the worker, or returns undefined when the kernel is unavailable (then the main thread does it all). */
export function startQuantThread(): Int8Helper | undefined {
  const module = quantWasmModule();
  if (!module) return undefined;
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module } });
  worker.unref(); // never keeps a process alive
  const waiting = new Map<number, { resolve: (scales: Float32Array) => void; reject: (err: Error) => void }>();
  let next = 0;
  let failed: Error | undefined;
  const failAll = (err: Error) => {
    failed ??= err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('message', (m: { id: number; scales?: Float32Array; error?: string }) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.error !== undefined) w?.reject(new Error(m.error));
    else w?.resolve(m.scales!);
  });
  worker.on('error', (err) => failAll(err));
  worker.on('exit', (code) => failAll(new Error(`q8 quantising thread exited (code ${code})`)));
  let closed = false;
  return {
    quantize: (parts, inF, dst) =>
      new Promise((resolve, reject) => {
        if (failed) return reject(failed);
        const id = next++;
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, parts: parts.map((p) => ({ weight: p.weight, out: p.out })), inF, dst } satisfies Job);
      }),
    close: () => {
      if (closed) return;
      closed = true;
      failAll(new Error('q8 quantising thread closed'));
      void worker.terminate();
    },
  };
}
