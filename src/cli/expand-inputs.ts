/**
 * Command-line inputs -> audio files: a file stays itself, a folder gives its audio files (recursively,
 * sorted), and a pattern the shell did not expand (`'clips/**\/*.wav'`, or any pattern on Windows) is
 * matched here. Supports `*`, `?`, `[abc]`/`[!abc]`, `{a,b}` and `**`; like a shell, wildcards do not
 * match names that start with a dot. Node 20 has no fs.glob, and this is all the CLI needs.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isAudioFile } from '../node/audio.js';

const MAGIC = /[*?[{]/;

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
      const found = (await walk(arg)).filter(isAudioFile);
      if (found.length === 0) problems.push({ input: arg, message: 'folder has no audio files' });
      found.forEach(add);
    } else if (MAGIC.test(arg)) {
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

/** Every file under `dir`, sorted, skipping dot-folders (.git and the like). */
async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!e.name.startsWith('.')) out.push(...(await walk(p)));
    } else if (e.isFile() || (e.isSymbolicLink() && (await kindOf(p)) === 'file')) {
      out.push(p);
    }
  }
  return out;
}

/** Files matching `pattern`, sorted; the literal leading folders are not searched for. */
export async function glob(pattern: string): Promise<string[]> {
  const normalized = pattern.replace(/\\/g, '/');
  const absolute = normalized.startsWith('/');
  const parts = normalized.split('/').filter((p, i) => p !== '' || i === 0);
  let base = absolute ? '/' : '.';
  let i = absolute ? 1 : 0;
  for (; i < parts.length - 1 && !MAGIC.test(parts[i]!); i++) base = join(base, parts[i]!);
  const rest = parts.slice(i);
  const out: string[] = [];
  await matchSegments(base, rest, out);
  return [...new Set(out)].sort();
}

async function matchSegments(dir: string, segments: string[], out: string[]): Promise<void> {
  const [head, ...tail] = segments;
  if (head === undefined) return;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  if (head === '**') {
    // Zero folders ... (a trailing `**` means every file below)
    await matchSegments(dir, tail.length === 0 ? ['*'] : tail, out);
    // ... or one more, keeping `**` for the levels below.
    for (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith('.')) await matchSegments(join(dir, e.name), segments, out);
    }
    return;
  }
  const re = segmentRegExp(head);
  for (const e of entries) {
    if (!re.test(e.name) || (e.name.startsWith('.') && !head.startsWith('.'))) continue;
    const path = join(dir, e.name);
    if (tail.length === 0) {
      if ((await kindOf(path)) === 'file') out.push(path);
    } else if ((await kindOf(path)) === 'dir') {
      await matchSegments(path, tail, out);
    }
  }
}

/** One path segment's wildcard as an anchored regular expression. */
export function segmentRegExp(segment: string): RegExp {
  let re = '';
  let braces = 0;
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let body = segment.slice(i + 1, close);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else if (c === '{') {
      braces++;
      re += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      re += ')';
    } else if (c === ',' && braces > 0) re += '|';
    else re += c.replace(/[.+^$()|\\/]/g, '\\$&');
  }
  if (braces > 0) throw new Error(`unbalanced "{" in pattern "${segment}"`);
  return new RegExp(`^${re}$`);
}
