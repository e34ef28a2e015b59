/**
 * Where a model's load time goes, stage by stage, in a fresh process per load (what `fromPretrained` does, spelt
 * out so each stage can be timed): read the checkpoint file, parse safetensors + map names (loadWeights), quantise
 * (q8), build the ONNX graph, serialise it (encodeWithExternalData), ONNX Runtime's session creation. Wall and
 * CPU time (process.cpuUsage: all threads, so ORT's pool counts too) per stage; CPU time is the figure to read on a
 * loaded machine, and the main thread's own CPU time beside it (with the q8 helper thread and I/O threads working in
 * parallel, that is the stage's critical path on an idle machine). The same load end to end through `fromPretrained` is `bench/engine.ts`'s `measureLoad`.
 *
 *   node --import tsx bench/load-stages.ts [--dtype fp32,q8,q8-1thread,q8-whole] [--runs 3] [--dir CHECKPOINT] [--opt all|extended|basic|disabled]
 *
 *   node --import tsx bench/load-stages.ts --ort-variants [--runs 3]   (ORT session creation of the q8 graph by setting)
 *
 * Runs alternate between the dtypes (fp32, q8, fp32, q8, ...), each in its own process; medians are printed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../src/node/index.js';
import { resolveSource } from '../src/io/files.js';
import { readCheckpoint } from '../src/io/checkpoint.js';
import { ASTConfig } from '../src/model/config.js';
import { loadWeights } from '../src/model/weights.js';
import { buildInferenceGraph, isQ8LinearWeight, quantizeDeferred, type Int8Prepared } from '../src/model/ast.js';
import { loadPretrained } from '../src/model/pretrained.js';
import type { Float32Tensor } from '../src/tensor.js';
import { slabInt8Alloc } from '../src/model/quant.js';
import { releaseQuantWasm } from '../src/model/quant-wasm.js';
import { int8HelperSettings } from '../src/model/quant-thread.js';
import { encodeWithExternalData } from '../src/graph/builder.js';
import { encodeModel, type OnnxModel } from '../src/graph/onnx.js';
import { OrtSession } from '../src/runtime/session.js';
import type { GraphOptimizationLevel } from '../src/runtime/options.js';
import { NO_SPINNING, cpuModel, makeBaseCheckpoint } from './engine.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
type Dtype = 'fp32' | 'q8';
type Variant = Dtype | 'q8-whole' | 'q8-1thread';

interface Stage {
  name: string;
  ms: number;
  cpuMs: number;
  /** This (the main) thread's CPU time alone: with helper threads busy beside it, the stage's critical path. */
  mainCpuMs: number;
}

/** The main thread's CPU time in ms (Linux schedstat, ns resolution); NaN elsewhere. */
function mainThreadCpuMs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
}

async function child(dir: string, dtype: Dtype, opt: GraphOptimizationLevel, whole: boolean, oneThread: boolean): Promise<void> {
  const stages: Stage[] = [];
  const stage = async <T>(name: string, f: () => T | Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const m0 = mainThreadCpuMs();
    const r = await f();
    const c = process.cpuUsage(c0);
    stages.push({ name, ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1e3, mainCpuMs: mainThreadCpuMs() - m0 });
    return r;
  };
  const files = await resolveSource(dir);
  const config = await ASTConfig.fromPretrained(files);
  let tensors: Map<string, Float32Tensor>;
  let int8: Int8Prepared = { linears: new Map(), alloc: slabInt8Alloc() };
  int8HelperSettings.enabled = !oneThread;
  if (dtype === 'q8' && !whole) {
    // what fromPretrained does for q8: the Linears' weights stay in the file, read group by group while quantising
    const loaded = await stage('read rest + parse + names', () => loadPretrained(files, { head: 'classification', preprocessor: 'optional', defer: isQ8LinearWeight }));
    tensors = loaded.weights;
    if (loaded.deferred) int8 = await stage('read + quantise Linears', () => quantizeDeferred(config, 'classification', loaded.deferred!, loaded.weights));
  } else {
    const bytes = await stage('read file', () => files.read('model.safetensors'));
    tensors = await stage('parse + names', async () => {
      // the bytes already read, handed over (readCheckpoint asks for the file by name)
      const r = await readCheckpoint({ description: files.description, describe: (n) => files.describe(n), exists: (n) => files.exists(n), read: async () => bytes });
      return loadWeights(config, r.tensors, 'classification', dir).weights;
    });
  }
  const options = { head: 'classification' as const, attention: 'fused' as const, dtype, weightsAsInputs: dtype === 'fp32', int8Prepared: int8 };
  if (dtype === 'q8') {
    await stage(whole ? 'quantise (throwaway build)' : 'build (remaining q8 prep)', () => {
      buildInferenceGraph(config, tensors, options);
      releaseQuantWasm();
    });
  }
  let g: OnnxModel | undefined = await stage('build graph', () => buildInferenceGraph(config, tensors, options).toModel());
  let encoded: ReturnType<typeof encodeWithExternalData> | undefined = await stage('serialise', () => encodeWithExternalData(g!));
  const session = await stage('ORT session create', () =>
    OrtSession.create(encoded!.model, { threads: 2, sessionConfig: NO_SPINNING, graphOptimizationLevel: opt, externalData: encoded!.externalData }),
  );
  const modelBytes = encoded.model.length;
  g = encoded = undefined; // ORT has its copies
  const weights = [...int8.linears.values()].reduce((n, q) => n + q.weight.rows * q.weight.cols, 0);
  // RSS as bench/engine.ts measureLoad reads it: the high-water mark, then after the load's garbage is collected
  // (what fromPretrained + warm keep: the session, and for q8 none of the weights)
  const peakRssMB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) / 1024;
  if (dtype === 'q8') {
    // a q8 model drops its weights once ORT has them (fromPretrained's reloadWeights); fp32 keeps them (fed per run)
    tensors.clear();
    int8.linears.clear();
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await new Promise((r) => setTimeout(r, 100));
  gc?.();
  const rssAfterMB = process.memoryUsage().rss / 2 ** 20;
  await session.release();
  process.stdout.write(`${JSON.stringify({ stages, modelBytes, int8Weights: weights, peakRssMB, rssAfterMB })}\n`);
}

/**
 * ORT's share of a q8 load, by session setting: the q8 graph is built once, then sessions are created under each
 * setting in turn (after one untimed creation, so these are warm: no first-use page faults), CPU time and minor page
 * faults each; then, in this same process, what the first creation cost is shown by the untimed one's figures.
 */
async function ortVariants(dir: string, runs: number): Promise<void> {
  const faults = () => process.resourceUsage().minorPageFault;
  const cpu = () => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1e3;
  };
  const loaded = await loadPretrained(dir, { head: 'classification', preprocessor: 'optional' });
  const int8: Int8Prepared = { linears: new Map(), alloc: slabInt8Alloc() };
  const g = buildInferenceGraph(loaded.config, loaded.weights, { head: 'classification', attention: 'fused', dtype: 'q8', int8Prepared: int8 }).toModel();
  const ext = encodeWithExternalData(g);
  const inline = encodeModel(g);
  const base = { threads: 2, sessionConfig: NO_SPINNING, externalData: ext.externalData };
  const variants: [string, () => Promise<OrtSession>][] = [
    ['optimisation all (default)', () => OrtSession.create(ext.model, base)],
    ['optimisation extended', () => OrtSession.create(ext.model, { ...base, graphOptimizationLevel: 'extended' })],
    ['optimisation basic', () => OrtSession.create(ext.model, { ...base, graphOptimizationLevel: 'basic' })],
    ['optimisation disabled', () => OrtSession.create(ext.model, { ...base, graphOptimizationLevel: 'disabled' })],
    ['session.disable_prepacking 1', () => OrtSession.create(ext.model, { ...base, sessionConfig: { session: { ...NO_SPINNING.session, disable_prepacking: '1' } } })],
    ['int8 weights inside the protobuf', () => OrtSession.create(inline, { threads: 2, sessionConfig: NO_SPINNING })],
  ];
  const c0 = cpu();
  const f0 = faults();
  await (await variants[0]![1]()).release();
  console.log(`first q8 session in this process: ${(cpu() - c0).toFixed(0)} ms CPU, ${faults() - f0} minor page faults`);
  const got = new Map<string, { cpu: number[]; faults: number[] }>(variants.map(([k]) => [k, { cpu: [], faults: [] }]));
  for (let r = 0; r < runs; r++) {
    for (const [k, create] of variants) {
      const c = cpu();
      const f = faults();
      const s = await create();
      got.get(k)!.cpu.push(cpu() - c);
      got.get(k)!.faults.push(faults() - f);
      await s.release();
    }
  }
  for (const [k, v] of got) console.log(`  ${k.padEnd(34)} ${median(v.cpu).toFixed(0).padStart(5)} ms CPU  ${median(v.faults).toFixed(0).padStart(6)} page faults (median of ${runs}, warm)`);
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

async function main(args: string[]): Promise<void> {
  const at = (f: string) => (args.includes(f) ? args[args.indexOf(f) + 1] : undefined);
  if (args[0] === '--child') return child(args[1]!, args[2] as Dtype, args[3] as GraphOptimizationLevel, args[4] === 'whole', args[4] === 'one-thread');
  // the engine bench's random AST-Base checkpoint (made on first use, as there)
  const dir = at('--dir') ?? makeBaseCheckpoint(join(REPO, '.bench/engine/ast-base'));
  if (args.includes('--ort-variants')) return ortVariants(dir, Number(at('--runs') ?? 3));
  const dtypes = (at('--dtype') ?? 'fp32,q8').split(',') as Variant[];
  const runs = Number(at('--runs') ?? 3);
  const opt = (at('--opt') ?? 'all') as GraphOptimizationLevel;
  // q8-whole: q8 from the whole file read first (the path of Hub / URL sources and fp16 / bf16 checkpoints);
  // q8-1thread: the streamed path without the helper thread
  console.log(`load stages: ${dir}; ${cpuModel()}; ORT optimisation ${opt}; ${runs} fresh processes per dtype, alternating`);
  console.log(`machine load average at start: ${loadavg().map((v) => v.toFixed(1)).join(' / ')}`);
  const results = new Map<Variant, { stages: Stage[]; modelBytes: number; int8Weights: number; peakRssMB: number; rssAfterMB: number }[]>(dtypes.map((d) => [d, []]));
  for (let r = 0; r < runs; r++) {
    for (const d of dtypes) {
      const dtype = d === 'q8-whole' || d === 'q8-1thread' ? 'q8' : d;
      const p = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--child', dir, dtype, opt, d === 'q8-whole' ? 'whole' : d === 'q8-1thread' ? 'one-thread' : ''], { encoding: 'utf8' });
      if (p.status !== 0) throw new Error(`load-stages child (${d}) failed: ${p.stderr}`);
      results.get(d)!.push(JSON.parse(p.stdout.trim().split('\n').pop()!));
    }
  }
  for (const [d, rs] of results) {
    const names = rs[0]!.stages.map((s) => s.name);
    const total = (k: 'ms' | 'cpuMs' | 'mainCpuMs') => median(rs.map((r) => r.stages.reduce((a, s) => a + s[k], 0)));
    console.log(`${d}: total ${total('ms').toFixed(0)} ms wall, ${total('cpuMs').toFixed(0)} ms CPU, main thread ${total('mainCpuMs').toFixed(0)} ms CPU (medians); ONNX model ${(rs[0]!.modelBytes / 1e6).toFixed(2)} MB; peak RSS ${median(rs.map((r) => r.peakRssMB)).toFixed(0)} MB, RSS after load ${median(rs.map((r) => r.rssAfterMB)).toFixed(0)} MB`);
    for (const n of names) {
      const ms = median(rs.map((r) => r.stages.find((s) => s.name === n)!.ms));
      const cpu = median(rs.map((r) => r.stages.find((s) => s.name === n)!.cpuMs));
      const main = median(rs.map((r) => r.stages.find((s) => s.name === n)!.mainCpuMs));
      const per = n.startsWith('quantise') && rs[0]!.int8Weights ? ` = ${((cpu * 1e6) / rs[0]!.int8Weights).toFixed(2)} ns/weight CPU (${(rs[0]!.int8Weights / 1e6).toFixed(1)} M weights)` : '';
      console.log(`  ${n.padEnd(28)} ${ms.toFixed(0).padStart(6)} ms wall ${cpu.toFixed(0).padStart(6)} ms CPU ${main.toFixed(0).padStart(6)} ms main-thread CPU${per}`);
    }
  }
  console.log(`machine load average at the end: ${loadavg().map((v) => v.toFixed(1)).join(' / ')}`);
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) await main(process.argv.slice(2));
