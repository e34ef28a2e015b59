/**
 * transformers.js's option names on our pipeline, and a clear error for every option we do not know.
 *
 * Call options: `top_k` (transformers.js, transformers) is `topK`; `function_to_apply` (transformers) is
 * `functionToApply`. Load options: `progress_callback` gets transformers.js's events (utils/core.js:
 * `initiate`, `download`, `progress`, `done` per file, then `ready`); `device` picks ONNX Runtime's
 * execution providers; `dtype` is checked. An option name we do not know, or one of transformers.js's we
 * cannot honour, is an error naming it: silently ignoring it would hand back results the caller did not
 * ask for (`{ top_k: 2 }` used to return 5 labels).
 *
 * Browser-safe: no Node imports.
 */
import type { FileSource } from '../io/files.js';
import { MODEL_DTYPES, type ModelDtype } from '../runtime/dtype.js';

/** transformers.js's ProgressInfo variants (src/utils/core.js), field for field. */
export interface InitiateProgressInfo {
  status: 'initiate';
  /** The model id or directory path. */
  name: string;
  /** The name of the file. */
  file: string;
}
export interface DownloadProgressInfo {
  status: 'download';
  name: string;
  file: string;
}
export interface ProgressStatusInfo {
  status: 'progress';
  name: string;
  file: string;
  /** A number between 0 and 100. */
  progress: number;
  /** Bytes loaded. */
  loaded: number;
  /** Bytes to be loaded. */
  total: number;
}
export interface DoneProgressInfo {
  status: 'done';
  name: string;
  file: string;
}
export interface ReadyProgressInfo {
  status: 'ready';
  /** The loaded task. */
  task: string;
  /** The loaded model. */
  model: string;
}
export type ProgressInfo = InitiateProgressInfo | DownloadProgressInfo | ProgressStatusInfo | DoneProgressInfo | ReadyProgressInfo;
export type ProgressCallback = (info: ProgressInfo) => void;

/** transformers.js's `device` values that mean something here (which ones depend on the platform). */
export type Device = 'auto' | 'cpu' | 'cuda' | 'wasm' | 'webgpu';
/** transformers.js's `dtype` names that ast-audio computes in ('float32' is accepted as fp32). */
export type DType = ModelDtype | 'float32';

/** transformers.js dtype -> RuntimeOptions.dtype: the same names (runtime/dtype.ts), plus 'float32' for fp32. */
const DTYPES: Record<string, ModelDtype> = { ...Object.fromEntries(MODEL_DTYPES.map((d) => [d, d])), float32: 'fp32' };

/** Per platform (the registered runtime's name): device -> execution providers (undefined: the runtime's default). */
const DEVICES: Record<string, Record<string, readonly string[] | undefined>> = {
  // webgpu: the WebGPU EP bundled in onnxruntime-node (Dawn over Vulkan); ORT itself runs on its CPU EP
  // whatever the WebGPU EP lacks (README "GPU" lists what does), so no 'cpu' here, which would let q8 through.
  node: { auto: undefined, cpu: ['cpu'], cuda: ['cuda'], webgpu: ['webgpu'] },
  // webgpu keeps wasm behind it, so an operator WebGPU lacks still runs.
  web: { auto: undefined, wasm: ['wasm'], webgpu: ['webgpu', 'wasm'] },
};

/** transformers.js load options we know and cannot honour, with what to do instead. */
const UNSUPPORTED: Record<string, string> = {
  cache_dir: 'the Hub cache is HF_HUB_CACHE / HF_HOME, as in huggingface_hub',
  local_files_only: 'set HF_HUB_OFFLINE=1, or pass a local folder',
  config: 'the config is read from the checkpoint\'s config.json',
  session_options: 'use threads / executionProviders',
  model_file_name: 'weights are model.safetensors (sharded or not) or pytorch_model.bin',
  subfolder: 'pass the folder that holds config.json',
  use_external_data_format: 'the ONNX graph is built in memory',
  quantized: 'only fp32 weights are run for now',
};

/** Call options under their own names, and the transformers spellings that mean the same. */
const CALL_ALIASES: Record<string, string> = { top_k: 'topK', function_to_apply: 'functionToApply' };

/**
 * Options in our names: aliases folded in (both spellings with different values is an error), every
 * key checked against `known` (ours) and `aliases`. `where` names the call in errors.
 */
export function normalizeOptionNames<T extends object>(
  options: T | undefined,
  known: readonly string[],
  where: string,
  aliases: Record<string, string> = CALL_ALIASES,
): T {
  if (options === undefined || options === null) return {} as T;
  if (typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`${where}: options must be an object, got ${describe(options)}`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    const ours = aliases[key];
    if (ours !== undefined) {
      const mine = (options as Record<string, unknown>)[ours];
      if (mine !== undefined && value !== undefined && mine !== value) {
        throw new TypeError(`${where}: ${key} (${describe(value)}) and ${ours} (${describe(mine)}) disagree; give one of them`);
      }
      if (value !== undefined) out[ours] = value;
      continue;
    }
    if (!known.includes(key)) {
      const reason = UNSUPPORTED[key];
      if (reason !== undefined) throw new TypeError(`${where}: option ${key} is not supported by ast-audio (${reason})`);
      const names = [...known.map((k) => k + aliasNote(k, aliases))].join(', ');
      throw new TypeError(`${where}: unknown option ${key}; known options: ${names}`);
    }
    if (value !== undefined || !(key in out)) out[key] = value;
  }
  return out as T;
}

function aliasNote(key: string, aliases: Record<string, string>): string {
  const alias = Object.keys(aliases).find((a) => aliases[a] === key);
  return alias ? ` (${alias})` : '';
}

/** `device` -> execution providers for the platform's runtime; `undefined` -> the runtime's default. */
export function executionProvidersFor(device: unknown, runtimeName: string): readonly string[] | undefined {
  const table = DEVICES[runtimeName] ?? {};
  if (typeof device !== 'string' || !(device in table)) {
    const where = runtimeName === 'node' ? 'in Node (onnxruntime-node)' : runtimeName === 'web' ? 'in a browser (onnxruntime-web)' : `on runtime "${runtimeName}"`;
    const other = runtimeName === 'node' ? '; wasm is the browser build\'s' : runtimeName === 'web' ? '; cpu and cuda are the Node build\'s' : '';
    throw new TypeError(`device ${describe(device)} is not available ${where}: use one of ${Object.keys(table).map((d) => `'${d}'`).join(', ')}${other}`);
  }
  return table[device];
}

/**
 * `dtype` in transformers.js's names -> RuntimeOptions' (runtime/dtype.ts): 'fp32', 'fp16', 'q8' (and 'float32'
 * as fp32); anything else names the valid values. A new precision is a RuntimeOptions.dtype value.
 */
export function runtimeDtype(dtype: unknown): ModelDtype | undefined {
  if (dtype === undefined) return undefined;
  const ours = typeof dtype === 'string' && Object.hasOwn(DTYPES, dtype) ? DTYPES[dtype] : undefined;
  if (ours === undefined) {
    throw new TypeError(`dtype ${describe(dtype)} is not supported: valid values are ${MODEL_DTYPES.map((d) => `'${d}'`).join(', ')}`);
  }
  return ours;
}

/**
 * Reports every file `source` reads as transformers.js's per-file events. `onBytes` receives a Hub
 * download's byte counts (the resolver calls it while `read` runs); a file read without a download
 * gets one `progress` event at 100 %, as transformers.js sends for a file from its cache.
 */
export function progressTracker(name: string, callback: ProgressCallback): {
  onBytes: (event: { file: string; loaded: number; total: number }) => void;
  wrap: (source: FileSource) => FileSource;
} {
  const reported = new Set<string>();
  const send = (info: ProgressInfo) => {
    callback(info);
  };
  const onBytes = ({ file, loaded, total }: { file: string; loaded: number; total: number }) => {
    reported.add(file);
    send({ status: 'progress', name, file, progress: total > 0 ? (loaded / total) * 100 : 100, loaded, total });
  };
  const wrap = (source: FileSource): FileSource => ({
    description: source.description,
    exists: (file) => source.exists(file),
    describe: (file) => source.describe(file),
    async read(file) {
      send({ status: 'initiate', name, file });
      send({ status: 'download', name, file });
      reported.delete(file);
      const bytes = await source.read(file);
      if (!reported.has(file)) send({ status: 'progress', name, file, progress: 100, loaded: bytes.length, total: bytes.length });
      send({ status: 'done', name, file });
      return bytes;
    },
  });
  return { onBytes, wrap };
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
