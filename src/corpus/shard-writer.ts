/**
 * Rows -> shard files `DIR/part-00000.parquet`, `part-00001.parquet`, … (or `.jsonl`), each written whole
 * under a temporary name (a dot-file) and then given its final name, so a reader or a resume never sees
 * half a shard: a process killed at any moment loses at most the rows not yet flushed.
 *
 * The final name is taken with link(2), which fails rather than overwrite: two writers in one folder (two
 * queue workers on shared storage, or a rerun beside a run that is still going) never replace each
 * other's shard; the loser takes the next number.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeParquetRows } from './parquet-rows.js';
import type { RowColumns, TagRow } from './row.js';

export type ShardFormat = 'parquet' | 'jsonl';

export const SHARD_FORMATS: readonly ShardFormat[] = ['parquet', 'jsonl'];

/** Default rows per shard: a shard of 10 s clips is about 3 minutes of one machine's work at fp32. */
export const DEFAULT_SHARD_SIZE = 1000;

/** `part-00000.parquet`, `part-w1-00012.jsonl`: a finished shard (temporary files start with a dot). */
const SHARD_NAME = /^(part(?:-[A-Za-z0-9_.]+?)?)-(\d+)\.(parquet|jsonl)$/;

/** The finished shards of a folder, sorted by name; none when the folder does not exist. */
export async function listShards(dir: string): Promise<{ path: string; format: ShardFormat }[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return names
    .filter((n) => SHARD_NAME.test(n))
    .sort()
    .map((n) => ({ path: join(dir, n), format: SHARD_NAME.exec(n)![3] as ShardFormat }));
}

/**
 * Temporary names (of shards and of the manifest) carry the host and pid, so a later run can tell an
 * orphan from a live writer's file.
 */
const TMP_NAME = /^\.(?:part|_manifest).*\.([^.]+)\.(\d+)\.[0-9a-f]+\.tmp$/;

/** A temporary name beside `name` in `dir`, in the form {@link removeOrphanTemporaries} recognises. */
export function temporaryName(dir: string, name: string): string {
  return join(dir, `.${name}.${safeHost()}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Writes `bytes` to `dir/name` whole: a temporary file, fsynced, then renamed over the old one. */
export async function replaceFileAtomic(dir: string, name: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = temporaryName(dir, name);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(dir, name));
  } catch (err) {
    await rm(tmp, { force: true });
    throw new Error(`${join(dir, name)}: cannot write (${(err as Error).message})`, { cause: err });
  }
}

/**
 * Removes temporary shards this host's dead processes left behind (a SIGKILL between write and rename).
 * Files of live processes, or of other hosts (shared storage), are left alone. Returns what was removed.
 */
export async function removeOrphanTemporaries(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const host = safeHost();
  const removed: string[] = [];
  for (const n of names) {
    const m = TMP_NAME.exec(n);
    if (!m || m[1] !== host || processAlive(Number(m[2]))) continue;
    await rm(join(dir, n), { force: true });
    removed.push(n);
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The host name as it may appear inside a file name (no dots: they separate the name's parts). */
function safeHost(): string {
  return hostname().replace(/[^A-Za-z0-9_-]/g, '_') || 'host';
}

export interface ShardWriterOptions {
  dir: string;
  format: ShardFormat;
  /** Rows per shard; a shard is written when it has this many (and at `flush`). */
  shardSize: number;
  /** The optional columns every row has. */
  columns: RowColumns;
  /** Shard names start with this (default `part`); queue workers add their own id (`part-w1a2b`). */
  prefix?: string;
  /** Stored in each Parquet shard's key-value metadata (`ast_audio`): model, labels, version. */
  metadata?: Record<string, unknown>;
}

/**
 * Collects rows and writes them out a shard at a time. Several loops may `add` at once: a full shard's rows
 * are taken out before it is written, and shards are written one after another, numbered in order.
 */
export class ShardWriter {
  private readonly o: Required<ShardWriterOptions>;
  private rows: TagRow[] = [];
  private nextIndex = 0;
  private writing: Promise<void> = Promise.resolve();
  /** Paths of the shards written so far, in order. */
  readonly written: string[] = [];
  rowsWritten = 0;

  constructor(options: ShardWriterOptions) {
    if (!(Number.isInteger(options.shardSize) && options.shardSize > 0)) throw new Error(`shard size must be a positive integer, got ${options.shardSize}`);
    const prefix = options.prefix ?? 'part';
    if (!/^part(-[A-Za-z0-9_]+)?$/.test(prefix)) throw new Error(`shard prefix must be "part" or "part-" and letters, digits or _, got "${prefix}"`);
    this.o = { prefix, metadata: {}, ...options };
  }

  /** Rows added and not yet in a shard. */
  get pending(): number {
    return this.rows.length;
  }

  /** Adds a row; when the shard is full, writes it (the returned promise settles once it is on disk). */
  async add(row: TagRow): Promise<void> {
    this.rows.push(row);
    if (this.rows.length >= this.o.shardSize) await this.flush();
  }

  /** Writes the rows added so far as one shard (nothing when there are none); returns its path. */
  async flush(): Promise<string | undefined> {
    const rows = this.rows;
    this.rows = [];
    if (rows.length === 0) return undefined;
    // One flush at a time, so shard numbers are taken in order.
    let path: string | undefined;
    const run = this.writing.then(async () => {
      path = await this.writeShard(rows);
    });
    this.writing = run.catch(() => {});
    await run;
    return path;
  }

  private encode(rows: readonly TagRow[]): Uint8Array {
    if (this.o.format === 'parquet') return encodeParquetRows(rows, this.o.columns, this.o.metadata);
    return new TextEncoder().encode(rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }

  private async writeShard(rows: readonly TagRow[]): Promise<string> {
    const { dir, format, prefix } = this.o;
    await mkdir(dir, { recursive: true });
    const bytes = this.encode(rows);
    const tmp = temporaryName(dir, prefix);
    try {
      const fh = await open(tmp, 'wx');
      try {
        await fh.writeFile(bytes);
        await fh.sync(); // on disk before it has a name: a power cut leaves no named empty shard
      } finally {
        await fh.close();
      }
      for (;;) {
        const path = join(dir, `${prefix}-${String(this.nextIndex).padStart(5, '0')}.${format}`);
        this.nextIndex++;
        try {
          await link(tmp, path);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') continue;
          if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV' || code === 'ENOSYS') {
            // A file system without hard links: rename, after checking the name is free.
            if (await exists(path)) continue;
            await rename(tmp, path);
            this.done(path, rows.length);
            return path;
          }
          throw err;
        }
        await rm(tmp, { force: true });
        this.done(path, rows.length);
        return path;
      }
    } catch (err) {
      await rm(tmp, { force: true });
      throw new Error(`${dir}: cannot write a shard of ${rows.length} rows (${(err as Error).message})`, { cause: err });
    }
  }

  private done(path: string, rows: number): void {
    this.written.push(path);
    this.rowsWritten += rows;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await (await open(path, 'r')).close();
    return true;
  } catch {
    return false;
  }
}
