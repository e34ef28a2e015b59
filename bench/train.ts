/**
 * Training-step benchmark: one step (forward + loss + backward + AdamW) per clip at batch 8, for the
 * tiny fixture config and an AST-Base-shaped config, ours (training graph on onnxruntime-node) and, when
 * Debian's python3-torch is present, the PyTorch reference (oracle.py's classes) in the same run.
 *
 *   node --import tsx bench/train.ts [--runs N] [--threads N] [--only tiny|base] [--max-length FRAMES] [--layers N] [--profile]
 *
 * `--profile` (also `npm run bench -- --only train --profile`): instead of the comparison, ORT's profile of
 * the AST-Base step by phase and op type (bench/train-profile.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../src/node/index.js';
import { ASTConfig } from '../src/model/config.js';
import { ASTTrainable } from '../src/train/trainable.js';
import { AdamW } from '../src/train/adamw.js';
import { Rng } from '../src/rng.js';

import { astParameterSpecs } from '../src/model/weights.js';
import type { Float32Tensor } from '../src/tensor.js';
import { findReferenceDir, lineReader } from './python-peer.js';
import { DEFAULT_CASES, randomWeights, type TrainBenchCase } from './train-cases.js';

export { DEFAULT_CASES, randomWeights, type TrainBenchCase } from './train-cases.js';

export interface TrainBenchResult {
  name: string;
  batch: number;
  params: number;
  oursSecondsPerStep: number;
  oursMsPerClip: number;
  torchMsPerClip?: number;
  /** ours / PyTorch (below 1: we are faster). */
  ratio?: number;
  torchNote?: string;
  /** Peak resident memory of each side's process during its case (ours: this process, its peak reset first). */
  oursPeakRssMb?: number;
  torchPeakRssMb?: number;
}

const loadLine = (): string => loadavg().map((v) => v.toFixed(1)).join(' / ');

/** Starts a new peak-RSS window for this process (Linux: writing 5 to clear_refs resets VmHWM); false elsewhere. */
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function peakRssMb(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** ms per clip with 2 decimals below 10 ms (the tiny config's ~1 ms needs them), 1 above. */
export const fmtMsPerClip = (ms: number): string => ms.toFixed(ms < 10 ? 2 : 1);

/** Our model with random weights and a batch, ready to time one training step. */
async function oursRunner(c: TrainBenchCase, threads?: number): Promise<{ step: () => Promise<void>; params: number; dispose: () => Promise<void> }> {
  const config = ASTConfig.fromJSON({ ...c.config, id2label: Object.fromEntries(Array.from({ length: c.config.num_labels as number }, (_, i) => [String(i), `l${i}`])) }, c.name);
  const rng = new Rng(7);
  const weights = randomWeights(config, rng);
  const params = [...weights.values()].reduce((a, w) => a + w.data.length, 0);
  // no spin-waiting between runs: the PyTorch step that follows must not share its cores with idle spinners
  const model = new ASTTrainable(config, weights, { threads, sessionConfig: { session: { 'intra_op.allow_spinning': '0' } } });
  const opt = new AdamW({ lr: 1e-5, weightDecay: 0.01 });
  const x = new Float32Array(c.batch * config.max_length * config.num_mel_bins).map(() => rng.normal() * 0.5);
  const ids = { dtype: 'int64' as const, dims: [c.batch], data: BigInt64Array.from({ length: c.batch }, (_, i) => BigInt(i % config.num_labels)) };
  const step = async (): Promise<void> => {
    const r = await model.computeGradients({ inputValues: { dtype: 'float32', dims: [c.batch, config.max_length, config.num_mel_bins], data: x }, labels: ids });
    opt.step(model.weights, r.grads);
  };
  return { step, params, dispose: () => model.dispose() };
}

/** A PyTorch worker: builds the oracle model, then times one step per "step" line on stdin. */
const TORCH_WORKER = `
import json, resource, sys, time, torch
sys.path.insert(0, sys.argv[1])
import oracle
cfg = json.loads(sys.argv[2]); batch = int(sys.argv[3]); threads = int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(7)
full = oracle.full_config({k: v for k, v in cfg.items() if k != 'num_labels'}, cfg['num_labels'])
m = oracle.build(full); oracle.randomize(m, 7); m.train()
x = torch.randn(batch, full['max_length'], full['num_mel_bins']) * 0.5
y = torch.arange(batch) % full['num_labels']
opt = torch.optim.AdamW(m.parameters(), lr=1e-5, weight_decay=0.01)
def step():
    opt.zero_grad(set_to_none=True)
    out = m(x, y)
    out['loss'].backward()
    opt.step()
step()
print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
for line in sys.stdin:
    t0 = time.perf_counter(); step()
    print(json.dumps({"seconds": time.perf_counter() - t0, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)
`;

interface TorchWorker {
  step(): Promise<number>;
  /** The worker process's peak RSS so far, in MB (from its last step's answer). */
  peakRssMb(): number | undefined;
  close(): void;
}

async function torchWorker(c: TrainBenchCase, threads: number): Promise<TorchWorker | string> {
  const oracle = findReferenceDir();
  if (!oracle) return 'oracle.py not found';
  if (!existsSync('/usr/bin/python3')) return '/usr/bin/python3 not found';
  const p = spawn('/usr/bin/python3', ['-c', TORCH_WORKER, oracle, JSON.stringify(c.config), String(c.batch), String(threads)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' }, // likewise: OpenMP threads sleep between steps
  });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const next = lineReader(p.stdout);
  let peakKb: number | undefined;
  const first = await next();
  if (!first) {
    const err = stderr.trim().split('\n').pop() ?? '';
    return /No module named 'torch'/.test(err) ? 'python3-torch not installed' : `PyTorch failed: ${err}`;
  }
  return {
    async step() {
      p.stdin.write('step\n');
      const l = await next();
      if (!l) throw new Error(`PyTorch worker ended: ${stderr.trim().split('\n').pop() ?? ''}`);
      const answer = JSON.parse(l) as { seconds: number; maxrss_kb: number };
      peakKb = answer.maxrss_kb;
      return answer.seconds;
    },
    peakRssMb: () => (peakKb === undefined ? undefined : peakKb / 1024),
    close() {
      p.stdin.end();
    },
  };
}

export async function benchTrain(options: { runs?: number; threads?: number; cases?: TrainBenchCase[]; log?: (s: string) => void } = {}): Promise<TrainBenchResult[]> {
  const runs = options.runs ?? 3;
  const threads = options.threads ?? 2;
  const log = options.log ?? ((s: string) => process.stdout.write(s + '\n'));
  const results: TrainBenchResult[] = [];
  log(`CPU: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} logical CPUs; ${threads} intra-op threads each side, spinning off`);
  for (const c of options.cases ?? DEFAULT_CASES) {
    log(`${c.name}: machine load average (1/5/15 min) before: ${loadLine()}`);
    const measuredPeak = resetPeakRss();
    // both sides resident at once and timed in alternation, so a busy moment of the machine hits both
    const torch = await torchWorker(c, threads);
    const ours = await oursRunner(c, threads);
    await ours.step(); // warm-up: builds the session
    const mine: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const timeOurs = async (): Promise<void> => {
        const t0 = performance.now();
        await ours.step();
        mine.push((performance.now() - t0) / 1000);
      };
      if (typeof torch !== 'string' && i % 2 === 1) theirs.push(await torch.step());
      await timeOurs();
      if (typeof torch !== 'string' && i % 2 === 0) theirs.push(await torch.step());
    }
    const oursPeak = measuredPeak ? peakRssMb() : undefined;
    await ours.dispose();
    const torchPeak = typeof torch !== 'string' ? torch.peakRssMb() : undefined;
    if (typeof torch !== 'string') torch.close();
    const r: TrainBenchResult = {
      name: c.name,
      batch: c.batch,
      params: ours.params,
      oursSecondsPerStep: median(mine),
      oursMsPerClip: (1000 * median(mine)) / c.batch,
      oursPeakRssMb: oursPeak,
      torchPeakRssMb: torchPeak,
    };
    if (typeof torch !== 'string') {
      r.torchMsPerClip = (1000 * median(theirs)) / c.batch;
      r.ratio = r.oursMsPerClip / r.torchMsPerClip;
    } else r.torchNote = torch;
    results.push(r);
    log(
      `${c.name}, batch ${c.batch}: ours ${fmtMsPerClip(r.oursMsPerClip)} ms/clip` +
        (r.torchMsPerClip !== undefined ? `, PyTorch ${fmtMsPerClip(r.torchMsPerClip)} ms/clip, ratio ${r.ratio!.toFixed(2)}x` : ` (PyTorch: ${r.torchNote})`),
    );
    const mb = (v: number | undefined): string => (v === undefined ? 'n/a' : `${v.toFixed(0)} MB`);
    log(`  peak RSS during the case: ours ${mb(r.oursPeakRssMb)} (this process), PyTorch ${mb(r.torchPeakRssMb)} (its worker); load average after: ${loadLine()}`);
  }
  return results;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const only = arg('--only');
  const maxLength = arg('--max-length');
  const layers = arg('--layers');
  const cases = DEFAULT_CASES.filter((c) => !only || c.name.startsWith(only === 'base' ? 'AST-Base' : only))
    .map((c) =>
      maxLength && c.name.startsWith('AST-Base')
        ? { ...c, name: c.name.replace(/\d+ frames/, `${maxLength} frames`), config: { ...c.config, max_length: Number(maxLength) } }
        : c,
    )
    .map((c) =>
      // a quick look at the same layer shapes: every encoder layer of a config costs the same
      layers && c.name.startsWith('AST-Base') ? { ...c, name: c.name.replace(/\d+ layers/, `${layers} layers`), config: { ...c.config, num_hidden_layers: Number(layers) } } : c,
    );
  if (process.argv.includes('--profile')) {
    const { profileTrainStep } = await import('./train-profile.js');
    for (const c of only ? cases : cases.filter((k) => k.name.startsWith('AST-Base'))) {
      await profileTrainStep(c, { runs: Number(arg('--runs') ?? 2), threads: Number(arg('--threads') ?? 2), keepProfile: process.argv.includes('--keep-profile') });
    }
  } else {
  process.stdout.write(`training step (forward + backward + AdamW), ${arg('--threads') ?? 2} threads, median of ${arg('--runs') ?? 3} alternating runs after 1 warm-up each\n`);
  benchTrain({ runs: Number(arg('--runs') ?? 3), threads: Number(arg('--threads') ?? 2), cases }).catch((e: unknown) => {
    process.stderr.write(`bench/train: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
  }
}
