/** Local files (Node only): a FileSource over a folder, and writes that never leave a half-written file. */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { FileSource } from '../io/files.js';

export function dirSource(dir: string): FileSource {
  const root = resolve(dir);
  return {
    description: root,
    describe: (name) => join(root, name),
    exists: async (name) => {
      try {
        return (await stat(join(root, name))).isFile();
      } catch {
        return false;
      }
    },
    read: async (name) => {
      try {
        // A view, not a copy: copying a 346 MB checkpoint costs seconds and doubles peak RSS.
        const b = await readFile(join(root, name));
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new Error(`${join(root, name)}: ${code === 'ENOENT' ? 'no such file' : String(err)}`);
      }
    },
  };
}

/**
 * Writes next to the target under a temporary name, then renames: no half-written files. The temp
 * name carries the pid and random bytes, so concurrent writers of one path never share it.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new Error(`${path}: cannot write (${(err as Error).message})`);
  }
}
