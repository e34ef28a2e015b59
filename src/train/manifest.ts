/**
 * Labelled clip manifests (CSV / TSV / JSONL) -> clips. Browser-safe. A module of its own so that the
 * trainer, which needs only dataset.ts, does not pull csv-parse into a browser bundle.
 */
import { parse } from 'csv-parse/browser/esm/sync';
import type { LabelledClip } from './dataset.js';

/**
 * CSV with a header naming a `path` (or `file`, `filename`, `audio`) column and a `label` or
 * `labels` column; several labels in one cell are separated by `;` or `|` (or `,` inside quotes).
 * Fields are separated by commas, or by tabs when `source` ends in `.tsv`.
 */
export function parseCsvManifest(text: string, source: string, delimiter = /\.tsv$/i.test(source) ? '\t' : ','): LabelledClip[] {
  const rows = parseCsv(text, source, delimiter).filter((r) => r.some((c) => c.trim() !== ''));
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

/**
 * RFC 4180 through csv-parse (its browser build, which carries its own Buffer, so this module stays
 * browser-safe): quoted fields, doubled quotes, CRLF, a UTF-8 BOM, rows of uneven length.
 */
function parseCsv(text: string, source: string, delimiter: string): string[][] {
  try {
    return parse(text, { delimiter, bom: true, relax_column_count: true, skip_empty_lines: true });
  } catch (err) {
    throw new Error(`${source}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
