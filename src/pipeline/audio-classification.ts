/**
 * `pipeline('audio-classification')`: feature extractor + ASTForAudioClassification + post-processing
 * (activation, top-k, long-audio windows), as in transformers and transformers.js.
 *
 * @example
 * ```ts
 * import { pipeline } from 'ast-audio';
 *
 * const classify = await pipeline('audio-classification');            // the embedded speech-commands model
 * await classify('yes.wav');
 * // [ { label: 'yes', score: 0.97 }, { label: 'left', score: 0.01 }, … ]  (top 5)
 *
 * const tagger = await pipeline('audio-classification', 'MIT/ast-finetuned-audioset-10-10-0.4593');
 * await tagger(['a.wav', 'b.flac'], { topK: 3 });                     // one list per input
 * await tagger.timeline('concert.mp3', { hop: 5 });                   // top labels per 10.24 s window
 * ```
 *
 * Scores: softmax over the labels, except sigmoid for multi-label checkpoints (problem_type
 * `multi_label_classification`, or 527 AudioSet labels) and none for a regression head. Audio longer
 * than the model's window is cut into windows whose scores are averaged (see windows.ts); a clip that
 * fits one window is processed exactly as Hugging Face does (one padded window).
 */
import { ASTFeatureExtractor } from '../audio/feature-extractor.js';
import { resolveSource, type FileSource } from '../io/files.js';
import type { ASTConfig } from '../model/config.js';
import type { Float32Tensor } from '../tensor.js';
import { Batcher, BatchCancelledError } from './batcher.js';
import { ASTForAudioClassification, isQ8LinearWeight } from '../model/ast.js';
import { checkAgreement, loadPretrained } from '../model/pretrained.js';
import { RUNTIME_OPTION_KEYS, splitRuntimeOptions, type RuntimeOptions } from '../runtime/options.js';
import { DisposedError } from '../runtime/runner.js';
import { describeInput, loadInput, type AudioInput } from './inputs.js';
import { getAudioFileStreamer } from './file-reader.js';
import { monoChunks, type AudioStream } from '../audio/stream.js';
import { WindowStream, type StreamedWindow } from './stream-windows.js';
import { getRuntime } from '../runtime/backend.js';
import { executionProvidersFor, normalizeOptionNames, progressTracker, runtimeDtype, type Device, type DType, type ProgressCallback } from './hf-options.js';
import { aggregateScores, FRAME_LENGTH_MS, planWindows, type Aggregation, type AudioWindow, type WindowOptions } from './windows.js';

export type { AudioInput, RawAudio } from './inputs.js';
export type { AudioStream, AudioChunk } from '../audio/stream.js';
export type { Aggregation, WindowOptions } from './windows.js';
export type { Device, DType, ProgressCallback, ProgressInfo } from './hf-options.js';

/** Where the embedded default model lives, relative to this module (src/ or dist/ alike). */
export const DEFAULT_MODEL_DIR = 'models/speech-commands';
export const DEFAULT_MODEL_URL = new URL(`../../${DEFAULT_MODEL_DIR}/`, import.meta.url).href;

export type ActivationFunction = 'softmax' | 'sigmoid' | 'none';

export interface AudioClassificationResult {
  label: string;
  score: number;
}

export interface TimelineEntry {
  /** Seconds from the start of the input. */
  start: number;
  end: number;
  labels: AudioClassificationResult[];
}

export interface ClassifyOptions extends WindowOptions {
  /** How many labels to return, best first; default 5; null (or more than the model has) = all. */
  topK?: number | null;
  /** transformers.js's / transformers' name for `topK`. */
  top_k?: number | null;
  /** Default: by checkpoint (see {@link defaultFunctionToApply}). */
  functionToApply?: ActivationFunction;
  /** transformers' name for `functionToApply`. */
  function_to_apply?: ActivationFunction;
  /** How window scores become clip scores for long audio; default 'mean'. */
  aggregate?: Aggregation;
  /** Windows per forward pass; default 1. */
  batchSize?: number;
  /** Also return each input's embedding: the model's pooler output, averaged over the windows scored. */
  embeddings?: boolean;
}

export interface PipelineOptions extends ClassifyOptions, Omit<RuntimeOptions, 'dtype'> {
  /** transformers.js's dtype: 'fp32' (default; 'float32' is the same), 'fp16' or 'q8' (runtime/dtype.ts). */
  dtype?: DType;
  /** Hub branch, tag or commit when `model` is a Hub id. */
  revision?: string;
  /** transformers.js's device: 'cpu', 'webgpu' (onnxruntime-node's bundled WebGPU EP) or 'cuda' (with the CUDA provider) in Node; 'wasm' or 'webgpu' in a browser; 'auto'. */
  device?: Device;
  /** transformers.js's load events: initiate, download, progress, done per file, then ready. */
  progress_callback?: ProgressCallback;
}

/** The call options' own names (their transformers spellings are folded in by normalizeOptionNames). */
const CALL_OPTION_KEYS = ['topK', 'functionToApply', 'window', 'hop', 'aggregate', 'batchSize', 'embeddings'] as const;
const LOAD_OPTION_KEYS = ['revision', ...RUNTIME_OPTION_KEYS, 'device', 'progress_callback'] as const;

/** One input's outcome from {@link AudioClassificationPipeline.run}. */
export interface ClassifiedAudio {
  index: number;
  /** The path or URL, or the input's position for bytes and samples. */
  source: string;
  /** Seconds of audio at the model's rate; NaN when it could not be read. */
  duration: number;
  labels?: AudioClassificationResult[];
  /** Per-window top labels (one entry for a short clip). */
  windows?: TimelineEntry[];
  /** The input's own sampling rate, before resampling; set when a file was read as a stream. */
  samplingRate?: number;
  /** With `embeddings: true`: the pooler output [hidden_size], the mean over the windows scored. */
  embedding?: Float32Array;
  error?: Error;
}

/** Callbacks of {@link AudioClassificationPipeline.run} for a progress display (the CLI's bar). */
export interface RunProgress {
  /** Input `index` was read: `duration` seconds (NaN when it could not be read) in `windows` windows. */
  onDecoded?(index: number, duration: number, windows: number): void;
  /** Input `index` has `done` of its `windows` windows scored (or failed). */
  onWindows?(index: number, done: number, windows: number): void;
}

/**
 * What the pipeline needs of a model: its config (labels, max_length, num_mel_bins, problem_type) and a batched
 * forward, inputValues [B, max_length, num_mel_bins] -> logits [B, num_labels]. ASTForAudioClassification is one.
 * An edge may pass its own over the same pipeline, adding transport only: the server's carries each batch of a
 * request's windows to the thread that owns the model, where a dynamic batcher shares forwards among requests.
 */
export interface AudioClassifier {
  readonly config: ASTConfig;
  forward(input: { inputValues: Float32Tensor }): Promise<{ logits?: Float32Tensor; poolerOutput?: Float32Tensor }>;
  /** True once released (a call then fails at once with DisposedError). */
  readonly disposed?: boolean;
  dispose?(): Promise<void>;
}

export interface AudioClassificationPipeline<M extends AudioClassifier = ASTForAudioClassification> {
  (input: AudioInput, options?: ClassifyOptions): Promise<AudioClassificationResult[]>;
  (input: readonly AudioInput[], options?: ClassifyOptions): Promise<AudioClassificationResult[][]>;
  readonly task: 'audio-classification';
  readonly model: M;
  readonly featureExtractor: ASTFeatureExtractor;
  /** The activation used when a call names none, and why. */
  readonly functionToApply: ActivationFunction;
  readonly functionReason: string;
  /** Top labels for each window of one input, with start and end in seconds. */
  timeline(input: AudioInput, options?: ClassifyOptions): Promise<TimelineEntry[]>;
  /** Many inputs, batched across inputs; a bad input yields its error and the rest go on. In input order. */
  run(inputs: Iterable<AudioInput | AudioStream>, options?: ClassifyOptions, progress?: RunProgress): AsyncGenerator<ClassifiedAudio>;
  dispose(): Promise<void>;
}

/**
 * Loads a checkpoint (folder, Hub id, URL or FileSource; default: the embedded model) and returns a
 * callable classifier.
 */
export async function pipeline(
  task: 'audio-classification',
  model?: string | FileSource,
  options: PipelineOptions = {},
): Promise<AudioClassificationPipeline> {
  if (task !== 'audio-classification') throw new Error(`unsupported task "${String(task)}": this package provides "audio-classification"`);
  const where = "pipeline('audio-classification')";
  const o = normalizeOptionNames(options, [...CALL_OPTION_KEYS, ...LOAD_OPTION_KEYS], where);
  const { device, dtype, progress_callback: onProgress, ...others } = o;
  if (device !== undefined && o.executionProviders !== undefined) {
    throw new TypeError(`${where}: give device or executionProviders, not both`);
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new TypeError(`${where}: progress_callback must be a function`);
  const { runtime, rest } = splitRuntimeOptions({
    ...others,
    dtype: runtimeDtype(dtype),
    ...(device !== undefined ? { executionProviders: executionProvidersFor(device, getRuntime().name) } : {}),
  });
  const { revision, ...defaults } = rest;
  const name = typeof model === 'string' ? model : model === undefined ? DEFAULT_MODEL_DIR : model.description;
  const tracker = onProgress && progressTracker(name, onProgress);
  let source = await resolveSource(model ?? DEFAULT_MODEL_URL, { revision, onProgress: tracker?.onBytes }).catch((err: unknown) => {
    if (model !== undefined) throw err;
    throw new Error(`the embedded default model is missing (${DEFAULT_MODEL_URL}); pass a model folder or Hub id`, { cause: err });
  });
  if (tracker) source = tracker.wrap(source);
  // q8: the encoder's Linear weights stay in a local checkpoint file and are quantised as they are read (LoadOptions.deferred)
  const loaded = await loadPretrained(source, { head: 'classification', ...(runtime.dtype === 'q8' ? { defer: isQ8LinearWeight } : {}) });
  // q8: the model drops its int8 copies after load and re-reads the checkpoint if another graph is ever needed
  const reloadWeights = async () => (await loadPretrained(source, { head: 'classification' })).weights;
  const classifier = await ASTForAudioClassification.fromWeights(loaded.config, loaded.weights, { ...runtime, reloadWeights, deferred: loaded.deferred });
  const classify = createAudioClassificationPipeline(loaded.extractor, classifier, defaults);
  onProgress?.({ status: 'ready', task, model: name });
  return classify;
}

/** The default activation for a checkpoint, with the reason (the CLI prints it). */
export function defaultFunctionToApply(config: ASTConfig): { functionToApply: ActivationFunction; reason: string } {
  if (config.problem_type === 'multi_label_classification') {
    return { functionToApply: 'sigmoid', reason: 'problem_type is multi_label_classification' };
  }
  if (config.num_labels === AUDIOSET_LABELS) {
    return { functionToApply: 'sigmoid', reason: `${AUDIOSET_LABELS} labels: an AudioSet-style multi-label tagger` };
  }
  if (config.problem_type === 'regression' || (config.problem_type === null && config.num_labels === 1)) {
    return { functionToApply: 'none', reason: 'a regression head (one output)' };
  }
  return { functionToApply: 'softmax', reason: 'a single-label classifier' };
}

/** AudioSet's ontology has 527 classes; checkpoints with that many labels tag, they do not choose one. */
const AUDIOSET_LABELS = 527;

/** A pipeline over an extractor and a model already in memory (e.g. one just fine-tuned), or any {@link AudioClassifier}. */
export function createAudioClassificationPipeline<M extends AudioClassifier = ASTForAudioClassification>(
  featureExtractor: ASTFeatureExtractor,
  model: M,
  defaults: ClassifyOptions = {},
): AudioClassificationPipeline<M> {
  const config = model.config;
  const fe = featureExtractor.config;
  checkAgreement(config, fe, { config: 'config.json', preprocessor: 'preprocessor_config.json' });
  const labels = config.labels;
  const byCheckpoint = defaultFunctionToApply(config);
  defaults = normalizeOptionNames(defaults, CALL_OPTION_KEYS, 'audio classification defaults');

  async function* run(inputs: Iterable<AudioInput | AudioStream>, callOptions: ClassifyOptions = {}, progress: RunProgress = {}): AsyncGenerator<ClassifiedAudio> {
    // one clear error for the call, rather than the same one per input after each is decoded
    if (model.disposed) throw new DisposedError('this pipeline');
    const o = resolveOptions(
      withDefaults(normalizeOptionNames(callOptions, CALL_OPTION_KEYS, 'audio classification'), defaults),
      byCheckpoint.functionToApply,
      labels.length,
    );
    const samplingRate = fe.sampling_rate;
    // A bad window or hop is the call's mistake, not an input's: refuse it before reading anything.
    planWindows(0, samplingRate, fe.max_length, o);
    interface Pending {
      item: ClassifiedAudio;
      waveform: Float32Array;
      windows: AudioWindow[];
      scores: (Float32Array | undefined)[];
      /** With embeddings: the sum of the windows' pooler outputs, in float64. */
      pooled?: Float64Array;
      /** Windows queued and not yet scored. */
      left: number;
      /** Every window is known (a stream has ended, or the whole waveform was planned). */
      complete: boolean;
    }
    const order: Pending[] = [];
    // windows of every input share batches; each window's logits come back to its own input
    const batcher = new Batcher<Pending>({ maxBatch: o.batchSize, maxLength: config.max_length, numMelBins: config.num_mel_bins });
    const numLabels = labels.length;
    // With embeddings each output row is [logits, pooler output]: the batcher hands every window its own row.
    const forward = async (inputValues: Float32Tensor): Promise<Float32Tensor> => {
      const out = await model.forward({ inputValues });
      const logits = out.logits;
      if (!logits) throw new Error('the model gave no logits: audio classification needs a checkpoint with a classifier head');
      if (!o.embeddings) return logits;
      const pooled = out.poolerOutput;
      if (!pooled) throw new Error('the model gave no pooled output: embeddings need a model whose forward returns poolerOutput');
      const B = logits.dims[0]!;
      const H = pooled.data.length / B;
      const data = new Float32Array(B * (numLabels + H));
      for (let b = 0; b < B; b++) {
        data.set(logits.data.subarray(b * numLabels, (b + 1) * numLabels), b * (numLabels + H));
        data.set(pooled.data.subarray(b * H, (b + 1) * H), b * (numLabels + H) + numLabels);
      }
      return { dtype: 'float32', dims: [B, numLabels + H], data };
    };

    const finish = (p: Pending) => {
      const scores = p.scores as Float32Array[];
      p.item.labels = topK(aggregateScores(scores, o.aggregate), labels, o.topK);
      p.item.windows = p.windows.map((w, k) => ({ start: w.start, end: w.end, labels: topK(scores[k]!, labels, o.topK) }));
      if (p.pooled) p.item.embedding = Float32Array.from(p.pooled, (x) => x / p.windows.length);
      p.waveform = new Float32Array(0); // release the samples as soon as the item is done
    };

    // Features one window at a time, so a window that fails (say, NaN samples) fails only its input, and
    // only a batch's worth of windows is held as features (a long file has hundreds of windows).
    const queueWindow = async (p: Pending, w: AudioWindow, segment: Float32Array) => {
      let features: Float32Array;
      try {
        features = featureExtractor.extract(segment, { samplingRate, source: p.item.source }).inputValues.data;
      } catch (err) {
        p.item.error = prefixError(p.item.source, err);
        batcher.cancel(p); // its other windows would be wasted work
        return;
      }
      batcher.add(p, features).then(
        (row) => {
          const logits = o.embeddings ? row.subarray(0, numLabels) : row;
          if (o.embeddings) {
            const pooler = row.subarray(numLabels);
            p.pooled ??= new Float64Array(pooler.length);
            for (let i = 0; i < pooler.length; i++) p.pooled[i] = p.pooled[i]! + pooler[i]!;
          }
          p.scores[w.index] = activate(logits, o.functionToApply);
          if (--p.left === 0 && p.complete && !p.item.error) finish(p);
          progress.onWindows?.(p.item.index, p.windows.length - p.left, p.complete ? p.windows.length : p.windows.length + 1);
        },
        (err: unknown) => {
          if (!(err instanceof BatchCancelledError)) p.item.error ??= asError(err);
        },
      );
      while (batcher.full) await batcher.runNext(forward);
    };

    const queueWindows = async (p: Pending) => {
      for (const w of p.windows) {
        if (p.item.error) return;
        await queueWindow(p, w, p.waveform.subarray(w.startSample, w.endSample));
      }
    };

    /**
     * A file read as a stream: windows are scored as they fill, so only a few windows of samples are
     * held (stream-windows.ts), and the windows and scores are those of the whole-waveform path.
     */
    const queueStream = async (p: Pending, stream: AudioStream) => {
      const windows = new WindowStream(samplingRate, fe.max_length, o);
      const expected = stream.expectedFrames !== undefined && stream.sampleRate ? Math.ceil((stream.expectedFrames * samplingRate) / stream.sampleRate) : undefined;
      if (expected !== undefined) progress.onDecoded?.(p.item.index, expected / samplingRate, planWindows(expected, samplingRate, fe.max_length, o).windows.length);
      const take = async (ws: StreamedWindow[]) => {
        for (const w of ws) {
          if (o.aggregate === 'first' && w.index > 0) continue; // Hugging Face's truncation: the first window only
          const { samples, ...window } = w;
          p.windows.push(window);
          p.left++;
          await queueWindow(p, window, samples);
          if (p.item.error) return;
        }
      };
      for await (const chunk of monoChunks(stream, samplingRate, (rate) => (p.item.samplingRate = rate))) {
        await take(windows.push(chunk));
        if (p.item.error) return; // leaving the loop closes the file
      }
      const last = windows.end();
      p.item.duration = windows.length / samplingRate;
      if (windows.length === 0) throw new Error(`${p.item.source}: no audio samples decoded from this file (empty, truncated or corrupt)`);
      if (!(windows.length >= minSamples(samplingRate))) {
        throw new Error(`${p.item.source}: ${windows.length} samples is shorter than one ${FRAME_LENGTH_MS} ms analysis frame`);
      }
      await take(last);
      p.complete = true;
      if (expected === undefined) progress.onDecoded?.(p.item.index, p.item.duration, p.windows.length);
      if (p.left === 0 && !p.item.error) finish(p);
    };

    // Yield finished items in input order; items behind an unfinished one wait.
    function* ready(): Generator<ClassifiedAudio> {
      while (order.length > 0 && (order[0]!.item.error || (order[0]!.complete && order[0]!.left === 0))) {
        const p = order.shift()!;
        if (p.item.error) {
          delete p.item.labels;
          delete p.item.windows;
        }
        yield p.item;
      }
    }

    let index = 0;
    for (const input of inputs) {
      const source = isAudioStream(input) ? input.source : describeInput(input, index);
      const item: ClassifiedAudio = { index, source, duration: NaN };
      index++;
      const pending: Pending = { item, waveform: new Float32Array(0), windows: [], scores: [], left: 0, complete: false };
      order.push(pending);
      let stream: AudioStream | undefined;
      try {
        stream = isAudioStream(input) ? input : await openStream(input);
      } catch (err) {
        item.error = prefixError(source, err);
        progress.onDecoded?.(item.index, item.duration, 0);
      }
      if (stream) {
        try {
          await queueStream(pending, stream);
        } catch (err) {
          item.error ??= prefixError(source, err);
          batcher.cancel(pending);
          progress.onDecoded?.(item.index, item.duration, 0);
        }
      } else if (!item.error) {
        try {
          pending.waveform = await loadInput(input as AudioInput, samplingRate, source);
          item.duration = pending.waveform.length / samplingRate;
          if (!(pending.waveform.length >= minSamples(samplingRate))) {
            throw new Error(`${source}: ${pending.waveform.length} samples is shorter than one ${FRAME_LENGTH_MS} ms analysis frame`);
          }
          const plan = planWindows(pending.waveform.length, samplingRate, fe.max_length, o);
          pending.windows = o.aggregate === 'first' ? plan.windows.slice(0, 1) : plan.windows;
          pending.left = pending.windows.length;
          pending.complete = true;
          pending.scores = new Array(pending.left);
          progress.onDecoded?.(item.index, item.duration, pending.windows.length);
        } catch (err) {
          item.error = prefixError(source, err);
          progress.onDecoded?.(item.index, item.duration, 0);
        }
        if (!item.error) await queueWindows(pending);
      }
      yield* ready();
    }
    while (batcher.pending > 0) await batcher.runNext(forward);
    yield* ready();
  }

  async function collect(inputs: readonly AudioInput[], options?: ClassifyOptions): Promise<ClassifiedAudio[]> {
    const out: ClassifiedAudio[] = [];
    for await (const item of run(inputs, options)) {
      if (item.error) throw item.error;
      out.push(item);
    }
    return out;
  }

  async function call(input: AudioInput | readonly AudioInput[], options?: ClassifyOptions) {
    if (Array.isArray(input)) return (await collect(input, options)).map((r) => r.labels!);
    return (await collect([input as AudioInput], options))[0]!.labels!;
  }

  return Object.assign(call as AudioClassificationPipeline<M>, {
    task: 'audio-classification' as const,
    model,
    featureExtractor,
    functionToApply: byCheckpoint.functionToApply,
    functionReason: byCheckpoint.reason,
    timeline: async (input: AudioInput, options?: ClassifyOptions) => (await collect([input], options))[0]!.windows!,
    run,
    dispose: async () => {
      await model.dispose?.();
    },
  });
}

/** Call options over pipeline defaults; an option given as undefined keeps the default. */
function withDefaults(call: ClassifyOptions, defaults: ClassifyOptions): ClassifyOptions {
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(call)) if (v !== undefined) out[k] = v;
  return out as ClassifyOptions;
}

interface ResolvedOptions extends WindowOptions {
  embeddings: boolean;
  topK: number;
  functionToApply: ActivationFunction;
  aggregate: Aggregation;
  batchSize: number;
}

function resolveOptions(o: ClassifyOptions, defaultFunction: ActivationFunction, numLabels: number): ResolvedOptions {
  const k = o.topK === undefined ? 5 : o.topK;
  if (k !== null && !(Number.isInteger(k) && k > 0) && k !== Infinity) throw new Error(`topK must be a positive integer or null (all labels), got ${k}`);
  const functionToApply = o.functionToApply ?? defaultFunction;
  if (!['softmax', 'sigmoid', 'none'].includes(functionToApply)) {
    throw new Error(`functionToApply must be 'softmax', 'sigmoid' or 'none', got ${JSON.stringify(functionToApply)}`);
  }
  const aggregate = o.aggregate ?? 'mean';
  if (!['mean', 'max', 'first'].includes(aggregate)) throw new Error(`aggregate must be 'mean', 'max' or 'first', got ${JSON.stringify(aggregate)}`);
  const batchSize = o.batchSize ?? 1;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  return { window: o.window, hop: o.hop, embeddings: o.embeddings === true, topK: k === null ? numLabels : Math.min(k, numLabels), functionToApply, aggregate, batchSize };
}

/** Scores from one row of logits; softmax in float64 after subtracting the max, so large logits cannot overflow. */
export function activate(logits: Float32Array, how: ActivationFunction): Float32Array {
  const out = new Float32Array(logits.length);
  if (how === 'none') {
    out.set(logits);
  } else if (how === 'sigmoid') {
    for (let i = 0; i < logits.length; i++) out[i] = 1 / (1 + Math.exp(-logits[i]!));
  } else {
    let max = -Infinity;
    for (const x of logits) max = Math.max(max, x);
    let sum = 0;
    for (const x of logits) sum += Math.exp(x - max);
    for (let i = 0; i < logits.length; i++) out[i] = Math.exp(logits[i]! - max) / sum;
  }
  return out;
}

/** The k best labels, highest score first; equal scores keep label order. */
function topK(scores: Float32Array, labels: readonly string[], k: number): AudioClassificationResult[] {
  const idx = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
  return idx.slice(0, k).map((i) => ({ label: labels[i]!, score: scores[i]! }));
}

/**
 * A local file path as a stream, when the platform registered a streamer (the Node entry does); URLs,
 * bytes and samples, and paths the streamer declines (pipes), take the whole-waveform path.
 */
async function openStream(input: AudioInput): Promise<AudioStream | undefined> {
  const streamer = getAudioFileStreamer();
  if (!streamer || typeof input !== 'string' || /^(https?|data|blob):/i.test(input)) return undefined;
  return streamer(input);
}

function isAudioStream(x: unknown): x is AudioStream {
  return typeof x === 'object' && x !== null && 'chunks' in x && 'source' in x;
}

/** Kaldi's fbank needs one whole frame; shorter input is an error in Hugging Face too. */
function minSamples(samplingRate: number): number {
  return Math.trunc((samplingRate * FRAME_LENGTH_MS) / 1000);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function prefixError(source: string, err: unknown): Error {
  const e = asError(err);
  return e.message.includes(source) ? e : new Error(`${source}: ${e.message}`, { cause: e });
}
