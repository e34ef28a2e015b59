/**
 * One tagged file as a row of `ast-audio tag`'s output, one failed file as a line of errors.jsonl, and the
 * key both are known by. Resume, merge and the queue's deduplication all compare files by this key, so a
 * file processed twice (a retried job, a rerun) is found to be the same file.
 */

/** One label and its score (the pipeline's AudioClassificationResult, as a Parquet struct). */
export interface LabelScore {
  label: string;
  score: number;
}

/** One window of a file: start and end in seconds, and its top labels. */
export interface TimelineWindow {
  start: number;
  end: number;
  labels: LabelScore[];
}

/** What identifies a file across runs: its path (absolute) with its size and modification time. */
export interface FileIdentity {
  /** Absolute path; for a row of a Parquet dataset, `DATASET.parquet#ROW` (see hf-dataset.ts). */
  path: string;
  /** Bytes of the encoded audio. */
  size: number;
  /** Modification time in whole milliseconds since the epoch (of the Parquet file for a dataset row). */
  mtime_ms: number;
}

/** One row of a shard. The optional columns are present in every row of a run or in none. */
export interface TagRow extends FileIdentity {
  /** SHA-256 of the encoded bytes, lowercase hex. */
  sha256: string;
  /** Seconds of audio. */
  duration_s: number;
  /** The file's own sampling rate in Hz (before resampling to the model's). */
  sampling_rate: number;
  /** The top-k labels of the clip, best first. */
  labels: LabelScore[];
  /** --all-scores: every label's clip score, in the model's label order (`_manifest.json` "labels"). */
  scores?: number[];
  /** --timeline: every window's top-k labels. */
  timeline?: TimelineWindow[];
  /** --embeddings: the pooled embedding (pooler_output, mean over windows), float32 values. */
  embedding?: number[];
}

/** One line of errors.jsonl. */
export interface TagError extends FileIdentity {
  /** The clear message: names the file and what is wrong with it. */
  error: string;
}

/** Which optional columns a run writes (fixed for a run, recorded in its manifest). */
export interface RowColumns {
  scores: boolean;
  timeline: boolean;
  embedding: boolean;
}

/** The key of a file: equal for the same path, size and mtime, whatever wrote the row. */
export function fileKey(f: FileIdentity): string {
  return `${f.path}\u0000${f.size}\u0000${f.mtime_ms}`;
}

/** Milliseconds as stored in rows: whole, so a key survives a round trip through Parquet's INT64. */
export function wholeMs(mtimeMs: number): number {
  return Math.floor(mtimeMs);
}
