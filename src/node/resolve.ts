/**
 * How the Node entry turns a user's string into a FileSource: an existing folder is read in place,
 * a `file:` URL is that folder, an http(s) URL is fetched, anything else that reads as a Hub repo id
 * (`owner/name`) comes from the Hugging Face Hub through the local cache.
 */
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { urlSource, type FileSource, type ResolveOptions } from '../io/files.js';
import { dirSource } from './files.js';
import { looksLikeRepoId } from '../io/hub-names.js';
import { hubSource } from './hub.js';

export async function resolveNodeSource(pathOrId: string, options: ResolveOptions = {}): Promise<FileSource> {
  if (/^https?:\/\//i.test(pathOrId)) return urlSource(pathOrId);
  const path = pathOrId.startsWith('file:') ? fileURLToPath(pathOrId) : pathOrId;
  const kind = await stat(path).then(
    (s) => (s.isDirectory() ? 'folder' : 'file'),
    () => 'missing' as const,
  );
  if (kind === 'folder') return dirSource(path);
  if (kind === 'file') throw new Error(`${path} is a file; pass the folder that holds config.json and the weights`);
  if (path === pathOrId && looksLikeRepoId(pathOrId)) {
    return hubSource(pathOrId, { revision: options.revision, onProgress: options.onProgress });
  }
  throw new Error(`${pathOrId}: no such folder, and not a Hugging Face repo id of the form "owner/name"`);
}

/** Larger files are refused before reading: past what one decode can hold in memory. */
const MAX_AUDIO_FILE_BYTES = 2 ** 31 - 1;

/** The pipeline's reader for local audio files: a path or a `file:` URL; errors name the file. */
export async function readLocalFile(pathOrUrl: string): Promise<Uint8Array> {
  const path = pathOrUrl.startsWith('file:') ? fileURLToPath(pathOrUrl) : pathOrUrl;
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw new Error(`${path}: is a folder, not an audio file`);
    // A pipe or device (/dev/stdin, <(…)) reports size 0: read it to its end, then judge.
    if (s.isFile() && s.size === 0) throw new Error(`${path}: empty file`);
    if (s.size > MAX_AUDIO_FILE_BYTES) throw new Error(`${path}: ${s.size} bytes is too large to decode in one piece`);
    const bytes = new Uint8Array(await readFile(path));
    if (bytes.length === 0) throw new Error(`${path}: empty ${s.isFile() ? 'file' : 'stream'}`);
    return bytes;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(err);
    throw new Error(`${path}: ${why}`);
  }
}
