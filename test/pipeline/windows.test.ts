import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregateScores, frameCount, planWindows } from '../../src/pipeline/windows.js';

// Kaldi's snip_edges framing at 16 kHz: 400-sample frames every 160 samples (25 ms / 10 ms).
const SR = 16_000;

describe('long-audio windows', () => {
  it('counts frames as Kaldi does (snip_edges)', () => {
    assert.equal(frameCount(399, SR), 0);
    assert.equal(frameCount(400, SR), 1);
    assert.equal(frameCount(559, SR), 1);
    assert.equal(frameCount(560, SR), 2);
    // 10.24 s + 15 ms = the 1024 frames of AudioSet checkpoints: (1024 - 1) * 160 + 400 samples.
    assert.equal(frameCount(1023 * 160 + 400, SR), 1024);
  });

  it('a clip that fits one window is one window over all of it (the Hugging Face case)', () => {
    for (const n of [400, 16_000, 127 * 160 + 400]) {
      assert.deepEqual(planWindows(n, SR, 128).windows, [{ index: 0, startSample: 0, endSample: n, start: 0, end: n / SR }]);
    }
  });

  it('30 s with 128-frame windows: every frame covered, every window full, the last one ending at the end (issue 16)', () => {
    // Was "touching windows cover every frame exactly once", with a padded last window; issue 16 asks that
    // no window be mostly padding, so the last window now ends at the end and overlaps the one before.
    const n = 30 * SR;
    const frames = 1 + Math.floor((n - 400) / 160); // 2998
    const { windows, windowFrames, hopFrames } = planWindows(n, SR, 128);
    assert.equal(windowFrames, 128);
    assert.equal(hopFrames, 128);
    assert.equal(windows.length, Math.ceil(frames / 128)); // 24
    const covered = new Uint8Array(frames);
    for (const w of windows) {
      const first = w.startSample / 160;
      assert.ok(Number.isInteger(first), 'windows start on a frame boundary');
      assert.equal(frameCount(w.endSample - w.startSample, SR), 128, `window ${w.index} is full`);
      for (let f = first; f < first + 128; f++) covered[f]!++;
    }
    assert.ok(covered.every((c) => c >= 1), 'no frame left out');
    // Windows 0..22 touch (starts 0, 128, …, 2816); the last starts at 2998 - 128 = 2870 and overlaps 22 by 74 frames.
    assert.equal(covered.filter((c) => c === 2).length, 2816 + 128 - 2870);
    assert.equal(windows.at(-1)!.startSample, 2870 * 160);
    assert.equal(windows.at(-1)!.endSample, n);
    assert.equal(windows.at(-1)!.end, 30);
    assert.equal(windows[1]!.start, 1.28);
  });

  it('no window is mostly padding: 10.5 s on 1024 frames is two full windows; 1.05 s on 100 frames too', () => {
    // 10.5 s at 16 kHz = 168000 samples = 1 + floor((168000 - 400) / 160) = 1048 frames.
    const ten = planWindows(168_000, SR, 1024);
    assert.deepEqual(ten.windows.map((w) => [w.startSample, w.endSample]), [
      [0, 1023 * 160 + 400],
      [(1048 - 1024) * 160, 168_000],
    ]);
    for (const w of ten.windows) assert.equal(frameCount(w.endSample - w.startSample, SR), 1024);
    assert.equal(ten.windows[1]!.start, 0.24);
    assert.equal(ten.windows[1]!.end, 10.5);
    // The speech-commands "yes" (1 s) with 50 ms of silence appended: 16800 samples = 103 frames.
    const yes = planWindows(16_800, SR, 100);
    assert.deepEqual(yes.windows.map((w) => [w.startSample, w.endSample]), [
      [0, 99 * 160 + 400],
      [3 * 160, 16_800],
    ]);
  });

  it('overlapping hop: windows every hop, the last one reaching the end', () => {
    const n = 30 * SR;
    const { windows } = planWindows(n, SR, 128, { window: 1.28, hop: 0.5 });
    assert.equal(windows[3]!.startSample, 3 * 50 * 160);
    assert.equal(windows.at(-1)!.endSample, n);
    // (2998 - 128) / 50 = 57.4 -> 58 steps after the first window.
    assert.equal(windows.length, 1 + 58);
    const shorter = planWindows(n, SR, 128, { window: 0.64 });
    assert.equal(shorter.windowFrames, 64);
    assert.equal(shorter.windows[0]!.endSample, 63 * 160 + 400);
  });

  it('rejects windows longer than the model, hops longer than the window, and non-positive values', () => {
    assert.throws(() => planWindows(SR, SR, 128, { window: 2 }), /window 2 s is longer than the model's 128 frames \(1.28 s\)/);
    assert.throws(() => planWindows(SR, SR, 128, { window: 1, hop: 1.2 }), /must not be longer than the window/);
    assert.throws(() => planWindows(SR, SR, 128, { hop: 0 }), /hop must be at least 0.01 s/);
    assert.throws(() => planWindows(SR, SR, 128, { hop: Number.NaN }), /hop must be at least/);
    // A hop past the model's length is refused for the reason that matters: it would skip audio.
    assert.throws(() => planWindows(SR, SR, 100, { hop: 5 }), /^RangeError: hop \(5 s\) must not be longer than the window \(1 s\): audio between windows would be skipped$/);
  });

  it('aggregates window scores by mean, max or the first window', () => {
    const s = [Float32Array.of(0.2, 0.9, 0), Float32Array.of(0.6, 0.1, 0.5)];
    assert.deepEqual([...aggregateScores(s, 'mean')], [Math.fround(0.4), Math.fround(0.5), Math.fround(0.25)]);
    assert.deepEqual([...aggregateScores(s, 'max')], [Math.fround(0.6), Math.fround(0.9), Math.fround(0.5)]);
    assert.deepEqual([...aggregateScores(s, 'first')], [...s[0]!]);
    assert.throws(() => aggregateScores([], 'mean'), /no window scores/);
  });
});
