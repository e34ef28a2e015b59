/**
 * A worker's --out gets the same _manifest.json as a `tag --out` folder (manifest.ts), so `tag --merge`
 * takes worker folders and single-process folders alike, and refuses to mix rows tagged differently.
 */
import { readFile } from 'node:fs/promises';
import { readManifest, rowShapeFor, rowShapeOf, shapeDifferences, writeManifest, type RowShape, type TagManifest } from '../manifest.js';
import { readDoneFiles } from '../resume.js';
import type { QueueTagOptions } from './jobs.js';

/** package.json is three folders up from src/corpus/queue/ and dist/corpus/queue/. */
export async function packageVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The row shape of a queue's jobs, as tag.ts computes it for a single-process run. */
export function queueRowShape(options: QueueTagOptions, labels: readonly string[], functionToApply: string): RowShape {
  return rowShapeFor({ ...options.tag, model: options.model, dtype: options.dtype }, labels, functionToApply);
}

/**
 * Writes `dir`'s manifest for these jobs, or checks the one there: a folder already holding rows of
 * other options is refused (its rows would not merge), with the differences named.
 */
export async function ensureWorkerManifest(dir: string, shape: RowShape, options: QueueTagOptions, rows: number): Promise<void> {
  const existing = await readManifest(dir);
  if (existing) {
    const diff = shapeDifferences(shape, rowShapeOf(existing));
    if (diff.length) throw new Error(`${dir} holds rows tagged with other options than this queue's jobs: ${diff.join('; ')}; give the worker another --out`);
    return;
  }
  const manifest: TagManifest = {
    tool: 'ast-audio',
    version: await packageVersion(),
    ...shape,
    format: options.format,
    shard_size: 0, // one shard per job
    batch_size: options.tag.batchSize,
    counts: { rows, errors: 0, shards: 0 },
    updated: new Date().toISOString(),
  };
  await writeManifest(dir, manifest);
}

/** The manifest's counts brought up to date (a worker does this as it stops). */
export async function refreshManifestCounts(dir: string): Promise<void> {
  const m = await readManifest(dir);
  if (!m) return;
  const done = await readDoneFiles(dir);
  await writeManifest(dir, { ...m, counts: { rows: done.rows.size, errors: done.errors.size, shards: done.shards.length }, updated: new Date().toISOString() });
}
