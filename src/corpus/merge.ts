/**
 * `ast-audio tag --merge DIR... --out MERGED`: the rows of many shard folders (runs, resumed runs, queue
 * workers) as one folder, each file once (by its key: path, size, mtime; the first row met wins, folders
 * in the order given), and their errors, less every file that has a row somewhere (it failed once, then
 * succeeded). Rows are read a shard at a time; only the keys seen so far are held in memory.
 */
import { readFile, stat } from 'node:fs/promises';
import { formatErrors, readErrors, ERRORS_FILE } from './error-log.js';
import { columnsOf, readManifest, rowShapeOf, shapeDifferences, writeManifest, type TagManifest } from './manifest.js';
import { decodeParquetRows, toRow } from './parquet-rows.js';
import { fileKey, type TagError, type TagRow } from './row.js';
import { listShards, ShardWriter, type ShardFormat } from './shard-writer.js';
import { writeFileAtomic } from '../node/files.js';
import { join, resolve } from 'node:path';

export interface MergeOptions {
  out: string;
  format: ShardFormat;
  shardSize: number;
  /** Written into the merged manifest. */
  version: string;
}

export interface MergeResult {
  rows: number;
  duplicates: number;
  errors: number;
  shards: string[];
}

/** Rows of one shard (Parquet or JSON Lines). */
export async function readShardRows(shard: { path: string; format: ShardFormat }): Promise<TagRow[]> {
  const bytes = await readFile(shard.path);
  if (shard.format === 'parquet') return decodeParquetRows(bytes, shard.path);
  return new TextDecoder()
    .decode(bytes)
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`${shard.path}: line ${i + 1} is not JSON`);
      }
      return toRow(o, `${shard.path} line ${i + 1}`);
    });
}

export async function mergeShardFolders(inputs: readonly string[], o: MergeOptions): Promise<MergeResult> {
  if (inputs.length === 0) throw new Error('--merge: give at least one folder of shards');
  const outAbs = resolve(o.out);
  if (inputs.some((d) => resolve(d) === outAbs)) throw new Error(`--merge: --out ${o.out} is one of the folders being merged; give a new folder`);
  if ((await listShards(o.out)).length > 0) throw new Error(`--merge: ${o.out} already holds shards; give an empty or new folder`);

  // Every folder must come from runs with the same row shape (model, options): else the rows do not mix.
  let manifest: TagManifest | undefined;
  for (const dir of inputs) {
    if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) throw new Error(`--merge: ${dir}: no such folder`);
    const m = await readManifest(dir);
    if (!m) {
      if ((await listShards(dir)).length === 0) throw new Error(`--merge: ${dir} holds no shards and no ${'_manifest.json'}`);
      throw new Error(`--merge: ${dir} has shards but no _manifest.json (not written by ast-audio tag?)`);
    }
    if (!manifest) manifest = m;
    else {
      const diff = shapeDifferences(rowShapeOf(m), rowShapeOf(manifest));
      if (diff.length) throw new Error(`--merge: ${dir} was tagged differently from ${inputs[0]}: ${diff.join('; ')}`);
    }
  }

  const writer = new ShardWriter({
    dir: o.out,
    format: o.format,
    shardSize: o.shardSize,
    columns: columnsOf(manifest!),
    metadata: { model: manifest!.model, dtype: manifest!.dtype, labels: manifest!.labels, version: o.version },
  });
  const seen = new Set<string>();
  let duplicates = 0;
  for (const dir of inputs) {
    for (const shard of await listShards(dir)) {
      for (const row of await readShardRows(shard)) {
        const key = fileKey(row);
        if (seen.has(key)) {
          duplicates++;
          continue;
        }
        seen.add(key);
        await writer.add(row);
      }
    }
  }
  await writer.flush();

  const errors = new Map<string, TagError>();
  for (const dir of inputs) for (const [k, e] of await readErrors(dir)) if (!seen.has(k)) errors.set(k, e);
  await writeFileAtomic(join(o.out, ERRORS_FILE), formatErrors(errors.values()));
  await writeManifest(o.out, {
    ...manifest!,
    version: o.version,
    format: o.format,
    shard_size: o.shardSize,
    counts: { rows: writer.rowsWritten, errors: errors.size, shards: writer.written.length },
    updated: new Date().toISOString(),
  });
  return { rows: writer.rowsWritten, duplicates, errors: errors.size, shards: writer.written };
}
