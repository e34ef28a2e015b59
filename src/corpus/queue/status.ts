/** `ast-audio queue status redis://…/NAME`: BullMQ's job counts and our file counters, with files/s. */
import { Queue } from 'bullmq';
import { readStats, redisClient, type QueueFileStats } from './stats.js';
import { connectionOptions, type QueueAddress } from './redis-url.js';

export interface QueueStatus {
  queue: string;
  jobs: { waiting: number; active: number; delayed: number; completed: number; failed: number; prioritized: number };
  files: QueueFileStats;
  /** Seconds from the first worker's start to the latest finished job (0 before any). */
  elapsedSeconds: number;
  filesPerSecond: number;
  audioHoursPerSecond: number;
}

export async function queueStatus(address: QueueAddress): Promise<QueueStatus> {
  const queue = new Queue(address.name, { connection: connectionOptions(address, { failFast: true }), skipMetasUpdate: true });
  const redis = redisClient(address, { failFast: true });
  try {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
    const files = await readStats(redis, address);
    const elapsedSeconds = files.firstStartMs > 0 && files.lastDoneMs > files.firstStartMs ? (files.lastDoneMs - files.firstStartMs) / 1000 : 0;
    const done = files.taggedFiles + files.errorFiles;
    return {
      queue: address.display,
      jobs: {
        waiting: counts.waiting ?? 0,
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        completed: counts.completed ?? 0,
        failed: counts.failed ?? 0,
        prioritized: counts.prioritized ?? 0,
      },
      files,
      elapsedSeconds,
      filesPerSecond: elapsedSeconds > 0 ? done / elapsedSeconds : 0,
      audioHoursPerSecond: elapsedSeconds > 0 ? files.audioSeconds / 3600 / elapsedSeconds : 0,
    };
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** The text `queue status` prints. */
export function formatStatus(s: QueueStatus): string {
  const j = s.jobs;
  const waiting = j.waiting + j.prioritized;
  const f = s.files;
  const lines = [
    `queue ${s.queue}`,
    `jobs   waiting ${waiting}  active ${j.active}  delayed ${j.delayed}  completed ${j.completed}  failed ${j.failed}`,
    `files  enqueued ${f.enqueuedFiles}  tagged ${f.taggedFiles}  errors ${f.errorFiles}  skipped ${f.skippedFiles}` +
      `  audio ${(f.audioSeconds / 3600).toFixed(3)} h`,
    s.elapsedSeconds > 0
      ? `rate   ${s.filesPerSecond.toFixed(2)} files/s  ${s.audioHoursPerSecond.toFixed(4)} audio-hours/s  over ${duration(s.elapsedSeconds)} (first worker start to last finished job)`
      : 'rate   no job finished yet',
  ];
  return `${lines.join('\n')}\n`;
}
