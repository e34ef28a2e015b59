/**
 * What the benchmarks share to run the PyTorch reference beside ours: where `oracle.py` lives, and a
 * line-at-a-time reader over a persistent Python worker's stdout (so runs can alternate with ours).
 */
import type { Readable } from 'node:stream';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The folder holding `oracle.py`: $AST_SHARED/reference, ../shared/reference beside the repo, or /work/shared/reference. */
export function findReferenceDir(): string | undefined {
  for (const d of [process.env.AST_SHARED && join(process.env.AST_SHARED, 'reference'), join(REPO, '../shared/reference'), '/work/shared/reference']) {
    if (d && existsSync(join(d, 'oracle.py'))) return d;
  }
  return undefined;
}

/** `next()` resolves with the stream's next line, or undefined once it has closed. */
export function lineReader(stream: Readable): () => Promise<string | undefined> {
  const lines: string[] = [];
  const waiters: ((line: string | undefined) => void)[] = [];
  let buffered = '';
  stream.on('data', (d: Buffer) => {
    buffered += d.toString();
    let i: number;
    while ((i = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  stream.on('close', () => waiters.splice(0).forEach((w) => w(undefined)));
  return () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r)));
}
