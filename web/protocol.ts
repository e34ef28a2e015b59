/**
 * Messages between the demo page (main.ts) and its inference worker (worker.ts). Every request carries an
 * id; the worker answers with the same id, so the page can have a file, a live window and a script's
 * classify() in flight at once without mixing their answers.
 */

export type DemoDevice = 'wasm' | 'webgpu';
export type DemoDtype = 'fp32' | 'q8' | 'fp16';

/** Audio as the page hands it over: encoded bytes for our decoder (WAV, FLAC, …), or samples the browser decoded. */
export type DemoAudio = { kind: 'bytes'; bytes: ArrayBuffer; name: string } | { kind: 'samples'; waveform: Float32Array; samplingRate: number; name: string };

export interface LoadRequest {
  type: 'load';
  id: number;
  /** A checkpoint folder URL (absolute) or a Hub id (`owner/name`). */
  model: string;
  device: DemoDevice;
  dtype: DemoDtype;
}

export interface ClassifyRequest {
  type: 'classify';
  id: number;
  audio: DemoAudio;
  /** Step between windows in seconds for audio longer than one window; default: the window (as the CLI). */
  hop?: number;
  /** Also return the log-mel spectrogram (files: yes; live windows: the page draws the last one). */
  spectrogram: boolean;
}

export interface MemoryRequest {
  type: 'memory';
  id: number;
}

export type WorkerRequest = LoadRequest | ClassifyRequest | MemoryRequest;

export interface Scored {
  label: string;
  score: number;
}

export interface LoadedModel {
  model: string;
  labels: string[];
  device: DemoDevice;
  dtype: DemoDtype;
  /** ONNX Runtime's WASM threads (ort.env.wasm.numThreads after the session started). */
  threads: number;
  crossOriginIsolated: boolean;
  samplingRate: number;
  /** The model's window: max_length frames, and the seconds of audio they span. */
  windowFrames: number;
  windowSeconds: number;
  loadMs: number;
}

export interface ClassifyResult {
  /** Every label's clip score (mean over windows, as the CLI's default --aggregate), best first. */
  labels: Scored[];
  /** Each window's scores in label order (config.id2label order), for the timeline heat map. */
  windows: { start: number; end: number; scores: Float32Array }[];
  duration: number;
  /** Log-mel frames [frames, bins] (not normalised), when asked for. */
  spectrogram?: { data: Float32Array; frames: number; bins: number };
  /** Worker time: decode + features + forward, in ms. */
  ms: number;
}

export interface MemoryReport {
  /** Bytes of every WebAssembly.Memory created in the worker (ONNX Runtime's heap, shared with its threads). */
  wasmBytes: number;
  wasmMemories: number;
}

export type WorkerReply =
  | { type: 'progress'; id: number; file: string; loaded: number; total: number }
  | { type: 'loaded'; id: number; model: LoadedModel }
  | { type: 'result'; id: number; result: ClassifyResult }
  | { type: 'memory'; id: number; memory: MemoryReport }
  | { type: 'error'; id: number; message: string };
