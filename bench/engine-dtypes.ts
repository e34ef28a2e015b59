/**
 * The engine benchmark's low-precision part (`npm run bench -- --only engine`, `--dtype`, default fp32,q8,fp16):
 * the same random AST-Base checkpoint as bench/engine.ts, per 10 s clip, 2 threads, every session without
 * spinning (NO_SPINNING, as there):
 *   - our forward in each dtype, timed interleaved run by run with fp32, batch 1 and 4, medians;
 *   - load (fromPretrained -> ready session) time, peak RSS and RSS after load per dtype, each in a fresh process;
 *   - agreement with fp32 (top-1, largest top-5 probability and logit differences): AST-Base on the timed clips
 *     (random weights, a weak test) and the embedded speech-commands model on its example clips;
 *   - peers for q8: transformers.js `dtype: 'q8'` on a model_quantized.onnx in onnxruntime quantize_dynamic's
 *     QOperator form (bench/qoperator.ts) and transformers.js fp32 on the torch.onnx export, each in a child
 *     process (not interleaved); PyTorch 1.13 quantize_dynamic (int8 nn.Linear) and bf16 autocast.
 * Run alone: `node --import tsx bench/engine-dtypes.ts [--dtype fp32,q8,fp16] [--runs 5] [--batches 1,4] [--no-peers] [--no-torch]`;
 * loads only (time, CPU, peak RSS, RSS after load; fresh processes, alternating): `--dtype fp32,q8 --load-only [--load-runs 5]`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../src/node/index.js';
import { ASTForAudioClassification, buildInferenceGraph } from '../src/model/ast.js';
import { encodeModel } from '../src/graph/onnx.js';
import { MODEL_DTYPES, type ModelDtype } from '../src/runtime/dtype.js';
import { parseDtypeList } from '../src/model/export.js';
import { pipeline } from '../src/pipeline/audio-classification.js';
import { loadAudio } from '../src/node/audio.js';
import type { Float32Tensor } from '../src/tensor.js';
import { findReferenceDir } from './python-peer.js';
import { quantizeDynamicQOperator } from './qoperator.js';
import { NO_SPINNING, PY, TJS_VERSION, cpuModel, hasTorch, lcg, makeBaseCheckpoint, measureLoad, prepareTransformersJs, type LoadFigures } from './engine.js';

export type { LoadFigures } from './engine.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');

export interface LowPrecisionBenchOptions {
  runs?: number;
  warmup?: number;
  threads?: number;
  batches?: number[];
  /** Default fp32, q8, fp16; fp32 is always included (the others are compared with it). */
  dtypes?: ModelDtype[];
  peers?: boolean;
  torch?: boolean;
  workDir?: string;
  log?: (line: string) => void;
  /** Only the fresh-process loads (time, CPU, RSS), for a quick A/B of load changes: `--load-only`. */
  loadOnly?: boolean;
  /** Fresh-process loads per dtype, alternating (default 3): `--load-runs N`. */
  loadRuns?: number;
}

export interface Agreement {
  /** Fraction of clips whose top-1 class equals fp32's. */
  top1: number;
  clips: number;
  /** Largest |p - p_fp32| over each clip's fp32 top-5 classes (softmax probabilities). */
  maxTop5ProbDiff: number;
  maxLogitDiff: number;
}


type PerBatch = Record<number, { msPerClip: number; minMsPerClip?: number }>;

export interface LowPrecisionBenchResult {
  byDtype: Partial<Record<ModelDtype, PerBatch>>;
  loads: Partial<Record<ModelDtype, LoadFigures>>;
  agreement: Partial<Record<ModelDtype, { base: Agreement; embedded: Agreement }>>;
  transformersJs?: PerBatch | string;
  transformersJsQ8?: PerBatch | string;
  torchInt8?: PerBatch | string;
  torchBf16?: PerBatch | string;
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};


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

const TJS_SCRIPT = `
import fs from 'node:fs'; import path from 'node:path'; import { pathToFileURL } from 'node:url';
const [jsDir, modelsDir, runs, warm, batches] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(path.join(jsDir, 'node_modules/@huggingface/transformers/package.json')));
const { env, AutoModelForAudioClassification, Tensor } = await import(pathToFileURL(path.join(jsDir, 'node_modules/@huggingface/transformers', pkg.exports.node.import.default)).href);
env.allowRemoteModels = false; env.allowLocalModels = true; env.localModelPath = modelsDir + '/';
const dtype = process.argv[7] ?? 'fp32';
const session_options = { intraOpNumThreads: Number(process.argv[8]), interOpNumThreads: 1, extra: JSON.parse(process.argv[9]) };
const model = await AutoModelForAudioClassification.from_pretrained('ast-base', { dtype, device: 'cpu', session_options });
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
export function prepareTransformersJsQ8(modelsDir: string, model: ASTForAudioClassification): void {
  const path = join(modelsDir, 'ast-base/onnx/model_quantized.onnx');
  if (existsSync(path)) return;
  // plain attention: MatMul + Softmax + MatMul, as the torch.onnx export writes it
  const g = buildInferenceGraph(model.config, model.weights, { head: 'classification', attention: 'plain' });
  writeFileSync(`${path}.tmp`, encodeModel(quantizeDynamicQOperator(g.toModel())));
  renameSync(`${path}.tmp`, path);
}

function transformersJsPeer(work: string, runs: number, warmup: number, batches: number[], dtype: 'fp32' | 'q8', threads: number): Record<number, { msPerClip: number }> {
  const modelsDir = join(work, 'tjs-models');
  const jsDir = join(work, 'js');
  const script = join(work, 'tjs-dtype-peer.mjs');
  writeFileSync(script, TJS_SCRIPT);
  const r = spawnSync(process.execPath, [script, jsDir, modelsDir, String(runs), String(warmup), batches.join(','), dtype, String(threads), JSON.stringify(NO_SPINNING)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`transformers.js peer failed: ${r.stderr.slice(-2000)}`);
  const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number | string>;
  return Object.fromEntries(
    Object.entries(o)
      .filter(([k]) => k !== 'version')
      .map(([b, ms]) => [Number(b), { msPerClip: ms as number }]),
  );
}


export async function benchLowPrecision(options: LowPrecisionBenchOptions = {}): Promise<LowPrecisionBenchResult> {
  const runs = options.runs ?? 5;
  const warmup = options.warmup ?? 1;
  const threads = options.threads ?? 2;
  const batches = options.batches ?? [1, 4];
  const dtypes: ModelDtype[] = ['fp32', ...(options.dtypes ?? MODEL_DTYPES).filter((d) => d !== 'fp32')];
  const log = options.log ?? ((line: string) => console.log(line));
  const work = options.workDir ?? join(REPO, '.bench/engine');
  const dir = makeBaseCheckpoint(join(work, 'ast-base'));
  log(`low precision: AST-Base random fp32 checkpoint in ${dir}; dtypes ${dtypes.join(', ')}; ${threads} threads, no spinning, median of ${runs} runs; ${cpuModel()}`);
  log(`machine load average (1/5/15 min) at start: ${loadavg().map((v) => v.toFixed(1)).join(' / ')}`);

  // three fresh-process loads per dtype, alternating (a neighbour's burst then hits every dtype), medians
  const loads: LowPrecisionBenchResult['loads'] = {};
  const loadRuns = new Map<ModelDtype, LoadFigures[]>(dtypes.map((d) => [d, []]));
  const nLoads = options.loadRuns ?? 3;
  for (let r = 0; r < nLoads; r++) for (const dtype of dtypes) loadRuns.get(dtype)!.push(measureLoad(dir, threads, dtype));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  for (const dtype of dtypes) {
    const ls = loadRuns.get(dtype)!;
    const l: LoadFigures = {
      ms: median(ls.map((x) => x.ms)),
      peakRssMB: median(ls.map((x) => x.peakRssMB)),
      rssAfterMB: median(ls.map((x) => x.rssAfterMB)),
      fileMB: ls[0]!.fileMB,
      cpuMs: median(ls.map((x) => x.cpuMs ?? NaN)),
    };
    loads[dtype] = l;
    const f = loads.fp32;
    const vs = dtype === 'fp32' || !f ? '' : `; vs fp32: load ${(l.ms / f.ms).toFixed(2)}x (CPU ${(l.cpuMs! / f.cpuMs!).toFixed(2)}x), RSS after load ${(l.rssAfterMB / f.rssAfterMB).toFixed(2)}x, peak RSS ${(l.peakRssMB / f.peakRssMB).toFixed(2)}x`;
    log(`load ${dtype} (fresh process, median of ${nLoads}): ${l.ms.toFixed(0)} ms (CPU ${l.cpuMs!.toFixed(0)} ms), peak RSS ${l.peakRssMB.toFixed(0)} MB, RSS after load ${l.rssAfterMB.toFixed(0)} MB (file ${l.fileMB.toFixed(0)} MB)${vs}`);
  }

  if (options.loadOnly) {
    log(`machine load average at the end: ${loadavg().map((v) => v.toFixed(1)).join(' / ')}`);
    return { byDtype: {}, loads, agreement: {} };
  }

  // ours, every dtype, interleaved run by run
  const models = new Map<ModelDtype, ASTForAudioClassification>();
  for (const dtype of dtypes) models.set(dtype, await ASTForAudioClassification.fromPretrained(dir, { threads, dtype, sessionConfig: NO_SPINNING }));
  const rnd = lcg(3);
  const times = new Map<string, number[]>();
  const logits = new Map<ModelDtype, Float32Array[]>(dtypes.map((d) => [d, []]));
  for (const b of batches) {
    const x: Float32Tensor = { dtype: 'float32', dims: [b, 1024, 128], data: Float32Array.from({ length: b * 1024 * 128 }, () => rnd() - 0.5) };
    for (let i = 0; i < warmup; i++) for (const [dtype, m] of models) logits.get(dtype)!.push((await m.forward({ inputValues: x })).logits.data);
    for (let i = 0; i < runs; i++) {
      for (const [dtype, m] of models) {
        const t0 = performance.now();
        await m.forward({ inputValues: x });
        const key = `${dtype}:${b}`;
        times.set(key, [...(times.get(key) ?? []), performance.now() - t0]);
      }
    }
  }
  const byDtype: LowPrecisionBenchResult['byDtype'] = {};
  for (const dtype of dtypes) {
    byDtype[dtype] = {};
    for (const b of batches) {
      const ts = times.get(`${dtype}:${b}`)!;
      byDtype[dtype]![b] = { msPerClip: median(ts) / b, minMsPerClip: Math.min(...ts) / b };
    }
  }
  for (const b of batches) {
    const f = byDtype.fp32![b]!.msPerClip;
    for (const dtype of dtypes) {
      const r = byDtype[dtype]![b]!;
      log(`ours ${dtype} batch ${b}: ${r.msPerClip.toFixed(0)} ms/clip (min ${r.minMsPerClip!.toFixed(0)})${dtype === 'fp32' ? '' : `; ${dtype}/fp32 = ${(r.msPerClip / f).toFixed(2)}x`}`);
    }
  }

  // agreement with fp32
  const agreementOut: LowPrecisionBenchResult['agreement'] = {};
  const embedded = await embeddedLogits(dtypes);
  const concat = (parts: Float32Array[]) => {
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  const baseFp32 = concat(logits.get('fp32')!.slice(0, batches.length));
  const fmt = (a: Agreement) =>
    `top-1 agreement ${(100 * a.top1).toFixed(1)} % of ${a.clips} clips, max top-5 prob diff ${a.maxTop5ProbDiff.toFixed(4)}, max logit diff ${a.maxLogitDiff.toFixed(4)}`;
  for (const dtype of dtypes.filter((d) => d !== 'fp32')) {
    const base = agreement(baseFp32, concat(logits.get(dtype)!.slice(0, batches.length)), 527);
    const e = embedded.get(dtype)!;
    const emb = agreement(embedded.get('fp32')!.logits, e.logits, e.labels);
    agreementOut[dtype] = { base, embedded: emb };
    log(`agreement ${dtype} vs fp32, AST-Base (random weights, bench clips): ${fmt(base)}`);
    log(`agreement ${dtype} vs fp32, embedded speech-commands model (its examples): ${fmt(emb)}`);
  }

  const result: LowPrecisionBenchResult = { byDtype, loads, agreement: agreementOut };
  const q8 = byDtype.q8;
  if (options.peers !== false && q8) {
    const ref = findReferenceDir();
    if (!ref || !hasTorch()) {
      result.transformersJsQ8 = result.torchInt8 = `skipped: ${!ref ? 'oracle.py not found' : `${PY} has no torch`}`;
      log(`q8 peers ${result.torchInt8}`);
    } else {
      try {
        const modelsDir = prepareTransformersJs(ref, dir, work, log);
        prepareTransformersJsQ8(modelsDir, models.get('fp32')!);
        result.transformersJs = transformersJsPeer(work, runs, warmup, batches, 'fp32', threads);
        result.transformersJsQ8 = transformersJsPeer(work, runs, warmup, batches, 'q8', threads);
        for (const b of batches) {
          const t = result.transformersJsQ8[b]!.msPerClip;
          const t32 = result.transformersJs[b]!.msPerClip;
          log(`transformers.js ${TJS_VERSION} q8 (QOperator model_quantized.onnx) batch ${b}: ${t.toFixed(0)} ms/clip, fp32 ${t32.toFixed(0)}; ours q8/transformers.js q8 = ${(q8[b]!.msPerClip / t).toFixed(2)}x, ours q8/transformers.js fp32 = ${(q8[b]!.msPerClip / t32).toFixed(2)}x`);
        }
      } catch (e) {
        result.transformersJsQ8 = `failed: ${(e as Error).message}`;
        log(`transformers.js q8 peer ${result.transformersJsQ8}`);
      }
      if (options.torch !== false) {
        try {
          const t = torchPeer(ref, dir, threads, runs, warmup, batches, ['int8_dynamic', 'bf16_autocast']);
          result.torchInt8 = t.int8_dynamic;
          result.torchBf16 = t.bf16_autocast;
          for (const b of batches) {
            log(`PyTorch int8_dynamic batch ${b}: ${t.int8_dynamic[b]!.msPerClip.toFixed(0)} ms/clip; ours q8/it = ${(q8[b]!.msPerClip / t.int8_dynamic[b]!.msPerClip).toFixed(2)}x`);
            log(`PyTorch bf16_autocast batch ${b}: ${t.bf16_autocast[b]!.msPerClip.toFixed(0)} ms/clip; ours q8/it = ${(q8[b]!.msPerClip / t.bf16_autocast[b]!.msPerClip).toFixed(2)}x`);
          }
        } catch (e) {
          result.torchInt8 = `failed: ${(e as Error).message}`;
          log(`PyTorch q8 peers ${result.torchInt8}`);
        }
      }
    }
  }
  for (const m of models.values()) await m.dispose();
  log(`machine load average at the end: ${loadavg().map((v) => v.toFixed(1)).join(' / ')}`);
  return result;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  const at = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  await benchLowPrecision({
    runs: at('--runs') ? Number(at('--runs')) : undefined,
    threads: at('--threads') ? Number(at('--threads')) : undefined,
    batches: at('--batches')?.split(',').map(Number),
    dtypes: at('--dtype') ? parseDtypeList(at('--dtype')!) : undefined,
    peers: !args.includes('--no-peers'),
    torch: !args.includes('--no-torch'),
    loadOnly: args.includes('--load-only'),
    loadRuns: at('--load-runs') ? Number(at('--load-runs')) : undefined,
  });
}
