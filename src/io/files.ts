/**
 * Where a checkpoint's files come from, without the core knowing the platform:
 * a folder on disk (Node), a URL prefix (browser), the Hugging Face Hub (Node, cached).
 */
export interface FileSource {
  /** Shown in errors: a folder path, a URL, or `hub:owner/name@revision`. */
  readonly description: string;
  /** The whole file, or an error that names it. */
  read(name: string): Promise<Uint8Array>;
  exists(name: string): Promise<boolean>;
  /** Human-readable location of one file, for error messages. */
  describe(name: string): string;
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
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
  }
}

/** A source over in-memory files (tests, browser uploads). */
export function memorySource(files: Record<string, Uint8Array>, description = 'memory'): FileSource {
  return {
    description,
    describe: (name) => `${description}/${name}`,
    exists: async (name) => name in files,
    read: async (name) => {
      const f = files[name];
      if (!f) throw new Error(`${description}/${name}: no such file`);
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
