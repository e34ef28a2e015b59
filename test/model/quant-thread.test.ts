/**
 * q8's helper thread (src/node/quant-thread.ts, the worker that quantises beside the main thread at load) writes the
 * same int8 bytes and scales as the JavaScript loop of model/quant.ts (an independent implementation of the same
 * rounding: the WebAssembly kernel is checked against it in test/model/quant.test.ts), on groups of parts in
 * SharedArrayBuffer memory: shapes off the kernel's 16-row x 4-k steps and its 256 KB chunks, an all-zero output
 * channel, a 100x outlier channel, an all-zero input column, ties, and several parts side by side.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/node/index.js';
import { quantizeLinears } from '../../src/model/quant.js';
import { quantWasmSettings } from '../../src/model/quant-wasm.js';
import { startInt8Helper } from '../../src/model/quant-thread.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A float32 matrix [out, inF] in shared memory with the awkward cases planted. */
function matrix(out: number, inF: number, rnd: () => number): Float32Array {
  const w = new Float32Array(new SharedArrayBuffer(4 * out * inF));
  for (let i = 0; i < w.length; i++) w[i] = (rnd() - 0.5) * 0.2;
  if (out > 2) w.fill(0, 2 * inF, 3 * inF); // channel 2: all zero
  if (inF > 1) for (let n = 0; n < out; n++) w[n * inF + 1] = 0; // input column 1: all zero
  for (let k = 0; k < inF; k += 7) w[k] = 127 * (k % 2 ? 0.5 : -1.5) * (k === 0 ? 1 : 0.01); // ties in channel 0
  if (out > 3) w[(out - 1) * inF + Math.floor(inF / 2)] = 10; // last channel: a 100x outlier (the others are below 0.1)
  return w;
}

/** The JavaScript loop's result (the WebAssembly kernel off), whatever the test does around it. */
function javascriptQuantizer(parts: { weight: Float32Array; out: number }[], inF: number) {
  quantWasmSettings.enabled = false;
  try {
    return quantizeLinears(parts, inF).weight;
  } finally {
    quantWasmSettings.enabled = true;
  }
}

test("the helper thread writes the JavaScript quantiser's bytes and scales, one part or several side by side", async () => {
  const rnd = lcg(11);
  const groups: [number[], number][] = [
    [[16], 4],
    [[37], 771],
    [[3], 300],
    [[300], 771], // 300 rows: chunks of 80 rows (256 KB) and a remainder; 771 = 4 * 192 + 3
    [[20], 3072],
    [[37, 37, 37], 771], // QKV-like: three parts into one destination
    [[5, 130, 19], 64],
  ];
  const helper = startInt8Helper();
  assert.ok(helper, 'Node registers a helper thread');
  try {
    for (const [outs, inF] of groups) {
      const parts = outs.map((out) => ({ weight: matrix(out, inF, rnd), out }));
      const expected = javascriptQuantizer(parts, inF);
      const cols = outs.reduce((a, b) => a + b, 0);
      const dst = new Int8Array(new SharedArrayBuffer(cols * inF));
      const scales = await helper.quantize(parts, inF, dst);
      assert.deepEqual(scales, expected.scales, `[${outs}] x ${inF}: scales`);
      assert.deepEqual(new Int8Array(dst), new Int8Array(expected.data), `[${outs}] x ${inF}: bytes`);
      if (outs[0]! > 2) assert.equal(scales[2], 0, 'the all-zero channel has scale 0');
    }
    // several groups in flight at once come back to their own callers
    const many = [[9, 40], [33, 12], [17, 100]].map(([out, inF]) => ({ w: matrix(out!, inF!, rnd), out: out!, inF: inF! }));
    const dsts = many.map((m) => new Int8Array(new SharedArrayBuffer(m.out * m.inF)));
    const got = await Promise.all(many.map((m, i) => helper.quantize([{ weight: m.w, out: m.out }], m.inF, dsts[i]!)));
    many.forEach((m, i) => {
      const e = javascriptQuantizer([{ weight: m.w, out: m.out }], m.inF);
      assert.deepEqual(got[i], e.scales);
      assert.deepEqual(new Int8Array(dsts[i]!), new Int8Array(e.data));
    });
    // a non-finite weight is the same clear error as on the main thread
    const bad = matrix(40, 9, rnd);
    bad[33 * 9 + 8] = -Infinity;
    await assert.rejects(helper.quantize([{ weight: bad, out: 40 }], 9, new Int8Array(new SharedArrayBuffer(360))), /quantizeInt8PerChannel: weight \[33, 8\] is -Infinity/);
  } finally {
    helper.close();
  }
  await assert.rejects(helper.quantize([{ weight: new Float32Array(4), out: 1 }], 4, new Int8Array(4)), /closed/);
});
