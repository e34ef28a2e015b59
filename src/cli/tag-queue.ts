/**
 * `ast-audio tag INPUTS… --queue redis://HOST:PORT/NAME`: instead of tagging here, list the files and put
 * them on a BullMQ queue for `ast-audio worker`s (src/corpus/queue). The tag options chosen here travel
 * with the jobs, so every worker writes rows of one schema.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { readDoneFiles } from '../corpus/resume.js';
import { fileKey, type FileIdentity } from '../corpus/row.js';
import { fileItem } from '../corpus/tag-file.js';
import { DEFAULT_FILES_PER_JOB, type QueueTagOptions } from '../corpus/queue/jobs.js';
import { enqueueFiles } from '../corpus/queue/producer.js';
import { parseQueueUrl, type QueueAddress } from '../corpus/queue/redis-url.js';
import { isStdin, plural } from './common.js';
import { expandInputs } from './expand-inputs.js';
import { isDatasetInput } from '../corpus/hf-dataset.js';
import type { ModelDtype } from '../runtime/dtype.js';
import type { Aggregation } from '../pipeline/windows.js';
import type { ShardFormat } from '../corpus/shard-writer.js';

export interface EnqueueCliOptions {
  queue: QueueAddress;
  /** Files per job. */
  jobFiles: number;
  /** Tries per job before a failed file is final. */
  attempts: number;
  /** First retry delay in ms (doubling after). */
  backoff: number;
  /** With --out: files that already have a row there are not queued (a rerun after Redis lost its queue). */
  out?: string;
  /** With --out: queue the files listed in its errors.jsonl too (as tag --retry-errors). */
  retryErrors?: boolean;
}

export const QUEUE_DEFAULTS = { jobFiles: DEFAULT_FILES_PER_JOB, attempts: 3, backoff: 5000 } as const;

/** `--queue redis://host:port/name`, as a usage error when malformed. */
export function queueOption(value: string): QueueAddress {
  try {
    return parseQueueUrl(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** The tag command's options that shape the rows and how they are written (as tag.ts parses them): `tag` and `tag --queue` share them. */
export interface TagRowCliOptions {
  model?: string;
  dtype?: ModelDtype;
  topK: number | 'all';
  window?: number;
  hop?: number;
  aggregate: Aggregation;
  batchSize: number;
  allScores: boolean;
  timeline: boolean;
  embeddings: boolean;
  format: ShardFormat;
}

/** `tag --queue`'s options: the row options plus the queue's (`--out` optional: where workers write by default). */
export interface TagQueueCliOptions extends Omit<EnqueueCliOptions, 'out'>, TagRowCliOptions {
  out?: string;
}

/** `ast-audio tag INPUTS… --queue URL [--out DIR]`: expand the inputs, then {@link enqueueCommand}. */
export async function tagQueueCommand(inputs: readonly string[], opts: TagQueueCliOptions, say: (line: string) => void): Promise<number> {
  if (inputs.some(isStdin)) {
    say('ast-audio tag: --queue takes files and folders; standard input cannot be queued');
    return 1;
  }
  for (const a of inputs) {
    if (await isDatasetInput(a)) {
      say(`ast-audio tag: ${a}: --queue takes audio files and folders; a Parquet dataset is tagged by one process (ast-audio tag ${a} --out DIR)`);
      return 1;
    }
  }
  const { files, problems } = await expandInputs(inputs);
  for (const p of problems) say(`ast-audio tag: ${p.input}: ${p.message}`);
  if (files.length === 0) {
    say('ast-audio tag: no audio files to queue');
    return 1;
  }
  const options: QueueTagOptions = {
    model: opts.model,
    dtype: opts.dtype,
    format: opts.format,
    tag: {
      topK: opts.topK === 'all' ? null : opts.topK,
      window: opts.window,
      hop: opts.hop,
      aggregate: opts.aggregate,
      batchSize: opts.batchSize,
      allScores: opts.allScores,
      timeline: opts.timeline,
      embeddings: opts.embeddings,
    },
  };
  const code = await enqueueCommand(files, options, opts, say);
  return code === 0 && problems.length > 0 ? 2 : code;
}

/** A local checkpoint folder becomes absolute (workers run elsewhere); a Hub id stays as it is. */
export function modelForWorkers(model: string | undefined): string | undefined {
  if (model === undefined || isAbsolute(model)) return model;
  return existsSync(model) ? resolve(model) : model;
}

/**
 * Stats the files, skips those already tagged in `opts.out`, enqueues the rest. Returns the exit code:
 * 0 all queued (or already queued/tagged), 2 some inputs could not be read (each reported), 1 nothing to do or Redis unreachable.
 */
export async function enqueueCommand(
  paths: readonly string[],
  options: QueueTagOptions,
  opts: EnqueueCliOptions,
  say: (line: string) => void,
): Promise<number> {
  const files: FileIdentity[] = [];
  let unreadable = 0;
  for (const path of paths) {
    try {
      const item = await fileItem(path);
      files.push({ path: item.path, size: item.size, mtime_ms: item.mtime_ms });
    } catch (err) {
      unreadable++;
      say(`ast-audio tag: ${(err as Error).message}`);
    }
  }
  let todo = files;
  let alreadyTagged = 0;
  if (opts.out !== undefined) {
    const done = await readDoneFiles(resolve(opts.out));
    todo = files.filter((f) => !done.rows.has(fileKey(f)) && (opts.retryErrors === true || !done.errors.has(fileKey(f))));
    alreadyTagged = files.length - todo.length;
  }
  if (todo.length === 0) {
    say(`ast-audio tag: nothing to queue${alreadyTagged ? ` (${plural(alreadyTagged, 'file')} already done in ${opts.out}: tagged, or in errors.jsonl)` : ''}`);
    return files.length > 0 && unreadable === 0 ? 0 : 1;
  }
  let result;
  try {
    result = await enqueueFiles(opts.queue, todo, { ...options, model: modelForWorkers(options.model) }, {
      filesPerJob: opts.jobFiles,
      attempts: opts.attempts,
      backoffMs: opts.backoff,
    });
  } catch (err) {
    say(`ast-audio tag: ${opts.queue.display}: cannot enqueue (${(err as Error).message})`);
    return 1;
  }
  say(
    `ast-audio tag: queued ${plural(result.files, 'file')} in ${plural(result.jobs, 'job')} on ${opts.queue.display}` +
      (result.existingJobs ? `; ${plural(result.existingFiles, 'file')} in ${plural(result.existingJobs, 'job')} already queued` : '') +
      (result.retriedJobs ? ` (${plural(result.retriedJobs, 'failed job')} retried)` : '') +
      (alreadyTagged ? `; ${plural(alreadyTagged, 'file')} already done in ${opts.out}` : ''),
  );
  say(`ast-audio tag: start workers with: ast-audio worker --queue ${opts.queue.display} --out DIR`);
  return unreadable > 0 ? 2 : 0;
}
