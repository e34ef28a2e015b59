/** Locates ../shared/fixtures (CI lays shared/ beside the clone) and reads its arrays. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNpy, type NpyArray } from '../../src/io/npy.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function findShared(): string {
  const candidates = [process.env.AST_SHARED, join(repoRoot, '../shared'), '/work/shared'].filter(
    (p): p is string => typeof p === 'string' && p.length > 0,
  );
  for (const c of candidates) if (existsSync(join(c, 'fixtures/index.json'))) return c;
  throw new Error(`shared fixtures not found; looked in ${candidates.join(', ')} (set AST_SHARED)`);
}

export const sharedDir = findShared();
export const fixturesDir = join(sharedDir, 'fixtures');
export const REPO_ROOT = repoRoot;

export interface FixtureIndex {
  resample: { audio: string; orig_sr: number; channels: number; out: string }[];
  features: { preprocessor: string; audio: string; out?: string; shape?: number[]; error?: string; resampled_from: number | null }[];
  models: { model: string; case: string; audio: string[] }[];
}

export const fixtureIndex: FixtureIndex = JSON.parse(readFileSync(join(fixturesDir, 'index.json'), 'utf8'));

export function readFixtureNpy(relPath: string): NpyArray {
  const p = join(fixturesDir, relPath);
  return parseNpy(readFileSync(p), p);
}

/** max |a - b| over two equal-length arrays; throws on a length mismatch. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}
