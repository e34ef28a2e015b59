/**
 * A thin wrapper over the registered ONNX Runtime's InferenceSession: session options (threads,
 * execution providers, graph optimisation level) and conversion between our Tensor and ORT's.
 * Browser-safe: the runtime comes from `getRuntime()`.
 */
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { getRuntime } from './backend.js';
import type { DType, Float32Tensor, Tensor } from '../tensor.js';

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface SessionOptions {
  /** Intra-op threads (ORT's intraOpNumThreads); default: ORT's choice (one per physical core). */
  threads?: number;
  /** e.g. ['cpu'], ['cuda', 'cpu'], ['wasm'], ['webgpu', 'wasm']; default: the runtime's. */
  executionProviders?: readonly string[];
  /** Default 'all': the optimiser's fusions (LayerNorm, GELU, attention, MatMul+Add) are what make ORT fast. */
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** In-memory files that the model's external-data initializers point into (see GraphBuilder.encodeWithExternalData). */
  externalData?: readonly { path: string; data: Uint8Array }[];
  /** ORT session config entries (SessionOptions.extra), e.g. { session: { disable_prepacking: '1' } }. */
  extra?: Record<string, unknown>;
  /** ORT's CPU memory arena (default on). Off: less peak memory, slower (fresh pages on every allocation). */
  enableCpuMemArena?: boolean;
}

/** An ORT session over ONNX bytes, fed and read with our Tensor type. */
export class OrtSession {
  private constructor(
    private readonly session: InferenceSession,
    readonly executionProviders: readonly string[],
  ) {}

  static async create(model: Uint8Array, options: SessionOptions = {}): Promise<OrtSession> {
    const rt = getRuntime();
    const eps = options.executionProviders ?? rt.defaultExecutionProviders;
    const opts: InferenceSession.SessionOptions = {
      executionProviders: [...eps],
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    };
    if (options.externalData?.length) opts.externalData = [...options.externalData];
    if (options.extra) opts.extra = options.extra;
    if (options.enableCpuMemArena !== undefined) opts.enableCpuMemArena = options.enableCpuMemArena;
    if (options.threads !== undefined) {
      if (!Number.isInteger(options.threads) || options.threads < 0) {
        throw new Error(`threads must be a non-negative integer (0 = ORT's default), got ${options.threads}`);
      }
      opts.intraOpNumThreads = options.threads;
      opts.interOpNumThreads = 1;
    }
    const session = await rt.ort.InferenceSession.create(model, opts);
    return new OrtSession(session, eps);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs the graph; returns the asked outputs (all when `outputs` is omitted) as our tensors. */
  async run(feeds: Record<string, Tensor>, outputs?: readonly string[]): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = toOrtTensor(t);
    const result = outputs ? await this.session.run(ortFeeds, [...outputs]) : await this.session.run(ortFeeds);
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(result)) {
      out[k] = fromOrtTensor(v, k);
      v.dispose?.();
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

const ORT_TYPE: Partial<Record<DType, 'float32' | 'float16' | 'int64' | 'int32' | 'bool'>> = {
  float32: 'float32',
  float16: 'float16',
  int64: 'int64',
  int32: 'int32',
  bool: 'bool',
};

export function toOrtTensor(t: Tensor): OrtTensor {
  const type = ORT_TYPE[t.dtype];
  if (!type) throw new Error(`ONNX Runtime has no ${t.dtype} input type here; convert to float32 first`);
  const rt = getRuntime();
  // ORT's Tensor constructor accepts the matching typed array; the cast spans its overloads
  return new rt.ort.Tensor(type, t.data as Float32Array, [...t.dims]);
}

export function fromOrtTensor(v: OrtTensor, name: string): Tensor {
  const dims = [...v.dims];
  switch (v.type) {
    case 'float32':
      // copy: ORT may reuse or free its buffer once the tensor is disposed
      return { dtype: 'float32', dims, data: new Float32Array(v.data as Float32Array) } satisfies Float32Tensor;
    case 'int64':
      return { dtype: 'int64', dims, data: new BigInt64Array(v.data as BigInt64Array) };
    case 'int32':
      return { dtype: 'int32', dims, data: new Int32Array(v.data as Int32Array) };
    case 'bool':
      return { dtype: 'bool', dims, data: new Uint8Array(v.data as Uint8Array) };
    default:
      throw new Error(`output ${name}: unsupported ONNX Runtime type ${v.type}`);
  }
}
