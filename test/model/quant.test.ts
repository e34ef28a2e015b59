/**
 * The quantisers on matrices small enough to check by hand (values chosen so every scale is exact in
 * float32), then properties on random matrices: every element within half a step of its weight, |q| <= 127,
 * a zero channel gives scale 0 and no NaN, an outlier only coarsens its own channel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dequantizeInt8PerChannel,
  dequantizeUint8Asymmetric,
  int8GemmErrorBound,
  quantizeActivationsUint8,
  quantizeInt8PerChannel,
  quantizeLinears,
  quantizeUint8Asymmetric,
  roundHalfEven,
} from '../../src/model/quant.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** q as HF [out, in] (the function stores it transposed, [in, out]). */
function qRows(q: { rows: number; cols: number; data: ArrayLike<number> }): number[][] {
  return Array.from({ length: q.cols }, (_, n) => Array.from({ length: q.rows }, (_, k) => q.data[k * q.cols + n]!));
}

test('roundHalfEven rounds ties to the even neighbour, as np.round', () => {
  assert.deepEqual([-3.5, -2.5, -0.5, 0.5, 1.5, 2.5, 2.4, 2.6, -2.6].map(roundHalfEven), [-4, -2, -0, 0, 2, 2, 2, 3, -3]);
});

test('int8 per channel: hand example with exact scales, a zero channel and ties', () => {
  // out = 3 channels, in = 4: scale = max|row| / 127 -> 1, 0 (all zero), 2
  const w = [127, -3.5, 2.5, 0.4, 0, 0, 0, 0, 254, 5, -7, 1];
  const q = quantizeInt8PerChannel(w, 3, 4);
  assert.equal(q.rows, 4);
  assert.equal(q.cols, 3);
  assert.deepEqual([...q.scales], [1, 0, 2]);
  assert.deepEqual(qRows(q), [
    [127, -4, 2, 0], // -3.5 -> -4 and 2.5 -> 2 (ties to even)
    [0, 0, 0, 0],
    [127, 2, -4, 0], // 5/2 = 2.5 -> 2, -7/2 = -3.5 -> -4, 1/2 = 0.5 -> 0
  ]);
  // stored [in, out]: the first row of B is the first input feature of every channel
  assert.deepEqual([...q.data.subarray(0, 3)], [127, 0, 127]);
  const back = dequantizeInt8PerChannel(q);
  assert.deepEqual([...back], [127, -4, 2, 0, 0, 0, 0, 0, 254, 4, -8, 0]);
  assert.ok(back.every(Number.isFinite));
});

test('int8 per channel: random matrices dequantise within half a step, |q| <= 127, every channel reaches 127', () => {
  const rnd = lcg(11);
  for (const [out, inF] of [[1, 1], [7, 5], [64, 48], [3, 300]] as const) {
    const w = Float32Array.from({ length: out * inF }, () => (rnd() - 0.5) * 0.1);
    const q = quantizeInt8PerChannel(w, out, inF);
    const back = dequantizeInt8PerChannel(q);
    for (let n = 0; n < out; n++) {
      const s = q.scales[n]!;
      let amax = 0;
      let qmax = 0;
      for (let k = 0; k < inF; k++) {
        amax = Math.max(amax, Math.abs(w[n * inF + k]!));
        const v = q.data[k * out + n]!;
        assert.ok(v >= -127 && v <= 127);
        qmax = Math.max(qmax, Math.abs(v));
        // half a step, plus float32 rounding of the scale (relative 2^-24 of 127 steps)
        assert.ok(Math.abs(back[n * inF + k]! - w[n * inF + k]!) <= s / 2 + amax * 2 ** -20, `[${n}, ${k}]`);
      }
      assert.ok(Math.abs(s - amax / 127) <= (amax / 127) * 2 ** -23, `scale of channel ${n}`);
      assert.equal(qmax, 127, `channel ${n} uses the full range`);
    }
  }
});

test('int8 per channel: an all-zero output channel and an all-zero input column', () => {
  const out = 5;
  const inF = 6;
  const rnd = lcg(3);
  const w = Float32Array.from({ length: out * inF }, () => rnd() - 0.5);
  for (let k = 0; k < inF; k++) w[2 * inF + k] = 0; // output channel 2 is zero
  for (let n = 0; n < out; n++) w[n * inF + 4] = 0; // input feature 4 is zero in every channel
  const q = quantizeInt8PerChannel(w, out, inF);
  assert.equal(q.scales[2], 0, 'zero channel: zero scale');
  assert.ok(q.scales.every((s, n) => n === 2 || s > 0));
  const back = dequantizeInt8PerChannel(q);
  assert.ok(back.every(Number.isFinite), 'no NaN/Inf');
  for (let k = 0; k < inF; k++) assert.equal(back[2 * inF + k], 0);
  for (let n = 0; n < out; n++) assert.equal(back[n * inF + 4], 0);
});

test('int8 per channel: a 100x outlier channel keeps its own scale; an outlier input column coarsens every channel', () => {
  const out = 4;
  const inF = 8;
  const rnd = lcg(5);
  const w = Float32Array.from({ length: out * inF }, () => rnd() - 0.5);
  const plain = quantizeInt8PerChannel(w, out, inF);
  const outlierChannel = Float32Array.from(w);
  for (let k = 0; k < inF; k++) outlierChannel[1 * inF + k] = w[1 * inF + k]! * 100;
  const q = quantizeInt8PerChannel(outlierChannel, out, inF);
  for (let n = 0; n < out; n++) {
    if (n === 1) assert.ok(Math.abs(q.scales[1]! / plain.scales[1]! - 100) < 1e-4, 'outlier channel scale x100');
    else assert.equal(q.scales[n], plain.scales[n], `channel ${n} is not affected`);
  }
  // same q for the outlier channel: scaling a channel scales its step, not its pattern
  for (let k = 0; k < inF; k++) assert.equal(q.data[k * out + 1], plain.data[k * out + 1]);

  const outlierColumn = Float32Array.from(w);
  for (let n = 0; n < out; n++) outlierColumn[n * inF + 3] = 100 * (n % 2 ? -1 : 1);
  const qc = quantizeInt8PerChannel(outlierColumn, out, inF);
  const back = dequantizeInt8PerChannel(qc);
  for (let n = 0; n < out; n++) {
    assert.ok(Math.abs(qc.scales[n]! - 100 / 127) < 1e-6);
    assert.equal(Math.abs(qc.data[3 * out + n]!), 127);
    for (let k = 0; k < inF; k++) assert.ok(Math.abs(back[n * inF + k]! - outlierColumn[n * inF + k]!) <= qc.scales[n]! / 2 + 1e-6);
  }
});

test('int8 per channel: non-finite weights and wrong shapes are clear errors', () => {
  assert.throws(() => quantizeInt8PerChannel([1, NaN], 1, 2), /weight \[0, 1\] is NaN/);
  assert.throws(() => quantizeInt8PerChannel([1, Infinity], 2, 1), /weight \[1, 0\] is Infinity/);
  assert.throws(() => quantizeInt8PerChannel([1, 2, 3], 2, 2), /3 values for \[2, 2\]/);
  assert.throws(() => quantizeInt8PerChannel([], 0, 2), /not a matrix/);
});

test('uint8 asymmetric (quantize_dynamic QUInt8): hand example per tensor and per channel', () => {
  // per tensor over [-1, 0, 0.5, 2]: rmin -1, rmax 2, scale 3/255, zero round(1 / (3/255)) = 85
  const t = quantizeUint8Asymmetric([-1, 0, 0.5, 2], 1, 4, { perChannel: false, reduceRange: false });
  assert.equal(t.scales[0], Math.fround(3 / 255));
  assert.equal(t.zeroPoints[0], 85);
  assert.deepEqual([...t.data], [0, 85, 127, 255]); // 0.5 / (3/255) = 42.49999 -> 42, + 85
  // per channel, reduce_range ([0, 127]): channel 0 = [0, 1.27] -> scale 0.01, zero 0; channel 1 all zero -> scale 1, zero 0
  const c = quantizeUint8Asymmetric([0, 1.27, 0, 0], 2, 2, { perChannel: true, reduceRange: true });
  assert.equal(c.scales[0], Math.fround(Math.fround(1.27) / 127));
  assert.equal(c.scales[1], 1);
  assert.deepEqual([...c.zeroPoints], [0, 0]);
  assert.deepEqual(qRows(c), [[0, 127], [0, 0]]);
  const back = dequantizeUint8Asymmetric(c);
  assert.ok(Math.abs(back[1]! - 1.27) < 1e-6);
  assert.deepEqual([...back.subarray(2)], [0, 0]);
});

test('uint8 asymmetric: random matrices dequantise within half a step', () => {
  const rnd = lcg(9);
  const out = 6;
  const inF = 10;
  const w = Float32Array.from({ length: out * inF }, () => rnd() - 0.3);
  for (const perChannel of [false, true]) {
    const q = quantizeUint8Asymmetric(w, out, inF, { perChannel, reduceRange: false });
    const back = dequantizeUint8Asymmetric(q);
    for (let n = 0; n < out; n++) {
      const s = q.scales[perChannel ? n : 0]!;
      for (let k = 0; k < inF; k++) assert.ok(Math.abs(back[n * inF + k]! - w[n * inF + k]!) <= s / 2 + 1e-6);
    }
  }
});

test('activations as DynamicQuantizeLinear: hand example, all-positive input keeps 0 exact, all-zero input', () => {
  const a = quantizeActivationsUint8([-1, 0, 0.5, 2]);
  assert.equal(a.scale, Math.fround(3 / 255));
  assert.equal(a.zeroPoint, 85);
  assert.deepEqual([...a.data], [0, 85, 127, 255]);
  const p = quantizeActivationsUint8([0.5, 2.55]); // range [0, 2.55]: scale 0.01, zero 0
  assert.equal(p.zeroPoint, 0);
  assert.deepEqual([...p.data], [50, 255]);
  const z = quantizeActivationsUint8([0, 0, 0]);
  assert.equal(z.scale, 0);
  assert.deepEqual([...z.data], [0, 0, 0]);
});

test('int8 GEMM error bound covers the simulated quantised product (exact integer accumulation)', () => {
  const rnd = lcg(21);
  const rows = 9;
  const inF = 40;
  const out = 7;
  const x = Float32Array.from({ length: rows * inF }, () => (rnd() - 0.4) * 3);
  const w = Float32Array.from({ length: out * inF }, () => (rnd() - 0.5) * 0.2);
  w[3] = 5; // an outlier
  const bound = int8GemmErrorBound(x, rows, w, out, inF);
  const qa = quantizeActivationsUint8(x);
  const qw = quantizeInt8PerChannel(w, out, inF);
  let tightest = 0;
  for (let m = 0; m < rows; m++) {
    for (let n = 0; n < out; n++) {
      let exact = 0;
      let acc = 0; // integer accumulation, as MLAS: sum (qa - za) * qw
      for (let k = 0; k < inF; k++) {
        exact += x[m * inF + k]! * w[n * inF + k]!;
        acc += (qa.data[m * inF + k]! - qa.zeroPoint) * qw.data[k * out + n]!;
      }
      const y = acc * qa.scale * qw.scales[n]!;
      const err = Math.abs(y - exact);
      assert.ok(err <= bound[m * out + n]!, `[${m}, ${n}] error ${err} > bound ${bound[m * out + n]}`);
      tightest = Math.max(tightest, err / bound[m * out + n]!);
    }
  }
  // the bound is worst case, yet not vacuous: errors use a visible part of it
  assert.ok(tightest > 0.01 && tightest <= 1, `largest error / bound ${tightest}`);
});

test('quantizeLinears: parts side by side equal each part quantised alone; alpha folded into scales and bias', () => {
  const rnd = lcg(13);
  const inF = 6;
  const parts = [3, 2, 4].map((out, i) => ({
    weight: Float32Array.from({ length: out * inF }, () => rnd() - 0.5),
    out,
    bias: i === 1 ? null : Float32Array.from({ length: out }, () => rnd() - 0.5),
    alpha: i === 0 ? 0.125 : 1,
  }));
  const { weight, bias } = quantizeLinears(parts, inF);
  assert.equal(weight.cols, 9);
  assert.equal(weight.rows, inF);
  let o = 0;
  for (const p of parts) {
    const alone = quantizeInt8PerChannel(p.weight, p.out, inF);
    for (let c = 0; c < p.out; c++) {
      assert.equal(weight.scales[o + c], Math.fround(alone.scales[c]! * p.alpha), `scale ${o + c}`);
      for (let k = 0; k < inF; k++) assert.equal(weight.data[k * 9 + o + c], alone.data[k * p.out + c]);
      assert.equal(bias![o + c], p.bias ? p.bias[c]! * p.alpha : 0); // no bias: zeros
    }
    o += p.out;
  }
  assert.equal(quantizeLinears([{ weight: [1, 2], out: 1 }], 2).bias, undefined);
});

test('int8 per channel from Float32Array: the WebAssembly kernel and the JavaScript loop give the hand example and the same bytes', async () => {
  const { quantWasmSettings } = await import('../../src/model/quant-wasm.js');
  const both = <T>(f: () => T): [T, T] => {
    quantWasmSettings.enabled = true;
    const a = f();
    quantWasmSettings.enabled = false;
    try {
      return [a, f()];
    } finally {
      quantWasmSettings.enabled = true;
    }
  };
  // the hand example above, as float32 (every value is exact in float32)
  for (const q of both(() => quantizeInt8PerChannel(Float32Array.of(127, -3.5, 2.5, 0.4, 0, 0, 0, 0, 254, 5, -7, 1), 3, 4))) {
    assert.deepEqual([...q.scales], [1, 0, 2]);
    assert.deepEqual(qRows(q), [
      [127, -4, 2, 0],
      [0, 0, 0, 0],
      [127, 2, -4, 0],
    ]);
  }
  // shapes around the kernel's 16-row x 4-k steps and its 256 KB chunks, with ties, a zero row and an outlier
  const rnd = lcg(5);
  for (const [out, inF] of [[16, 4], [37, 771], [48, 64], [3, 300], [130, 768], [20, 3072]] as const) {
    const w = Float32Array.from({ length: out * inF }, () => (rnd() - 0.5) * 0.2);
    w.fill(0, 2 * inF, 3 * inF); // channel 2: all zero
    for (let k = 0; k < inF; k += 7) w[k] = 127 * (k % 2 ? 0.5 : -1.5) * (k === 0 ? 1 : 0.01); // ties for channel 0's scale
    w[out * inF - 1] = 100; // last channel: outlier
    const [a, b] = both(() => quantizeInt8PerChannel(w, out, inF));
    assert.deepEqual(a.scales, b.scales, `[${out}, ${inF}] scales`);
    assert.deepEqual(a.data, b.data, `[${out}, ${inF}] data`);
    // and the same as the plain-number path, which never takes the kernel
    assert.deepEqual(quantizeInt8PerChannel(Array.from(w), out, inF).data, a.data, `[${out}, ${inF}] vs number[]`);
  }
  both(() => assert.throws(() => quantizeInt8PerChannel(Float32Array.of(1, 2, NaN, 4, 5, 6), 2, 3), /weight \[0, 2\] is NaN/));
  both(() => assert.throws(() => quantizeInt8PerChannel(Float32Array.from({ length: 40 * 9 }, (_, i) => (i === 33 * 9 + 8 ? -Infinity : 1)), 40, 9), /weight \[33, 8\] is -Infinity/));
});
