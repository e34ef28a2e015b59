/**
 * The sandboxed processor: BullMQ runs this module in a child process of `ast-audio worker` and calls its
 * default export once per job. The child keeps its model loaded between jobs; if it crashes (a decoder
 * fault, out of memory) BullMQ fails the job and forks a fresh child for the next one.
 *
 * One job = one shard: the job's rows are written (temp name, then link) before the job returns, so a
 * completed job's rows are on disk. Files that failed are retried with the job's backoff (only those:
 * the job's data is narrowed to them); on the last attempt they go to errors.jsonl.
 */
import type { SandboxedJob } from 'bullmq';
import '../../node/index.js';
import { pipeline, type AudioClassificationPipeline } from '../../pipeline/audio-classification.js';
import { appendError } from '../error-log.js';
import { readDoneFiles } from '../resume.js';
import { fileKey, type TagError, type TagRow } from '../row.js';
import { ShardWriter } from '../shard-writer.js';
import { createTagger, fileItem, type Tagger } from '../tag-file.js';
import type { QueueTagOptions, TagJobData, TagJobProgress, TagJobResult } from './jobs.js';
import { readWorkerEnv, type WorkerEnv } from './worker-env.js';
import { ensureWorkerManifest, queueRowShape } from './worker-manifest.js';

// The worker that forked this child is gone (killed): stop now. Its job is re-delivered to a live worker
// once its lock expires; finishing it here would only write a duplicate shard.
process.once('disconnect', () => process.exit(1));

/** Shards are written per job (flushed at its end), never by size: larger than any job. */
const ONE_SHARD_PER_JOB = Number.MAX_SAFE_INTEGER;

interface ChildState {
  env: WorkerEnv;
  /** Keys with a row in --out: found at start (a resumed run), then added as this child writes. */
  done: Set<string>;
  loaded?: { key: string; classifier: AudioClassificationPipeline; tagger: Tagger; writer: ShardWriter };
}

let state: Promise<ChildState> | undefined;

function childState(): Promise<ChildState> {
  state ??= (async () => {
    const env = readWorkerEnv();
    const { rows } = await readDoneFiles(env.out);
    return { env, done: rows };
  })();
  return state;
}

/** The model and writer for a job's options, loaded once per child (reloaded only if a job asks for others). */
async function loadFor(s: ChildState, options: QueueTagOptions): Promise<NonNullable<ChildState['loaded']>> {
  const key = JSON.stringify(options);
  if (s.loaded?.key === key) return s.loaded;
  if (s.loaded) await s.loaded.classifier.dispose();
  s.loaded = undefined;
  const classifier = await pipeline('audio-classification', options.model, { revision: options.revision, dtype: options.dtype, threads: s.env.threads });
  const tagger = createTagger(classifier, options.tag);
  await ensureWorkerManifest(s.env.out, queueRowShape(options, tagger.labels, tagger.functionToApply), options, s.done.size);
  const writer = new ShardWriter({
    dir: s.env.out,
    format: options.format,
    shardSize: ONE_SHARD_PER_JOB,
    columns: { scores: options.tag.allScores, timeline: options.tag.timeline, embedding: options.tag.embeddings },
    prefix: `part-${s.env.workerId}`,
    metadata: { model: options.model ?? 'embedded', dtype: options.dtype ?? 'fp32', labels: tagger.labels, worker: s.env.workerId },
  });
  s.loaded = { key, classifier, tagger, writer };
  return s.loaded;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export default async function processTagJob(job: SandboxedJob<TagJobData, TagJobResult>): Promise<TagJobResult> {
  const s = await childState();
  const { tagger, writer } = await loadFor(s, job.data.options);
  const attempts = job.opts.attempts ?? 1;
  const lastAttempt = job.attemptsMade + 1 >= attempts;
  const carried = job.data.carried ?? { tagged: 0, skipped: 0, audioSeconds: 0 };

  const rows: TagRow[] = [];
  const failed: { queued: TagJobData['files'][number]; error: TagError }[] = [];
  let skipped = 0;
  for (const [index, file] of job.data.files.entries()) {
    if (s.done.has(fileKey(file))) {
      skipped++; // a re-delivered job, or a rerun after Redis lost the queue: the row is already here
      continue;
    }
    // Before each file, so that if this process dies the worker knows which file it was reading.
    const progress: TagJobProgress = { index, path: file.path };
    await job.updateProgress(progress as unknown as object);
    try {
      const outcome = await tagger.tag(await fileItem(file.path));
      if (outcome.row) rows.push(outcome.row);
      else failed.push({ queued: file, error: outcome.error });
    } catch (err) {
      failed.push({ queued: file, error: { ...file, error: message(err) } });
    }
  }

  for (const r of rows) await writer.add(r);
  const shard = (await writer.flush()) ?? null;
  for (const r of rows) s.done.add(fileKey(r));
  const audioSeconds = carried.audioSeconds + rows.reduce((t, r) => t + r.duration_s, 0);
  const tagged = carried.tagged + rows.length;
  skipped += carried.skipped;

  if (failed.length > 0 && !lastAttempt) {
    await job.updateData({ ...job.data, files: failed.map((f) => f.queued), carried: { tagged, skipped, audioSeconds } });
    throw new Error(
      `${failed.length} of ${job.data.files.length} files failed on attempt ${job.attemptsMade + 1} of ${attempts} ` +
        `(retried with backoff; the others are written): ${failed[0]!.error.error}`,
    );
  }
  for (const f of failed) await appendError(s.env.out, f.error);
  return {
    tagged,
    errors: failed.length,
    skipped,
    audioSeconds,
    shard: shard === null ? null : shard.slice(s.env.out.length).replace(/^[\\/]+/, ''),
    worker: s.env.workerId,
  };
}
