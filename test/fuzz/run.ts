/**
 * `npm run fuzz`: every parser's fuzz target, 100,000 inputs each (the contract: see engine.ts).
 *
 *   npm run fuzz                          all targets, 100000 inputs each, a fresh seed (printed)
 *   npm run fuzz -- --runs 5000 --seed 7  fewer inputs, a given seed (reproduces a run)
 *   npm run fuzz -- --target torch,npy    some targets
 *   npm run fuzz -- --seconds 600         at most 10 minutes per target (fewer inputs on a slow machine)
 *
 * A failure is shrunk by fast-check to a small input, which is written to test/fuzz/failures/ and
 * printed, so it can become a regression test (test/fuzz/regressions.test.ts). A watchdog thread ends
 * the run if one input blocks the event loop for 30 s (an infinite loop the 2 s check cannot see end).
 * Exit status: 0 when every target met the contract, 1 otherwise.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { HANG_MS, HANG_WALL_MS, formatBytes, fuzz, type FuzzStats } from './engine.js';
import { TARGETS } from './targets.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const runs = Number(arg('runs') ?? 100_000);
const seed = Number(arg('seed') ?? (Date.now() % 2 ** 31));
const only = arg('target')?.split(',');
const seconds = arg('seconds') === undefined ? undefined : Number(arg('seconds'));
const targets = TARGETS.filter((t) => !only || only.includes(t.name));
if (!Number.isInteger(runs) || runs <= 0 || !Number.isInteger(seed) || targets.length === 0) {
  console.error(`usage: npm run fuzz -- [--runs N] [--seed S] [--target ${TARGETS.map((t) => t.name).join(',')}]`);
  process.exit(2);
}

// Watchdog: a synchronous infinite loop never returns to the fuzz loop, so a second thread watches a heartbeat.
const STUCK_MS = 30_000;
const heartbeat = new Float64Array(new SharedArrayBuffer(8));
const current = new Int32Array(new SharedArrayBuffer(4));
heartbeat[0] = Date.now();
const watchdog = new Worker(
  `const { workerData } = require('node:worker_threads');
   const beat = new Float64Array(workerData.beat), cur = new Int32Array(workerData.cur);
   setInterval(() => {
     if (Date.now() - beat[0] > ${STUCK_MS}) {
       process.stderr.write('HANG: target #' + cur[0] + ' has been stuck on one input for more than ${STUCK_MS / 1000} s\\n');
       process.exit(3);
     }
   }, 1000);`,
  { eval: true, workerData: { beat: heartbeat.buffer, cur: current.buffer } },
);
watchdog.unref();

console.log(`fuzz: ${runs} inputs per target, seed ${seed}, ${targets.length} targets; hang = one input over ${HANG_MS} ms of CPU or ${HANG_WALL_MS} ms wall`);
const results: FuzzStats[] = [];
for (const [i, t] of targets.entries()) {
  current[0] = i;
  const started = performance.now();
  const stats = await fuzz(t, {
    runs,
    seed: seed + i,
    seconds,
    every: Math.max(1000, Math.floor(runs / 5)),
    onInput: () => (heartbeat[0] = Date.now()),
    onProgress: (s) => process.stderr.write(`  ${t.name}: ${s.inputs} inputs, ${((performance.now() - started) / 1000).toFixed(0)} s\n`),
  });
  results.push(stats);
  const line =
    `${t.name.padEnd(25)} ${String(stats.inputs).padStart(7)} inputs  ${String(stats.parsed).padStart(6)} parsed  ${String(stats.rejected).padStart(7)} rejected  ` +
    `crashes ${stats.crashes}  hangs ${stats.hangs}  over-bound ${stats.overAllocations}  largest alloc ${formatBytes(stats.largestAllocation)} ` +
    `(${stats.largestAllocationWhat || '-'}, input ${formatBytes(stats.largestAllocationInput)})  max alloc/input ${stats.largestRatio.toFixed(1)}x  ` +
    `slowest ${stats.slowestMs.toFixed(0)} ms  ${stats.seconds.toFixed(0)} s`;
  console.log(line);
  if (stats.failure) {
    const dir = join(REPO_ROOT, 'test/fuzz/failures');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${t.name.replace(/\W+/g, '_')}-seed${seed + i}`);
    const ce = stats.counterexample;
    if (ce instanceof Uint8Array) writeFileSync(`${file}.bin`, ce);
    else writeFileSync(`${file}.json`, JSON.stringify(ce, (_, v) => (v instanceof Uint8Array ? { bytes: Buffer.from(v).toString('base64') } : v), 1));
    console.log(`  FAILURE: ${stats.failure}\n  counterexample written to ${file}.*`);
  }
}
const failed = results.filter((r) => r.failure);
console.log(`total: ${results.reduce((s, r) => s + r.inputs, 0)} inputs, ${failed.length} targets failed`);
process.exit(failed.length ? 1 : 0);
