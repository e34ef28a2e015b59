/**
 * Labelled audio on disk: a folder with one sub-folder per class, or a CSV / JSONL manifest (paths
 * relative to the manifest). The parsing is browser-safe (train/dataset.ts); this reads the files.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { AUDIO_EXTENSIONS, listAudioFiles } from './audio.js';
import { parseCsvManifest, parseJsonlManifest, type LabelledClip } from '../train/dataset.js';

/** Reads a data source: folder-per-class, `.csv`, or `.jsonl` / `.json` manifest. */
export async function readLabelledClips(source: string): Promise<LabelledClip[]> {
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
  for (const label of classes) {
    for (const f of await listAudioFiles(join(root, label))) clips.push({ path: resolve(f), labels: [label] });
  }
  if (clips.length === 0) throw new Error(`${root}: the class folders hold no audio files (${AUDIO_EXTENSIONS.join(', ')})`);
  return clips;
}
