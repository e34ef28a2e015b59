/**
 * Engine benchmark, per 10 s clip (1024 frames, 1214 tokens) of an AST-Base-shaped checkpoint that it
 * makes itself (12 layers, hidden 768, 527 labels, seeded random fp32 weights, safetensors):
 *   - our forward at batch 1 and 4, and its GFLOP/s (261 GFLOP per clip)
 *   - ORT's fp32 MatMul GFLOP/s on the MLP's GEMMs (1214x768 @ 768x3072 @ 3072x768), measured in the same run: the roofline
 *   - checkpoint load (fromPretrained to a ready session) time and peak RSS, in a fresh child process
 *   - when /usr/bin/python3 has torch: the PyTorch reference forward (oracle.py classes), same checkpoint
 *   - when transformers.js can be installed into .bench/engine/js (npm) and torch can export ONNX:
 *     transformers.js on an ONNX export of the same checkpoint
 * and the ratios. Each of `--dtype` (default fp32,q8,fp16) is timed interleaved with the others and its load
 * measured in its own process; q8 and fp16 report their agreement with fp32 (top-1, largest top-5 probability and
 * logit differences) on the bench clips and on the embedded model's example clips. Peers for q8: transformers.js
 * on a model_quantized.onnx in onnxruntime quantize_dynamic's QOperator form (bench/qoperator.ts), PyTorch
 * quantize_dynamic int8 and bf16 autocast.
 * Run alone: `node --import tsx bench/engine.ts [--runs 5] [--threads 2] [--dtype fp32,q8] [--no-peers]`.
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
import { quantizeDynamicQOperator } from './qoperator.js';
import { buildInferenceGraph } from '../src/model/ast.js';
import { encodeModel } from '../src/graph/onnx.js';
import { MODEL_DTYPES, type ModelDtype } from '../src/runtime/dtype.js';
import { parseDtypeList } from '../src/model/export.js';
import { pipeline } from '../src/pipeline/audio-classification.js';
import { readdirSync } from 'node:fs';
import { loadAudio } from '../src/node/audio.js';

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
  /** Our dtypes to time (default fp32, q8, fp16); fp32 is always included (the others are compared with it). */
  dtypes?: ModelDtype[];
}

export interface Agreement {
  /** Fraction of clips whose top-1 class equals fp32's. */
  top1: number;
  clips: number;
  /** Largest |p - p_fp32| over each clip's fp32 top-5 classes (softmax probabilities). */
  maxTop5ProbDiff: number;
  maxLogitDiff: number;
}

export interface LoadFigures {
  ms: number;
  peakRssMB: number;
  /** RSS once loaded (after a GC): what the process keeps. */
  rssAfterMB: number;
  fileMB: number;
}

export interface EngineBenchResult {
  /** fp32 (the figures every earlier run reported). */
  ours: Record<number, { msPerClip: number; minMsPerClip: number; gflops: number }>;
  /** Every timed dtype, fp32 included. */
  byDtype: Partial<Record<ModelDtype, Record<number, { msPerClip: number; minMsPerClip: number }>>>;
  matmulGflops: number;
  rooflineFraction: number;
  load: LoadFigures;
  loads: Partial<Record<ModelDtype, LoadFigures>>;
  /** q8 / fp16 against fp32: AST-Base on the bench clips, the embedded model on its examples. */
  agreement: Partial<Record<ModelDtype, { base: Agreement; embedded: Agreement }>>;
  torch?: Record<number, { msPerClip: number }> | string;
  /** PyTorch quantize_dynamic (int8 Linears) and bf16 autocast, same run. */
  torchInt8?: Record<number, { msPerClip: number }>;
  torchBf16?: Record<number, { msPerClip: number }>;
  transformersJs?: Record<number, { msPerClip: number }> | string;
  /** transformers.js with dtype 'q8' on the QOperator model_quantized.onnx. */
  transformersJsQ8?: Record<number, { msPerClip: number }> | string;
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
function measureLoad(dir: string, threads: number, dtype: ModelDtype = 'fp32'): LoadFigures {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--load-child', dir, String(threads), dtype], {
    cwd: REPO,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`load child failed: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as LoadFigures;
}

async function loadChild(dir: string, threads: number, dtype: ModelDtype): Promise<void> {
  const t0 = performance.now();
  const m = await ASTForAudioClassification.fromPretrained(dir, { threads, dtype });
  const ms = performance.now() - t0;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const peakRssMB = hwm ? Number(hwm[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
  (globalThis as { gc?: () => void }).gc?.();
  const rssAfterMB = process.memoryUsage().rss / 2 ** 20;
  const fileMB = statSync(join(dir, 'model.safetensors')).size / 2 ** 20;
  await m.dispose();
  process.stdout.write(`${JSON.stringify({ ms, peakRssMB, rssAfterMB, fileMB })}\n`);
}

function softmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  const p = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += p[i] = Math.exp(row[i]! - max);
  for (let i = 0; i < row.length; i++) p[i]! /= sum;
  return p;
}

/** Agreement of `other` with `fp32` logits, both [clips, labels]. */
export function agreement(fp32: Float32Array, other: Float32Array, labels: number): Agreement {
  const clips = fp32.length / labels;
  let same = 0;
  let maxTop5ProbDiff = 0;
  let maxLogitDiff = 0;
  for (let c = 0; c < clips; c++) {
    const a = fp32.subarray(c * labels, (c + 1) * labels);
    const b = other.subarray(c * labels, (c + 1) * labels);
    const order = [...a.keys()].sort((i, j) => a[j]! - a[i]!);
    const bTop = [...b.keys()].reduce((best, i) => (b[i]! > b[best]! ? i : best), 0);
    if (bTop === order[0]) same++;
    const pa = softmax(a);
    const pb = softmax(b);
    for (const i of order.slice(0, 5)) maxTop5ProbDiff = Math.max(maxTop5ProbDiff, Math.abs(pa[i]! - pb[i]!));
    for (let i = 0; i < labels; i++) maxLogitDiff = Math.max(maxLogitDiff, Math.abs(a[i]! - b[i]!));
  }
  return { top1: same / clips, clips, maxTop5ProbDiff, maxLogitDiff };
}

/** The embedded model's logits on its example clips, per dtype (its pipeline, so features as users get them). */
async function embeddedLogits(dtypes: readonly ModelDtype[]): Promise<Map<ModelDtype, { logits: Float32Array; labels: number }>> {
  const dir = join(REPO, 'models/speech-commands');
  const files = readdirSync(join(dir, 'examples')).filter((f) => f.endsWith('.wav')).map((f) => join(dir, 'examples', f));
  const out = new Map<ModelDtype, { logits: Float32Array; labels: number }>();
  for (const dtype of dtypes) {
    const p = await pipeline('audio-classification', dir, { threads: 1, dtype });
    try {
      const labels = p.model.config.labels.length;
      const logits = new Float32Array(files.length * labels);
      for (let i = 0; i < files.length; i++) {
        const wave = await loadAudio(files[i]!, { samplingRate: p.featureExtractor.config.sampling_rate });
        const { inputValues } = p.featureExtractor.extract([wave], { samplingRate: p.featureExtractor.config.sampling_rate });
        logits.set((await p.model.forward({ inputValues })).logits.data, i * labels);
      }
      out.set(dtype, { logits, labels });
    } finally {
      await p.dispose();
    }
  }
  return out;
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
def fwd(x, model=None):
    model = model or m
    base = model.audio_spectrogram_transformer
    h = base.embeddings(x)
    for layer in base.encoder.layer:
        h, _ = layer(h)
    seq = base.layernorm(h)
    return model.classifier((seq[:, 0] + seq[:, 1]) / 2)
modes = sys.argv[7].split(',') if len(sys.argv) > 7 else ['fp32']
def autocast_fwd(x):
    with torch.autocast('cpu', dtype=torch.bfloat16):
        return fwd(x)
out = {}
rng = np.random.default_rng(0)
with torch.inference_mode():
    for mode in modes:
        f = autocast_fwd if mode == 'bf16_autocast' else fwd
        if mode == 'int8_dynamic':
            # PyTorch's own int8: every nn.Linear to qint8 (per-tensor weights, dynamic activations; engine as built)
            mq = torch.quantization.quantize_dynamic(oracle.load_model(sys.argv[2])[0].eval(), {torch.nn.Linear}, dtype=torch.qint8)
            f = lambda x: fwd(x, mq)
        out[mode] = {}
        for b in [int(v) for v in sys.argv[6].split(',')]:
            x = torch.from_numpy(rng.standard_normal((b, 1024, 128)).astype(np.float32) * 0.5)
            for _ in range(warm): f(x)
            ts = []
            for _ in range(runs):
                t0 = time.perf_counter(); f(x); ts.append(time.perf_counter() - t0)
            out[mode][b] = 1e3 * statistics.median(ts) / b
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
const dtype = process.argv[7] ?? 'fp32';
const model = await AutoModelForAudioClassification.from_pretrained('ast-base', { dtype, device: 'cpu' });
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

type TorchMode = 'fp32' | 'int8_dynamic' | 'bf16_autocast';

function torchPeer(
  ref: string,
  dir: string,
  threads: number,
  runs: number,
  warmup: number,
  batches: number[],
  modes: TorchMode[] = ['fp32'],
): Record<TorchMode, Record<number, { msPerClip: number }>> {
  const r = spawnSync(PY, ['-c', TORCH_SCRIPT, ref, dir, String(threads), String(runs), String(warmup), batches.join(','), modes.join(',')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`PyTorch peer failed: ${r.stderr.slice(-2000)}`);
  const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<TorchMode, Record<string, number>>;
  const perBatch = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([b, ms]) => [Number(b), { msPerClip: ms }]));
  return Object.fromEntries(Object.entries(o).map(([mode, m]) => [mode, perBatch(m)])) as Record<TorchMode, Record<number, { msPerClip: number }>>;
}

/** The QOperator model_quantized.onnx beside the export's model.onnx (what transformers.js loads for dtype 'q8'). */
function prepareTransformersJsQ8(modelsDir: string, model: ASTForAudioClassification): void {
  const path = join(modelsDir, 'ast-base/onnx/model_quantized.onnx');
  if (existsSync(path)) return;
  // plain attention: MatMul + Softmax + MatMul, as the torch.onnx export writes it
  const g = buildInferenceGraph(model.config, model.weights, { head: 'classification', attention: 'plain' });
  writeFileSync(`${path}.tmp`, encodeModel(quantizeDynamicQOperator(g.toModel())));
  renameSync(`${path}.tmp`, path);
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

function transformersJsPeer(work: string, runs: number, warmup: number, batches: number[], dtype: 'fp32' | 'q8' = 'fp32'): Record<number, { msPerClip: number }> {
  const modelsDir = join(work, 'tjs-models');
  const jsDir = join(work, 'js');
  const script = join(work, 'tjs-peer.mjs');
  writeFileSync(script, TJS_SCRIPT);
  const r = spawnSync(process.execPath, [script, jsDir, modelsDir, String(runs), String(warmup), batches.join(','), dtype], { encoding: 'utf8' });
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
  const dtypes: ModelDtype[] = ['fp32', ...(options.dtypes ?? MODEL_DTYPES).filter((d) => d !== 'fp32')];
  const log = options.log ?? ((s: string) => console.log(s));
  const work = options.workDir ?? join(REPO, '.bench/engine');
  const dir = makeBaseCheckpoint(join(work, 'ast-base'));
  log(`engine bench: AST-Base (12 layers, 768, 527 labels) random fp32 checkpoint in ${dir}; ${threads} threads, median of ${runs} runs; dtypes ${dtypes.join(', ')}`);

  log(`machine load average (1/5/15 min) at start: ${loadavg().map((v) => v.toFixed(1)).join(' / ')} on ${cpus().length} CPUs`);
  const loads: EngineBenchResult['loads'] = {};
  for (const dtype of dtypes) {
    const l = measureLoad(dir, threads, dtype);
    loads[dtype] = l;
    const vs = dtype === 'fp32' ? '' : `; vs fp32: load ${(l.ms / loads.fp32!.ms).toFixed(2)}x, peak RSS ${(l.peakRssMB / loads.fp32!.peakRssMB).toFixed(2)}x, RSS after load ${(l.rssAfterMB / loads.fp32!.rssAfterMB).toFixed(2)}x`;
    log(`load ${dtype} (fromPretrained -> ready session, fresh process): ${l.ms.toFixed(0)} ms, peak RSS ${l.peakRssMB.toFixed(0)} MB = ${(l.peakRssMB / l.fileMB).toFixed(2)}x the ${l.fileMB.toFixed(0)} MB file, RSS after load ${l.rssAfterMB.toFixed(0)} MB${vs}`);
  }
  const load = loads.fp32!;

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

  // The roofline, our forward per dtype and (when exported) the transformers.js ONNX graph on the same ORT are
  // timed interleaved, run by run, so that drift in the machine's load hits all of them alike.
  const roofline = await matmulRoofline(threads);
  const models = new Map<ModelDtype, ASTForAudioClassification>();
  for (const dtype of dtypes) models.set(dtype, await ASTForAudioClassification.fromPretrained(dir, { threads, dtype }));
  const model = models.get('fp32')!;
  if (tjsModels && dtypes.includes('q8')) prepareTransformersJsQ8(tjsModels, model);
  const exported = tjsModels ? await OrtSession.create(readFileSync(join(tjsModels, 'ast-base/onnx/model.onnx')), { threads }) : undefined;
  const exportMs: Record<number, number> = {};
  const rnd = lcg(3);
  const roofMs: number[] = [];
  const inputs = new Map<number, Float32Tensor>();
  const times = new Map<string, number[]>(); // `${dtype}:${batch}`
  const logits = new Map<ModelDtype, Float32Array[]>(dtypes.map((d) => [d, []]));
  for (const b of batches) {
    const x: Float32Tensor = { dtype: 'float32', dims: [b, 1024, 128], data: Float32Array.from({ length: b * 1024 * 128 }, () => rnd() - 0.5) };
    inputs.set(b, x);
    const other = exported ? () => exported.run({ input_values: x }, ['logits']) : undefined;
    for (let i = 0; i < warmup; i++) {
      await roofline.run();
      for (const [dtype, m] of models) logits.get(dtype)!.push((await m.forward({ inputValues: x })).logits.data);
      await other?.();
    }
    const es: number[] = [];
    for (let i = 0; i < runs; i++) {
      let t0 = performance.now();
      await roofline.run();
      roofMs.push(performance.now() - t0);
      for (const [dtype, m] of models) {
        t0 = performance.now();
        await m.forward({ inputValues: x });
        const key = `${dtype}:${b}`;
        times.set(key, [...(times.get(key) ?? []), performance.now() - t0]);
      }
      if (other) {
        t0 = performance.now();
        await other();
        es.push(performance.now() - t0);
      }
    }
    if (es.length) exportMs[b] = median(es) / b;
  }
  const roof = roofline.gflop / (median(roofMs) / 1e3);
  const roofBest = roofline.gflop / (Math.min(...roofMs) / 1e3);
  await roofline.release();
  await exported?.release();

  // transformers.js itself (its own onnxruntime-node, default session options) in a child process, fp32 and q8,
  // bracketed by a second window of our runs so that both see the same machine.
  let tjs: Record<number, { msPerClip: number }> | string = tjsSkip;
  let tjsQ8: Record<number, { msPerClip: number }> | string | undefined = dtypes.includes('q8') ? tjsSkip : undefined;
  if (!tjsSkip) {
    try {
      tjs = transformersJsPeer(work, runs, warmup, batches, 'fp32');
      if (tjsQ8 !== undefined) tjsQ8 = transformersJsPeer(work, runs, warmup, batches, 'q8');
      for (const b of batches) {
        for (let i = 0; i < runs; i++) {
          for (const [dtype, m] of models) {
            const t0 = performance.now();
            await m.forward({ inputValues: inputs.get(b)! });
            times.get(`${dtype}:${b}`)!.push(performance.now() - t0);
          }
        }
      }
    } catch (e) {
      if (typeof tjs === 'string' || !tjs) tjs = `skipped: ${(e as Error).message}`;
      else tjsQ8 = `skipped: ${(e as Error).message}`;
    }
  }
  for (const m of models.values()) await m.dispose();

  const byDtype: EngineBenchResult['byDtype'] = {};
  for (const dtype of dtypes) {
    byDtype[dtype] = {};
    for (const b of batches) {
      const ts = times.get(`${dtype}:${b}`)!;
      byDtype[dtype]![b] = { msPerClip: median(ts) / b, minMsPerClip: Math.min(...ts) / b };
    }
  }
  const ours: EngineBenchResult['ours'] = {};
  for (const b of batches) ours[b] = { ...byDtype.fp32![b]!, gflops: GFLOP_PER_CLIP / (byDtype.fp32![b]!.msPerClip / 1e3) };

  log(`ORT fp32 MatMul, MLP GEMMs 1214x768x3072 chained (roofline): ${roof.toFixed(1)} GFLOP/s (best run ${roofBest.toFixed(1)})`);
  for (const b of batches) {
    log(`ours fp32 batch ${b}: ${ours[b]!.msPerClip.toFixed(0)} ms/clip (min ${ours[b]!.minMsPerClip.toFixed(0)}), ${ours[b]!.gflops.toFixed(1)} GFLOP/s = ${((100 * ours[b]!.gflops) / roof).toFixed(0)} % of the MatMul roofline`);
    for (const dtype of dtypes.filter((d) => d !== 'fp32')) {
      const r = byDtype[dtype]![b]!;
      log(`ours ${dtype} batch ${b}: ${r.msPerClip.toFixed(0)} ms/clip (min ${r.minMsPerClip.toFixed(0)}); ${dtype}/fp32 = ${(r.msPerClip / ours[b]!.msPerClip).toFixed(2)}x`);
    }
  }
  for (const b of Object.keys(exportMs).map(Number)) {
    log(`transformers.js's ONNX graph (torch.onnx export) on our ORT session, interleaved, batch ${b}: ${exportMs[b]!.toFixed(0)} ms/clip; ours/it = ${(median(times.get(`fp32:${b}`)!.slice(0, runs)) / b / exportMs[b]!).toFixed(2)}x`);
  }

  // agreement with fp32: AST-Base on the timed clips (random weights, so a weak test), the embedded model on its examples
  const agreementOut: EngineBenchResult['agreement'] = {};
  if (dtypes.length > 1) {
    const embedded = await embeddedLogits(dtypes);
    const concat = (parts: Float32Array[]) => {
      const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) (out.set(p, o), (o += p.length));
      return out;
    };
    const baseFp32 = concat(logits.get('fp32')!.slice(0, batches.length));
    for (const dtype of dtypes.filter((d) => d !== 'fp32')) {
      const base = agreement(baseFp32, concat(logits.get(dtype)!.slice(0, batches.length)), 527);
      const e = embedded.get(dtype)!;
      const emb = agreement(embedded.get('fp32')!.logits, e.logits, e.labels);
      agreementOut[dtype] = { base, embedded: emb };
      const fmt = (a: Agreement) =>
        `top-1 agreement ${(100 * a.top1).toFixed(1)} % of ${a.clips} clips, max top-5 prob diff ${a.maxTop5ProbDiff.toFixed(4)}, max logit diff ${a.maxLogitDiff.toFixed(4)}`;
      log(`agreement ${dtype} vs fp32, AST-Base (random weights, bench clips): ${fmt(base)}`);
      log(`agreement ${dtype} vs fp32, embedded speech-commands model (its examples): ${fmt(emb)}`);
    }
  }

  const result: EngineBenchResult = {
    ours,
    byDtype,
    matmulGflops: roof,
    rooflineFraction: ours[batches[0]!]!.gflops / roof,
    load,
    loads,
    agreement: agreementOut,
    transformersJs: tjs,
    transformersJsQ8: tjsQ8,
  };
  if (typeof tjs === 'string') log(`transformers.js peer ${tjs}`);
  else {
    for (const b of batches) {
      const t = tjs[b]!.msPerClip;
      log(`transformers.js ${TJS_VERSION} fp32 (ONNX export) batch ${b}: ${t.toFixed(0)} ms/clip; ours fp32/transformers.js fp32 = ${(ours[b]!.msPerClip / t).toFixed(2)}x` +
        (byDtype.q8 ? `; ours q8/transformers.js fp32 = ${(byDtype.q8[b]!.msPerClip / t).toFixed(2)}x` : ''));
    }
  }
  if (typeof tjsQ8 === 'string') log(`transformers.js q8 peer ${tjsQ8}`);
  else if (tjsQ8) {
    for (const b of batches) {
      const t = tjsQ8[b]!.msPerClip;
      log(`transformers.js ${TJS_VERSION} q8 (QOperator model_quantized.onnx) batch ${b}: ${t.toFixed(0)} ms/clip; ours q8/transformers.js q8 = ${(byDtype.q8![b]!.msPerClip / t).toFixed(2)}x`);
    }
  }

  if (options.peers !== false) {
    if (!torchOk) {
      result.torch = `skipped: ${ref ? `${PY} has no torch` : 'oracle.py not found'}`;
      log(`PyTorch peer ${result.torch}`);
    } else {
      try {
        const modes: TorchMode[] = dtypes.includes('q8') ? ['fp32', 'int8_dynamic', 'bf16_autocast'] : ['fp32'];
        const t = torchPeer(ref!, dir, threads, runs, warmup, batches, modes);
        result.torch = t.fp32;
        result.torchInt8 = t.int8_dynamic;
        result.torchBf16 = t.bf16_autocast;
        const version = (spawnSync(PY, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout || '').trim();
        for (const b of batches) {
          const f = t.fp32[b]!.msPerClip;
          log(`PyTorch ${version} fp32 eager batch ${b}: ${f.toFixed(0)} ms/clip; ours/PyTorch = ${(ours[b]!.msPerClip / f).toFixed(2)}x`);
          for (const [mode, r] of [['int8_dynamic', t.int8_dynamic], ['bf16_autocast', t.bf16_autocast]] as const) {
            if (!r?.[b] || !byDtype.q8) continue;
            log(`PyTorch ${version} ${mode} batch ${b}: ${r[b]!.msPerClip.toFixed(0)} ms/clip; ours q8/PyTorch ${mode} = ${(byDtype.q8[b]!.msPerClip / r[b]!.msPerClip).toFixed(2)}x`);
          }
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
    const dt = args.indexOf('--dtype');
    await benchEngine({
      runs: num('--runs', 5),
      threads: num('--threads', 2),
      peers: !args.includes('--no-peers'),
      dtypes: dt >= 0 ? parseDtypeList(args[dt + 1] ?? '') : undefined,
      batches: args.includes('--batches') ? args[args.indexOf('--batches') + 1]!.split(',').map(Number) : undefined,
    });
  }
}
