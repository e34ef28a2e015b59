/**
 * resample() for rate pairs beyond the shared fixtures (down, up, non-integer ratios, a 7 -> 5 toy
 * pair), against torchaudio.functional.resample outputs made by scripts/make-resample-fixtures.py.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNpy } from '../../src/io/npy.js';
import { resample } from '../../src/audio/resample.js';
import { maxAbsDiff } from '../helpers/fixtures.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '../data/audio/resample-pairs');
const npy = (name: string): Float32Array => parseNpy(new Uint8Array(readFileSync(join(DIR, name))), name).data as Float32Array;
const cases = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as { orig: number; new: number }[];

for (const c of cases) {
  test(`resample ${c.orig} -> ${c.new} Hz matches torchaudio`, () => {
    const x = npy(`${c.orig}_${c.new}.in.npy`);
    const ref = npy(`${c.orig}_${c.new}.out.npy`);
    const y = resample(x, c.orig, c.new);
    assert.equal(y.length, ref.length);
    const d = maxAbsDiff(y, ref);
    // 2e-5 as for the shared fixtures; measured worst 2.4e-7 (96000 -> 16000; a few float32 ulps).
    if (process.env.AST_REPORT) console.log(`${c.orig}->${c.new}: ${d.toExponential(2)}`);
    assert.ok(d <= 2e-5, `max abs diff ${d}`);
  });
}

test('resample: equal rates return the input; bad rates are errors', () => {
  const x = new Float32Array([1, 2, 3]);
  assert.equal(resample(x, 16000, 16000), x);
  assert.throws(() => resample(x, 0, 16000), /positive integers/);
  assert.throws(() => resample(x, 44100.5, 16000), /positive integers/);
});
