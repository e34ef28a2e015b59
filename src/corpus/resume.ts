/**
 * What a folder of shards already holds: the key of every row in its finished shards, and its errors.
 * `tag` skips those files when it is run again with the same command, and `merge` deduplicates by them.
 */
import { readFile } from 'node:fs/promises';
import { decodeParquetKeys } from './parquet-rows.js';
import { readErrors } from './error-log.js';
import { listShards } from './shard-writer.js';
import { fileKey, type FileIdentity, type TagError } from './row.js';

export interface DoneFiles {
  /** Keys of files that have a row. */
  rows: Set<string>;
  /** Files that failed, by key (a file with a row is not listed here even when an earlier attempt failed). */
  errors: Map<string, TagError>;
  /** The finished shards read. */
  shards: string[];
}

/** The keys of one shard's rows (Parquet: only the key columns are read). */
export async function readShardKeys(shard: { path: string; format: 'parquet' | 'jsonl' }): Promise<FileIdentity[]> {
  const bytes = await readFile(shard.path);
  if (shard.format === 'parquet') return decodeParquetKeys(bytes, shard.path);
  const keys: FileIdentity[] = [];
  const lines = new TextDecoder().decode(bytes).split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let o: FileIdentity;
    try {
      o = JSON.parse(line) as FileIdentity;
    } catch {
      throw new Error(`${shard.path}: line ${i + 1} is not JSON (shards are written whole; was this file edited?)`);
    }
    keys.push({ path: String(o.path), size: Number(o.size), mtime_ms: Number(o.mtime_ms) });
  });
  return keys;
}

/** What `dir` holds already (nothing when it does not exist). */
export async function readDoneFiles(dir: string): Promise<DoneFiles> {
  const shards = await listShards(dir);
  const rows = new Set<string>();
  for (const s of shards) for (const k of await readShardKeys(s)) rows.add(fileKey(k));
  const errors = await readErrors(dir);
  for (const k of rows) errors.delete(k);
  return { rows, errors, shards: shards.map((s) => s.path) };
}
