/** `ast-audio worker --queue redis://HOST:PORT/NAME --out DIR`: tag files from a BullMQ queue, on any number of machines. */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { positiveInteger, threadsOption } from './options.js';
import { removeOrphanTemporaries } from '../corpus/shard-writer.js';
import { parseQueueUrl, type QueueAddress } from '../corpus/queue/redis-url.js';
import { defaultWorkerId, runWorker } from '../corpus/queue/worker.js';

export interface WorkerCliOptions {
  queue: QueueAddress;
  out: string;
  concurrency: number;
  threads?: number;
  exitWhenDrained: boolean;
  workerId?: string;
  lockDuration: number;
  stalledInterval: number;
}

const EXAMPLES = `
Examples:
  $ ast-audio tag /data/clips --queue redis://10.0.0.5:6379/clips     # once, anywhere: enqueue
  $ ast-audio worker --queue redis://10.0.0.5:6379/clips --out /scratch/tags --concurrency 2
  $ ast-audio worker --queue redis://127.0.0.1:6379/clips --out tags --exit-when-drained
  $ ast-audio tag --merge /scratch/tags --out merged                    # after: one row per file

Each worker writes its own shards (part-WORKERID-00000.parquet, …) and errors.jsonl in --out; the model,
dtype, format and tag options come with the jobs (from the tag --queue command), not from here.
Jobs are tagged in sandboxed child processes (--concurrency of them): a crash or out-of-memory on one
file fails that job (retried with backoff), not the worker. A worker killed mid-job loses nothing: after
--lock-duration its job is re-delivered to another worker, and its rows deduplicated when merged.
SIGINT/SIGTERM: finish the jobs in progress, then exit. Exit status 0; 1 if it could not run.
`;

function parseQueue(value: string): QueueAddress {
  try {
    return parseQueueUrl(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Any name (a host name, a pod name): other characters than letters, digits and _ become _, as shard names need. */
function parseWorkerId(value: string): string {
  const id = value.replace(/[^A-Za-z0-9_]/g, '_');
  if (id.length === 0 || id.length > 64) throw new InvalidArgumentError(`--worker-id must be 1-64 characters (it names shard files), got "${value}"`);
  return id;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('tag the files of a BullMQ queue (filled by `tag --queue`), writing shards to --out')
    .requiredOption('--queue <redis://host:port/name>', 'the queue: Redis address and queue name', parseQueue)
    .requiredOption('-o, --out <dir>', "this worker's output folder (shards and errors.jsonl)")
    .option('-c, --concurrency <n>', 'jobs at once, each in its own child process', positiveInteger('--concurrency'), 1)
    .option('-t, --threads <n>', 'ONNX Runtime threads per child (default: ONNX Runtime decides; on a machine of C cores, about C / concurrency)', threadsOption)
    .option('--exit-when-drained', 'exit 0 once the queue has no waiting, delayed or active job', false)
    .option('--worker-id <id>', 'names this worker\'s shards, unique per worker (default: hostname_pid; characters other than letters, digits and _ become _)', parseWorkerId)
    .option('--lock-duration <ms>', "a worker silent this long is taken for dead and its job re-delivered", positiveInteger('--lock-duration'), 30_000)
    .option('--stalled-interval <ms>', "how often to look for dead workers' jobs", positiveInteger('--stalled-interval'), 30_000)
    .addHelpText('after', EXAMPLES)
    .action(async (opts: WorkerCliOptions) => {
      process.exitCode = await workerCommand(opts);
    });
}

export async function workerCommand(opts: WorkerCliOptions): Promise<number> {
  const say = (line: string) => process.stderr.write(`ast-audio worker: ${line}\n`);
  const out = resolve(opts.out);
  try {
    await mkdir(out, { recursive: true });
    const orphans = await removeOrphanTemporaries(out);
    if (orphans.length) say(`removed ${orphans.length} unfinished shard(s) of a killed worker`);
  } catch (err) {
    say(`${out}: cannot create the output folder (${(err as Error).message})`);
    return 1;
  }
  const workerId = opts.workerId ?? defaultWorkerId();
  say(`${workerId} on ${opts.queue.display}, writing to ${out}, ${opts.concurrency} at a time`);
  const summary = await runWorker(opts.queue, {
    out,
    concurrency: opts.concurrency,
    threads: opts.threads,
    workerId,
    exitWhenDrained: opts.exitWhenDrained,
    lockDurationMs: opts.lockDuration,
    stalledIntervalMs: opts.stalledInterval,
    log: say,
  });
  say(`done: ${summary.jobs} jobs, ${summary.tagged} files tagged, ${summary.errors} in errors, ${summary.failedJobs} jobs failed`);
  return 0;
}
