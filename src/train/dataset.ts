/**
 * Labelled clip lists and their order: the label set, a seeded train/validation split, and per-epoch
 * orders (shuffled or class-balanced). Browser-safe: manifests are parsed in manifest.ts, folders and
 * audio read in src/node/training-data.ts.
 */
import type { Rng } from '../rng.js';

export interface LabelledClip {
  /** File path (resolved against the manifest's folder by the Node loader). */
  path: string;
  /** One name for single-label data, several for multi-label. */
  labels: string[];
  /** The encoded audio, for clips that are not files (a row of a Parquet dataset); else `path` is read. */
  read?: () => Promise<Uint8Array>;
}

/** Sorted label names; multi-label when any clip has other than exactly one label. */
export function labelSet(clips: LabelledClip[]): { labels: string[]; multiLabel: boolean } {
  const names = new Set<string>();
  let multiLabel = false;
  for (const c of clips) {
    if (c.labels.length !== 1) multiLabel = true;
    for (const l of c.labels) names.add(l);
  }
  return { labels: [...names].sort(), multiLabel };
}

/** A seeded split: `fraction` of the clips (at least one when there are two or more) go to validation. */
export function splitTrainValidation<T>(items: T[], fraction: number, rng: Rng): { train: T[]; validation: T[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`validation fraction must lie in [0, 1), got ${fraction}`);
  const order = rng.shuffle(items.map((_, i) => i));
  let nVal = Math.round(items.length * fraction);
  if (fraction > 0 && nVal === 0 && items.length >= 2) nVal = 1;
  const valIdx = new Set(order.slice(0, nVal));
  return {
    train: items.filter((_, i) => !valIdx.has(i)),
    validation: items.filter((_, i) => valIdx.has(i)),
  };
}

/**
 * One epoch's order of sample indices. Balanced sampling draws n indices with replacement,
 * each clip weighted by Σ over its labels of 1/count(label) (the AST repo's weighted sampler).
 */
export function epochOrder(labelIds: number[][], numLabels: number, balanced: boolean, rng: Rng): number[] {
  const n = labelIds.length;
  if (!balanced) return rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const counts = new Float64Array(numLabels);
  for (const ids of labelIds) for (const id of ids) counts[id]! += 1;
  const cum = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let w = 0;
    for (const id of labelIds[i]!) w += 1 / counts[id]!;
    if (labelIds[i]!.length === 0) w = 1 / n;
    total += w;
    cum[i] = total;
  }
  const order: number[] = [];
  for (let k = 0; k < n; k++) {
    const u = rng.uniform() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    order.push(lo);
  }
  return order;
}
