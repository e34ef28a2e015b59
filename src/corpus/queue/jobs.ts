/**
 * What travels through Redis: one job per batch of files. A job's id is a hash of its files' keys, so
 * enqueuing the same files again (a rerun of `tag --queue`, a second producer) adds nothing while the
 * first job is still in Redis: BullMQ ignores an add whose id exists.
 */
import { createHash } from 'node:crypto';
import type { ModelDtype } from '../../runtime/dtype.js';
import type { FileIdentity } from '../row.js';
import type { ShardFormat } from '../shard-writer.js';
import type { TagOptions } from '../tag-file.js';

/** One file as the producer saw it (absolute path, size, mtime): the key its row and error are known by. */
export type QueuedFile = FileIdentity;

/**
 * How every worker tags: the model and precision, the shard format, and the tag command's own options
 * (windows, top-k, which columns). They travel with each job, so that workers on many machines write
 * rows of one schema whatever their own command line says.
 */
export interface QueueTagOptions {
  /** Hub id or absolute checkpoint folder (it must exist on every worker); absent: the embedded model. */
  model?: string;
  revision?: string;
  dtype?: ModelDtype;
  format: ShardFormat;
  tag: TagOptions;
}

/** A job's data: its files and how to tag them. */
export interface TagJobData {
  files: QueuedFile[];
  options: QueueTagOptions;
  /**
   * What earlier attempts already wrote. An attempt with failed files writes its good rows, narrows
   * `files` to the failed ones and adds its counts here, so a retry repeats only what failed.
   */
  carried?: { tagged: number; skipped: number; audioSeconds: number };
}

/** A job's return value (kept in Redis with the completed job, so small: counts, not rows). */
export interface TagJobResult {
  tagged: number;
  errors: number;
  skipped: number;
  audioSeconds: number;
  /** The shard this attempt wrote, relative to the worker's --out (null when every file failed or was skipped). */
  shard: string | null;
  worker: string;
}

/** What `worker.on('progress')` carries: the file being tagged, so a crash can name it. */
export interface TagJobProgress {
  index: number;
  path: string;
}

/** BullMQ's job name for ours (one kind of job per queue). */
export const TAG_JOB = 'tag';

/** Files per job by default: small enough that a retry or a re-delivery repeats little, large enough that Redis holds few jobs. */
export const DEFAULT_FILES_PER_JOB = 32;

/**
 * The job id of a batch: `b` + 32 hex digits of sha256 over its sorted keys. Sorted so the order files
 * were listed in does not matter; a prefix letter because BullMQ rejects ids that are plain integers.
 */
export function jobIdFor(keys: readonly string[]): string {
  const hash = createHash('sha256');
  for (const key of [...keys].sort()) hash.update(key).update('\n');
  return `b${hash.digest('hex').slice(0, 32)}`;
}

/** Files into batches of `filesPerJob`, in the order given (sort the files first for stable job ids across runs). */
export function batchFiles<T>(files: readonly T[], filesPerJob: number): T[][] {
  if (!Number.isInteger(filesPerJob) || filesPerJob < 1) throw new Error(`files per job must be a positive integer, got ${filesPerJob}`);
  const batches: T[][] = [];
  for (let i = 0; i < files.length; i += filesPerJob) batches.push(files.slice(i, i + filesPerJob));
  return batches;
}
