/**
 * The batcher without a model: rows from several callers go through a "forward" that returns, per row,
 * values computed independently of the batcher (the row's first value and its sum), so each caller can
 * check that it got back exactly its own rows, in its order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher, BatchCancelledError } from '../../src/pipeline/batcher.js';
import { float32Tensor, type Float32Tensor } from '../../src/tensor.js';

const T = 4;
const M = 3;

/** A row whose values name it: caller c, row k -> every value is 100 c + k. */
const row = (c: number, k: number) => new Float32Array(T * M).fill(100 * c + k);

/** Per row: [first value, sum of the row]; records each batch's size and owners. */
function recordingForward(log: { sizes: number[]; owners: number[][] }) {
  return async (x: Float32Tensor): Promise<Float32Tensor> => {
    const [B, t, m] = x.dims as [number, number, number];
    assert.equal(t, T);
    assert.equal(m, M);
    log.sizes.push(B);
    const per = t * m;
    const out = new Float32Array(B * 2);
    const owners: number[] = [];
    for (let b = 0; b < B; b++) {
      let s = 0;
      for (let i = 0; i < per; i++) s += x.data[b * per + i]!;
      out[2 * b] = x.data[b * per]!;
      out[2 * b + 1] = s;
      owners.push(Math.floor(x.data[b * per]! / 100));
    }
    log.owners.push(owners);
    return float32Tensor([B, 2], out);
  };
}

test('three interleaved callers with uneven row counts each get exactly their rows back, in order; batches never exceed max', async () => {
  const maxBatch = 4;
  const batcher = new Batcher<number>({ maxBatch, maxLength: T, numMelBins: M });
  const counts = [5, 1, 7]; // uneven: 13 rows, so the last batch is partial
  const results: Promise<Float32Array>[][] = [[], [], []];
  // interleave: round-robin over callers while each still has rows
  for (let k = 0; k < Math.max(...counts); k++) {
    for (let c = 0; c < 3; c++) if (k < counts[c]!) results[c]!.push(batcher.add(c, row(c, k)));
  }
  assert.equal(batcher.pending, 13);
  const log = { sizes: [] as number[], owners: [] as number[][] };
  const forward = recordingForward(log);
  while (batcher.full) await batcher.runNext(forward);
  assert.equal(batcher.pending, 1);
  assert.equal(await batcher.runNext(forward), 1);
  assert.equal(await batcher.runNext(forward), 0, 'nothing left');
  assert.deepEqual(log.sizes, [4, 4, 4, 1]);
  assert.ok(log.sizes.every((b) => b <= maxBatch));
  // batches mix callers (the point of one batcher): the first batch holds rows of all three
  assert.deepEqual(new Set(log.owners[0]), new Set([0, 1, 2]));
  for (let c = 0; c < 3; c++) {
    const got = await Promise.all(results[c]!);
    assert.equal(got.length, counts[c]);
    got.forEach((r, k) => assert.deepEqual([...r], [100 * c + k, (100 * c + k) * T * M], `caller ${c}, row ${k}`));
  }
});

test('a caller that cancels: its queued rows are dropped and reject; the others still get all of theirs', async () => {
  const batcher = new Batcher<string>({ maxBatch: 3, maxLength: T, numMelBins: M });
  const a = [0, 1, 2].map((k) => batcher.add('a', row(1, k)));
  const b = [0, 1, 2, 3].map((k) => batcher.add('b', row(2, k)));
  const c = [0, 1].map((k) => batcher.add('c', row(3, k)));
  assert.equal(batcher.cancel('b', 'client went away'), 4);
  assert.equal(batcher.pending, 5);
  for (const p of b) await assert.rejects(p, (e: unknown) => e instanceof BatchCancelledError && /client went away/.test((e as Error).message));
  const log = { sizes: [] as number[], owners: [] as number[][] };
  while (batcher.pending > 0) await batcher.runNext(recordingForward(log));
  assert.deepEqual(log.sizes, [3, 2]);
  assert.ok(log.owners.flat().every((o) => o !== 2), 'no row of the cancelled caller ran');
  assert.deepEqual((await Promise.all(a)).map((r) => r[0]), [100, 101, 102]);
  assert.deepEqual((await Promise.all(c)).map((r) => r[0]), [300, 301]);
  assert.equal(batcher.cancel('a'), 0, 'nothing of a is queued any more');
});

test('a failed forward fails only the rows of that batch', async () => {
  const batcher = new Batcher<number>({ maxBatch: 2, maxLength: T, numMelBins: M });
  const rows = [0, 1, 2].map((k) => batcher.add(k, row(k, 0)));
  await batcher.runNext(async () => {
    throw new Error('out of memory');
  });
  await assert.rejects(rows[0]!, /out of memory/);
  await assert.rejects(rows[1]!, /out of memory/);
  await batcher.runNext(recordingForward({ sizes: [], owners: [] }));
  assert.equal((await rows[2]!)[0], 200);
});

test('take() assembles [B, T, M] in arrival order; bad rows and options are refused with a clear error', async () => {
  const batcher = new Batcher<number>({ maxBatch: 8, maxLength: T, numMelBins: M });
  void batcher.add(0, row(0, 5));
  void batcher.add(1, row(1, 6));
  const batch = batcher.take()!;
  assert.deepEqual(batch.inputValues.dims, [2, T, M]);
  assert.deepEqual(batch.owners, [0, 1]);
  assert.equal(batch.inputValues.data[0], 5);
  assert.equal(batch.inputValues.data[T * M], 106);
  assert.equal(batcher.take(), undefined);
  await assert.rejects(batcher.add(0, new Float32Array(5)), /a row must be 12 float32 values \(4 x 3\), got 5/);
  assert.throws(() => new Batcher({ maxBatch: 0, maxLength: T, numMelBins: M }), /maxBatch must be a positive integer, got 0/);
});
