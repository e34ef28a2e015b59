/**
 * DIR/errors.jsonl: one JSON line per file that failed. Each line is appended with one write (O_APPEND),
 * so lines from one process never interleave; a process killed mid-write can leave a torn last line,
 * which the reader skips (that file is simply tried again on resume).
 */
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileKey, type TagError } from './row.js';

export const ERRORS_FILE = 'errors.jsonl';

/** Appends one error line to DIR/errors.jsonl. */
export async function appendError(dir: string, error: TagError): Promise<void> {
  const line = `${JSON.stringify({ path: error.path, size: error.size, mtime_ms: error.mtime_ms, error: error.error })}\n`;
  await appendFile(join(dir, ERRORS_FILE), line, 'utf8');
}

/** The errors of a folder by file key (the last line of a key wins); none when there is no errors.jsonl. */
export async function readErrors(dir: string): Promise<Map<string, TagError>> {
  const text = await readFile(join(dir, ERRORS_FILE), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  const out = new Map<string, TagError>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let e: TagError;
    try {
      e = JSON.parse(line) as TagError;
    } catch {
      continue; // a torn line from a killed process
    }
    if (typeof e?.path !== 'string' || typeof e.error !== 'string') continue;
    out.set(fileKey(e), { path: e.path, size: Number(e.size), mtime_ms: Number(e.mtime_ms), error: e.error });
  }
  return out;
}

/** Lines of errors.jsonl for `errors`. */
export function formatErrors(errors: Iterable<TagError>): string {
  let text = '';
  for (const e of errors) text += `${JSON.stringify({ path: e.path, size: e.size, mtime_ms: e.mtime_ms, error: e.error })}\n`;
  return text;
}
