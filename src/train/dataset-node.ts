/**
 * Labelled audio on disk: a folder with one sub-folder per class, or a CSV / JSONL manifest
 * (paths relative to the manifest). Each clip is decoded, resampled and turned into fbank
 * features once; the features (and, for mixup, the waveform) stay in memory for every epoch.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { AUDIO_EXTENSIONS, isAudioFile } from '../node/audio.js';
import { refuseSplitFolders } from '../node/data-splits.js';
import type { LabelledClip } from './dataset.js';
import { parseCsvManifest, parseJsonlManifest } from './manifest.js';

/** Reads a data source: folder-per-class, `.csv`, or `.jsonl` / `.json` manifest. */
export function readLabelledClips(source: string): LabelledClip[] {
  if (!existsSync(source)) throw new Error(`${source}: no such file or folder`);
  const st = statSync(source);
  if (st.isDirectory()) return scanClassFolders(source);
  const text = readFileSync(source, 'utf8');
  const ext = extname(source).toLowerCase();
  let clips: LabelledClip[];
  if (ext === '.csv' || ext === '.tsv') clips = parseCsvManifest(text, source);
  else if (ext === '.jsonl' || ext === '.json' || ext === '.ndjson') clips = parseJsonlManifest(text, source);
  else throw new Error(`${source}: not a folder or a .csv / .jsonl manifest`);
  const base = dirname(resolve(source));
  return clips.map((c) => ({ path: resolve(base, c.path), labels: c.labels }));
}

function scanClassFolders(root: string): LabelledClip[] {
  const clips: LabelledClip[] = [];
  const classes = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort();
  if (classes.length === 0) throw new Error(`${root}: no class folders (expected ${root}/<label>/<clip>.wav)`);
  refuseSplitFolders(root, classes);
  for (const label of classes) {
    const files = listAudio(join(root, label));
    for (const f of files) clips.push({ path: f, labels: [label] });
  }
  if (clips.length === 0) throw new Error(`${root}: the class folders hold no audio files (${AUDIO_EXTENSIONS.join(', ')})`);
  return clips;
}

function listAudio(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listAudio(p));
    else if (isAudioFile(e.name)) out.push(resolve(p));
  }
  return out;
}
