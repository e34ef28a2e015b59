/**
 * `ast-audio tag INPUTS --queue redis://HOST:PORT/NAME`: the files become jobs of `filesPerJob` files,
 * each with an id derived from its files' keys; a job whose id is already in Redis (waiting, active,
 * completed or failed) is not added again, so the same command can be run twice, or after a crash.
 */
import { Queue } from 'bullmq';
import { addEnqueued, redisClient } from './stats.js';
import { fileKey } from '../row.js';
import { batchFiles, jobIdFor, TAG_JOB, type QueuedFile, type QueueTagOptions, type TagJobData } from './jobs.js';
import { connectionOptions, type QueueAddress } from './redis-url.js';

export interface EnqueueOptions {
  filesPerJob: number;
  /** Tries per job before its failures are final (BullMQ `attempts`). */
  attempts: number;
  /** First retry delay; each later retry waits twice as long (BullMQ's exponential backoff). */
  backoffMs: number;
}

export interface EnqueueResult {
  jobs: number;
  files: number;
  /** Jobs (and their files) skipped because a job with the same id was already in the queue. */
  existingJobs: number;
  existingFiles: number;
  /** Of those, failed jobs (attempts used up: disk full, a worker killed twice) moved back to waiting with fresh attempts. */
  retriedJobs: number;
}

/** BullMQ adds in one round trip per call; this many jobs per call keeps each call's payload moderate. */
const ADD_CHUNK = 500;

export async function enqueueFiles(
  address: QueueAddress,
  files: readonly QueuedFile[],
  options: QueueTagOptions,
  opts: EnqueueOptions,
): Promise<EnqueueResult> {
  const queue = new Queue<TagJobData>(address.name, { connection: connectionOptions(address, { failFast: true }) });
  const redis = redisClient(address, { failFast: true });
  try {
    // Sorted by path: the same inputs give the same batches, hence the same job ids, on every run.
    const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const batches = batchFiles(sorted, opts.filesPerJob).map((batch) => ({ id: jobIdFor(batch.map(fileKey)), batch }));
    const result: EnqueueResult = { jobs: 0, files: 0, existingJobs: 0, existingFiles: 0, retriedJobs: 0 };
    for (let i = 0; i < batches.length; i += ADD_CHUNK) {
      const chunk = batches.slice(i, i + ADD_CHUNK);
      const exists = await Promise.all(chunk.map(({ id }) => redis.exists(`bull:${address.name}:${id}`)));
      const fresh = chunk.filter((_, k) => exists[k] === 0);
      for (const [k, { id, batch }] of chunk.entries()) {
        if (exists[k] === 0) continue;
        result.existingJobs += 1;
        result.existingFiles += batch.length;
        // Running the producer again is how a user retries what failed for good (after freeing disk space, say).
        if ((await queue.getJobState(id)) === 'failed') {
          const job = await queue.getJob(id);
          await job?.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          result.retriedJobs += 1;
        }
      }
      await queue.addBulk(
        fresh.map(({ id, batch }) => ({
          name: TAG_JOB,
          data: { files: batch, options },
          opts: { jobId: id, attempts: opts.attempts, backoff: { type: 'exponential', delay: opts.backoffMs } },
        })),
      );
      const freshFiles = fresh.reduce((n, { batch }) => n + batch.length, 0);
      await addEnqueued(redis, address, freshFiles, fresh.length);
      result.jobs += fresh.length;
      result.files += freshFiles;
    }
    return result;
  } finally {
    await queue.close();
    redis.disconnect();
  }
}
