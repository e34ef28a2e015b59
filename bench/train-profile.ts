/**
 * `npm run bench -- --only train --profile`: where one training step's time goes. ONNX Runtime's profiler
 * (RuntimeOptions.profileFilePrefix) records every kernel run; each kernel is attributed to the forward pass
 * (loss included) or the backward pass by its node's index in the training graph (nodes are named `n<i>_<Op>`,
 * and the backward part starts at `forwardNodeCount`). Time outside ORT's kernels is measured around the
 * calls: feeding inputs and reading the gradients (computeGradients' wall time less ORT's `model_run`), ORT's
 * own overhead inside a run (`model_run` less the kernels), and the AdamW update (WebAssembly SIMD).
 */
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import '../src/node/index.js';
import { ASTConfig } from '../src/model/config.js';
import { ASTTrainable, buildTrainingGraphParts } from '../src/train/trainable.js';
import { AdamW } from '../src/train/adamw.js';
import { Rng } from '../src/rng.js';
import { randomWeights, type TrainBenchCase } from './train-cases.js';

/** One event of ORT's Chrome-trace profile (the fields we read). */
interface TraceEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

export type Phase = 'forward' | 'backward';

/** Kernel time (ms per step) by phase and op type, from the profiled runs after the first. */
export interface KernelProfile {
  runs: number;
  modelRunMs: number;
  byPhase: Record<Phase, Map<string, number>>;
  /** Kernels whose node name carries no `n<i>_` (made by an ORT fusion): attributed to the phase of the kernel run before. */
  inferredMs: number;
}

/**
 * Sums a profile's kernel times per phase and op type, per run, skipping the first `skipRuns` runs (warm-up).
 * `forwardNodeCount`: nodes with a smaller index are forward (and loss) nodes.
 */
export function summariseProfile(events: readonly TraceEvent[], forwardNodeCount: number, skipRuns = 1): KernelProfile {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const kept = runs.slice(skipRuns);
  if (kept.length === 0) throw new Error(`profile: ${runs.length} model_run events, none left after skipping ${skipRuns}`);
  const inKept = (e: TraceEvent): boolean => kept.some((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur);
  const byPhase: Record<Phase, Map<string, number>> = { forward: new Map(), backward: new Map() };
  let inferred = 0;
  let last: Phase = 'forward';
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && inKept(e)).sort((a, b) => a.ts - b.ts);
  for (const e of kernels) {
    const node = e.name.slice(0, -'_kernel_time'.length);
    const m = /(?:^|[^A-Za-z0-9])n(\d+)_/.exec(node) ?? /^n(\d+)_/.exec(node);
    let phase: Phase;
    if (m) phase = Number(m[1]) < forwardNodeCount ? 'forward' : 'backward';
    else {
      phase = last;
      inferred += e.dur;
    }
    last = phase;
    const op = e.args?.op_name ?? node;
    const t = byPhase[phase];
    t.set(op, (t.get(op) ?? 0) + e.dur / 1000 / kept.length);
  }
  const modelRunMs = kept.reduce((a, r) => a + r.dur, 0) / 1000 / kept.length;
  return { runs: kept.length, modelRunMs, byPhase, inferredMs: inferred / 1000 / kept.length };
}

/** Steps of one case with ORT's profiler on; prints the breakdown and returns it. */
export async function profileTrainStep(
  c: TrainBenchCase,
  options: { runs?: number; threads?: number; log?: (s: string) => void; keepProfile?: boolean } = {},
): Promise<{ kernels: KernelProfile; outsideMs: number; adamwMs: number; stepMs: number; file: string }> {
  const runs = options.runs ?? 2;
  const log = options.log ?? ((s: string) => process.stdout.write(s + '\n'));
  const config = ASTConfig.fromJSON({ ...c.config, id2label: Object.fromEntries(Array.from({ length: c.config.num_labels as number }, (_, i) => [String(i), `l${i}`])) }, c.name);
  const rng = new Rng(7);
  const weights = randomWeights(config, rng);
  const prefix = resolve(`ast-train-profile-${process.pid}`);
  const model = new ASTTrainable(config, weights, {
    threads: options.threads ?? 2,
    sessionConfig: { session: { 'intra_op.allow_spinning': '0' } },
    profileFilePrefix: prefix,
  });
  const opt = new AdamW({ lr: 1e-5, weightDecay: 0.01 });
  const x = new Float32Array(c.batch * config.max_length * config.num_mel_bins).map(() => rng.normal() * 0.5);
  const inputValues = { dtype: 'float32' as const, dims: [c.batch, config.max_length, config.num_mel_bins], data: x };
  const labels = { dtype: 'int64' as const, dims: [c.batch], data: BigInt64Array.from({ length: c.batch }, (_, i) => BigInt(i % config.num_labels)) };
  const grad: number[] = [];
  const adam: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const r = await model.computeGradients({ inputValues, labels });
    const t1 = performance.now();
    opt.step(model.weights, r.grads);
    const t2 = performance.now();
    if (i > 0) {
      grad.push(t1 - t0);
      adam.push(t2 - t1);
    }
  }
  await model.dispose(); // ORT writes the profile when the session is released
  const dir = dirname(prefix);
  const file = readdirSync(dir).map((f) => join(dir, f)).find((f) => basename(f).startsWith(basename(prefix) + '_') && f.endsWith('.json'));
  if (!file) throw new Error(`profile: ORT wrote no ${prefix}_*.json`);
  const events = JSON.parse(readFileSync(file, 'utf8')) as TraceEvent[];
  if (!options.keepProfile) rmSync(file);
  const kernels = summariseProfile(events, buildTrainingGraphParts(config, 'single_label_classification').forwardNodeCount);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const gradMs = mean(grad);
  const adamwMs = mean(adam);
  const outsideMs = gradMs - kernels.modelRunMs;
  const stepMs = gradMs + adamwMs;
  const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
  const fwd = sum(kernels.byPhase.forward);
  const bwd = sum(kernels.byPhase.backward);
  const pct = (ms: number): string => `${((100 * ms) / stepMs).toFixed(1).padStart(5)} %`;
  const row = (what: string, ms: number): string => `  ${what.padEnd(44)} ${ms.toFixed(1).padStart(9)} ms ${pct(ms)}`;
  log(`profile of ${c.name}, batch ${c.batch}: mean of ${runs} steps after 1 warm-up, ${stepMs.toFixed(0)} ms/step (${(stepMs / c.batch).toFixed(0)} ms/clip)`);
  log(row('forward + loss kernels (ORT)', fwd));
  log(row('backward kernels (ORT)', bwd));
  log(row('ORT overhead inside run (model_run - kernels)', kernels.modelRunMs - fwd - bwd));
  log(row('outside ORT: feeding inputs, reading outputs', outsideMs));
  log(row('AdamW (WebAssembly SIMD loop)', adamwMs));
  if (kernels.inferredMs > 0) log(`  (${kernels.inferredMs.toFixed(1)} ms of kernels from ORT-fused nodes attributed to the phase of the kernel before)`);
  for (const phase of ['forward', 'backward'] as const) {
    log(`  ${phase} by op type:`);
    for (const [op, ms] of [...kernels.byPhase[phase]].sort((a, b) => b[1] - a[1])) {
      if (ms < 0.001 * stepMs) continue;
      log(`    ${op.padEnd(42)} ${ms.toFixed(1).padStart(9)} ms ${pct(ms)}`);
    }
  }
  if (options.keepProfile) log(`  ORT profile: ${file}`);
  return { kernels, outsideMs, adamwMs, stepMs, file };
}
