/**
 * A thin wrapper over the registered ONNX Runtime's InferenceSession: RuntimeOptions mapped onto ORT's
 * session options, and conversion between our Tensor and ORT's.
 * Browser-safe: the runtime comes from `getRuntime()`.
 */
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { getRuntime } from './backend.js';
import type { DType, Float32Tensor, Tensor } from '../tensor.js';
import type { RuntimeOptions } from './options.js';

export type { GraphOptimizationLevel } from './options.js';

/** Checked RuntimeOptions (runner.ts checks them) plus what a graph brings along. */
export interface SessionOptions extends RuntimeOptions {
  /** In-memory files that the model's external-data initializers point into (see GraphBuilder.encodeWithExternalData). */
  externalData?: readonly { path: string; data: Uint8Array }[];
}

/** An ORT session over ONNX bytes, fed and read with our Tensor type. */
export class OrtSession {
  private constructor(
    private readonly session: InferenceSession,
    readonly executionProviders: readonly string[],
  ) {}

  /** `options` as checkRuntimeOptions left them (Runner does that); use a Runner unless you need a bare session. */
  static async create(model: Uint8Array, options: SessionOptions = {}): Promise<OrtSession> {
    const rt = getRuntime();
    const eps = options.executionProviders ?? rt.defaultExecutionProviders;
    const opts: InferenceSession.SessionOptions = {
      executionProviders: [...eps],
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    };
    if (options.externalData?.length) opts.externalData = [...options.externalData];
    if (options.sessionConfig) opts.extra = options.sessionConfig;
    if (options.profileFilePrefix !== undefined) {
      opts.enableProfiling = true;
      opts.profileFilePrefix = options.profileFilePrefix;
    }
    if (options.memoryArena !== undefined) opts.enableCpuMemArena = options.memoryArena;
    if (options.threads !== undefined) {
      opts.intraOpNumThreads = options.threads;
      opts.interOpNumThreads = 1;
    }
    const session = await rt.ort.InferenceSession.create(model, opts).catch((err: unknown) => {
      throw noAdapterError(err) ?? err;
    });
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
  // A 'cpu' tensor's data is a JS typed array the binding already copied out of ORT's memory (onnxruntime-node,
  // and onnxruntime-web's WASM heap), which dispose() only lets go of: taken as it is. Any other location
  // ('cpu-pinned', GPU) may be freed or reused on dispose, so its data is copied first. (A training step's
  // gradients are the size of the model: a second copy cost ~0.3 s per AST-Base step.)
  const own = v.location === 'cpu';
  switch (v.type) {
    case 'float32':
      return { dtype: 'float32', dims, data: own ? (v.data as Float32Array) : new Float32Array(v.data as Float32Array) } satisfies Float32Tensor;
    case 'int64':
      return { dtype: 'int64', dims, data: own ? (v.data as BigInt64Array) : new BigInt64Array(v.data as BigInt64Array) };
    case 'int32':
      return { dtype: 'int32', dims, data: own ? (v.data as Int32Array) : new Int32Array(v.data as Int32Array) };
    case 'bool':
      return { dtype: 'bool', dims, data: own ? (v.data as Uint8Array) : new Uint8Array(v.data as Uint8Array) };
    default:
      throw new Error(`output ${name}: unsupported ONNX Runtime type ${v.type}`);
  }
}

/** ORT's words when Dawn finds no GPU (webgpu_context.cc); the rest of its message is a source location. */
const NO_ADAPTER = 'Failed to get a WebGPU adapter';

/**
 * ORT's "Failed to get a WebGPU adapter: No supported adapters" (raised from deep in Dawn, with a C++ source path)
 * as an error that says what is missing and how to get it; undefined for any other error.
 */
export function noAdapterError(err: unknown): Error | undefined {
  const message = err instanceof Error ? err.message : String(err);
  const at = message.indexOf(NO_ADAPTER);
  if (at < 0) return undefined;
  const ort = message.slice(at).split('\n')[0]!.trim();
  return new Error(
    `device webgpu: no WebGPU adapter was found (ONNX Runtime: "${ort}"). In Node, ONNX Runtime's WebGPU runs on Dawn, ` +
      'which needs a Vulkan driver: install your GPU\'s Vulkan driver (vulkaninfo --summary lists what the loader sees), or, ' +
      'without a GPU, get the software one with `bash bench/gpu/software-adapter.sh` (Mesa lavapipe into .lavapipe/) and ' +
      'export VK_ICD_FILENAMES=$PWD/.lavapipe/lvp_icd.json (see bench/gpu/README.md). Or use device cpu.',
    { cause: err },
  );
}
