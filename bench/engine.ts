/**
 * Engine benchmark, per 10 s clip (1024 frames, 1214 tokens) of an AST-Base-shaped checkpoint that it
 * makes itself (12 layers, hidden 768, 527 labels, seeded random fp32 weights, safetensors):
 *   - our forward at batch 1 and 4, and its GFLOP/s (261 GFLOP per clip)
 *   - ORT's fp32 MatMul GFLOP/s on the MLP's GEMMs (1214x768 @ 768x3072 @ 3072x768), measured in the same run: the roofline
 *   - checkpoint load (fromPretrained to a ready session) time and peak RSS, in a fresh child process
 *   - when /usr/bin/python3 has torch: the PyTorch reference forward (oracle.py classes), same checkpoint
 *   - when transformers.js can be installed into .bench/engine/js (npm) and torch can export ONNX:
 *     transformers.js on an ONNX export of the same checkpoint
 * and the ratios. Run alone: `node --import tsx bench/engine.ts [--runs 5] [--threads 2] [--no-peers]`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
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
import { findReferenceDir } from './python-peer.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');
export const GFLOP_PER_CLIP = 261.0;
const PY = '/usr/bin/python3';
const TJS_VERSION = '4.3.1';

export interface EngineBenchOptions {
  runs?: number;
  warmup?: number;
  threads?: number;
  batches?: number[];
  /** PyTorch and transformers.js peers (default true; skipped with a message when unavailable). */
  peers?: boolean;
  workDir?: string;
  log?: (line: string) => void;
}

export interface EngineBenchResult {
  ours: Record<number, { msPerClip: number; minMsPerClip: number; gflops: number }>;
  matmulGflops: number;
  rooflineFraction: number;
  load: { ms: number; peakRssMB: number; fileMB: number };
  torch?: Record<number, { msPerClip: number }> | string;
  transformersJs?: Record<number, { msPerClip: number }> | string;
}

function lcg(seed: number): () => number {
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

/** Load in a fresh process so the peak RSS is the load's own. */
function measureLoad(dir: string, threads: number): { ms: number; peakRssMB: number; fileMB: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--load-child', dir, String(threads)], {
    cwd: REPO,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`load child failed: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as { ms: number; peakRssMB: number; fileMB: number };
}

async function loadChild(dir: string, threads: number): Promise<void> {
  const t0 = performance.now();
  const m = await ASTForAudioClassification.fromPretrained(dir, { threads });
  const ms = performance.now() - t0;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const peakRssMB = hwm ? Number(hwm[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
  const fileMB = statSync(join(dir, 'model.safetensors')).size / 2 ** 20;
  await m.dispose();
  process.stdout.write(`${JSON.stringify({ ms, peakRssMB, fileMB })}\n`);
}

function hasTorch(): boolean {
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

const TJS_SCRIPT = `
import fs from 'node:fs'; import path from 'node:path'; import { pathToFileURL } from 'node:url';
const [jsDir, modelsDir, runs, warm, batches] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(path.join(jsDir, 'node_modules/@huggingface/transformers/package.json')));
const { env, AutoModelForAudioClassification, Tensor } = await import(pathToFileURL(path.join(jsDir, 'node_modules/@huggingface/transformers', pkg.exports.node.import.default)).href);
env.allowRemoteModels = false; env.allowLocalModels = true; env.localModelPath = modelsDir + '/';
const model = await AutoModelForAudioClassification.from_pretrained('ast-base', { dtype: 'fp32', device: 'cpu' });
const out = {};
for (const b of batches.split(',').map(Number)) {
  const x = new Tensor('float32', Float32Array.from({ length: b * 1024 * 128 }, (_, i) => Math.sin(i * 0.37) * 0.5), [b, 1024, 128]);
  for (let i = 0; i < Number(warm); i++) await model({ input_values: x });
  const ts = [];
  for (let i = 0; i < Number(runs); i++) { const t0 = performance.now(); await model({ input_values: x }); ts.push(performance.now() - t0); }
  ts.sort((p, q) => p - q);
  out[b] = ts[Math.floor(ts.length / 2)] / b;
}
console.log(JSON.stringify({ version: pkg.version, ...out }));
`;

function torchPeer(ref: string, dir: string, threads: number, runs: number, warmup: number, batches: number[]): Record<number, { msPerClip: number }> {
  const r = spawnSync(PY, ['-c', TORCH_SCRIPT, ref, dir, String(threads), String(runs), String(warmup), batches.join(',')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`PyTorch peer failed: ${r.stderr.slice(-2000)}`);
  const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
  return Object.fromEntries(Object.entries(o).map(([b, ms]) => [Number(b), { msPerClip: ms }]));
}

/** The torch.onnx export of the checkpoint and a transformers.js install, made once; returns the model folder. */
function prepareTransformersJs(ref: string, dir: string, work: string, log: (s: string) => void): string {
  const modelsDir = join(work, 'tjs-models');
  if (!existsSync(join(modelsDir, 'ast-base/onnx/model.onnx'))) {
    log('exporting the checkpoint to ONNX with torch.onnx (for transformers.js) ...');
    const r = spawnSync(PY, ['-c', EXPORT_SCRIPT, ref, dir, join(modelsDir, 'ast-base')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ONNX export failed: ${r.stderr.slice(-2000)}`);
  }
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

function transformersJsPeer(work: string, runs: number, warmup: number, batches: number[]): Record<number, { msPerClip: number }> {
  const modelsDir = join(work, 'tjs-models');
  const jsDir = join(work, 'js');
  const script = join(work, 'tjs-peer.mjs');
  writeFileSync(script, TJS_SCRIPT);
  const r = spawnSync(process.execPath, [script, jsDir, modelsDir, String(runs), String(warmup), batches.join(',')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`transformers.js peer failed: ${r.stderr.slice(-2000)}`);
  const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number | string>;
  return Object.fromEntries(
    Object.entries(o)
      .filter(([k]) => k !== 'version')
      .map(([b, ms]) => [Number(b), { msPerClip: ms as number }]),
  );
}

export async function benchEngine(options: EngineBenchOptions = {}): Promise<EngineBenchResult> {
  const runs = options.runs ?? 5;
  const warmup = options.warmup ?? 1;
  const threads = options.threads ?? 2;
  const batches = options.batches ?? [1, 4];
  const log = options.log ?? ((s: string) => console.log(s));
  const work = options.workDir ?? join(REPO, '.bench/engine');
  const dir = makeBaseCheckpoint(join(work, 'ast-base'));
  log(`engine bench: AST-Base (12 layers, 768, 527 labels) random fp32 checkpoint in ${dir}; ${threads} threads, median of ${runs} runs`);

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

  // The roofline, our forward and (when exported) the transformers.js ONNX graph on the same ORT are timed
  // interleaved, run by run, so that drift in the machine's load hits all of them alike.
  const roofline = await matmulRoofline(threads);
  const model = await ASTForAudioClassification.fromPretrained(dir, { threads });
  const exported = tjsModels ? await OrtSession.create(readFileSync(join(tjsModels, 'ast-base/onnx/model.onnx')), { threads }) : undefined;
  const ours: EngineBenchResult['ours'] = {};
  const exportMs: Record<number, number> = {};
  const rnd = lcg(3);
  const roofMs: number[] = [];
  const inputs = new Map<number, Float32Tensor>();
  const oursTimes = new Map<number, number[]>();
  for (const b of batches) {
    const x: Float32Tensor = { dtype: 'float32', dims: [b, 1024, 128], data: Float32Array.from({ length: b * 1024 * 128 }, () => rnd() - 0.5) };
    inputs.set(b, x);
    const forward = () => model.forward({ inputValues: x });
    const other = exported ? () => exported.run({ input_values: x }, ['logits']) : undefined;
    for (let i = 0; i < warmup; i++) {
      await roofline.run();
      await forward();
      await other?.();
    }
    const ts: number[] = [];
    const es: number[] = [];
    for (let i = 0; i < runs; i++) {
      let t0 = performance.now();
      await roofline.run();
      roofMs.push(performance.now() - t0);
      t0 = performance.now();
      await forward();
      ts.push(performance.now() - t0);
      if (other) {
        t0 = performance.now();
        await other();
        es.push(performance.now() - t0);
      }
    }
    oursTimes.set(b, ts);
    if (es.length) exportMs[b] = median(es) / b;
  }
  const roof = roofline.gflop / (median(roofMs) / 1e3);
  const roofBest = roofline.gflop / (Math.min(...roofMs) / 1e3);
  await roofline.release();
  await exported?.release();

  // transformers.js itself (its own onnxruntime-node, default session options) in a child process,
  // bracketed by a second window of our runs so that both see the same machine.
  let tjs: Record<number, { msPerClip: number }> | string = tjsSkip;
  if (!tjsSkip) {
    try {
      tjs = transformersJsPeer(work, runs, warmup, batches);
      for (const b of batches) {
        const x = inputs.get(b)!;
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          await model.forward({ inputValues: x });
          oursTimes.get(b)!.push(performance.now() - t0);
        }
      }
    } catch (e) {
      tjs = `skipped: ${(e as Error).message}`;
    }
  }
  await model.dispose();
  for (const b of batches) {
    const ts = oursTimes.get(b)!;
    const ms = median(ts) / b;
    ours[b] = { msPerClip: ms, minMsPerClip: Math.min(...ts) / b, gflops: GFLOP_PER_CLIP / (ms / 1e3) };
  }

  log(`ORT fp32 MatMul, MLP GEMMs 1214x768x3072 chained (roofline): ${roof.toFixed(1)} GFLOP/s (best run ${roofBest.toFixed(1)})`);
  for (const b of batches) {
    log(`ours batch ${b}: ${ours[b]!.msPerClip.toFixed(0)} ms/clip (min ${ours[b]!.minMsPerClip.toFixed(0)}), ${ours[b]!.gflops.toFixed(1)} GFLOP/s = ${((100 * ours[b]!.gflops) / roof).toFixed(0)} % of the MatMul roofline`);
  }
  for (const b of Object.keys(exportMs).map(Number)) {
    log(`transformers.js's ONNX graph (torch.onnx export) on our ORT session, interleaved, batch ${b}: ${exportMs[b]!.toFixed(0)} ms/clip; ours/it = ${(median(oursTimes.get(b)!.slice(0, runs)) / b / exportMs[b]!).toFixed(2)}x`);
  }
  const result: EngineBenchResult = { ours, matmulGflops: roof, rooflineFraction: ours[batches[0]!]!.gflops / roof, load, transformersJs: tjs };
  if (typeof tjs === 'string') log(`transformers.js peer ${tjs}`);
  else {
    for (const b of batches) {
      const t = tjs[b]!.msPerClip;
      log(`transformers.js ${TJS_VERSION} fp32 (ONNX export) batch ${b}: ${t.toFixed(0)} ms/clip; ours/transformers.js = ${(ours[b]!.msPerClip / t).toFixed(2)}x`);
    }
  }

  if (options.peers !== false) {
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
    await loadChild(args[1]!, Number(args[2] ?? 2));
  } else {
    const num = (flag: string, d: number) => {
      const i = args.indexOf(flag);
      return i >= 0 ? Number(args[i + 1]) : d;
    };
    await benchEngine({ runs: num('--runs', 5), threads: num('--threads', 2), peers: !args.includes('--no-peers') });
  }
}
