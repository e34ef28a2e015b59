/** Starting the server's worker threads, from the built JavaScript or, in tests and benches, from source. */
import { Worker } from 'node:worker_threads';

// NAME.js next to this file once built; from source (tests, `node --import tsx`) NAME.ts, loaded through tsx's
// API, because loader hooks given with --import do not reach worker threads in Node 20
const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** Starts the thread whose entry is `./${name}.js` (or `.ts` from source) with `workerData`. */
export function startThread(name: 'worker' | 'model-thread', workerData: unknown): Worker {
  const url = new URL(`./${name}${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url);
  // Under load V8 grows each thread's young generation to its largest (3 x 16 MB semi-spaces); with two threads
  // beside the HTTP one that was tens of MB of RSS growth in a soak (embedded model, c=8: +50 MB; with 6 MB, +8 %
  // at peak, back to the start after 2,000 requests), for no measurable CPU per clip.
  const resourceLimits = { maxYoungGenerationSizeMb: 6 };
  if (!FROM_SOURCE) return new Worker(url, { workerData, resourceLimits });
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData, resourceLimits });
}
