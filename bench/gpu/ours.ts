/**
 * Our side of the GPU benchmark (bench/gpu/README.md). Runs here under tsx and, compiled by
 * bench/gpu/build-carry.sh, on the device machine under the carried Node binary. Subcommands:
 *
 *   checkpoint --out DIR [--seed 0] [--size base|small]
 *       an AST checkpoint with seeded random weights (HF layout: config.json + model.safetensors), plus
 *       input_values.npy [8, max_length, mel] from the same seed: both sides load these very files, so
 *       transformers and we run the same weights on the same inputs. 'base' is AST-Base (the seed's
 *       MIT/ast-finetuned-audioset-10-10-0.4593 shape, 527 labels); 'small' is a 2-layer stand-in for dry runs.
 *   reference --model DIR [--threads N]
 *       CPU fp32 logits of all 8 rows, written to DIR/ref_logits_cpu_fp32.npy (what every GPU row is compared with).
 *   bench --model DIR --json FILE [--ep webgpu] [--dtypes fp32,fp16] [--attention plain,fused]
 *         [--batches 1,2,4,8] [--iters 20] [--warmup 3] [--fetch all,logits]
 *       median wall time of ASTForAudioClassification.forward per batch, after warm-up, and the max |logits
 *       difference| against the CPU fp32 reference; one row per ep x dtype x attention x fetch x batch. A row
 *       that fails (e.g. a dtype this build lacks) records its error and the run goes on. fetch 'all' is
 *       forward() as users call it (it copies logits, pooler output and the [B, T, H] last hidden state back from
 *       the device at every run); 'logits' (fp32 only) runs the same graph in a session of our own and copies
 *       only the logits back, as transformers' timing does, to show what that readback costs.
 *   placements --model DIR [--ep webgpu] [--dtype fp32] [--attention plain]
 *       builds one session with ORT's verbose log on (stderr): its "Node placements" section lists the nodes
 *       that fell back to the CPU EP. Run it in its own process (ORT reads the log level once per process).
 *   table --ours FILE --hf FILE [--placements FILE] [--env FILE]
 *       a markdown table of both JSON files beside the seed's A100 figures, on stdout.
 */
import * as ort from 'onnxruntime-node';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { registerRuntime } from '../../src/runtime/backend.js';
import { ASTConfig, AST_DEFAULTS, AST_MODEL_TYPE } from '../../src/model/config.js';
import { ASTForAudioClassification, buildInferenceGraph, type LoadOptions, type AttentionImpl } from '../../src/model/ast.js';
import { OrtSession } from '../../src/runtime/session.js';
import { astParameterSpecs, loadWeights } from '../../src/model/weights.js';
import { readCheckpointTensors } from '../../src/io/checkpoint.js';
import { formatSafetensors } from '../../src/io/safetensors.js';
import { formatNpy, parseNpy } from '../../src/io/npy.js';
import { dirSource } from '../../src/node/files.js';
import { Rng } from '../../src/rng.js';
import type { Float32Tensor } from '../../src/tensor.js';

registerRuntime({ name: 'node', ort, defaultExecutionProviders: ['cpu'] });

/** Rows in input_values.npy: the largest batch the benchmark runs; batch b uses the first b rows. */
const MAX_BATCH = 8;
const INPUT_FILE = 'input_values.npy';
const REF_FILE = 'ref_logits_cpu_fp32.npy';

const SIZES = {
  base: { ...AST_DEFAULTS, num_labels: 527 },
  // a 2-layer model of AST-Base's width on 256 frames: every op of Base, seconds on a CPU
  small: { ...AST_DEFAULTS, num_hidden_layers: 2, max_length: 256, num_labels: 527 },
} as const;
type Size = keyof typeof SIZES;

const log = (s: string): void => void process.stderr.write(`[ours] ${s}\n`);
const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
const ints = (s: string): number[] => list(s).map((x) => {
  const n = Number(x);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected positive integers, got "${x}"`);
  return n;
});

// ------------------------------------------------------------------ checkpoint

/**
 * Seeded weights spread like a trained model's rather than HF's init (which zeroes biases, the position
 * embeddings and the LayerNorm shifts): weights ~ N(0, 1/fan_in), biases and LayerNorm shifts ~ N(0, 0.02^2),
 * LayerNorm scales ~ 1 + N(0, 0.1^2), [CLS]/distillation/position ~ N(0, 0.2^2) — the oracle's randomize(),
 * so that fp16 errors show as they would on real weights.
 */
function randomWeights(config: ASTConfig, seed: number): Map<string, Float32Tensor> {
  const rng = new Rng(seed);
  const out = new Map<string, Float32Tensor>();
  for (const spec of astParameterSpecs(config, 'classification')) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const name = spec.name;
    const fanIn = n / spec.shape[0]!;
    const fill = (f: () => number) => { for (let i = 0; i < n; i++) data[i] = f(); };
    if (/layernorm/.test(name) && name.endsWith('.weight')) fill(() => 1 + 0.1 * rng.normal());
    else if (name.endsWith('.bias') || /layernorm/.test(name)) fill(() => 0.02 * rng.normal());
    else if (/token|position/.test(name)) fill(() => 0.2 * rng.normal());
    else fill(() => rng.normal() / Math.sqrt(fanIn));
    out.set(name, { dtype: 'float32', dims: spec.shape, data });
  }
  return out;
}

function cmdCheckpoint(out: string, seed: number, size: Size): void {
  const spec = SIZES[size];
  const labels = Array.from({ length: spec.num_labels }, (_, i) => `LABEL_${i}`);
  const json = {
    ...spec,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    model_type: AST_MODEL_TYPE,
    architectures: ['ASTForAudioClassification'],
    torch_dtype: 'float32',
  };
  const config = ASTConfig.fromJSON(json, `${size} config`);
  const t0 = performance.now();
  const weights = randomWeights(config, seed);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'config.json'), JSON.stringify(json, null, 2) + '\n');
  writeFileSync(join(out, 'model.safetensors'), formatSafetensors(weights, { format: 'pt' }));
  // features as ASTFeatureExtractor leaves them: about zero mean, half unit spread
  const rng = new Rng(seed + 1);
  const x = new Float32Array(MAX_BATCH * config.max_length * config.num_mel_bins);
  for (let i = 0; i < x.length; i++) x[i] = 0.5 * rng.normal();
  writeFileSync(join(out, INPUT_FILE), formatNpy([MAX_BATCH, config.max_length, config.num_mel_bins], x));
  let params = 0;
  for (const w of weights.values()) params += w.data.length;
  log(`checkpoint ${size} seed ${seed}: ${(params / 1e6).toFixed(1)} M parameters, ${config.sequenceLength} tokens, in ${out} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}

// ------------------------------------------------------------------ loading and running

interface Loaded {
  config: ASTConfig;
  weights: Map<string, Float32Tensor>;
  input: Float32Tensor; // [MAX_BATCH, T, M]
}

async function loadCheckpoint(dir: string): Promise<Loaded> {
  const files = dirSource(dir);
  const config = await ASTConfig.fromPretrained(files);
  const { weights } = loadWeights(config, await readCheckpointTensors(files), 'classification', dir);
  // any checkpoint folder will do for placements (e.g. models/speech-commands): without the inputs file, zeros
  if (!existsSync(join(dir, INPUT_FILE))) {
    const dims = [MAX_BATCH, config.max_length, config.num_mel_bins];
    return { config, weights, input: { dtype: 'float32', dims, data: new Float32Array(dims[0]! * dims[1]! * dims[2]!) } };
  }
  const x = parseNpy(readFileSync(join(dir, INPUT_FILE)), join(dir, INPUT_FILE));
  return { config, weights, input: { dtype: 'float32', dims: x.shape, data: x.data as Float32Array } };
}

function rows(x: Float32Tensor, b: number): Float32Tensor {
  const per = x.data.length / x.dims[0]!;
  return { dtype: 'float32', dims: [b, ...x.dims.slice(1)], data: x.data.subarray(0, b * per) };
}

/**
 * Load options for one benchmark row. WebGPU gets the weights as initializers (uploaded to the GPU once);
 * as inputs (onnxruntime-node's default here) they would cross to the GPU at every run. The dtype is only
 * passed when not fp32, so a build without the dtype option (before the fp16 graph lands) still runs fp32.
 */
function loadOptions(ep: string, dtype: string, attention: AttentionImpl, threads?: number): LoadOptions {
  const o: LoadOptions = { executionProviders: [ep], attention, weights: ep === 'cpu' ? 'inputs' : 'initializers' };
  if (threads !== undefined) o.threads = threads;
  if (dtype !== 'fp32') (o as { dtype?: string }).dtype = dtype;
  return o;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`logits length ${a.length} vs reference ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};

async function cmdReference(dir: string, threads?: number): Promise<void> {
  const m = await loadCheckpoint(dir);
  const t0 = performance.now();
  const model = await ASTForAudioClassification.fromWeights(m.config, m.weights, loadOptions('cpu', 'fp32', 'plain', threads));
  try {
    const { logits } = await model.forward({ inputValues: m.input });
    writeFileSync(join(dir, REF_FILE), formatNpy(logits.dims, logits.data));
    log(`reference: CPU fp32 logits [${logits.dims.join(', ')}] in ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${join(dir, REF_FILE)}`);
  } finally {
    await model.dispose();
  }
}

interface BenchRow {
  impl: 'ours';
  ep: string;
  dtype: string;
  attention: string;
  fetch: string;
  batch: number;
  medianMs?: number;
  minMs?: number;
  maxMs?: number;
  firstRunMs?: number;
  loadMs?: number;
  iters?: number;
  maxAbsDiff?: number;
  relDiff?: number;
  error?: string;
}

/** One way of running the model: logits for an input, then release. */
interface Runner {
  logits(x: Float32Tensor): Promise<Float32Array>;
  dispose(): Promise<void>;
}

async function makeRunner(m: Loaded, ep: string, dtype: string, attention: AttentionImpl, fetch: string): Promise<Runner> {
  if (fetch === 'all') {
    const model = await ASTForAudioClassification.fromWeights(m.config, m.weights, loadOptions(ep, dtype, attention));
    return { logits: async (x) => (await model.forward({ inputValues: x })).logits.data, dispose: () => model.dispose() };
  }
  if (fetch !== 'logits') throw new Error(`--fetch: all or logits, got "${fetch}"`);
  if (dtype !== 'fp32') throw new Error('fetch logits: fp32 only (the fp16 graph is built inside the model class)');
  // the graph forward() runs (weights as initializers, as on the GPU), in a session whose run fetches logits alone
  const graph = buildInferenceGraph(m.config, m.weights, { head: 'classification', attention });
  const { model, externalData } = graph.encodeWithExternalData();
  const session = await OrtSession.create(model, { executionProviders: [ep], externalData });
  return {
    logits: async (x) => ((await session.run({ input_values: x }, ['logits'])).logits as Float32Tensor).data,
    dispose: () => session.release(),
  };
}

async function cmdBench(a: {
  model: string; json: string; ep: string; dtypes: string[]; attention: AttentionImpl[]; fetch: string[]; batches: number[]; iters: number; warmup: number;
}): Promise<void> {
  const m = await loadCheckpoint(a.model);
  const refPath = join(a.model, REF_FILE);
  if (!existsSync(refPath)) throw new Error(`${refPath} missing: run "ours reference --model ${a.model}" first`);
  const ref = parseNpy(readFileSync(refPath), refPath).data as Float32Array;
  const perRow = ref.length / MAX_BATCH;
  const results: BenchRow[] = [];
  const save = () => writeFileSync(a.json, JSON.stringify({ node: process.version, ort: ort.env.versions, tokens: m.config.sequenceLength, rows: results }, null, 2) + '\n');
  for (const [dtype, attention, fetch] of a.dtypes.flatMap((d) => a.attention.flatMap((at) => a.fetch.map((f) => [d, at, f] as const)))) {
    if (fetch === 'logits' && dtype !== 'fp32') continue; // see makeRunner
    const base = { impl: 'ours' as const, ep: a.ep, dtype, attention, fetch };
    const tag = `${a.ep} ${dtype} ${attention} fetch ${fetch}`;
    let model: Runner;
    const t0 = performance.now();
    try {
      model = await makeRunner(m, a.ep, dtype, attention, fetch);
    } catch (e) {
      const error = (e as Error).message.split('\n')[0]!.slice(0, 400);
      log(`${tag}: load failed: ${error}`);
      for (const batch of a.batches) results.push({ ...base, batch, error });
      save();
      continue;
    }
    const loadMs = performance.now() - t0;
    try {
      for (const batch of a.batches) {
        const x = rows(m.input, batch);
        try {
          const t1 = performance.now();
          let out = await model.logits(x);
          const firstRunMs = performance.now() - t1;
          for (let i = 1; i < a.warmup; i++) out = await model.logits(x);
          const times: number[] = [];
          for (let i = 0; i < a.iters; i++) {
            const t = performance.now();
            out = await model.logits(x);
            times.push(performance.now() - t);
          }
          const r = ref.subarray(0, batch * perRow);
          const d = maxAbsDiff(out, r);
          const row: BenchRow = {
            ...base, batch, medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times),
            firstRunMs, loadMs, iters: a.iters, maxAbsDiff: d, relDiff: d / maxAbs(r),
          };
          results.push(row);
          log(`${tag} b${batch}: median ${row.medianMs!.toFixed(2)} ms (first ${firstRunMs.toFixed(0)} ms), max|dlogits| ${d.toExponential(2)}`);
        } catch (e) {
          const error = (e as Error).message.split('\n')[0]!.slice(0, 400);
          log(`${tag} b${batch}: ${error}`);
          results.push({ ...base, batch, error });
        }
        save();
      }
    } finally {
      await model.dispose();
    }
  }
  save();
}

async function cmdPlacements(dir: string, ep: string, dtype: string, attention: AttentionImpl): Promise<void> {
  // before the first session: ORT creates its logging environment once per process, at that point
  ort.env.logLevel = 'verbose';
  const m = await loadCheckpoint(dir);
  const model = await ASTForAudioClassification.fromWeights(m.config, m.weights, loadOptions(ep, dtype, attention));
  try {
    await model.forward({ inputValues: rows(m.input, 1) });
  } finally {
    await model.dispose();
  }
}

// ------------------------------------------------------------------ table

interface HfRow { impl: 'transformers'; attn: string; dtype: string; batch: number; medianMs?: number; iters?: number; maxAbsDiff?: number; relDiff?: number; error?: string }

/** The seed's table (HF docs, A100, PyTorch 2.3, MIT/ast-finetuned-audioset-10-10-0.4593, fp32), ms per batch. */
const A100: Record<number, { eager: number; sdpa: number }> = { 1: { eager: 27, sdpa: 6 }, 2: { eager: 12, sdpa: 6 }, 4: { eager: 21, sdpa: 8 }, 8: { eager: 40, sdpa: 14 } };

/** "Node(s) placed on [CPUExecutionProvider]" sections of ORT's verbose log, summarised as op type counts. */
function cpuFallbacks(logText: string): { ep: string; count: number; ops: Record<string, number> }[] {
  const out: { ep: string; count: number; ops: Record<string, number> }[] = [];
  const lines = logText.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const h = /Node\(s\) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(lines[i]!) ?? /All nodes placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(lines[i]!);
    if (!h) continue;
    const ops: Record<string, number> = {};
    // the listed nodes follow as "  OpType (node_name)" lines (with or without the log line's prefix)
    for (let j = i + 1; j < lines.length; j++) {
      const n = /(?:\]|^)\s+(\w+) \([^)]*\)\s*$/.exec(lines[j]!);
      if (!n) break;
      ops[n[1]!] = (ops[n[1]!] ?? 0) + 1;
    }
    out.push({ ep: h[1]!, count: Number(h[2]), ops });
  }
  return out;
}

function cmdTable(oursPath: string, hfPath: string, placementsPath?: string, envPath?: string): void {
  const readRows = <T>(p: string): T[] => (existsSync(p) ? ((JSON.parse(readFileSync(p, 'utf8')) as { rows?: T[] }).rows ?? []) : []);
  const ours = readRows<BenchRow>(oursPath);
  const hf = readRows<HfRow>(hfPath);
  const batches = [...new Set([...ours.map((r) => r.batch), ...hf.map((r) => r.batch)])].sort((x, y) => x - y);
  const cols: { name: string; get: (b: number) => BenchRow | HfRow | undefined }[] = [];
  const key = (r: BenchRow): string => `${r.ep} ${r.dtype} ${r.attention}${r.fetch === 'logits' ? ' (logits only)' : ''}`;
  for (const k of [...new Set(ours.map(key))]) {
    cols.push({ name: `ours ${k}`, get: (b) => ours.find((r) => key(r) === k && r.batch === b) });
  }
  for (const k of [...new Set(hf.map((r) => `${r.attn} ${r.dtype}`))]) {
    cols.push({ name: `transformers ${k}`, get: (b) => hf.find((r) => `${r.attn} ${r.dtype}` === k && r.batch === b) });
  }
  const cell = (r: BenchRow | HfRow | undefined): string =>
    !r ? '' : r.error ? `error: ${r.error.slice(0, 48)}…` : `${r.medianMs!.toFixed(1)} (Δ ${r.maxAbsDiff!.toExponential(1)})`;
  const out: string[] = [];
  if (envPath && existsSync(envPath)) out.push(readFileSync(envPath, 'utf8').trim(), '');
  const iters = [...new Set([...ours, ...hf].map((r) => r.iters).filter((n) => n !== undefined))].join('/');
  out.push(`Median ms per batch (${iters || '?'} timed runs after warm-up); Δ = max |logits − our CPU fp32 logits| on the same weights and inputs.`, '');
  out.push(`| batch | ${cols.map((c) => c.name).join(' | ')} | A100 eager (seed) | A100 sdpa (seed) |`);
  out.push(`|${' --- |'.repeat(cols.length + 3)}`);
  for (const b of batches) out.push(`| ${b} | ${cols.map((c) => cell(c.get(b))).join(' | ')} | ${A100[b]?.eager ?? ''} | ${A100[b]?.sdpa ?? ''} |`);
  const oursFp16 = ours.find((r) => r.dtype === 'fp16' && r.batch === 8 && r.medianMs !== undefined && r.attention === 'plain' && r.fetch === 'all');
  const sdpa16 = (b: number) => hf.find((r) => r.attn === 'sdpa' && r.dtype === 'fp16' && r.batch === b && r.medianMs !== undefined);
  if (oursFp16 && sdpa16(8)) out.push('', `Goal, batch 8: ours fp16 / transformers sdpa fp16 = ${(oursFp16.medianMs! / sdpa16(8)!.medianMs!).toFixed(2)}x (goal <= 1.0x)`);
  const ours1 = ours.find((r) => r.dtype === 'fp16' && r.batch === 1 && r.medianMs !== undefined && r.attention === 'plain' && r.fetch === 'all');
  if (ours1 && sdpa16(1)) out.push(`Goal, batch 1: ours fp16 / transformers sdpa fp16 = ${(ours1.medianMs! / sdpa16(1)!.medianMs!).toFixed(2)}x (goal <= 2x)`);
  if (placementsPath && existsSync(placementsPath)) {
    out.push('', 'Node placements (ORT verbose log of one session):');
    for (const p of cpuFallbacks(readFileSync(placementsPath, 'utf8'))) {
      const ops = Object.entries(p.ops).map(([k, v]) => `${k} x${v}`).join(', ');
      out.push(`- ${p.ep}: ${p.count} nodes${ops ? ` (${ops})` : ''}`);
    }
  }
  process.stdout.write(out.join('\n') + '\n');
}

// ------------------------------------------------------------------ main

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const { values: v } = parseArgs({
    args: rest,
    options: {
      out: { type: 'string' }, seed: { type: 'string', default: '0' }, size: { type: 'string', default: 'base' },
      model: { type: 'string' }, json: { type: 'string' }, ep: { type: 'string', default: 'webgpu' },
      dtypes: { type: 'string', default: 'fp32' }, dtype: { type: 'string', default: 'fp32' },
      attention: { type: 'string', default: 'plain' }, fetch: { type: 'string', default: 'all' }, batches: { type: 'string', default: '1,2,4,8' },
      iters: { type: 'string', default: '20' }, warmup: { type: 'string', default: '3' }, threads: { type: 'string' },
      ours: { type: 'string' }, hf: { type: 'string' }, placements: { type: 'string' }, env: { type: 'string' },
    },
  });
  const need = (k: keyof typeof v): string => {
    const x = v[k];
    if (typeof x !== 'string') throw new Error(`${cmd}: --${k} is required`);
    return x;
  };
  const attention = (s: string): AttentionImpl[] => list(s).map((x) => {
    if (x !== 'plain' && x !== 'fused') throw new Error(`--attention: plain or fused, got "${x}"`);
    return x;
  });
  switch (cmd) {
    case 'checkpoint': {
      const size = need('size');
      if (size !== 'base' && size !== 'small') throw new Error(`--size: base or small, got "${size}"`);
      return cmdCheckpoint(need('out'), Number(need('seed')), size);
    }
    case 'reference':
      return cmdReference(need('model'), v.threads !== undefined ? Number(v.threads) : undefined);
    case 'bench': {
      const batches = ints(need('batches'));
      if (Math.max(...batches) > MAX_BATCH) throw new Error(`--batches: at most ${MAX_BATCH} (the rows of ${INPUT_FILE})`);
      return cmdBench({
        model: need('model'), json: need('json'), ep: need('ep'), dtypes: list(need('dtypes')), attention: attention(need('attention')),
        fetch: list(need('fetch')), batches, iters: ints(need('iters'))[0]!, warmup: ints(need('warmup'))[0]!,
      });
    }
    case 'placements':
      return cmdPlacements(need('model'), need('ep'), need('dtype'), attention(need('attention'))[0]!);
    case 'table':
      return cmdTable(need('ours'), need('hf'), v.placements, v.env);
    default:
      throw new Error(`usage: ours.ts checkpoint|reference|bench|placements|table [options] (see the comment at the top of bench/gpu/ours.ts), got "${cmd ?? ''}"`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`[ours] error: ${(e as Error).message}\n`);
  process.exit(1);
});
