/**
 * Tag rows <-> Parquet bytes (hyparquet-writer to write, hyparquet to read). The schema uses Parquet's
 * standard three-level LIST (`list` / `element`), which pyarrow, pandas and DuckDB read as typed columns:
 * in DuckDB `labels` is `STRUCT(label VARCHAR, score FLOAT)[]`, `embedding` is `FLOAT[]`.
 *
 *   path VARCHAR, size BIGINT, mtime_ms BIGINT, sha256 VARCHAR, duration_s DOUBLE, sampling_rate INTEGER,
 *   labels STRUCT(label, score)[], [scores FLOAT[]], [timeline STRUCT(start, end, labels)[]], [embedding FLOAT[]]
 */
import { parquetMetadata, parquetReadObjects, type SchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { FileIdentity, LabelScore, RowColumns, TagRow } from './row.js';

const REQUIRED = 'REQUIRED' as const;

const string = (name: string): SchemaElement => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: REQUIRED });
const leaf = (name: string, type: 'INT32' | 'INT64' | 'FLOAT' | 'DOUBLE'): SchemaElement => ({ name, type, repetition_type: REQUIRED });

/** A LIST column whose elements are the `element` subtree (a leaf, or a group followed by its children). */
function list(name: string, element: SchemaElement[]): SchemaElement[] {
  return [
    { name, repetition_type: REQUIRED, converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { ...element[0]!, name: 'element' },
    ...element.slice(1),
  ];
}

const labelStruct = (): SchemaElement[] => [{ name: 'element', repetition_type: REQUIRED, num_children: 2 }, string('label'), leaf('score', 'FLOAT')];

/** The columns of a run, in order, with their schema elements. */
function schemaFor(columns: RowColumns): { names: string[]; schema: SchemaElement[] } {
  const parts: [string, SchemaElement[]][] = [
    ['path', [string('path')]],
    ['size', [leaf('size', 'INT64')]],
    ['mtime_ms', [leaf('mtime_ms', 'INT64')]],
    ['sha256', [string('sha256')]],
    ['duration_s', [leaf('duration_s', 'DOUBLE')]],
    ['sampling_rate', [leaf('sampling_rate', 'INT32')]],
    ['labels', list('labels', labelStruct())],
  ];
  if (columns.scores) parts.push(['scores', list('scores', [leaf('element', 'FLOAT')])]);
  if (columns.timeline) {
    const window: SchemaElement[] = [
      { name: 'element', repetition_type: REQUIRED, num_children: 3 },
      leaf('start', 'DOUBLE'),
      leaf('end', 'DOUBLE'),
      ...list('labels', labelStruct()),
    ];
    parts.push(['timeline', list('timeline', window)]);
  }
  if (columns.embedding) parts.push(['embedding', list('embedding', [leaf('element', 'FLOAT')])]);
  return {
    names: parts.map(([n]) => n),
    schema: [{ name: 'schema', num_children: parts.length }, ...parts.flatMap(([, s]) => s)],
  };
}

/** Key-value metadata key under which the run's description (model, labels, version) is stored. */
export const METADATA_KEY = 'ast_audio';

/** One shard's bytes: every row in one row group, snappy-compressed. */
export function encodeParquetRows(rows: readonly TagRow[], columns: RowColumns, metadata: Record<string, unknown>): Uint8Array {
  const { names, schema } = schemaFor(columns);
  const columnData = names.map((name) => ({
    name,
    data: rows.map((r) => {
      const v = r[name as keyof TagRow];
      if (v === undefined) throw new Error(`${r.path}: the row has no "${name}" (every row of a run has the same columns)`);
      return name === 'size' || name === 'mtime_ms' ? BigInt(v as number) : v;
    }),
  }));
  const buffer = parquetWriteBuffer({
    columnData,
    schema,
    rowGroupSize: Math.max(1, rows.length),
    kvMetadata: [{ key: METADATA_KEY, value: JSON.stringify(metadata) }],
    createdBy: 'ast-audio (hyparquet-writer)',
  });
  return new Uint8Array(buffer);
}

/** The rows of a shard written by {@link encodeParquetRows} (or any file with those columns). */
export async function decodeParquetRows(bytes: Uint8Array, source: string): Promise<TagRow[]> {
  const file = toArrayBuffer(bytes);
  let objects: Record<string, unknown>[];
  try {
    objects = await parquetReadObjects({ file });
  } catch (err) {
    throw new Error(`${source}: not a readable Parquet shard (${(err as Error).message})`, { cause: err });
  }
  return objects.map((o, i) => toRow(o, `${source} row ${i}`));
}

/** Only the key columns of a shard (resume reads these, not the labels or embeddings). */
export async function decodeParquetKeys(bytes: Uint8Array, source: string): Promise<FileIdentity[]> {
  const file = toArrayBuffer(bytes);
  try {
    const objects = await parquetReadObjects({ file, columns: ['path', 'size', 'mtime_ms'] });
    return objects.map((o) => ({ path: String(o.path), size: Number(o.size), mtime_ms: Number(o.mtime_ms) }));
  } catch (err) {
    throw new Error(`${source}: not a readable Parquet shard (${(err as Error).message})`, { cause: err });
  }
}

/** The run description stored in a shard's key-value metadata, if any. */
export function parquetRunMetadata(bytes: Uint8Array): Record<string, unknown> | undefined {
  const kv = parquetMetadata(toArrayBuffer(bytes)).key_value_metadata ?? [];
  const entry = kv.find((e) => e.key === METADATA_KEY);
  return entry?.value ? (JSON.parse(entry.value) as Record<string, unknown>) : undefined;
}

/** A row object read back (from Parquet or JSON Lines) as a TagRow, BIGINTs as numbers. */
export function toRow(o: Record<string, unknown>, where: string): TagRow {
  const need = (k: string): unknown => {
    if (o[k] === undefined || o[k] === null) throw new Error(`${where}: no "${k}"`);
    return o[k];
  };
  const row: TagRow = {
    path: String(need('path')),
    size: Number(need('size')),
    mtime_ms: Number(need('mtime_ms')),
    sha256: String(need('sha256')),
    duration_s: Number(need('duration_s')),
    sampling_rate: Number(need('sampling_rate')),
    labels: need('labels') as LabelScore[],
  };
  if (o.scores != null) row.scores = Array.from(o.scores as number[]);
  if (o.timeline != null) row.timeline = o.timeline as TagRow['timeline'];
  if (o.embedding != null) row.embedding = Array.from(o.embedding as number[]);
  return row;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    : (bytes.slice().buffer as ArrayBuffer);
}
