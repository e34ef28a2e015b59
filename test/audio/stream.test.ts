/**
 * The streaming pieces against their whole-signal counterparts, which the fixture tests check against
 * torchaudio: StreamingResampler must give resample()'s samples bit for bit, and WindowStream
 * planWindows' windows (same sample ranges, same samples), for any chunking.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resample, StreamingResampler } from '../../src/audio/resample.js';
import { monoChunks, type AudioChunk } from '../../src/audio/stream.js';
import { decodeAudio } from '../../src/audio/decode.js';
import { planWindows } from '../../src/pipeline/windows.js';
import { WindowStream } from '../../src/pipeline/stream-windows.js';
import { Rng } from '../../src/rng.js';
import { pcm16Wav } from '../helpers/pcm16-wav.js';

/** Cuts `n` into random chunk lengths (1..max), including some empty ones. */
function chunking(rng: Rng, n: number, max: number): number[] {
  const out: number[] = [];
  for (let at = 0; at < n; ) {
    const c = rng.uniform() < 0.05 ? 0 : 1 + Math.floor(rng.uniform() * max);
    out.push(Math.min(c, n - at));
    at += c;
  }
  return out;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

describe('StreamingResampler', () => {
  it('equals resample() exactly, for common rates, lengths and any chunking', () => {
    const rng = new Rng(1);
    for (const [from, to] of [[44100, 16000], [48000, 16000], [22050, 16000], [8000, 16000], [16001, 16000]] as const) {
      for (const n of [1, 7, 441, 44100, 100_003]) {
        const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.013) * 0.5 + (rng.uniform() - 0.5) * 0.1);
        const want = resample(x, from, to);
        const r = new StreamingResampler(from, to);
        const parts: Float32Array[] = [];
        let at = 0;
        for (const c of chunking(rng, n, 5000)) parts.push(r.push(x.subarray(at, (at += c))));
        parts.push(r.end());
        const got = concat(parts);
        assert.equal(got.length, want.length, `${from} -> ${to}, ${n} samples`);
        const bad = want.findIndex((v, i) => !Object.is(v, got[i]));
        assert.equal(bad, -1, `${from} -> ${to}, ${n} samples: sample ${bad} is ${got[bad]}, resample() gives ${want[bad]}`);
      }
    }
  });

  it('holds only the taps\' reach of input, not the signal', () => {
    const r = new StreamingResampler(44100, 16000);
    const chunk = new Float32Array(44100);
    for (let k = 0; k < 50; k++) r.push(chunk);
    const held = (r as unknown as { input: { data: Float32Array } }).input.data.length;
    assert.ok(held < 3 * 44100, `the buffer grew to ${held} samples over 50 s`);
  });
});

describe('WindowStream', () => {
  it("gives planWindows' windows and their samples for any length, window, hop and chunking", () => {
    const rng = new Rng(2);
    const rate = 1600; // 16-sample frame shift, 40-sample frames: many windows from few samples
    for (let t = 0; t < 400; t++) {
      const n = Math.floor(rng.uniform() * (t < 200 ? 3000 : 60000));
      const maxLength = 1 + Math.floor(rng.uniform() * 200);
      const windowFrames = 1 + Math.floor(rng.uniform() * maxLength);
      const hopFrames = 1 + Math.floor(rng.uniform() * windowFrames);
      const options = { window: windowFrames / 100, hop: hopFrames / 100 };
      const x = Float32Array.from({ length: n }, (_, i) => i); // each sample names its index
      const stream = new WindowStream(rate, maxLength, options);
      const got = [];
      let at = 0;
      for (const c of chunking(rng, n, 2500)) got.push(...stream.push(x.subarray(at, (at += c))));
      got.push(...stream.end());
      const what = `${n} samples, window ${windowFrames}, hop ${hopFrames} frames`;
      if (n < 40) {
        assert.equal(got.length, 0, `${what}: no whole frame, no window`);
        continue;
      }
      const want = planWindows(n, rate, maxLength, options).windows;
      assert.deepEqual(got.map(({ samples: _, ...w }) => w), want, what);
      for (const w of got) assert.deepEqual(w.samples, x.slice(w.startSample, w.endSample), `${what}: window ${w.index}'s samples`);
    }
  });
});

describe('monoChunks', () => {
  it('downmixes and resamples chunk by chunk to decodeAudio\'s waveform, and names a NaN sample by its place in the file', async () => {
    const rng = new Rng(3);
    const n = 30_000;
    const left = Float32Array.from({ length: n }, () => rng.uniform() - 0.5);
    const right = Float32Array.from({ length: n }, () => rng.uniform() - 0.5);
    // 16-bit codes, so the WAV decodeAudio reads holds exactly these samples
    for (const c of [left, right]) for (let i = 0; i < n; i++) c[i] = Math.round(c[i]! * 32767) / 32768;
    const inter = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) [inter[2 * i], inter[2 * i + 1]] = [left[i]!, right[i]!];
    const wav = Buffer.from(pcm16Wav(inter, 22050));
    wav.writeUInt16LE(2, 22); // stereo: the helper writes mono headers
    wav.writeUInt32LE(22050 * 4, 28);
    wav.writeUInt16LE(4, 32);
    const want = (await decodeAudio(wav, { samplingRate: 16000 })).waveform;
    async function* chunks(): AsyncGenerator<AudioChunk> {
      for (let at = 0; at < n; at += 4096) yield { channelData: [left.subarray(at, at + 4096), right.subarray(at, at + 4096)], sampleRate: 22050 };
    }
    const parts: Float32Array[] = [];
    for await (const c of monoChunks({ source: 'x.wav', chunks: chunks() }, 16000)) parts.push(c);
    assert.deepEqual(concat(parts), want);

    async function* bad(): AsyncGenerator<AudioChunk> {
      yield { channelData: [new Float32Array(100)], sampleRate: 16000 };
      yield { channelData: [Float32Array.from([0, 0, NaN])], sampleRate: 16000 };
    }
    await assert.rejects(async () => {
      for await (const _ of monoChunks({ source: 'bad.wav', chunks: bad() }, 16000));
    }, /bad\.wav: sample 102 is NaN/);
  });
});
