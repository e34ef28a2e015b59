/**
 * `ast-audio worker --queue redis://…/NAME --out DIR`: takes jobs from the queue and tags their files.
 *
 * The tagging runs in BullMQ's sandboxed processor (processor.ts, in a child process): this process only
 * talks to Redis, so its lock renewals keep going while the child computes, and a child that crashes or
 * runs out of memory on a file fails that job (retried with backoff), not the worker.
 *
 * The child writes each finished job's rows as its own shard in DIR before the job is marked completed,
 * so a completed job's rows are on disk: delivery is at-least-once, and a job re-delivered after a worker
 * died writes its rows twice, in two shards, deduplicated by key when shards are merged.
 */
import { hostname } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, Worker, type Job } from 'bullmq';
import { addErrorFiles, addJobResult, markWorkerStart, redisClient } from './stats.js';
import { appendError } from '../error-log.js';
import { fileKey } from '../row.js';
import { jobIdFor, TAG_JOB, type TagJobData, type TagJobProgress, type TagJobResult } from './jobs.js';
import { connectionOptions, type QueueAddress } from './redis-url.js';
import { WORKER_ENV, type WorkerEnv } from './worker-env.js';
import { refreshManifestCounts } from './worker-manifest.js';

export interface WorkerOptions {
  out: string;
  /** Jobs this worker runs at once, each in its own child process. */
  concurrency: number;
  /** Unique per worker: its shards are named after it. Default: hostname-pid. */
  workerId?: string;
  /** ONNX Runtime threads per child process. */
  threads?: number;
  /** Exit once the queue has no waiting, delayed or active job. */
  exitWhenDrained: boolean;
  /** BullMQ's lock duration: a worker silent this long is taken for dead and its job re-delivered. */
  lockDurationMs: number;
  /** How often this worker looks for jobs whose worker died (BullMQ's stalled check). */
  stalledIntervalMs: number;
  log: (line: string) => void;
}

export interface WorkerSummary {
  jobs: number;
  failedJobs: number;
  tagged: number;
  errors: number;
}

/** BullMQ's message when a sandboxed child exits in the middle of a job. */
const CHILD_EXIT = /^Unexpected exit code/;

/** The processor next to this file: processor.ts under tsx (the child inherits `--import tsx`), processor.js when built. */
function processorFile(): string {
  const here = fileURLToPath(import.meta.url);
  return here.slice(0, -extname(here).length).replace(/worker$/, 'processor') + extname(here);
}

/** A worker id safe inside a file name. */
export function defaultWorkerId(): string {
  return `${hostname()}_${process.pid}`.replace(/[^A-Za-z0-9_]/g, '_');
}

export async function runWorker(address: QueueAddress, opts: WorkerOptions): Promise<WorkerSummary> {
  const workerId = opts.workerId ?? defaultWorkerId();
  const env: WorkerEnv = { out: opts.out, workerId, threads: opts.threads };
  const redis = redisClient(address);
  const queue = new Queue<TagJobData>(address.name, { connection: connectionOptions(address) });
  const summary: WorkerSummary = { jobs: 0, failedJobs: 0, tagged: 0, errors: 0 };
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  await markWorkerStart(redis, address);
  const worker = new Worker<TagJobData, TagJobResult>(address.name, processorFile(), {
    connection: connectionOptions(address),
    concurrency: opts.concurrency,
    name: workerId,
    lockDuration: opts.lockDurationMs,
    stalledInterval: opts.stalledIntervalMs,
    // The child inherits this process's environment plus where to write; stdio goes to ours.
    workerForkOptions: { env: { ...process.env, [WORKER_ENV]: JSON.stringify(env) }, stdio: 'inherit' },
  });

  worker.on('completed', (job: Job<TagJobData, TagJobResult>, result: TagJobResult) => {
    summary.jobs += 1;
    summary.tagged += result.tagged;
    summary.errors += result.errors;
    track(addJobResult(redis, address, result));
    opts.log(`job ${job.id}: ${result.tagged} tagged, ${result.errors} in errors${result.skipped ? `, ${result.skipped} already in ${opts.out}` : ''}`);
  });
  worker.on('failed', (job: Job<TagJobData, TagJobResult> | undefined, err: Error) => {
    if (job === undefined) return;
    const attempts = job.opts.attempts ?? 1;
    const final = job.attemptsMade >= attempts;
    opts.log(`job ${job.id}: attempt ${job.attemptsMade} of ${attempts} failed: ${err.message}${final ? '' : '; retrying'}`);
    if (!final) return;
    summary.failedJobs += 1;
    if (CHILD_EXIT.test(err.message)) track(isolatePoisonedFile(job, err));
  });
  worker.on('stalled', (jobId: string) => opts.log(`job ${jobId}: its worker stopped renewing its lock (killed?); re-delivered`));
  // While Redis is away every client reports each reconnection try: one line per message per 30 s is enough.
  const said = new Map<string, number>();
  const onError = (who: string) => (err: Error) => {
    const line = `${who}: ${err.message}`;
    const now = Date.now();
    if (now - (said.get(line) ?? 0) < 30_000) return;
    said.set(line, now);
    opts.log(`${line}${/ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH/.test(err.message) ? ' (Redis unreachable: retrying)' : ''}`);
  };
  worker.on('error', onError('worker'));
  queue.on('error', onError('queue'));
  redis.on('error', onError('redis'));

  /**
   * The child died on every attempt. The file it was reading when it last died (its progress) is recorded
   * as an error; the job's other files go back to the queue as a new job (its id from their keys), so one
   * poisoned file costs its batch some retries, never its results.
   */
  async function isolatePoisonedFile(job: Job<TagJobData, TagJobResult>, err: Error): Promise<void> {
    const progress = job.progress as Partial<TagJobProgress> | number;
    const files = job.data.files;
    const index = typeof progress === 'object' && typeof progress.index === 'number' ? progress.index : -1;
    const poisoned = files[index];
    if (poisoned === undefined) {
      opts.log(`job ${job.id}: the tagging process died before naming a file; the job stays failed (queue status lists it)`);
      return;
    }
    await appendError(opts.out, {
      ...poisoned,
      error: `${poisoned.path}: the tagging process died while reading this file, on each of ${job.attemptsMade} attempts (${err.message})`,
    });
    await addErrorFiles(redis, address, 1);
    summary.errors += 1;
    const rest = files.filter((_, i) => i !== index);
    if (rest.length > 0) {
      await queue.add(TAG_JOB, { files: rest, options: job.data.options }, { ...pick(job.opts), jobId: jobIdFor(rest.map(fileKey)) });
    }
    opts.log(`job ${job.id}: ${poisoned.path} recorded in errors; its other ${rest.length} files queued again`);
  }

  const drained = opts.exitWhenDrained ? waitUntilDrained(queue, () => pending.size === 0) : new Promise<void>(() => {});
  const stop = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const why = await Promise.race([drained.then(() => 'drained'), stop]);
  opts.log(why === 'drained' ? 'queue drained: stopping' : `${why}: finishing the jobs in progress, then stopping`);
  await worker.close();
  await Promise.all(pending);
  await refreshManifestCounts(opts.out).catch((err: Error) => opts.log(`${opts.out}: manifest counts not updated (${err.message})`));
  await queue.close();
  redis.disconnect();
  return summary;
}

function pick(o: { attempts?: number; backoff?: unknown }): { attempts?: number; backoff?: { type: string; delay: number } } {
  return { attempts: o.attempts, backoff: o.backoff as { type: string; delay: number } | undefined };
}

/** How often the drained check looks; and how many looks in a row must agree (a job between two states is not missed). */
const DRAIN_POLL_MS = 500;
const DRAIN_LOOKS = 3;

async function waitUntilDrained(queue: Queue, idle: () => boolean): Promise<void> {
  let quiet = 0;
  while (quiet < DRAIN_LOOKS) {
    await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
    const busy = Object.values(c).reduce((a, b) => a + b, 0);
    quiet = busy === 0 && idle() ? quiet + 1 : 0;
  }
}
