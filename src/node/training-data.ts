/**
 * Labelled audio on disk: a folder with one sub-folder per class, or a CSV / JSONL manifest (paths
 * relative to the manifest). The parsing is browser-safe (train/manifest.ts); this reads the files.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { AUDIO_EXTENSIONS, listAudioFiles } from './audio.js';
import { refuseSplitFolders } from './data-splits.js';
import type { LabelledClip } from '../train/dataset.js';
import { parseCsvManifest, parseJsonlManifest } from '../train/manifest.js';
import { isParquetInput, listParquetFiles, openParquetDataset, ParquetRowReader, readParquetLabels, type ParquetColumns } from './parquet-dataset.js';

/**
 * The clips of Parquet files: labels read now (the label column only), audio read by each clip's `read`
 * a row group at a time as the clips are loaded in order. A row whose label is unusable is an error here.
 */
async function readParquetClips(source: string, columns: ParquetColumns): Promise<LabelledClip[]> {
  const reader = new ParquetRowReader(columns);
  const clips: LabelledClip[] = [];
  for (const file of await listParquetFiles(source)) {
    const ds = await openParquetDataset(file, columns, true);
    for (const { id, labels } of await readParquetLabels(ds)) clips.push({ path: id, labels, read: () => reader.read(id) });
  }
  if (clips.length === 0) throw new Error(`${source}: the Parquet files have no rows`);
  return clips;
}

/**
 * Reads a data source: folder-per-class, `.csv`, `.jsonl` / `.json` manifest, or Hugging Face `datasets`
 * Parquet files (a `.parquet` file, a folder of them, or a pattern such as `'data/train-*.parquet'`).
 */
export async function readLabelledClips(source: string, columns: ParquetColumns = {}): Promise<LabelledClip[]> {
  if (await isParquetInput(source)) return readParquetClips(source, columns);
  const st = await stat(source).catch(() => undefined);
  if (!st) throw new Error(`${source}: no such file or folder`);
  if (st.isDirectory()) return scanClassFolders(source);
  const text = await readFile(source, 'utf8');
  const ext = extname(source).toLowerCase();
  let clips: LabelledClip[];
  if (ext === '.csv' || ext === '.tsv') clips = parseCsvManifest(text, source);
  else if (ext === '.jsonl' || ext === '.json' || ext === '.ndjson') clips = parseJsonlManifest(text, source);
  else throw new Error(`${source}: not a folder or a .csv / .jsonl manifest`);
  const base = dirname(resolve(source));
  return clips.map((c) => ({ path: resolve(base, c.path), labels: c.labels }));
}

async function scanClassFolders(root: string): Promise<LabelledClip[]> {
  const clips: LabelledClip[] = [];
  const classes = (await readdir(root, { withFileTypes: true }))
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort();
  if (classes.length === 0) throw new Error(`${root}: no class folders (expected ${root}/<label>/<clip>.wav)`);
  refuseSplitFolders(root, classes);
  for (const label of classes) {
    for (const f of await listAudioFiles(join(root, label))) clips.push({ path: resolve(f), labels: [label] });
  }
  if (clips.length === 0) throw new Error(`${root}: the class folders hold no audio files (${AUDIO_EXTENSIONS.join(', ')})`);
  return clips;
}
