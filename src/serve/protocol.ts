/** Messages between the HTTP thread (app.ts) and the model's worker thread (worker.ts). */
import type { ActivationFunction, AudioClassificationResult, TimelineEntry } from '../pipeline/audio-classification.js';
import type { Aggregation } from '../pipeline/windows.js';
import type { BatchReport } from './dynamic-batcher.js';
import type { RuntimeOptions } from '../runtime/options.js';
import type { Device } from '../pipeline/hf-options.js';

export interface WorkerInit extends Pick<RuntimeOptions, 'threads'> {
  /** Folder, Hub id or URL; undefined = the embedded model. */
  model?: string;
  revision?: string;
  dtype: string;
  /** The pipeline's device ('cpu', 'webgpu'); undefined = the CPU. */
  device?: Device;
  maxBatch: number;
  maxDelayMs: number;
  /**
   * Fault injection for tests and drills (env AST_AUDIO_SERVE_FAIL_FORWARD=3,7): these forwards (1-based,
   * warm-up excluded) throw, so the 500-for-that-batch-only path is exercised on the real server.
   */
  failForwards: number[];
}

export interface ModelInfo {
  labels: string[];
  maxLength: number;
  numMelBins: number;
  samplingRate: number;
  hiddenSize: number;
  functionToApply: ActivationFunction;
  functionReason: string;
  loadSeconds: number;
  warmupSeconds: number;
  /** ONNX Runtime's intra-op threads for the forwards; undefined = ORT's default (one per physical core). */
  threads?: number;
  /** Kernel thread ids of the pipeline's and the model's threads (Linux), for the per-thread CPU metric. */
  threadIds: { pipeline?: number; model?: number };
}

export interface ClassifyRequestOptions {
  topK?: number | null;
  functionToApply?: ActivationFunction;
  window?: number;
  hop?: number;
  aggregate?: Aggregation;
}

export type ToWorker =
  /** `admitted`: requests the HTTP side had accepted and not answered when it sent this one, this one included. */
  | { type: 'classify'; id: number; bytes: Uint8Array; options: ClassifyRequestOptions; admitted: number }
  | { type: 'embed'; id: number; bytes: Uint8Array; admitted: number }
  | { type: 'cancel'; id: number };

/** Why a request failed: the caller's input (400), a forward that failed (500), or cancelled (timeout). */
export type FailureKind = 'bad-input' | 'forward' | 'cancelled';

export interface Classified {
  labels: AudioClassificationResult[];
  windows: TimelineEntry[];
}

export type FromWorker =
  | { type: 'ready'; info: ModelInfo }
  | { type: 'fatal'; message: string }
  | { type: 'classified'; id: number; result: Classified }
  | { type: 'embedded'; id: number; embedding: Float32Array }
  | { type: 'failed'; id: number; kind: FailureKind; message: string }
  | { type: 'batch'; report: BatchReport; pendingRows: number };

/**
 * The pipeline's thread (worker.ts) and the model's thread (model-thread.ts). The model's thread only runs forwards
 * (ORT's run blocks its thread), so decoding and features of the next requests go on meanwhile. Feature and output
 * rows cross as transferred ArrayBuffers, not copies.
 */
export type ModelThreadInit = Pick<WorkerInit, 'model' | 'revision' | 'dtype' | 'device' | 'threads'>;

export type ToModelThread = { type: 'forward'; seq: number; inputValues: Float32Array; dims: [number, number, number] };

export type FromModelThread =
  | {
      type: 'ready';
      /** config.json and preprocessor_config.json as loaded (ASTConfig.toJSON, ASTFeatureExtractor.toJSON). */
      config: Record<string, unknown>;
      preprocessor: Record<string, unknown>;
      loadSeconds: number;
      warmupSeconds: number;
      /** This thread's kernel id (Linux), for the per-thread CPU metric. */
      threadId?: number;
      /** ONNX Runtime's intra-op threads for the forwards; undefined = ORT's default (one per physical core). */
      threads?: number;
    }
  | { type: 'fatal'; message: string }
  /** Row b of `rows` ([B, num_labels + hidden]): the logits of window b, then its pooled embedding. */
  | { type: 'output'; seq: number; rows: Float32Array; inputValues: Float32Array }
  | { type: 'failed'; seq: number; message: string };
