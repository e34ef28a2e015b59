/**
 * DIR/_manifest.json: what produced a folder of shards (model, dtype, labels, the options that shape a row,
 * the package version) and its counts. A rerun into the same folder must have the same row-shaping options,
 * or its rows would not be comparable with the ones already there; merge checks its inputs the same way.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { replaceFileAtomic } from './shard-writer.js';
import type { RowColumns } from './row.js';
import { DEFAULT_MODEL_DIR } from '../pipeline/audio-classification.js';

export const MANIFEST_FILE = '_manifest.json';

/** The options that decide what a row holds: equal for every run that writes into one folder. */
export interface RowShape {
  model: string;
  dtype: string;
  labels: string[];
  function_to_apply: string;
  top_k: number | 'all';
  window: number | null;
  hop: number | null;
  aggregate: string;
  all_scores: boolean;
  timeline: boolean;
  embeddings: boolean;
}

export interface TagManifest extends RowShape {
  tool: 'ast-audio';
  version: string;
  /** Settings that do not change a row's values (beyond float rounding). */
  format: string;
  shard_size: number;
  batch_size: number;
  counts: {
    /** Rows in the folder's finished shards. */
    rows: number;
    /** Files that failed and have no row. */
    errors: number;
    shards: number;
  };
  /** ISO time of the last update. */
  updated: string;
}

const SHAPE_KEYS: readonly (keyof RowShape)[] = [
  'model', 'dtype', 'labels', 'function_to_apply', 'top_k', 'window', 'hop', 'aggregate', 'all_scores', 'timeline', 'embeddings',
];

/** The options a row's shape is made of, as `tag` parses them and a queue's jobs carry them. */
export interface RowShapeOptions {
  model?: string;
  dtype?: string;
  /** 'all' or null (a queue job's spelling): every label. */
  topK: number | 'all' | null;
  window?: number;
  hop?: number;
  aggregate: string;
  allScores: boolean;
  timeline: boolean;
  embeddings: boolean;
}

/** The row shape of a run: its options and its model's labels and score function (one place for `tag` and the queue's workers). */
export function rowShapeFor(o: RowShapeOptions, labels: readonly string[], functionToApply: string): RowShape {
  return {
    model: o.model ?? DEFAULT_MODEL_DIR,
    dtype: o.dtype ?? 'fp32',
    labels: [...labels],
    function_to_apply: functionToApply,
    top_k: o.topK ?? 'all',
    window: o.window ?? null,
    hop: o.hop ?? null,
    aggregate: o.aggregate,
    all_scores: o.allScores,
    timeline: o.timeline,
    embeddings: o.embeddings,
  };
}

/** The row-shape fields of a manifest (its other fields dropped). */
export function rowShapeOf(m: RowShape): RowShape {
  return Object.fromEntries(SHAPE_KEYS.map((k) => [k, m[k]])) as unknown as RowShape;
}

export function columnsOf(shape: RowShape): RowColumns {
  return { scores: shape.all_scores, timeline: shape.timeline, embedding: shape.embeddings };
}

/** The differences between two row shapes, as "key: a (the folder's: b)"; empty when they agree. */
export function shapeDifferences(wanted: RowShape, existing: RowShape): string[] {
  const out: string[] = [];
  for (const k of SHAPE_KEYS) {
    const a = JSON.stringify(wanted[k] ?? null);
    const b = JSON.stringify(existing[k] ?? null);
    if (a !== b) out.push(`${k} ${k === 'labels' ? '(a different label set)' : a} (the folder's: ${k === 'labels' ? '…' : b})`);
  }
  return out;
}

/** The folder's manifest, or undefined when it has none. */
export async function readManifest(dir: string): Promise<TagManifest | undefined> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as TagManifest;
  } catch {
    throw new Error(`${path}: not JSON (it is written whole; was it edited?)`);
  }
}

export async function writeManifest(dir: string, manifest: TagManifest): Promise<void> {
  await replaceFileAtomic(dir, MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`);
}
