/**
 * Tag one audio file: bytes -> windows of features -> the model (batched with the windows of other files
 * in flight) -> a row (top labels, optionally every score, the timeline, the pooled embedding), or the
 * file's clear error. A bad file never stops the caller: its error comes back as a value.
 *
 * Reading and windowing sit behind {@link WindowReader}, so a streaming reader (peak memory a few windows,
 * whatever the file's length) replaces {@link wholeFileWindows} without touching the rest.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { decodeAudio } from '../audio/decode.js';
import type { ASTFeatureExtractor } from '../audio/feature-extractor.js';
import { activate, type ActivationFunction, type AudioClassificationPipeline } from '../pipeline/audio-classification.js';
import { Batcher, BatchCancelledError } from '../pipeline/batcher.js';
import { aggregateScores, FRAME_LENGTH_MS, planWindows, type Aggregation } from '../pipeline/windows.js';
import { float32Tensor, type Float32Tensor } from '../tensor.js';
import { wholeMs, type FileIdentity, type LabelScore, type TagError, type TagRow, type TimelineWindow } from './row.js';

/** A file to tag: its identity (the resume key) and a way to read its encoded bytes. */
export interface AudioItem extends FileIdentity {
  read(): Promise<Uint8Array>;
}

/** Larger files are refused before reading: past what one whole-file decode can hold (as classify). */
const MAX_WHOLE_FILE_BYTES = 2 ** 31 - 1;

/** An audio file on disk as an item: stat now (the key), read when tagged. Throws a clear error when it cannot be. */
export async function fileItem(path: string): Promise<AudioItem> {
  const abs = resolve(path);
  const s = await stat(abs).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${abs}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
  });
  if (!s.isFile()) throw new Error(`${abs}: not a regular file`);
  const item: AudioItem = {
    path: abs,
    size: s.size,
    mtime_ms: wholeMs(s.mtimeMs),
    read: () => readWhole(abs, s.size),
  };
  return item;
}

async function readWhole(path: string, size: number): Promise<Uint8Array> {
  if (size === 0) throw new Error(`${path}: empty file`);
  if (size > MAX_WHOLE_FILE_BYTES) throw new Error(`${path}: ${size} bytes is too large to decode in one piece (limit ${MAX_WHOLE_FILE_BYTES})`);
  const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${path}: ${err.code === 'ENOENT' ? 'no such file (removed since it was listed)' : err.message}`);
  });
  try {
    const bytes = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(bytes, off, size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    if (off !== size) throw new Error(`${path}: the file shrank from ${size} to ${off} bytes while being read`);
    return bytes;
  } finally {
    await fh.close();
  }
}

/** One window's features ([max_length, num_mel_bins], normalised as the model expects) and its span. */
export interface WindowFeatures {
  start: number;
  end: number;
  features: Float32Array;
}

/** What a window reader gives for one item: its windows, then (once they are read) the file's facts. */
export interface ReadWindows {
  windows: AsyncIterable<WindowFeatures>;
  /** Valid after `windows` is exhausted. */
  info(): { sha256: string; duration_s: number; sampling_rate: number };
}

export interface WindowContext {
  extractor: ASTFeatureExtractor;
  window?: number;
  hop?: number;
  /** 'first' reads only the first window. */
  aggregate: Aggregation;
}

/** Reads an item's audio and yields its windows' features. */
export type WindowReader = (item: AudioItem, ctx: WindowContext) => Promise<ReadWindows>;

/** The whole-file reader: decode everything, then features one window at a time (today's classify path). */
export const wholeFileWindows: WindowReader = async (item, ctx) => {
  const bytes = await item.read();
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const fe = ctx.extractor.config;
  const rate = fe.sampling_rate;
  const decoded = await decodeAudio(bytes, { samplingRate: rate, source: item.path });
  const waveform = decoded.waveform;
  const minSamples = Math.trunc((rate * FRAME_LENGTH_MS) / 1000);
  if (!(waveform.length >= minSamples)) {
    throw new Error(`${item.path}: ${waveform.length} samples is shorter than one ${FRAME_LENGTH_MS} ms analysis frame`);
  }
  const plan = planWindows(waveform.length, rate, fe.max_length, ctx);
  const windows = ctx.aggregate === 'first' ? plan.windows.slice(0, 1) : plan.windows;
  async function* features(): AsyncGenerator<WindowFeatures> {
    for (const w of windows) {
      const segment = waveform.subarray(w.startSample, w.endSample);
      yield { start: w.start, end: w.end, features: ctx.extractor.extract(segment, { samplingRate: rate, source: item.path }).inputValues.data };
    }
  }
  return {
    windows: features(),
    info: () => ({ sha256, duration_s: waveform.length / rate, sampling_rate: decoded.originalSamplingRate }),
  };
};

export interface TagOptions {
  /** Labels per clip (and per window in the timeline); null: all. */
  topK: number | null;
  window?: number;
  hop?: number;
  aggregate: Aggregation;
  /** Windows per forward pass (shared by the files in flight). */
  batchSize: number;
  /** Default: the checkpoint's (softmax, or sigmoid for multi-label). */
  functionToApply?: ActivationFunction;
  allScores: boolean;
  timeline: boolean;
  embeddings: boolean;
}

export type TagOutcome = { row: TagRow; error?: undefined } | { row?: undefined; error: TagError };

export interface Tagger {
  readonly labels: readonly string[];
  readonly functionToApply: ActivationFunction;
  /** Tags one item; several calls may be in flight at once (their windows share batches). */
  tag(item: AudioItem): Promise<TagOutcome>;
}

/**
 * A tagger over a loaded pipeline (its model and feature extractor). The caller owns the pipeline and
 * disposes it. `reader` defaults to {@link wholeFileWindows}.
 */
export function createTagger(classifier: AudioClassificationPipeline, options: TagOptions, reader: WindowReader = wholeFileWindows): Tagger {
  const model = classifier.model;
  const config = model.config;
  const labels = config.labels;
  const fn = options.functionToApply ?? classifier.functionToApply;
  const k = options.topK === null ? labels.length : Math.min(options.topK, labels.length);
  if (!(Number.isInteger(k) && k > 0)) throw new Error(`top-k must be a positive integer or all, got ${options.topK}`);
  // A bad --window/--hop is the run's mistake, not a file's: refused here, before any file is read.
  planWindows(0, classifier.featureExtractor.config.sampling_rate, classifier.featureExtractor.config.max_length, options);
  const ctx: WindowContext = { extractor: classifier.featureExtractor, window: options.window, hop: options.hop, aggregate: options.aggregate };
  const numLabels = labels.length;
  const hidden = config.hidden_size;
  const batcher = new Batcher<AudioItem>({ maxBatch: options.batchSize, maxLength: config.max_length, numMelBins: config.num_mel_bins });

  // One forward at a time: two on a CPU would only share its cores. Each output row is the logits, then
  // (with --embeddings) the pooled output, so the batcher hands every window both.
  let running: Promise<unknown> = Promise.resolve();
  const forward = (inputValues: Float32Tensor): Promise<Float32Tensor> => {
    const run = running.then(async () => {
      const out = await model.forward({ inputValues });
      if (!options.embeddings) return out.logits;
      const B = inputValues.dims[0]!;
      const both = new Float32Array(B * (numLabels + hidden));
      for (let b = 0; b < B; b++) {
        both.set(out.logits.data.subarray(b * numLabels, (b + 1) * numLabels), b * (numLabels + hidden));
        both.set(out.poolerOutput.data.subarray(b * hidden, (b + 1) * hidden), b * (numLabels + hidden) + numLabels);
      }
      return float32Tensor([B, numLabels + hidden], both);
    });
    running = run.catch(() => {});
    return run;
  };

  const top = (scores: Float32Array): LabelScore[] =>
    Array.from(scores.keys())
      .sort((a, b) => scores[b]! - scores[a]! || a - b)
      .slice(0, k)
      .map((i) => ({ label: labels[i]!, score: scores[i]! }));

  async function tag(item: AudioItem): Promise<TagOutcome> {
    const identity = { path: item.path, size: item.size, mtime_ms: item.mtime_ms };
    const outputs: Promise<Float32Array>[] = [];
    const spans: { start: number; end: number }[] = [];
    try {
      const read = await reader(item, ctx);
      for await (const w of read.windows) {
        outputs.push(batcher.add(item, w.features));
        spans.push({ start: w.start, end: w.end });
        while (batcher.full) await batcher.runNext(forward);
      }
      while (batcher.pending > 0) await batcher.runNext(forward);
      const rows = await Promise.all(outputs);
      if (rows.length === 0) throw new Error(`${item.path}: no windows`);
      const scores = rows.map((r) => activate(r.subarray(0, numLabels), fn));
      const clip = aggregateScores(scores, options.aggregate);
      const info = read.info();
      const row: TagRow = { ...identity, ...info, labels: top(clip) };
      if (options.allScores) row.scores = Array.from(clip);
      if (options.timeline) row.timeline = spans.map((s, i): TimelineWindow => ({ start: s.start, end: s.end, labels: top(scores[i]!) }));
      if (options.embeddings) row.embedding = Array.from(meanRows(rows.map((r) => r.subarray(numLabels))));
      return { row };
    } catch (err) {
      batcher.cancel(item); // its queued windows would be wasted work
      await Promise.allSettled(outputs);
      const e = err instanceof BatchCancelledError ? new Error('cancelled') : (err as Error);
      const message = e instanceof Error ? e.message : String(e);
      return { error: { ...identity, error: message.includes(item.path) ? message : `${item.path}: ${message}` } };
    }
  }

  return { labels, functionToApply: fn, tag };
}

/** The mean of equal-length rows, summed in float64 and rounded to float32 once. */
function meanRows(rows: readonly Float32Array[]): Float32Array {
  const sum = new Float64Array(rows[0]!.length);
  for (const r of rows) for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + r[i]!;
  const out = new Float32Array(sum.length);
  for (let i = 0; i < out.length; i++) out[i] = sum[i]! / rows.length;
  return out;
}
