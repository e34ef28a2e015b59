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
