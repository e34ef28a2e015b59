/**
 * `npm run bench -- --only tag-queue`: `ast-audio tag` on one machine as one process, and as 2 BullMQ
 * workers (`tag --queue` + `ast-audio worker` x2 on a redis-server of its own), on the same generated
 * 10 s clips; files/s and audio-hours/s end to end (process start to exit: model load included, as a user
 * sees it). Also what the README's 10-million-clip plan needs: Redis memory per waiting and per
 * completed job (INFO memory), and shard bytes per row (Parquet, top-5 labels; and with --embeddings).
 *
 *   node --import tsx bench/tag-queue.ts [--files 48] [--tag-model embedded|base] [--threads 2]   (npm run bench: --queue-files, --queue-model)
 *
 * On a 2-core machine two workers only share the same 2 cores: expect about the single process's rate
 * (each worker runs its model with threads/2 ORT threads), not twice it. What the queue buys is more
 * machines, not more from one.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { encodeParquetRows } from '../src/corpus/parquet-rows.js';
import type { TagRow } from '../src/corpus/row.js';
import { REPO_ROOT } from '../test/helpers/fixtures.js';
import { pcm16Wav } from '../test/helpers/pcm16-wav.js';
import { haveRedisServer, startRedisServer } from '../test/helpers/redis-server.js';
import { cpuModel, makeBaseCheckpoint } from './engine.js';
import { enqueueFiles } from '../src/corpus/queue/producer.js';
import { parseQueueUrl } from '../src/corpus/queue/redis-url.js';

const CLI = join(REPO_ROOT, 'src/cli/main.ts');
const CLIP_SECONDS = 10;

export interface TagQueueBenchOptions {
  log?: (line: string) => void;
  files?: number;
  model?: 'embedded' | 'base';
  /** Cores to use in all: the single process gets them all, each of the 2 workers half. */
  threads?: number;
}

export interface RunFigures {
  wallSeconds: number;
  filesPerSecond: number;
  audioHoursPerSecond: number;
}

export interface TagQueueBenchResult {
  cpu: string;
  files: number;
  model: string;
  single: RunFigures;
  twoWorkers: RunFigures | string;
  redisBytesPerWaitingJob?: number;
  redisBytesPerCompletedJob?: number;
  /** MEMORY USAGE of a waiting job's hash at 32 files per job. */
  redisJobHashBytes32?: number;
  filesPerJob: number;
  parquetBytesPerRow: number;
  parquetBytesPerRowWithEmbeddings: number;
  audiosetBytesPerRow: number;
  audiosetBytesPerRowWithEmbeddings: number;
}

/** Mean MEMORY USAGE of the completed jobs' hashes (the fixed cost of a queue, its scripts and events stream, left out). */
async function jobHashBytes(port: number, queue: string, state: 'completed' | 'wait'): Promise<number> {
  const redis = new Redis({ host: '127.0.0.1', port });
  try {
    const ids = state === 'completed' ? await redis.zrange(`bull:${queue}:completed`, 0, -1) : await redis.lrange(`bull:${queue}:wait`, 0, -1);
    const sizes = await Promise.all(ids.map((id) => redis.memory('USAGE', `bull:${queue}:${id}`)));
    return sizes.reduce<number>((t, b) => t + Number(b ?? 0), 0) / Math.max(1, ids.length);
  } finally {
    redis.disconnect();
  }
}

/**
 * Bytes per row of a 1000-row Parquet shard shaped like an AudioSet run (AST-Base: 527 labels, top-5,
 * 768-float embedding), from the shard writer's own encoder on synthetic rows: the per-million-clip
 * output size of the README's plan. Scores are random (they compress as real ones would, barely).
 */
export function audiosetShardBytesPerRow(embeddings: boolean): number {
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const labels = Array.from({ length: 527 }, (_, i) => `AudioSet label number ${i}`);
  const rows: TagRow[] = Array.from({ length: 1000 }, (_, i) => ({
    path: `/data/corpus/shard-${String(i >> 10).padStart(4, '0')}/clip-${String(i).padStart(8, '0')}.flac`,
    size: 300_000 + Math.floor(rnd() * 50_000),
    mtime_ms: 1_764_000_000_000 + i * 997,
    sha256: Array.from({ length: 32 }, () => Math.floor(rnd() * 256).toString(16).padStart(2, '0')).join(''),
    duration_s: 10,
    sampling_rate: 44100,
    labels: Array.from({ length: 5 }, (_, k) => ({ label: labels[Math.floor(rnd() * 527)]!, score: Math.fround(rnd() / (k + 1)) })),
    ...(embeddings ? { embedding: Array.from({ length: 768 }, () => Math.fround(rnd() - 0.5)) } : {}),
  }));
  const bytes = encodeParquetRows(rows, { scores: false, timeline: false, embedding: embeddings }, { labels });
  return bytes.length / rows.length;
}

function run(args: string[]): Promise<{ code: number | null; stderr: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stderr, seconds: (performance.now() - t0) / 1000 }));
  });
}

function must(r: { code: number | null; stderr: string }, what: string): void {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr}`);
}

function figures(files: number, seconds: number): RunFigures {
  return { wallSeconds: seconds, filesPerSecond: files / seconds, audioHoursPerSecond: (files * CLIP_SECONDS) / 3600 / seconds };
}

function shardBytesPerRow(dir: string, rows: number): number {
  const bytes = readdirSync(dir).filter((n) => n.startsWith('part-')).reduce((t, n) => t + statSync(join(dir, n)).size, 0);
  return bytes / rows;
}

export async function benchTagQueue(o: TagQueueBenchOptions = {}): Promise<TagQueueBenchResult> {
  const log = o.log ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const n = o.files ?? 48;
  const threads = o.threads ?? 2;
  const work = mkdtempSync(join(tmpdir(), 'bench-tag-queue-'));
  try {
    const model = o.model === 'base' ? makeBaseCheckpoint(join(REPO_ROOT, '.bench/engine')) : undefined;
    const modelArgs = model ? ['--model', model] : [];
    const clips = join(work, 'clips');
    mkdirSync(clips);
    for (let i = 0; i < n; i++) {
      const f = 180 + 23 * i;
      const x = Float32Array.from({ length: CLIP_SECONDS * 16000 }, (_, k) => 0.3 * Math.sin((2 * Math.PI * f * k) / 16000) * (1 + 0.5 * Math.sin(k / 4000)));
      writeFileSync(join(clips, `clip-${String(i).padStart(4, '0')}.wav`), pcm16Wav(x, 16000));
    }
    log(`tag-queue: ${n} generated ${CLIP_SECONDS} s clips, model ${model ?? 'embedded speech-commands'}, ${threads} cores in all; ${cpuModel()}, ${cpus().length} CPUs`);
    log(`machine load average (1/5/15 min) at start: ${loadavg().map((v) => v.toFixed(1)).join(' / ')}`);

    // ---- 1 process
    const single = await run(['tag', clips, '--out', join(work, 'single'), '--threads', String(threads), '--no-progress', ...modelArgs]);
    must(single, 'tag (1 process)');
    const singleFig = figures(n, single.seconds);
    log(`1 process (${threads} threads): ${single.seconds.toFixed(1)} s, ${singleFig.filesPerSecond.toFixed(2)} files/s, ${singleFig.audioHoursPerSecond.toFixed(4)} audio-hours/s`);
    const parquetBytesPerRow = shardBytesPerRow(join(work, 'single'), n);
    const emb = await run(['tag', ...readdirSync(clips).slice(0, 8).map((f) => join(clips, f)), '--out', join(work, 'emb'), '--embeddings', '--threads', String(threads), '--no-progress', ...modelArgs]);
    must(emb, 'tag --embeddings');
    const parquetBytesPerRowWithEmbeddings = shardBytesPerRow(join(work, 'emb'), 8);
    log(`Parquet shard bytes per row: ${parquetBytesPerRow.toFixed(0)} (top-5 labels), ${parquetBytesPerRowWithEmbeddings.toFixed(0)} with --embeddings (8 rows)`);
    const audioset = audiosetShardBytesPerRow(false);
    const audiosetEmb = audiosetShardBytesPerRow(true);
    log(`AudioSet-shaped 1000-row shard: ${audioset.toFixed(0)} bytes per row (top-5), ${audiosetEmb.toFixed(0)} with a 768-float embedding`);

    // ---- 2 BullMQ workers
    const result: TagQueueBenchResult = {
      cpu: cpuModel(),
      files: n,
      model: model ?? 'embedded',
      single: singleFig,
      twoWorkers: 'skipped: redis-server is not installed',
      filesPerJob: 4,
      parquetBytesPerRow,
      parquetBytesPerRowWithEmbeddings,
      audiosetBytesPerRow: audioset,
      audiosetBytesPerRowWithEmbeddings: audiosetEmb,
    };
    if (!haveRedisServer()) {
      log(`2 workers: ${result.twoWorkers}`);
      return result;
    }
    const redis = await startRedisServer();
    try {
      // Redis memory per job at the default 32 files per job, with paths as long as a real corpus's.
      const empty = redis.usedMemory();
      const probe = parseQueueUrl(redis.url('probe'));
      const fake = Array.from({ length: 32 * 500 }, (_, i) => ({ path: `/data/corpus/shard-${String(i >> 10).padStart(4, '0')}/clip-${String(i).padStart(8, '0')}.flac`, size: 320_044, mtime_ms: 1_764_000_000_000 + i }));
      await enqueueFiles(probe, fake, { format: 'parquet', tag: { topK: 5, aggregate: 'mean', batchSize: 1, allScores: false, timeline: false, embeddings: false } }, { filesPerJob: 32, attempts: 3, backoffMs: 5000 });
      result.redisBytesPerWaitingJob = (redis.usedMemory() - empty) / 500;
      result.redisJobHashBytes32 = await jobHashBytes(redis.port, 'probe', 'wait');
      log(
        `Redis: ${result.redisBytesPerWaitingJob.toFixed(0)} bytes per waiting job of 32 files (500 jobs, INFO used_memory: queue scripts and events stream included); ` +
          `the job's own hash ${result.redisJobHashBytes32.toFixed(0)} bytes (MEMORY USAGE, mean)`,
      );

      const url = redis.url('bench');
      const t0 = performance.now();
      must(await run(['tag', clips, '--queue', url, '--job-files', String(result.filesPerJob), ...modelArgs]), 'tag --queue');
      const half = String(Math.max(1, Math.floor(threads / 2)));
      const workers = await Promise.all(
        ['b1', 'b2'].map((id) => run(['worker', '--queue', url, '--out', join(work, 'queue'), '--worker-id', id, '--threads', half, '--exit-when-drained'])),
      );
      workers.forEach((w, i) => must(w, `worker ${i + 1}`));
      const seconds = (performance.now() - t0) / 1000;
      result.twoWorkers = figures(n, seconds);
      result.redisBytesPerCompletedJob = await jobHashBytes(redis.port, 'bench', 'completed');
      log(
        `2 workers (${half} thread each, enqueue included): ${seconds.toFixed(1)} s, ${result.twoWorkers.filesPerSecond.toFixed(2)} files/s, ` +
          `${result.twoWorkers.audioHoursPerSecond.toFixed(4)} audio-hours/s = ${(result.twoWorkers.filesPerSecond / singleFig.filesPerSecond).toFixed(2)}x the 1 process`,
      );
      log(`Redis: ${result.redisBytesPerCompletedJob.toFixed(0)} bytes per completed job of ${result.filesPerJob} files (MEMORY USAGE of its hash, mean; kept so a re-enqueue adds nothing)`);
    } finally {
      await redis.stop();
    }
    log(`machine load average at the end: ${loadavg().map((v) => v.toFixed(1)).join(' / ')}`);
    return result;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const flag = (name: string) => (args.indexOf(name) >= 0 ? args[args.indexOf(name) + 1] : undefined);
  await benchTagQueue({
    files: flag('--files') ? Number(flag('--files')) : undefined,
    model: flag('--tag-model') as 'embedded' | 'base' | undefined,
    threads: flag('--threads') ? Number(flag('--threads')) : undefined,
  });
}
