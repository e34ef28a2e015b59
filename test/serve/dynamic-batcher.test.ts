/**
 * The server's DynamicBatcher without HTTP: when a batch runs (full, the oldest row's delay passed, or nothing more
 * on its way) and that every submission gets its own rows back. The forward here sums each row, so each expected
 * output is computed from the row itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamicBatcher } from '../../src/serve/dynamic-batcher.js';
import { float32Tensor, type Float32Tensor } from '../../src/tensor.js';

const T = 2;
const M = 3;

/** Row r of a submission: T*M values all equal to `v`, so its sum is v * T * M. */
const row = (v: number) => new Float32Array(T * M).fill(v);

function sums(batches: number[]): (x: Float32Tensor) => Promise<Float32Tensor> {
  return async (x) => {
    const B = x.dims[0]!;
    batches.push(B);
    await new Promise((r) => setTimeout(r, 20)); // a forward takes a while; rows arriving meanwhile wait
    const out = new Float32Array(B);
    for (let b = 0; b < B; b++) for (let i = 0; i < T * M; i++) out[b]! += x.data[b * T * M + i]!;
    return float32Tensor([B, 1], out);
  };
}

test('nothing more on its way: a lone row runs at once instead of waiting out --max-delay-ms', async () => {
  const batches: number[] = [];
  const b = new DynamicBatcher<string>({ maxBatch: 8, maxDelayMs: 2000, maxLength: T, numMelBins: M, moreComing: () => false }, sums(batches));
  const t0 = performance.now();
  const [out] = await b.submit('a', [row(1)]);
  const ms = performance.now() - t0;
  assert.deepEqual([...out!], [T * M]);
  assert.ok(ms < 1000, `answered after ${ms.toFixed(0)} ms; the delay is 2000 ms`);
});

test('more on its way: the batch waits for the delay (or until full) and gathers the rows that came', async () => {
  const batches: number[] = [];
  let coming = true;
  const b = new DynamicBatcher<string>({ maxBatch: 8, maxDelayMs: 150, maxLength: T, numMelBins: M, moreComing: () => coming }, sums(batches));
  const t0 = performance.now();
  const first = b.submit('a', [row(1)]);
  await new Promise((r) => setTimeout(r, 30));
  const second = b.submit('b', [row(2), row(3)]);
  coming = false;
  const [a, bb] = await Promise.all([first, second]);
  assert.ok(performance.now() - t0 >= 140, 'the first row waited for the delay while more was said to be coming');
  assert.deepEqual(batches, [3], 'one forward for the three rows');
  assert.deepEqual(a.map((o) => o[0]), [T * M]);
  assert.deepEqual(bb.map((o) => o[0]), [2 * T * M, 3 * T * M]);
});

test('rows that arrive during a forward make the next batch, each submission gets its own rows in order', async () => {
  const batches: number[] = [];
  const b = new DynamicBatcher<number>({ maxBatch: 4, maxDelayMs: 5, maxLength: T, numMelBins: M }, sums(batches));
  const subs: Promise<Float32Array[]>[] = [];
  for (let k = 0; k < 6; k++) {
    subs.push(b.submit(k, [row(10 * k + 1), row(10 * k + 2)])); // 12 rows from 6 owners
    await new Promise((r) => setTimeout(r, 3));
  }
  const outs = await Promise.all(subs);
  outs.forEach((o, k) => assert.deepEqual(o.map((x) => x[0]), [(10 * k + 1) * T * M, (10 * k + 2) * T * M], `owner ${k}`));
  assert.equal(batches.reduce((s, n) => s + n, 0), 12);
  assert.ok(batches.every((n) => n <= 4) && batches.some((n) => n > 1), `batches ${batches.join(', ')}`);
});
