import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatNpy, parseNpy } from '../../src/io/npy.js';
import { readFixtureNpy } from '../helpers/fixtures.js';

test('npy round-trips float32 and keeps the 64-byte data alignment numpy uses', () => {
  const data = Float32Array.from([1.5, -2, 3.25, 0, 1e-30, -7]);
  const bytes = formatNpy([2, 3], data);
  const headerLen = new DataView(bytes.buffer).getUint16(8, true);
  assert.equal((10 + headerLen) % 64, 0);
  const back = parseNpy(bytes);
  assert.deepEqual(back.shape, [2, 3]);
  assert.equal(back.descr, '<f4');
  assert.deepEqual(Array.from(back.data as Float32Array), Array.from(data));
});

test('npy reads a numpy-written fixture with its shape', () => {
  const a = readFixtureNpy('features/default.speech_16k.npy');
  assert.deepEqual(a.shape, [1024, 128]);
  assert.equal(a.data.length, 1024 * 128);
});

test('npy names truncated data', () => {
  const bytes = formatNpy([4], Float32Array.from([1, 2, 3, 4]));
  assert.throws(() => parseNpy(bytes.subarray(0, bytes.length - 3), 'x.npy'), /x\.npy: truncated \.npy data/);
});
