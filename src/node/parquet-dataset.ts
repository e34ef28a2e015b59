/**
 * Hugging Face `datasets` Parquet files as a data source: the `audio` column is the Audio feature's
 * struct `{bytes, path}` (the encoded file), the label column an int with its names in the file's
 * `huggingface` key-value metadata (`{"info": {"features": {"label": {"_type": "ClassLabel", "names": […]}}}}`),
 * a string, or a list of either (multi-label). Column names as in transformers' audio-classification
 * example (`--audio_column_name audio`, `--label_column_name label`).
 *
 * Rows are read a row group at a time, so a dataset larger than memory can be walked: only the row group
 * being read is held. A row is known as `FILE.parquet#ROW` (ROW counted from 0 in that file).
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { basename } from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import { splitOfFolderName } from './data-splits.js';
import { listAudioFiles } from './audio.js';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, type AsyncBuffer, type FileMetaData, type SchemaElement } from 'hyparquet';

export interface ParquetColumns {
  /** The Audio column (default `audio`). */
  audioColumn?: string;
  /** The label column (default `label`); only read where labels are wanted. */
  labelColumn?: string;
}

/** One Parquet file of a dataset, opened: its rows and how to read them. */
export interface ParquetDatasetFile {
  path: string;
  mtimeMs: number;
  numRows: number;
  /** Row groups as [firstRow, rowCount]. */
  rowGroups: [number, number][];
  audioColumn: string;
  labelColumn?: string;
  /** ClassLabel names from the `huggingface` metadata, when the label column has them. */
  labelNames?: string[];
  file: AsyncBuffer;
  metadata: FileMetaData;
}

/** One row: the encoded audio and, when asked for, its labels; or what is wrong with it. */
export interface ParquetAudioRow {
  /** `FILE.parquet#ROW`. */
  id: string;
  index: number;
  /** Empty when the row has a `problem`. */
  bytes: Uint8Array;
  /** Why this row cannot be used (no audio bytes, a bad label): one row's error, not the file's. */
  problem?: string;
  /** The `path` field of the Audio struct (the original file name), when set. */
  audioPath?: string;
  labels?: string[];
}

const PARQUET = /\.parquet$/i;

/** Whether a command-line input names a Parquet dataset: a `.parquet` file, or a folder holding some (and no other audio). */
export async function isParquetInput(input: string): Promise<boolean> {
  const s = await stat(input).catch(() => undefined);
  if (!s) return PARQUET.test(input) && isDynamicPattern(input);
  if (s.isFile()) return PARQUET.test(input);
  if (!s.isDirectory()) return false;
  // A folder of Parquet files and no audio files (a class-folder dataset with a stray .parquet stays audio).
  if ((await glob('**/*.parquet', { cwd: input, ignore: ['**/.*/**'] })).length === 0) return false;
  return (await listAudioFiles(input)).length === 0;
}

/** The Parquet files of an input: itself, or a folder's `*.parquet` files (recursively), sorted. */
export async function listParquetFiles(input: string): Promise<string[]> {
  const s = await stat(input).catch(() => undefined);
  if (!s && PARQUET.test(input) && isDynamicPattern(input)) {
    const found = await glob(input.replace(/\\/g, '/'), { absolute: true, expandDirectories: false });
    if (found.length === 0) throw new Error(`${input}: pattern matched no Parquet files`);
    return found.sort();
  }
  if (!s) throw new Error(`${input}: no such file or folder`);
  if (s.isFile()) return [resolve(input)];
  const found = (await glob('**/*.parquet', { cwd: input, ignore: ['**/.*/**'], absolute: true })).sort();
  if (found.length === 0) throw new Error(`${input}: no .parquet files`);
  // The Hub's layout names splits in the files (data/train-00000-of-00002.parquet, data/test-…): a folder
  // holding several splits must not be read as one set (that would train on the test split).
  const splits = new Set(found.map((f) => splitOfFolderName(basename(f).replace(PARQUET, ''))).filter((x) => x !== undefined));
  if (splits.size > 1) {
    throw new Error(
      `${input}: holds the Parquet files of the splits ${[...splits].join(', ')}; give one split's files, ` +
        `such as '${input.replace(/\/$/, '')}/train-*.parquet' (quoted, so the pattern reaches ast-audio)`,
    );
  }
  return found;
}

/** The `huggingface` metadata's features, if the file has them. */
function hfFeatures(metadata: FileMetaData): Record<string, unknown> | undefined {
  const kv = metadata.key_value_metadata?.find((e) => e.key === 'huggingface');
  if (!kv?.value) return undefined;
  try {
    const info = (JSON.parse(kv.value) as { info?: { features?: Record<string, unknown> } }).info;
    return info?.features;
  } catch {
    return undefined;
  }
}

/** ClassLabel names of a feature (`{"_type": "ClassLabel", "names": […]}`, or a Sequence/list of one). */
function classLabelNames(feature: unknown): string[] | undefined {
  if (Array.isArray(feature)) return classLabelNames(feature[0]);
  if (typeof feature !== 'object' || feature === null) return undefined;
  const f = feature as { _type?: string; names?: unknown; feature?: unknown };
  if (f._type === 'ClassLabel' && Array.isArray(f.names)) return f.names.map(String);
  if ((f._type === 'Sequence' || f._type === 'List' || f._type === 'LargeList') && f.feature) return classLabelNames(f.feature);
  return undefined;
}

/** Top-level column names of a schema (children of the root). */
function topLevelColumns(schema: SchemaElement[]): string[] {
  const names: string[] = [];
  let i = 1;
  const skip = (at: number): number => {
    let next = at + 1;
    for (let c = 0; c < (schema[at]!.num_children ?? 0); c++) next = skip(next);
    return next;
  };
  while (i < schema.length) {
    names.push(schema[i]!.name);
    i = skip(i);
  }
  return names;
}

/** Opens one Parquet file and checks its columns; `withLabels` requires the label column. */
export async function openParquetDataset(path: string, columns: ParquetColumns, withLabels: boolean): Promise<ParquetDatasetFile> {
  const audioColumn = columns.audioColumn ?? 'audio';
  const labelColumn = columns.labelColumn ?? 'label';
  const s = await stat(path).catch(() => undefined);
  if (!s?.isFile()) throw new Error(`${path}: no such Parquet file`);
  const file = await asyncBufferFromFile(path);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new Error(`${path}: not a readable Parquet file (${(err as Error).message})`, { cause: err });
  }
  const names = topLevelColumns(metadata.schema);
  if (!names.includes(audioColumn)) {
    throw new Error(`${path}: no audio column "${audioColumn}" (columns: ${names.join(', ')}); name it with --audio-column`);
  }
  if (withLabels && !names.includes(labelColumn)) {
    throw new Error(`${path}: no label column "${labelColumn}" (columns: ${names.join(', ')}); name it with --label-column`);
  }
  const rowGroups: [number, number][] = [];
  let start = 0;
  for (const g of metadata.row_groups) {
    const n = Number(g.num_rows);
    rowGroups.push([start, n]);
    start += n;
  }
  const features = hfFeatures(metadata);
  return {
    path,
    mtimeMs: s.mtimeMs,
    numRows: Number(metadata.num_rows),
    rowGroups,
    audioColumn,
    labelColumn: withLabels ? labelColumn : undefined,
    labelNames: withLabels ? classLabelNames(features?.[labelColumn]) : undefined,
    file,
    metadata,
  };
}

const utf8 = new TextDecoder();

/** A label cell as names: an int (ClassLabel index), a string, or a list of either. */
function labelsOf(value: unknown, names: string[] | undefined, where: string): string[] {
  if (value === null || value === undefined) throw new Error(`${where}: the label is null`);
  if (Array.isArray(value)) return value.flatMap((v) => labelsOf(v, names, where));
  if (value instanceof Uint8Array) return [utf8.decode(value)];
  if (typeof value === 'string') return [value];
  if (typeof value === 'bigint' || typeof value === 'number') {
    const i = Number(value);
    if (!names) return [String(i)];
    const name = names[i];
    if (name === undefined) throw new Error(`${where}: label ${i} is not a class of the file's ClassLabel (${names.length} names)`);
    return [name];
  }
  throw new Error(`${where}: the label is not an int, a string or a list of them`);
}

/**
 * Rows `[start, end)` of a file (within one row group is cheapest). Where the file has an offset index
 * (page locations), only the pages holding those rows are read; without one, their row groups' column chunks.
 */
export async function readParquetRows(ds: ParquetDatasetFile, start: number, end: number): Promise<ParquetAudioRow[]> {
  const columns = ds.labelColumn ? [ds.audioColumn, ds.labelColumn] : [ds.audioColumn];
  let objects: Record<string, unknown>[];
  try {
    objects = await parquetReadObjects({ file: ds.file, metadata: ds.metadata, columns, rowStart: start, rowEnd: end, utf8: false, useOffsetIndex: true });
  } catch (err) {
    throw new Error(`${ds.path}: rows ${start}-${end - 1} cannot be read (${(err as Error).message})`, { cause: err });
  }
  return objects.map((o, k) => {
    const index = start + k;
    const id = `${ds.path}#${index}`;
    const audio = o[ds.audioColumn];
    let bytes: Uint8Array | undefined;
    let audioPath: string | undefined;
    if (audio instanceof Uint8Array) bytes = audio;
    else if (typeof audio === 'object' && audio !== null) {
      const a = audio as { bytes?: unknown; path?: unknown };
      if (a.bytes instanceof Uint8Array) bytes = a.bytes;
      if (a.path instanceof Uint8Array) audioPath = utf8.decode(a.path);
      else if (typeof a.path === 'string') audioPath = a.path;
    }
    const row: ParquetAudioRow = { id, index, bytes: bytes ?? new Uint8Array(0), audioPath };
    if (!bytes || bytes.length === 0) {
      const hint = audioPath ? ` (its path is "${audioPath}": a dataset whose audio lives outside the Parquet file; only embedded bytes are read)` : '';
      row.problem = `${id}: the "${ds.audioColumn}" column has no audio bytes${hint}`;
    }
    if (ds.labelColumn) {
      try {
        row.labels = labelsOf(o[ds.labelColumn], ds.labelNames, id);
      } catch (err) {
        row.problem ??= (err as Error).message;
      }
    }
    return row;
  });
}

/** Every row of a file, a row group at a time. */
export async function* parquetRows(ds: ParquetDatasetFile): AsyncGenerator<ParquetAudioRow> {
  for (const [start, n] of ds.rowGroups) {
    if (n === 0) continue;
    yield* await readParquetRows(ds, start, start + n);
  }
}

/** `FILE.parquet#ROW` -> [FILE.parquet, ROW], or undefined for any other path. */
export function parseRowId(id: string): [string, number] | undefined {
  const m = /^(.*\.parquet)#(\d+)$/i.exec(id);
  return m ? [m[1]!, Number(m[2])] : undefined;
}

/**
 * Reads rows by id (`FILE.parquet#ROW`). Rows asked for in file order (norm-stats, eval, a training set's
 * statistics) read each row group once, one row group held; a row asked for out of order (a shuffled
 * training batch) is read alone, so a shuffled epoch holds no row group and reads no row group per row
 * where the file has page locations (an offset index).
 */
export class ParquetRowReader {
  private readonly files = new Map<string, Promise<ParquetDatasetFile>>();
  /** The row group held (a promise: the rows of a batch ask for it together, and it is read once). */
  private cached?: { path: string; start: number; count: number; rows: Promise<ParquetAudioRow[]> };
  private last?: { path: string; index: number };

  constructor(private readonly columns: ParquetColumns = {}) {}

  async read(id: string): Promise<Uint8Array> {
    const parsed = parseRowId(id);
    if (!parsed) throw new Error(`${id}: not a FILE.parquet#ROW id`);
    const [path, index] = parsed;
    const sequential = index === 0 || (this.last?.path === path && this.last.index + 1 === index);
    this.last = { path, index };
    const c = this.cached;
    if (c && c.path === path && index >= c.start && index < c.start + c.count) return rowBytes((await c.rows)[index - c.start]!);
    let open = this.files.get(path);
    if (!open) {
      open = openParquetDataset(path, this.columns, false);
      this.files.set(path, open);
    }
    const ds = await open;
    const group = ds.rowGroups.find(([s, n]) => index >= s && index < s + n);
    if (!group) throw new Error(`${id}: ${path} has ${ds.numRows} rows`);
    if (!sequential) return rowBytes((await readParquetRows(ds, index, index + 1))[0]!); // out of order: this row only
    const held = this.cached;
    if (held && held.path === path && held.start === group[0]) return rowBytes((await held.rows)[index - held.start]!); // asked for while opening
    const rows = readParquetRows(ds, group[0], group[0] + group[1]);
    rows.catch(() => {}); // awaited below; a failure is this read's error, not an unhandled one
    this.cached = { path, start: group[0], count: group[1], rows };
    return rowBytes((await rows)[index - group[0]]!);
  }
}

/** A row's audio bytes, or its problem as an error. */
export function rowBytes(row: ParquetAudioRow): Uint8Array {
  if (row.problem) throw new Error(row.problem);
  return row.bytes;
}

/** Every row's id and labels (only the label column is read; rows whose label is unusable are errors). */
export async function readParquetLabels(ds: ParquetDatasetFile): Promise<{ id: string; labels: string[] }[]> {
  if (!ds.labelColumn) throw new Error(`${ds.path}: opened without a label column`);
  let objects: Record<string, unknown>[];
  try {
    objects = await parquetReadObjects({ file: ds.file, metadata: ds.metadata, columns: [ds.labelColumn], utf8: false });
  } catch (err) {
    throw new Error(`${ds.path}: the label column "${ds.labelColumn}" cannot be read (${(err as Error).message})`, { cause: err });
  }
  return objects.map((o, i) => {
    const id = `${ds.path}#${i}`;
    return { id, labels: labelsOf(o[ds.labelColumn!], ds.labelNames, id) };
  });
}
