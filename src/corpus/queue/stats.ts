/**
 * File-level counters beside BullMQ's job-level ones, in one Redis hash `bull:NAME:ast-audio`
 * (under the queue's own prefix, so `obliterate` removes it with the queue). Producers add what they
 * enqueue; each worker adds what each finished job did. With at-least-once delivery a job re-delivered
 * after a worker died is counted again: `tagged` counts taggings, not distinct files (merge dedupes rows).
 */
import { Redis } from 'ioredis';
import { connectionOptions, type QueueAddress } from './redis-url.js';
import type { TagJobResult } from './jobs.js';

export interface QueueFileStats {
  enqueuedFiles: number;
  enqueuedJobs: number;
  taggedFiles: number;
  errorFiles: number;
  skippedFiles: number;
  audioSeconds: number;
  /** Epoch ms of the first finished job and of the latest one (0 before any). */
  firstDoneMs: number;
  lastDoneMs: number;
  /** Epoch ms a worker first started (0 before any): files/s is measured from here. */
  firstStartMs: number;
}

export function statsKey(address: QueueAddress): string {
  return `bull:${address.name}:ast-audio`;
}

export function redisClient(address: QueueAddress, how: { failFast?: boolean } = {}): Redis {
  return new Redis(connectionOptions(address, how));
}

export async function addEnqueued(redis: Redis, address: QueueAddress, files: number, jobs: number): Promise<void> {
  await redis.multi().hincrby(statsKey(address), 'enqueuedFiles', files).hincrby(statsKey(address), 'enqueuedJobs', jobs).exec();
}

export async function markWorkerStart(redis: Redis, address: QueueAddress, nowMs = Date.now()): Promise<void> {
  await redis.hsetnx(statsKey(address), 'firstStartMs', String(nowMs));
}

export async function addJobResult(redis: Redis, address: QueueAddress, result: TagJobResult, nowMs = Date.now()): Promise<void> {
  const key = statsKey(address);
  await redis
    .multi()
    .hincrby(key, 'taggedFiles', result.tagged)
    .hincrby(key, 'errorFiles', result.errors)
    .hincrby(key, 'skippedFiles', result.skipped)
    .hincrbyfloat(key, 'audioSeconds', result.audioSeconds)
    .hsetnx(key, 'firstDoneMs', String(nowMs))
    .hset(key, 'lastDoneMs', String(nowMs))
    .exec();
}

/** Errors recorded outside a job's result (a file that killed the tagging process on every attempt). */
export async function addErrorFiles(redis: Redis, address: QueueAddress, n: number): Promise<void> {
  await redis.hincrby(statsKey(address), 'errorFiles', n);
}

export async function readStats(redis: Redis, address: QueueAddress): Promise<QueueFileStats> {
  const h = await redis.hgetall(statsKey(address));
  const n = (field: string) => Number(h[field] ?? 0);
  return {
    enqueuedFiles: n('enqueuedFiles'),
    enqueuedJobs: n('enqueuedJobs'),
    taggedFiles: n('taggedFiles'),
    errorFiles: n('errorFiles'),
    skippedFiles: n('skippedFiles'),
    audioSeconds: n('audioSeconds'),
    firstDoneMs: n('firstDoneMs'),
    lastDoneMs: n('lastDoneMs'),
    firstStartMs: n('firstStartMs'),
  };
}
