/**
 * Labelled clip lists and their order: manifests (CSV / JSONL), the label set, a seeded
 * train/validation split, and per-epoch orders (shuffled or class-balanced). Browser-safe:
 * reading folders and audio lives in dataset-node.ts.
 */
import type { Rng } from '../rng.js';

export interface LabelledClip {
  /** File path (resolved against the manifest's folder by the Node loader). */
  path: string;
  /** One name for single-label data, several for multi-label. */
  labels: string[];
}

/**
 * CSV with a header naming a `path` (or `file`, `filename`, `audio`) column and a `label` or
 * `labels` column; several labels in one cell are separated by `;` or `|` (or `,` inside quotes).
 */
export function parseCsvManifest(text: string, source: string): LabelledClip[] {
  const rows = parseCsv(text, source).filter((r) => r.some((c) => c.trim() !== ''));
  if (rows.length === 0) throw new Error(`${source}: empty manifest`);
  const header = rows[0]!.map((h) => h.trim().toLowerCase());
  const pathCol = header.findIndex((h) => ['path', 'file', 'filename', 'audio', 'file_name'].includes(h));
  const labelCol = header.findIndex((h) => ['label', 'labels', 'class', 'positive_labels'].includes(h));
  if (pathCol < 0 || labelCol < 0) {
    throw new Error(`${source}: header must name a path column (path/file/filename/audio) and a label column (label/labels); got ${header.join(', ')}`);
  }
  return rows.slice(1).map((r, i) => {
    const path = (r[pathCol] ?? '').trim();
    const cell = (r[labelCol] ?? '').trim();
    if (!path) throw new Error(`${source}: row ${i + 2} has no path`);
    return { path, labels: splitLabels(cell) };
  });
}

/** JSON Lines: `{"path": "...", "label": "yes"}` or `{"path": "...", "labels": ["a", "b"]}`. */
export function parseJsonlManifest(text: string, source: string): LabelledClip[] {
  const out: LabelledClip[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new Error(`${source}: line ${i + 1} is not JSON (${(e as Error).message})`);
    }
    if (typeof obj !== 'object' || obj === null) throw new Error(`${source}: line ${i + 1} is not an object`);
    const o = obj as Record<string, unknown>;
    const path = o.path ?? o.file ?? o.audio ?? o.filename;
    if (typeof path !== 'string' || !path) throw new Error(`${source}: line ${i + 1} has no "path"`);
    const lab = o.labels ?? o.label;
    let labels: string[];
    if (Array.isArray(lab)) labels = lab.map((l) => String(l));
    else if (typeof lab === 'string') labels = splitLabels(lab);
    else if (typeof lab === 'number') labels = [String(lab)];
    else throw new Error(`${source}: line ${i + 1} has no "label" or "labels"`);
    out.push({ path, labels });
  });
  if (out.length === 0) throw new Error(`${source}: empty manifest`);
  return out;
}

function splitLabels(cell: string): string[] {
  const parts = cell.split(/[;|,]/).map((s) => s.trim()).filter((s) => s.length > 0);
  return parts;
}

/** RFC 4180-ish CSV: quoted fields, doubled quotes, CRLF. */
function parseCsv(text: string, source: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (quoted) throw new Error(`${source}: unterminated quote`);
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
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
