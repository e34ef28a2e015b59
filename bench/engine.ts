/**
 * Engine benchmark, per 10 s clip (1024 frames, 1214 tokens) of an AST-Base-shaped checkpoint that it
 * makes itself (12 layers, hidden 768, 527 labels, seeded random fp32 weights, safetensors):
 *   - our forward at batch 1 and 4, and its GFLOP/s (261 GFLOP per clip)
 *   - ORT's fp32 MatMul GFLOP/s on the MLP's GEMMs (1214x768 @ 768x3072 @ 3072x768), measured in the same run: the roofline
 *   - checkpoint load (fromPretrained to a ready session) time and peak RSS, in a fresh child process
 *   - when /usr/bin/python3 has torch: the PyTorch reference forward (oracle.py classes), same checkpoint
 *   - when transformers.js can be installed into .bench/engine/js (npm) and torch can export ONNX:
 *     transformers.js on an ONNX export of the same checkpoint
 * and the ratios. Run alone: `node --import tsx bench/engine.ts [--runs 5] [--threads 2] [--batches 1,4] [--no-peers] [--no-torch]`.
 *
 * Same conditions for ours and transformers.js: every timed ORT session (ours, the roofline, the export on our
 * runtime, and transformers.js's own in its worker process) gets the same intra-op thread count, one inter-op
 * thread, and `session.intra_op.allow_spinning = 0`, so that no session's idle workers spin on the cores of the
 * session timed next. The settings each session was created with are recorded where ORT receives them, printed,
 * and checked: the run stops if they differ. Runs alternate one by one: roofline, ours, the export on our runtime,
 * transformers.js (its worker process is idle while ours runs, and the other way round).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../src/node/index.js';
import { ASTConfig } from '../src/model/config.js';
import { astParameterSpecs } from '../src/model/weights.js';
import { formatSafetensors } from '../src/io/safetensors.js';
import { ASTForAudioClassification } from '../src/model/ast.js';
import { GraphBuilder } from '../src/graph/builder.js';
import { OrtSession } from '../src/runtime/session.js';
import type { Float32Tensor, Tensor } from '../src/tensor.js';
import { findReferenceDir, lineReader } from './python-peer.js';
import { getRuntime } from '../src/runtime/backend.js';
import type { ModelDtype } from '../src/runtime/dtype.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');
export const GFLOP_PER_CLIP = 261.0;
export const PY = '/usr/bin/python3';
export const TJS_VERSION = '4.3.1';

export interface EngineBenchOptions {
  runs?: number;
  warmup?: number;
  threads?: number;
  batches?: number[];
  /** PyTorch and transformers.js peers (default true; skipped with a message when unavailable). */
  peers?: boolean;
  /** The PyTorch peer (default: with the peers); off for a quick ours-vs-transformers.js run. */
  torch?: boolean;
  workDir?: string;
  log?: (line: string) => void;
  /**
   * Where ours runs (default cpu). 'webgpu': onnxruntime-node's WebGPU EP (plain attention, weights as initializers);
   * the roofline and the peers stay on the CPU, so their ratios then compare a GPU with a CPU.
   */
  device?: 'cpu' | 'webgpu';
}

export interface EngineBenchResult {
  ours: Record<number, { msPerClip: number; minMsPerClip: number; gflops: number }>;
  matmulGflops: number;
  rooflineFraction: number;
  load: { ms: number; peakRssMB: number; fileMB: number };
  torch?: Record<number, { msPerClip: number }> | string;
  transformersJs?: Record<number, { msPerClip: number }> | string;
  /** The settings every timed ORT session was created with (as ORT received them). */
  sessions: SessionSettings[];
  cpu: string;
}

/**
 * ORT session config for every timed session: idle intra-op workers block instead of spinning. ORT's default
 * spins them after each run, and a spinning pool takes the cores of whichever session is timed next.
 */
export const NO_SPINNING = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } as const;

export interface SessionSettings {
  who: string;
  intraOpNumThreads: number | undefined;
  interOpNumThreads: number | undefined;
  allowSpinning: string | undefined;
  graphOptimizationLevel: string | undefined;
  executionProviders: string;
}

type SessionCreate = (...args: unknown[]) => Promise<unknown>;
type OptionsRecord = Record<string, unknown> & { extra?: Record<string, unknown> };

/** The settings of one InferenceSession.create options object, as ORT reads them. */
function settingsOf(who: string, o: OptionsRecord): SessionSettings {
  const extra = (o.extra ?? {}) as { session?: { intra_op?: { allow_spinning?: string } }; 'session.intra_op.allow_spinning'?: string };
  const eps = Array.isArray(o.executionProviders) ? o.executionProviders.map((e) => (typeof e === 'string' ? e : (e as { name: string }).name)).join(',') : 'default';
  return {
    who,
    intraOpNumThreads: o.intraOpNumThreads as number | undefined,
    interOpNumThreads: o.interOpNumThreads as number | undefined,
    allowSpinning: extra.session?.intra_op?.allow_spinning ?? extra['session.intra_op.allow_spinning'],
    graphOptimizationLevel: o.graphOptimizationLevel as string | undefined,
    executionProviders: eps,
  };
}

/**
 * Wraps this process's InferenceSession.create so that every session gets NO_SPINNING (our LoadOptions have no
 * session-config pass-through) and its settings are recorded, labelled by `label()` at creation time.
 */
function watchOurSessions(label: () => string, seen: SessionSettings[]): () => void {
  const IS = getRuntime().ort.InferenceSession as unknown as { create: SessionCreate };
  const original = IS.create;
  IS.create = function (this: unknown, ...args: unknown[]) {
    let at = args.length - 1;
    while (at >= 0 && !(typeof args[at] === 'object' && args[at] !== null && !ArrayBuffer.isView(args[at]) && !(args[at] instanceof ArrayBuffer))) at--;
    const given = (at >= 0 ? args[at] : {}) as OptionsRecord;
    const extra = given.extra ?? {};
    const session = { ...NO_SPINNING.session, ...((extra.session as object | undefined) ?? {}) };
    const options: OptionsRecord = { ...given, extra: { ...extra, session } };
    if (at >= 0) args[at] = options;
    else args.push(options);
    seen.push(settingsOf(label(), options));
    return original.apply(this, args);
  };
  return () => {
    IS.create = original;
  };
}

/** Stops the run when two timed sessions would not compute under the same thread settings. */
function assertSameSettings(sessions: SessionSettings[], threads: number): void {
  const bad = sessions.filter((s) => s.intraOpNumThreads !== threads || s.interOpNumThreads !== 1 || s.allowSpinning !== '0');
  if (bad.length) {
    throw new Error(
      `engine bench: sessions not under the same settings (want intra-op ${threads}, inter-op 1, allow_spinning 0): ` +
        bad.map((s) => `${s.who}: intra ${s.intraOpNumThreads}, inter ${s.interOpNumThreads}, spinning ${s.allowSpinning}`).join('; '),
    );
  }
}

/**
 * The CPU as /proc/cpuinfo (lscpu's source) names it, with family/model/stepping (virtual machines often show only
 * "AMD EPYC") and the vector extensions MLAS dispatches on, for the record of every run.
 */
export function cpuModel(): string {
  let info = '';
  try {
    info = readFileSync('/proc/cpuinfo', 'utf8').split('\n\n')[0]!;
  } catch {
    return cpus()[0]?.model ?? 'unknown CPU';
  }
  const field = (k: string): string | undefined => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim();
  const flags = new Set((field('flags') ?? '').split(/\s+/));
  const isa = ['avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile', 'avx2'].filter((f) => flags.has(f)).slice(0, 3);
  const fms = [['family', field('cpu family')], ['model', field('model')], ['stepping', field('stepping')]].filter(([, v]) => v).map(([k, v]) => `${k} ${v}`);
  const vm = flags.has('hypervisor') ? ', virtual machine' : '';
  return `${field('model name') ?? cpus()[0]?.model ?? 'unknown CPU'} (${[...fms, ...isa].join(', ')}${vm})`;
}

export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** config.json + preprocessor_config.json + model.safetensors of a random AST-Base (527 labels), written once. */
export function makeBaseCheckpoint(dir: string, seed = 7): string {
  if (existsSync(join(dir, 'model.safetensors'))) return dir;
  mkdirSync(dir, { recursive: true });
  const id2label = Object.fromEntries(Array.from({ length: 527 }, (_, i) => [String(i), `label_${i}`]));
  const config = ASTConfig.fromJSON({ id2label, architectures: ['ASTForAudioClassification'], torch_dtype: 'float32' });
  const rnd = lcg(seed);
  const tensors = new Map<string, Tensor>();
  for (const spec of astParameterSpecs(config, 'classification')) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const d = new Float32Array(n);
    if (spec.name.endsWith('layernorm.weight') || spec.name.endsWith('layernorm_before.weight') || spec.name.endsWith('layernorm_after.weight')) d.fill(1);
    else for (let i = 0; i < n; i++) d[i] = (rnd() - 0.5) * 0.04; // ~ initializer_range 0.02
    tensors.set(spec.name, { dtype: 'float32', dims: spec.shape, data: d });
  }
  const write = (name: string, bytes: Uint8Array | string) => {
    writeFileSync(join(dir, `${name}.tmp`), bytes);
    renameSync(join(dir, `${name}.tmp`), join(dir, name));
  };
  // num_labels spelled out too: the reference oracle reads it directly
  write('config.json', JSON.stringify({ ...config.toJSON(), num_labels: config.num_labels }, null, 2));
  write(
    'preprocessor_config.json',
    JSON.stringify({
      feature_extractor_type: 'ASTFeatureExtractor', feature_size: 1, sampling_rate: 16000, num_mel_bins: 128, max_length: 1024,
      padding_side: 'right', padding_value: 0.0, do_normalize: true, mean: -4.2677393, std: 4.5689974, return_attention_mask: false,
    }),
  );
  write('model.safetensors', formatSafetensors(tensors));
  return dir;
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};

/**
 * ORT's fp32 MatMul on the MLP's GEMM shapes (1214x768 @ 768x3072, then @ 3072x768), four blocks chained in
 * one graph with prepacked weights and a scalar output, so the time is the kernels' and not feeding or copying.
 */
async function matmulRoofline(threads: number): Promise<{ run: () => Promise<unknown>; gflop: number; release: () => Promise<void> }> {
  const [M, H, I, blocks] = [1214, 768, 3072, 4];
  const g = new GraphBuilder('matmul');
  const x = g.input('x', 'float32', [M, H]);
  const rnd = lcg(1);
  // uniform with variance 1/fan_in keeps activations O(1) through the chain
  const weight = (k: number, n: number) => Float32Array.from({ length: k * n }, () => (rnd() - 0.5) * 2 * Math.sqrt(3 / k));
  let h = x;
  for (let b = 0; b < blocks; b++) {
    h = g.op1('MatMul', [h, g.initializer(`w1_${b}`, [H, I], weight(H, I))]); // [M, I]
    h = g.op1('MatMul', [h, g.initializer(`w2_${b}`, [I, H], weight(I, H))]); // [M, H]
  }
  g.output(g.op1('ReduceSum', [h, g.constI64([0, 1])], { keepdims: 0 }), 'y');
  const s = await OrtSession.create(g.encode(), { threads });
  const feed = { x: { dtype: 'float32', dims: [M, H], data: Float32Array.from({ length: M * H }, () => rnd() - 0.5) } as Float32Tensor };
  return { run: () => s.run(feed), gflop: (blocks * 2 * 2 * M * H * I) / 1e9, release: () => s.release() };
}

/** Load time and memory of one fresh process (fromPretrained to a ready session). */
export interface LoadFigures {
  ms: number;
  peakRssMB: number;
  /** RSS once the load's garbage is collected: what the loaded model keeps. */
  rssAfterMB: number;
  fileMB: number;
  /** CPU time of the load (all threads): a loaded machine inflates it less than `ms`. */
  cpuMs?: number;
}

/** Load in a fresh process so the peak RSS is the load's own. */
export function measureLoad(dir: string, threads: number, dtype: ModelDtype = 'fp32'): LoadFigures {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--load-child', dir, String(threads), dtype], {
    cwd: REPO,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`load child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as LoadFigures;
}

async function loadChild(dir: string, threads: number, dtype: ModelDtype): Promise<void> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const m = await ASTForAudioClassification.fromPretrained(dir, { threads, dtype, sessionConfig: NO_SPINNING });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const cpuMs = (cpu.user + cpu.system) / 1e3;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const peakRssMB = hwm ? Number(hwm[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
  // V8 frees large ArrayBuffer backing stores after the collection that found them dead (a later task), so
  // collect, yield, collect: the figure is then what the model holds, not the checkpoint buffer awaiting release
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await new Promise((r) => setTimeout(r, 100));
  gc?.();
  const rssAfterMB = process.memoryUsage().rss / 2 ** 20;
  const fileMB = statSync(join(dir, 'model.safetensors')).size / 2 ** 20;
  await m.dispose();
  process.stdout.write(`${JSON.stringify({ ms, peakRssMB, rssAfterMB, fileMB, cpuMs } satisfies LoadFigures)}\n`);
}

export function hasTorch(): boolean {
  if (!existsSync(PY)) return false;
  return spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

const TORCH_SCRIPT = `
import json, statistics, sys, time, numpy as np, torch
sys.path.insert(0, sys.argv[1]); import oracle
torch.set_num_threads(int(sys.argv[3]))
m, cfg, fe = oracle.load_model(sys.argv[2])
runs, warm = int(sys.argv[4]), int(sys.argv[5])
def fwd(x):
    base = m.audio_spectrogram_transformer
    h = base.embeddings(x)
    for layer in base.encoder.layer:
        h, _ = layer(h)
    seq = base.layernorm(h)
    return m.classifier((seq[:, 0] + seq[:, 1]) / 2)
out = {}
rng = np.random.default_rng(0)
with torch.inference_mode():
    for b in [int(v) for v in sys.argv[6].split(',')]:
        x = torch.from_numpy(rng.standard_normal((b, 1024, 128)).astype(np.float32) * 0.5)
        for _ in range(warm): fwd(x)
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter(); fwd(x); ts.append(time.perf_counter() - t0)
        out[b] = 1e3 * statistics.median(ts) / b
print(json.dumps(out))
`;

const EXPORT_SCRIPT = `
import json, os, shutil, sys, torch
sys.path.insert(0, sys.argv[1]); import oracle
torch.set_num_threads(2)
m, cfg, fe = oracle.load_model(sys.argv[2])
out = sys.argv[3]
os.makedirs(os.path.join(out, 'onnx'), exist_ok=True)
for f in ('config.json', 'preprocessor_config.json'): shutil.copy(os.path.join(sys.argv[2], f), os.path.join(out, f))
class LogitsOnly(torch.nn.Module):
    def __init__(self, m): super().__init__(); self.m = m
    def forward(self, input_values): return self.m(input_values)['logits']
x = torch.zeros(1, 1024, 128)
with torch.no_grad():
    torch.onnx.export(LogitsOnly(m).eval(), (x,), os.path.join(out, 'onnx', 'model.onnx'), opset_version=17, do_constant_folding=True,
                      input_names=['input_values'], output_names=['logits'], dynamic_axes={'input_values': {0: 'batch_size'}, 'logits': {0: 'batch_size'}})
print('exported')
`;

/**
 * transformers.js worker: loads the exported model with the given threads and NO_SPINNING (its `session_options`),
 * records the options its onnxruntime-node receives, then answers "run B" lines with the ms of one forward at batch B.
 */
const TJS_WORKER = `
import fs from 'node:fs'; import path from 'node:path'; import { createRequire } from 'node:module'; import { pathToFileURL } from 'node:url';
import readline from 'node:readline';
const [jsDir, modelsDir, threads, extraJson] = process.argv.slice(2);
const tjsDir = path.join(jsDir, 'node_modules/@huggingface/transformers');
const pkg = JSON.parse(fs.readFileSync(path.join(tjsDir, 'package.json')));
// the onnxruntime-node that transformers.js requires "from here": record what its sessions are created with
const ort = createRequire(path.join(tjsDir, 'package.json'))('onnxruntime-node');
const seen = [];
const create = ort.InferenceSession.create;
ort.InferenceSession.create = function (...args) {
  const o = args.findLast((a) => a && typeof a === 'object' && !ArrayBuffer.isView(a) && !(a instanceof ArrayBuffer)) ?? {};
  seen.push(o);
  return create.apply(this, args);
};
const { env, AutoModelForAudioClassification, Tensor } = await import(pathToFileURL(path.join(tjsDir, pkg.exports.node.import.default)).href);
env.allowRemoteModels = false; env.allowLocalModels = true; env.localModelPath = modelsDir + '/';
const session_options = { intraOpNumThreads: Number(threads), interOpNumThreads: 1, extra: JSON.parse(extraJson) };
const model = await AutoModelForAudioClassification.from_pretrained('ast-base', { dtype: 'fp32', device: 'cpu', session_options });
const ortVersion = JSON.parse(fs.readFileSync(path.join(path.dirname(createRequire(path.join(tjsDir, 'package.json')).resolve('onnxruntime-node/package.json')), 'package.json'))).version;
console.log(JSON.stringify({ ready: true, version: pkg.version, ort: ortVersion, sessions: seen }));
const inputs = new Map();
for await (const line of readline.createInterface({ input: process.stdin })) {
  const b = Number(line.split(' ')[1]);
  if (!inputs.has(b)) inputs.set(b, new Tensor('float32', Float32Array.from({ length: b * 1024 * 128 }, (_, i) => Math.sin(i * 0.37) * 0.5), [b, 1024, 128]));
  const t0 = performance.now();
  await model({ input_values: inputs.get(b) });
  console.log(JSON.stringify({ ms: performance.now() - t0 }));
}
await model.dispose?.();
`;

function torchPeer(ref: string, dir: string, threads: number, runs: number, warmup: number, batches: number[]): Record<number, { msPerClip: number }> {
  const r = spawnSync(PY, ['-c', TORCH_SCRIPT, ref, dir, String(threads), String(runs), String(warmup), batches.join(',')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`PyTorch peer failed: ${r.stderr.slice(-2000)}`);
  const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
  return Object.fromEntries(Object.entries(o).map(([b, ms]) => [Number(b), { msPerClip: ms }]));
}

/** The torch.onnx export of the checkpoint (work/tjs-models/ast-base, transformers.js's layout), made once; returns tjs-models. */
export function exportForTransformersJs(ref: string, dir: string, work: string, log: (s: string) => void): string {
  const modelsDir = join(work, 'tjs-models');
  if (!existsSync(join(modelsDir, 'ast-base/onnx/model.onnx'))) {
    log('exporting the checkpoint to ONNX with torch.onnx (for transformers.js) ...');
    const r = spawnSync(PY, ['-c', EXPORT_SCRIPT, ref, dir, join(modelsDir, 'ast-base')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ONNX export failed: ${r.stderr.slice(-2000)}`);
  }
  return modelsDir;
}

/** The torch.onnx export of the checkpoint and a transformers.js install, made once; returns the model folder. */
export function prepareTransformersJs(ref: string, dir: string, work: string, log: (s: string) => void): string {
  const modelsDir = exportForTransformersJs(ref, dir, work, log);
  const jsDir = join(work, 'js');
  if (!existsSync(join(jsDir, 'node_modules/@huggingface/transformers'))) {
    log(`installing @huggingface/transformers@${TJS_VERSION} into ${jsDir} (not a project dependency) ...`);
    mkdirSync(jsDir, { recursive: true });
    if (!existsSync(join(jsDir, 'package.json'))) writeFileSync(join(jsDir, 'package.json'), '{"name":"engine-bench-peers","private":true,"type":"module"}');
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', `@huggingface/transformers@${TJS_VERSION}`], {
      cwd: jsDir,
      encoding: 'utf8',
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    });
    if (r.status !== 0) throw new Error(`npm install failed: ${r.stderr.slice(-1000)}`);
  }
  return modelsDir;
}

interface TjsWorker {
  version: string;
  ort: string;
  sessions: SessionSettings[];
  /** One forward at batch `b` in the worker; its ms. */
  run: (b: number) => Promise<number>;
  close: () => void;
}

/** Starts the transformers.js worker and waits until its model is loaded. */
async function startTransformersJs(work: string, threads: number): Promise<TjsWorker> {
  const script = join(work, 'tjs-worker.mjs');
  writeFileSync(script, TJS_WORKER);
  const child = spawn(process.execPath, [script, join(work, 'js'), join(work, 'tjs-models'), String(threads), JSON.stringify(NO_SPINNING)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-2000)));
  const next = lineReader(child.stdout);
  const reply = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const line = await next();
      if (line === undefined) throw new Error(`transformers.js worker exited: ${stderr}`);
      if (line.startsWith('{')) return JSON.parse(line) as Record<string, unknown>;
    }
  };
  const ready = (await reply()) as { version: string; ort: string; sessions: OptionsRecord[] };
  return {
    version: ready.version,
    ort: ready.ort,
    sessions: ready.sessions.map((o) => settingsOf('transformers.js (its worker process)', o)),
    run: async (b) => {
      child.stdin.write(`run ${b}\n`);
      return (await reply()).ms as number;
    },
    close: () => child.stdin.end(),
  };
}

export async function benchEngine(options: EngineBenchOptions = {}): Promise<EngineBenchResult> {
  const runs = options.runs ?? 5;
  const warmup = options.warmup ?? 1;
  const threads = options.threads ?? 2;
  const batches = options.batches ?? [1, 4];
  const log = options.log ?? ((s: string) => console.log(s));
  const device = options.device ?? 'cpu';
  const work = options.workDir ?? join(REPO, '.bench/engine');
  const dir = makeBaseCheckpoint(join(work, 'ast-base'));
  log(`engine bench: AST-Base (12 layers, 768, 527 labels) random fp32 checkpoint in ${dir}; ${threads} threads, median of ${runs} runs; ours on device ${device}`);

  const cpu = cpuModel();
  log(`CPU: ${cpu}, ${cpus().length} logical CPUs; Node ${process.version}, onnxruntime-node ${getRuntime().ort.env.versions?.node ?? '?'}`);
  log(`machine load average (1/5/15 min) at start: ${loadavg().map((v) => v.toFixed(1)).join(' / ')} on ${cpus().length} CPUs`);
  const load = measureLoad(dir, threads);
  log(`load (fromPretrained -> ready session, fresh process): ${load.ms.toFixed(0)} ms, peak RSS ${load.peakRssMB.toFixed(0)} MB = ${(load.peakRssMB / load.fileMB).toFixed(2)}x the ${load.fileMB.toFixed(0)} MB file`);

  // Peers' one-off preparation (ONNX export, npm install) before any timing.
  const ref = options.peers === false ? undefined : findReferenceDir();
  const torchOk = ref !== undefined && hasTorch();
  let tjsModels: string | undefined;
  let tjsSkip = options.peers === false ? 'skipped (--no-peers)' : !ref ? 'skipped: oracle.py not found' : !torchOk ? `skipped: ${PY} has no torch` : '';
  if (!tjsSkip) {
    try {
      tjsModels = prepareTransformersJs(ref!, dir, work, log);
    } catch (e) {
      tjsSkip = `skipped: ${(e as Error).message}`;
    }
  }

  // Every session of this process gets NO_SPINNING and is recorded; transformers.js's worker records its own.
  const sessions: SessionSettings[] = [];
  let creating = '';
  const unwatch = watchOurSessions(() => creating, sessions);
  creating = 'MatMul roofline (this process)';
  const roofline = await matmulRoofline(threads);
  creating = 'ours (this process)';
  const model = await ASTForAudioClassification.fromPretrained(dir, { threads, ...(device === 'webgpu' ? { executionProviders: ['webgpu'] } : {}) });
  creating = "transformers.js's ONNX export on our runtime (this process)";
  const exported = tjsModels ? await OrtSession.create(readFileSync(join(tjsModels, 'ast-base/onnx/model.onnx')), { threads }) : undefined;
  unwatch();
  let tjsWorker: TjsWorker | undefined;
  if (tjsModels) {
    try {
      tjsWorker = await startTransformersJs(work, threads);
      sessions.push(...tjsWorker.sessions);
    } catch (e) {
      tjsSkip = `skipped: ${(e as Error).message}`;
    }
  }
  log('ORT sessions timed here, with the settings ORT received:');
  for (const s of sessions) {
    log(`  ${s.who}: intra-op threads ${s.intraOpNumThreads}, inter-op ${s.interOpNumThreads}, session.intra_op.allow_spinning ${s.allowSpinning}, optimisation ${s.graphOptimizationLevel ?? "ORT's default (all)"}, EPs ${s.executionProviders}`);
  }
  try {
    assertSameSettings(sessions, threads);
  } catch (e) {
    tjsWorker?.close();
    throw e;
  }

  // Alternating run by run (roofline, ours, the export on our runtime, transformers.js in its worker), so that
  // drift in the machine's load hits all of them alike; only one of them computes at any moment.
  const ours: EngineBenchResult['ours'] = {};
  const exportMs: Record<number, number> = {};
  const tjsMs: Record<number, number> = {};
  const rnd = lcg(3);
  const roofMs: number[] = [];
  const oursTimes = new Map<number, number[]>();
  for (const b of batches) {
    const x: Float32Tensor = { dtype: 'float32', dims: [b, 1024, 128], data: Float32Array.from({ length: b * 1024 * 128 }, () => rnd() - 0.5) };
    const time = async (f: () => Promise<unknown>): Promise<number> => {
      const t0 = performance.now();
      await f();
      return performance.now() - t0;
    };
    const ts: number[] = [];
    const es: number[] = [];
    const js: number[] = [];
    for (let i = 0; i < warmup + runs; i++) {
      const r = await time(() => roofline.run());
      const o = await time(() => model.forward({ inputValues: x }));
      const e = exported ? await time(() => exported.run({ input_values: x }, ['logits'])) : undefined;
      const j = tjsWorker ? await tjsWorker.run(b) : undefined;
      if (i < warmup) continue;
      roofMs.push(r);
      ts.push(o);
      if (e !== undefined) es.push(e);
      if (j !== undefined) js.push(j);
    }
    oursTimes.set(b, ts);
    if (es.length) exportMs[b] = median(es) / b;
    if (js.length) tjsMs[b] = median(js) / b;
  }
  const roof = roofline.gflop / (median(roofMs) / 1e3);
  const roofBest = roofline.gflop / (Math.min(...roofMs) / 1e3);
  await roofline.release();
  await exported?.release();
  await model.dispose();
  tjsWorker?.close();
  for (const b of batches) {
    const ts = oursTimes.get(b)!;
    const ms = median(ts) / b;
    ours[b] = { msPerClip: ms, minMsPerClip: Math.min(...ts) / b, gflops: GFLOP_PER_CLIP / (ms / 1e3) };
  }

  log(`ORT fp32 MatMul, MLP GEMMs 1214x768x3072 chained (roofline, same run): ${roof.toFixed(1)} GFLOP/s (best run ${roofBest.toFixed(1)})`);
  for (const b of batches) {
    log(`ours batch ${b}: ${ours[b]!.msPerClip.toFixed(0)} ms/clip (min ${ours[b]!.minMsPerClip.toFixed(0)}), ${ours[b]!.gflops.toFixed(1)} GFLOP/s = ${((100 * ours[b]!.gflops) / roof).toFixed(0)} % of the MatMul roofline`);
  }
  for (const b of Object.keys(exportMs).map(Number)) {
    log(`transformers.js's ONNX graph (torch.onnx export) on our runtime, alternating, batch ${b}: ${exportMs[b]!.toFixed(0)} ms/clip; ours/it = ${(ours[b]!.msPerClip / exportMs[b]!).toFixed(2)}x`);
  }
  const tjs: Record<number, { msPerClip: number }> | string = tjsWorker ? Object.fromEntries(batches.map((b) => [b, { msPerClip: tjsMs[b]! }])) : tjsSkip;
  const result: EngineBenchResult = { ours, matmulGflops: roof, rooflineFraction: ours[batches[0]!]!.gflops / roof, load, transformersJs: tjs, sessions, cpu };
  if (typeof tjs === 'string') log(`transformers.js peer ${tjs}`);
  else {
    for (const b of batches) {
      const t = tjs[b]!.msPerClip;
      log(`transformers.js ${tjsWorker!.version} fp32 (ONNX export; onnxruntime-node ${tjsWorker!.ort}), alternating, batch ${b}: ${t.toFixed(0)} ms/clip; ours/transformers.js = ${(ours[b]!.msPerClip / t).toFixed(2)}x`);
    }
  }

  if (options.peers !== false && options.torch !== false) {
    if (!torchOk) {
      result.torch = `skipped: ${ref ? `${PY} has no torch` : 'oracle.py not found'}`;
      log(`PyTorch peer ${result.torch}`);
    } else {
      try {
        result.torch = torchPeer(ref!, dir, threads, runs, warmup, batches);
        const version = (spawnSync(PY, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout || '').trim();
        for (const b of batches) {
          const t = result.torch[b]!.msPerClip;
          log(`PyTorch ${version} fp32 eager batch ${b}: ${t.toFixed(0)} ms/clip; ours/PyTorch = ${(ours[b]!.msPerClip / t).toFixed(2)}x`);
        }
      } catch (e) {
        result.torch = `failed: ${(e as Error).message}`;
        log(`PyTorch peer ${result.torch}`);
      }
    }
  }
  log(`machine load average at the end: ${loadavg().map((v) => v.toFixed(1)).join(' / ')}`);
  return result;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  if (args[0] === '--load-child') {
    await loadChild(args[1]!, Number(args[2] ?? 2), (args[3] ?? 'fp32') as ModelDtype);
  } else {
    const num = (flag: string, d: number) => {
      const i = args.indexOf(flag);
      return i >= 0 ? Number(args[i + 1]) : d;
    };
    const at = args.indexOf('--batches');
    const batches = at >= 0 ? args[at + 1]!.split(',').map(Number) : undefined;
    const device = args.includes('--device') ? (args[args.indexOf('--device') + 1] as 'cpu' | 'webgpu') : undefined;
    await benchEngine({ runs: num('--runs', 5), threads: num('--threads', 2), batches, peers: !args.includes('--no-peers'), torch: !args.includes('--no-torch'), device });
  }
}
