/**
 * The one public type for how graphs are executed (`RuntimeOptions`) and its one validation. The
 * runner (runner.ts) checks a caller's options here once; sessions (session.ts) take them as checked.
 */
import { parseModelDtype, type ModelDtype } from './dtype.js';

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** How graphs are executed; the one public place these settings are declared and checked. */
export interface RuntimeOptions {
  /**
   * Compute precision (src/runtime/dtype.ts): 'fp32' (default; fp16/bf16 checkpoints are widened to float32), 'q8'
   * (encoder Linears in int8, quantised at load; cpu or wasm execution provider), 'fp16' (the graph in float16;
   * for WebGPU/CUDA, slower than fp32 on x86 CPUs).
   */
  dtype?: ModelDtype;
  /** Intra-op threads (ORT's intraOpNumThreads), a positive integer; default ORT's (one per physical core). */
  threads?: number;
  /** e.g. ['cpu'], ['cuda', 'cpu'], ['wasm'], ['webgpu', 'wasm']; default: the registered runtime's. */
  executionProviders?: readonly string[];
  /** Default 'all': the optimiser's fusions (LayerNorm, GELU, attention, MatMul+Add) are what make ORT fast. */
  graphOptimizationLevel?: GraphOptimizationLevel;
  /**
   * ORT's CPU memory arena (default on). Off lowers peak memory (AST-Base, 2 layers, batch 4: 4.4 -> 2.9 GB)
   * but each run then page-faults fresh memory: about 2x slower (measured on AST-Base training shapes).
   */
  memoryArena?: boolean;
  /** ORT session config entries (SessionOptions.extra), e.g. { session: { 'intra_op.allow_spinning': '0' } }. */
  sessionConfig?: Record<string, unknown>;
  /**
   * ORT's profiler on (SessionOptions.enableProfiling): each session writes `<profileFilePrefix>_<date>.json`
   * (Chrome trace format, one event per kernel run) in the working directory when it is released (`dispose()`).
   */
  profileFilePrefix?: string;
}

/** The option names of RuntimeOptions, so a wider options object can be split without listing them again. */
export const RUNTIME_OPTION_KEYS = ['dtype', 'threads', 'executionProviders', 'graphOptimizationLevel', 'memoryArena', 'sessionConfig', 'profileFilePrefix'] as const satisfies readonly (keyof RuntimeOptions)[];

const OPTIMIZATION_LEVELS: readonly GraphOptimizationLevel[] = ['disabled', 'basic', 'extended', 'all'];

/** The one check of `threads`: a positive integer (a CLI passes its string and its flag name). */
export function checkThreads(value: number | string, name = 'threads'): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new Error(`${name} must be a positive integer, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
  return n;
}

/** Validates every RuntimeOptions field once; returns a frozen copy holding only those fields. */
export function checkRuntimeOptions(options: RuntimeOptions = {}): Readonly<RuntimeOptions> {
  const o: RuntimeOptions = {};
  for (const k of RUNTIME_OPTION_KEYS) if (options[k] !== undefined) (o as Record<string, unknown>)[k] = options[k];
  if (o.dtype !== undefined) o.dtype = parseModelDtype(o.dtype);
  if (o.threads !== undefined) checkThreads(o.threads);
  if (o.executionProviders !== undefined) {
    if (!Array.isArray(o.executionProviders) || o.executionProviders.length === 0 || !o.executionProviders.every((e) => typeof e === 'string' && e)) {
      throw new Error(`executionProviders must be a non-empty list of names such as ['cpu'], got ${JSON.stringify(o.executionProviders)}`);
    }
    o.executionProviders = [...o.executionProviders];
  }
  if (o.dtype === 'q8' && o.executionProviders && !o.executionProviders.some((e) => e === 'cpu' || e === 'wasm')) {
    throw new Error(`dtype q8 runs on the cpu or wasm execution provider (com.microsoft.DynamicQuantizeMatMul); got ${o.executionProviders.join(', ')}`);
  }
  if (o.graphOptimizationLevel !== undefined && !OPTIMIZATION_LEVELS.includes(o.graphOptimizationLevel)) {
    throw new Error(`graphOptimizationLevel must be one of ${OPTIMIZATION_LEVELS.join(', ')}, got ${JSON.stringify(o.graphOptimizationLevel)}`);
  }
  if (o.memoryArena !== undefined && typeof o.memoryArena !== 'boolean') throw new Error(`memoryArena must be true or false, got ${JSON.stringify(o.memoryArena)}`);
  if (o.profileFilePrefix !== undefined && (typeof o.profileFilePrefix !== 'string' || o.profileFilePrefix === '')) {
    throw new Error(`profileFilePrefix must be a non-empty string, got ${JSON.stringify(o.profileFilePrefix)}`);
  }
  return Object.freeze(o);
}

/** RuntimeOptions picked out of a wider options object (e.g. the pipeline's), the rest left alone. */
export function splitRuntimeOptions<T extends RuntimeOptions>(options: T): { runtime: RuntimeOptions; rest: Omit<T, keyof RuntimeOptions> } {
  const runtime: Record<string, unknown> = {};
  const rest: Record<string, unknown> = { ...(options as Record<string, unknown>) };
  for (const k of RUNTIME_OPTION_KEYS) {
    if (k in rest) runtime[k] = rest[k];
    delete rest[k];
  }
  return { runtime: runtime as RuntimeOptions, rest: rest as Omit<T, keyof RuntimeOptions> };
}
