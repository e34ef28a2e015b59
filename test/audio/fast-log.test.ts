/**
 * logFloorInto (the fbank's table-and-series log) against Math.log, over the range mel energies
 * take and beyond, and its floor and fallbacks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logFloorInto } from '../../src/audio/fast-log.js';

const EPS = 1.1920928955078125e-7; // float32 epsilon, the fbank's floor

test('logFloorInto is within a few ulps (1e-12) of Math.log from 1e-300 to 1e300', () => {
  const n = 200_000;
  const x = new Float64Array(n);
  // log-uniform over 600 decades plus a dense sweep of mantissas near 1 (where slices meet)
  for (let i = 0; i < n / 2; i++) x[i] = 10 ** (-300 + (600 * i) / (n / 2));
  for (let i = n / 2; i < n; i++) x[i] = 1 + (i - n / 2) / (n / 2);
  const out = new Float64Array(n);
  logFloorInto(x, new Uint32Array(x.buffer), n, 1e-300, out, 0);
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(out[i]! - Math.log(x[i]!)));
  // measured worst 2.3e-13 absolute at |log x| ~ 690 (2 ulps of the result); 1.4e-14 for |log x| < 40
  assert.ok(worst <= 1e-12, `worst ${worst}`);
});

test('logFloorInto floors at the given value and falls back to Math.log outside its fast range', () => {
  const x = new Float64Array([0, -1, EPS / 2, EPS, 2 * EPS, 1e-310, Infinity, NaN, 1e305, 3]);
  const out = new Float64Array(x.length + 3);
  logFloorInto(x, new Uint32Array(x.buffer), x.length, EPS, out, 3);
  // below or at the floor: exactly log(floor); non-finite and huge: Math.log's own answer
  const want = [0, 0, 0, ...[EPS, EPS, EPS, EPS, 2 * EPS, EPS, Infinity, NaN, 1e305, 3].map((v) => Math.log(v))];
  assert.deepEqual([...out.subarray(0, 7)], want.slice(0, 7));
  assert.ok(Math.abs(out[7]! - want[7]!) <= 1e-14, 'just above the floor: the fast path');
  assert.deepEqual([...out.subarray(8, 12)], want.slice(8, 12));
  assert.ok(Math.abs(out[12]! - want[12]!) <= 1e-14);
});
