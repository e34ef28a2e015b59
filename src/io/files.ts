/**
 * Where a checkpoint's files come from, without the core knowing the platform:
 * a folder on disk (Node), a URL prefix (browser), the Hugging Face Hub (Node, cached).
 */
import { FormatError } from './errors.js';
export interface FileSource {
  /** Shown in errors: a folder path, a URL, or `hub:owner/name@revision`. */
  readonly description: string;
  /** The whole file, or an error that names it. */
  read(name: string): Promise<Uint8Array>;
  exists(name: string): Promise<boolean>;
  /** Human-readable location of one file, for error messages. */
  describe(name: string): string;
  /**
   * Optional (local files): the file opened for reads at byte offsets, so a loader can read only the parts it
   * needs, or read a part into a buffer it reuses (q8 reads each Linear's float32 weight into one scratch buffer
   * and quantises it there, instead of holding the whole checkpoint).
   */
  openRanged?(name: string): Promise<RangedFile>;
}

/** A file open for positioned reads (FileSource.openRanged). */
export interface RangedFile {
  readonly size: number;
  /** Fills `into` with the bytes at [offset, offset + into.length); a short file is an error naming it. */
  readInto(offset: number, into: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Turns a user's string (path, URL, Hub id) into a FileSource; registered by the platform entry. */
export interface ResolveOptions {
  revision?: string;
  /** Byte counts while a file downloads (Hub sources), for a progress display. */
  onProgress?: (event: { file: string; loaded: number; total: number }) => void;
}
export type FileSourceResolver = (pathOrId: string, options?: ResolveOptions) => Promise<FileSource>;

let resolver: FileSourceResolver | undefined;

export function registerFileSourceResolver(r: FileSourceResolver): void {
  resolver = r;
}

export async function resolveSource(
  source: string | FileSource,
  options?: ResolveOptions,
): Promise<FileSource> {
  if (typeof source !== 'string') return source;
  if (!resolver) {
    throw new Error(`cannot open "${source}": no file source registered for this platform; pass a FileSource`);
  }
  return resolver(source, options);
}

/** A JSON file's bytes as a value; bad JSON is an error that names the file (`where`). */
export function parseJson(bytes: Uint8Array, where: string): unknown {
  const text = new TextDecoder().decode(bytes);
  if (jsonDepthExceeds(text)) throw new FormatError(where, `JSON nested more than ${MAX_JSON_DEPTH} levels deep`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FormatError(where, `not valid JSON (${(err as Error).message})`);
  }
}

/**
 * JSON nested deeper than this is refused. No config or header comes near it, and anything that walks
 * a deeper value recursively (JSON.stringify when the config is saved, Python's json) overflows its stack.
 */
export const MAX_JSON_DEPTH = 1000;

/** Whether JSON text nests arrays/objects deeper than `limit` (brackets inside strings do not count); one pass, no parsing. */
export function jsonDepthExceeds(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** A source over in-memory files (tests, browser uploads). */
export function memorySource(files: Record<string, Uint8Array>, description = 'memory'): FileSource {
  return {
    description,
    describe: (name) => `${description}/${name}`,
    exists: async (name) => name in files,
    read: async (name) => {
      const f = files[name];
      if (!f) throw new FormatError(`${description}/${name}`, 'no such file');
      return f;
    },
  };
}

/** A source over a URL prefix with fetch (browsers; also Node >= 18). */
export function urlSource(baseUrl: string, fetchImpl: typeof fetch = fetch): FileSource {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return {
    description: baseUrl,
    describe: (name) => base + name,
    exists: async (name) => (await fetchImpl(base + name, { method: 'HEAD' })).ok,
    read: async (name) => {
      const res = await fetchImpl(base + name);
      if (!res.ok) throw new Error(`${base + name}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}
