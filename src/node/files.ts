/** FileSource over a local folder (Node only). */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
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
        return new Uint8Array(await readFile(join(root, name)));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new Error(`${join(root, name)}: ${code === 'ENOENT' ? 'no such file' : String(err)}`);
      }
    },
  };
}
