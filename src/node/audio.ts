/** Node-only audio file reading: paths -> decodeAudio, and the file lists norm-stats walks. */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { decodeAudio, type DecodedAudio } from '../audio/decode.js';

/** Larger files are refused before reading: 2 GiB is past what one decode can hold in memory. */
const MAX_AUDIO_FILE_BYTES = 2 ** 31 - 1;

/**
 * Extensions a folder listing takes as audio. Tracker modules (.mod, .xm, .it) and video containers are
 * decoded when named, but left out here: `.mod` and `.it` are common non-audio names (go.mod).
 */
export const AUDIO_EXTENSIONS = [
  '.wav', '.wave', '.flac', '.mp3', '.ogg', '.oga', '.opus', '.m4a', '.mp4', '.aac', '.webm', '.aif', '.aiff', '.aifc', '.caf',
  '.amr', '.wv', '.wma', '.tta', '.mpc', '.ac3', '.eac3', '.dts', '.dsf', '.dff', '.qoa',
] as const;
const AUDIO_EXTENSION_SET: ReadonlySet<string> = new Set(AUDIO_EXTENSIONS);

/** Whether a folder listing should take this file as audio: by extension, case-insensitive. */
export function isAudioFile(path: string): boolean {
  return AUDIO_EXTENSION_SET.has(extname(path).toLowerCase());
}

async function readBytes(path: string): Promise<Uint8Array> {
  let size: number;
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw new Error(`${path}: is a folder, not an audio file`);
    if (!s.isFile()) {
      // A pipe or device (/dev/stdin, <(…)) has no size to read up front: read it to its end.
      const bytes = new Uint8Array(await readFile(path));
      if (bytes.length === 0) throw new Error(`${path}: empty stream`);
      return bytes;
    }
    size = s.size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${path}: no such file`);
    if (code === 'EACCES') throw new Error(`${path}: permission denied`);
    throw err;
  }
  if (size === 0) throw new Error(`${path}: empty file`);
  if (size > MAX_AUDIO_FILE_BYTES) throw new Error(`${path}: ${size} bytes is too large to decode in one piece (limit ${MAX_AUDIO_FILE_BYTES})`);
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(size);
    const { bytesRead } = await fh.read(buf, 0, size, 0);
    return bytesRead === size ? buf : buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Decodes an audio file (WAV, or any format audio-decode reads) to mono, resampled when `samplingRate` is given. */
export async function readAudioFile(path: string, options: { samplingRate?: number } = {}): Promise<DecodedAudio> {
  return decodeAudio(await readBytes(path), { samplingRate: options.samplingRate, source: path });
}

/** Mono float32 samples of a file or of encoded bytes, at `samplingRate` (the file's own when omitted). */
export async function loadAudio(pathOrBytes: string | Uint8Array, options: { samplingRate?: number } = {}): Promise<Float32Array> {
  if (typeof pathOrBytes === 'string') return (await readAudioFile(pathOrBytes, options)).waveform;
  return (await decodeAudio(pathOrBytes, { samplingRate: options.samplingRate })).waveform;
}

/** Audio files under a folder, recursively, sorted by path (so results do not depend on the file system's order). */
export async function listAudioFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (isAudioFile(e.name)) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/**
 * Audio paths of a manifest, resolved against the manifest's folder:
 * AST's datafile JSON (`{"data": [{"wav": ...}]}`), a JSON array, JSON Lines with a
 * `wav`/`path`/`file`/`audio` field, a CSV/TSV whose header names such a column, or one path a line.
 */
export async function readManifestPaths(manifest: string): Promise<string[]> {
  const text = await readFile(manifest, 'utf8');
  const base = dirname(resolve(manifest));
  const abs = (p: string): string => (isAbsolute(p) ? p : join(base, p));
  const pick = (o: unknown, where: string): string => {
    if (typeof o === 'string') return o;
    if (typeof o === 'object' && o !== null) {
      const r = o as Record<string, unknown>;
      for (const k of ['wav', 'path', 'file', 'audio', 'filename']) if (typeof r[k] === 'string' && r[k]) return r[k] as string;
    }
    throw new Error(`${manifest}: ${where} has no "wav", "path", "file" or "audio" field`);
  };
  const trimmed = text.trim();
  if (!trimmed) throw new Error(`${manifest}: empty manifest`);
  let paths: string[];
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      // JSON Lines: one object per line
      paths = trimmed.split(/\r?\n/).filter((l) => l.trim()).map((l, i) => {
        try {
          return pick(JSON.parse(l), `line ${i + 1}`);
        } catch (e) {
          throw e instanceof SyntaxError ? new Error(`${manifest}: line ${i + 1} is not JSON`) : e;
        }
      });
      return paths.map(abs);
    }
    const items = Array.isArray(json) ? json : (json as Record<string, unknown>).data;
    if (!Array.isArray(items)) throw new Error(`${manifest}: JSON manifest must be an array or {"data": [...]}`);
    paths = items.map((it, i) => pick(it, `entry ${i}`));
  } else {
    const lines = trimmed.split(/\r?\n/).filter((l) => l.trim());
    const sep = lines[0]!.includes('\t') ? '\t' : ',';
    const header = lines[0]!.split(sep).map((h) => h.trim().replace(/^"|"$/g, '').toLowerCase());
    const col = header.findIndex((h) => ['wav', 'path', 'file', 'audio', 'filename', 'file_name'].includes(h));
    paths = col >= 0
      ? lines.slice(1).map((l) => (l.split(sep)[col] ?? '').trim().replace(/^"|"$/g, ''))
      : lines.map((l) => l.trim());
  }
  if (paths.length === 0) throw new Error(`${manifest}: manifest lists no audio`);
  return paths.map(abs);
}

/** A folder's audio files, or a manifest's. */
export async function listAudioInput(dirOrManifest: string): Promise<string[]> {
  let isDir: boolean;
  try {
    isDir = (await stat(dirOrManifest)).isDirectory();
  } catch {
    throw new Error(`${dirOrManifest}: no such folder or manifest`);
  }
  const files = isDir ? await listAudioFiles(dirOrManifest) : await readManifestPaths(dirOrManifest);
  if (files.length === 0) throw new Error(`${dirOrManifest}: no audio files (${AUDIO_EXTENSIONS.join(', ')})`);
  return files;
}
