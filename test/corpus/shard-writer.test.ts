/**
 * The shard writer on its own: two writers in one folder never overwrite each other's shards (link(2)
 * takes a free name), every shard reads back with hyparquet (the library) with the rows given, JSON Lines
 * shards hold one row a line, and only the temporary files of dead processes on this host are removed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parquetReadObjects } from 'hyparquet';
import { listShards, removeOrphanTemporaries, ShardWriter } from '../../src/corpus/shard-writer.js';
import type { TagRow } from '../../src/corpus/row.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ast-shards-'));
  dirs.push(d);
  return d;
};

const row = (i: number): TagRow => ({
  path: `/corpus/clip-${i}.wav`,
  size: 1000 + i,
  mtime_ms: 1_700_000_000_000 + i,
  sha256: i.toString(16).padStart(64, '0'),
  duration_s: 1 + i / 8, // exact in binary
  sampling_rate: 16000,
  labels: [{ label: `l${i % 3}`, score: 0.5 }, { label: 'z', score: 0.25 }],
});

const columns = { scores: false, timeline: false, embedding: false };

test('two writers in one folder: distinct shard names, every row once, read back by hyparquet', async () => {
  const dir = tempDir();
  const a = new ShardWriter({ dir, format: 'parquet', shardSize: 3, columns });
  const b = new ShardWriter({ dir, format: 'parquet', shardSize: 3, columns });
  // interleaved: both writers start at part-00000 and must not replace each other's file
  await Promise.all([0, 1, 2, 3].map((i) => a.add(row(i))).concat([10, 11, 12, 13].map((i) => b.add(row(i)))));
  await Promise.all([a.flush(), b.flush()]);
  const shards = await listShards(dir);
  assert.equal(shards.length, 4);
  assert.deepEqual([...a.written, ...b.written].sort(), shards.map((s) => s.path).sort());
  const got: Record<string, unknown>[] = [];
  for (const s of shards) {
    const bytes = readFileSync(s.path);
    got.push(...(await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) })));
  }
  const want = [0, 1, 2, 3, 10, 11, 12, 13].map(row);
  assert.equal(got.length, want.length);
  for (const w of want) {
    const g = got.find((x) => x.path === w.path)!;
    assert.ok(g, w.path);
    assert.equal(g.size, BigInt(w.size));
    assert.equal(g.mtime_ms, BigInt(w.mtime_ms));
    assert.equal(g.duration_s, w.duration_s);
    assert.deepEqual(g.labels, w.labels); // 0.5 and 0.25 are exact in float32
  }
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.')), []);
});

test('JSON Lines shards: one row a line', async () => {
  const dir = tempDir();
  const w = new ShardWriter({ dir, format: 'jsonl', shardSize: 10, columns, prefix: 'part-w1' });
  for (let i = 0; i < 3; i++) await w.add(row(i));
  const path = await w.flush();
  assert.equal(path, join(dir, 'part-w1-00000.jsonl'));
  const lines = readFileSync(path!, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as TagRow);
  assert.deepEqual(lines, [0, 1, 2].map(row));
});

test('orphan temporaries: a dead process on this host is cleaned up, a live one is not', async () => {
  const dir = tempDir();
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '_');
  const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid!; // has exited by now
  const orphan = `.part.${host}.${dead}.0badf00d.tmp`;
  const live = `.part.${host}.${process.pid}.0badf00d.tmp`;
  const other = `.part.someotherhost.${dead}.0badf00d.tmp`;
  const manifest = `._manifest.json.${host}.${dead}.0badf00d.tmp`;
  for (const n of [orphan, live, other, manifest]) writeFileSync(join(dir, n), 'partial');
  assert.deepEqual((await removeOrphanTemporaries(dir)).sort(), [orphan, manifest].sort());
  assert.deepEqual(readdirSync(dir).sort(), [live, other].sort());
});
