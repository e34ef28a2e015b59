/**
 * Command-line inputs -> audio files: a file stays itself, a folder gives its audio files (recursively,
 * sorted, skipping dot-folders such as .git), and a pattern the shell did not expand
 * (`'clips/**\/*.wav'`, or any pattern on Windows) is matched with tinyglobby (`*`, `?`, `[abc]`,
 * `[!abc]`, `{a,b}`, `**`; parentheses are literal); like a shell, wildcards do not match names that
 * start with a dot.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { glob as tinyglob, isDynamicPattern } from 'tinyglobby';
import { listAudioFiles } from '../node/audio.js';

export interface ExpandedInputs {
  files: string[];
  /** Arguments that named nothing: "pattern matched no files" and the like. */
  problems: { input: string; message: string }[];
}

export async function expandInputs(args: readonly string[]): Promise<ExpandedInputs> {
  const files: string[] = [];
  const seen = new Set<string>();
  const problems: ExpandedInputs['problems'] = [];
  const add = (f: string) => {
    if (!seen.has(f)) {
      seen.add(f);
      files.push(f);
    }
  };
  for (const arg of args) {
    if (arg === '-') {
      add(arg); // standard input, read by the command
      continue;
    }
    const kind = await kindOf(arg);
    if (kind === 'file') add(arg);
    else if (kind === 'dir') {
      const found = await listAudioFiles(arg);
      if (found.length === 0) problems.push({ input: arg, message: 'folder has no audio files' });
      found.forEach(add);
    } else if (isDynamicPattern(arg)) {
      const found = await glob(arg);
      if (found.length === 0) problems.push({ input: arg, message: 'pattern matched no files' });
      found.forEach(add);
    } else {
      problems.push({ input: arg, message: 'no such file or folder' });
    }
  }
  return { files, problems };
}

async function kindOf(path: string): Promise<'file' | 'dir' | 'missing'> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

/** Files matching `pattern`, sorted; absolute for an absolute pattern, else relative to the working folder. */
export async function glob(pattern: string): Promise<string[]> {
  const normalized = pattern.replace(/\\/g, '/');
  // Parentheses are picomatch regex groups (`(1)+` would match `11`); in a file pattern they are literal.
  const literalParens = normalized.replace(/[()]/g, '\\$&');
  const found = await tinyglob(literalParens, { absolute: isAbsolute(normalized), expandDirectories: false, dot: false });
  return found.map((f) => join(f)).sort();
}
