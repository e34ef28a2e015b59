/**
 * WAV layouts written byte by byte, decoded samples checked exactly against the scaling
 * torchaudio.load(normalize=True) applies (integers / 2^(bits-1), u8 (x-128)/128; floats kept).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWav } from '../../src/audio/wav.js';
import { decodeAudio } from '../../src/audio/decode.js';
import { riff, fmtChunk, dataChunk, pcmBytes, floatBytes } from './wav-bytes.js';

const PCM = 1;
const FLOAT = 3;

function assertSamples(actual: Float32Array, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  // Exact: every expected value is representable in float32 or rounded with Math.fround.
  for (let i = 0; i < expected.length; i++) assert.equal(actual[i], Math.fround(expected[i]!), `${what}[${i}]`);
}

test('16-bit PCM mono: code / 32768', () => {
  const codes = [0, 1, -1, 16384, -16384, 32767, -32768, 12345];
  const w = parseWav(riff([fmtChunk({ tag: PCM, channels: 1, rate: 16000, bits: 16 }), dataChunk(pcmBytes(codes, 2))]), 's16.wav');
  assert.equal(w.sampleRate, 16000);
  assertSamples(w.channelData[0]!, codes.map((c) => c / 32768), 's16');
});

test('8-bit PCM stereo: unsigned, (x - 128) / 128, channels de-interleaved', () => {
  const left = [0, 128, 255, 192];
  const right = [64, 1, 127, 129];
  const inter = left.flatMap((l, i) => [l, right[i]!]);
  const w = parseWav(riff([fmtChunk({ tag: PCM, channels: 2, rate: 8000, bits: 8 }), dataChunk(pcmBytes(inter, 1))]), 'u8.wav');
  assertSamples(w.channelData[0]!, left.map((x) => (x - 128) / 128), 'left');
  assertSamples(w.channelData[1]!, right.map((x) => (x - 128) / 128), 'right');
});

test('24-bit PCM: code / 2^23, sign-extended from three bytes', () => {
  const codes = [0, 1, -1, 2 ** 22, -(2 ** 22), 2 ** 23 - 1, -(2 ** 23), 1234567, -7654321];
  const w = parseWav(riff([fmtChunk({ tag: PCM, channels: 1, rate: 48000, bits: 24 }), dataChunk(pcmBytes(codes, 3))]), 's24.wav');
  assertSamples(w.channelData[0]!, codes.map((c) => c / 2 ** 23), 's24');
});

test('32-bit PCM: as torchaudio 0.13 (sox) reads it', () => {
  const codes = [2 ** 30, -(2 ** 30), 2 ** 31 - 1, -(2 ** 31), 1, 123456789];
  // torchaudio.load() of these bytes, run once with torch 1.13 / torchaudio 0.13 (sox_io backend):
  const torchaudio = [0.5, -0.5, 1.0, -1.0, 0.0, 0.05748903751373291];
  const w = parseWav(riff([fmtChunk({ tag: PCM, channels: 1, rate: 16000, bits: 32 }), dataChunk(pcmBytes(codes, 4))]), 's32.wav');
  assertSamples(w.channelData[0]!, torchaudio, 's32');
});

test('IEEE float 32 and 64: values kept (float64 rounded to float32), even beyond [-1, 1]', () => {
  const values = [0.1234567, 1.5, -2, 1e-10, -0.7, 0.999999999];
  for (const width of [4, 8] as const) {
    const w = parseWav(riff([fmtChunk({ tag: FLOAT, channels: 1, rate: 16000, bits: width * 8 }), dataChunk(floatBytes(values, width))]), `f${width * 8}.wav`);
    assert.equal(w.encoding, 'float');
    assertSamples(w.channelData[0]!, values, `f${width * 8}`);
  }
});

test('WAVE_FORMAT_EXTENSIBLE: 6-channel 24-bit PCM and stereo float', () => {
  const frames = 5;
  const codes: number[] = [];
  for (let i = 0; i < frames; i++) for (let c = 0; c < 6; c++) codes.push((i + 1) * 100000 * (c % 2 ? -1 : 1) + c);
  const w = parseWav(riff([fmtChunk({ tag: 0, extensibleSubTag: PCM, channels: 6, rate: 44100, bits: 24 }), dataChunk(pcmBytes(codes, 3))]), 'ext24.wav');
  assert.equal(w.channelData.length, 6);
  for (let c = 0; c < 6; c++) assertSamples(w.channelData[c]!, codes.filter((_, i) => i % 6 === c).map((x) => x / 2 ** 23), `ch${c}`);
  const f = parseWav(riff([fmtChunk({ tag: 0, extensibleSubTag: FLOAT, channels: 2, rate: 16000, bits: 32 }), dataChunk(floatBytes([0.25, -0.5, 0.75, -1], 4))]), 'extf.wav');
  assertSamples(f.channelData[0]!, [0.25, 0.75], 'L');
  assertSamples(f.channelData[1]!, [-0.5, -1], 'R');
});

test('odd chunk layouts: LIST before fmt, odd-sized chunk with pad byte, fmt after data', () => {
  const codes = [100, -200, 300, -400, 500];
  const list = { id: 'LIST', body: new Uint8Array([...'INFOISFT'].map((c) => c.charCodeAt(0)).concat([5, 0, 0, 0, 0x61, 0x62, 0x63, 0x64, 0])) };
  const odd = { id: 'junk', body: new Uint8Array([1, 2, 3]) }; // 3 bytes + 1 pad byte
  const fmt = fmtChunk({ tag: PCM, channels: 1, rate: 16000, bits: 16 });
  const data = dataChunk(pcmBytes(codes, 2));
  const expected = codes.map((c) => c / 32768);
  for (const [name, chunks] of [
    ['LIST first', [list, fmt, odd, data]],
    ['fmt after data', [odd, data, list, fmt]],
  ] as const) {
    const w = parseWav(riff([...chunks]), name);
    assertSamples(w.channelData[0]!, expected, name);
  }
  // An odd-sized data chunk (8-bit, 3 samples) followed by its pad byte and another chunk.
  const w8 = parseWav(riff([fmtChunk({ tag: PCM, channels: 1, rate: 8000, bits: 8 }), dataChunk(new Uint8Array([0, 128, 255])), odd]), 'odd-data');
  assertSamples(w8.channelData[0]!, [-1, 0, 127 / 128], 'odd data');
});

test('data size 0xFFFFFFFF (streaming placeholder) reads to the end of the file, dropping a partial frame', () => {
  const codes = [1000, -1000, 2000, -2000]; // stereo: two 4-byte frames
  const withPartial = new Uint8Array([...pcmBytes(codes, 2), 0x12, 0x34]); // half a frame
  const fmt = fmtChunk({ tag: PCM, channels: 2, rate: 16000, bits: 16 });
  const w = parseWav(riff([fmt, { id: 'data', body: withPartial, size: 0xffffffff }], 0xffffffff), 'stream.wav');
  assertSamples(w.channelData[0]!, [1000 / 32768, 2000 / 32768], 'L');
  assertSamples(w.channelData[1]!, [-1000 / 32768, -2000 / 32768], 'R');
});

test('decodeAudio downmixes as waveform.mean(0) and names the channels', async () => {
  const left = [1000, -3000, 32767];
  const right = [3000, 1000, 32767];
  const wav = riff([fmtChunk({ tag: PCM, channels: 2, rate: 16000, bits: 16 }), dataChunk(pcmBytes(left.flatMap((l, i) => [l, right[i]!]), 2))]);
  const d = await decodeAudio(wav, { source: 'stereo.wav' });
  assert.equal(d.channels, 2);
  assert.equal(d.samplingRate, 16000);
  assertSamples(d.waveform, left.map((l, i) => (l / 32768 + right[i]! / 32768) / 2), 'mono');
});

// ---------------------------------------------------------------- bad input

const good16 = (n: number): Uint8Array => pcmBytes(Array.from({ length: n }, (_, i) => i), 2);

function rejects(bytes: Uint8Array, pattern: RegExp, name = 'bad.wav'): void {
  assert.throws(() => parseWav(bytes, name), (e: Error) => e.message.startsWith(`${name}:`) && pattern.test(e.message), `expected ${pattern}`);
}

test('bad WAVs give clear errors naming the file', () => {
  const fmt = fmtChunk({ tag: PCM, channels: 1, rate: 16000, bits: 16 });
  rejects(new Uint8Array(0), /empty file/);
  rejects(new Uint8Array([0x52, 0x49, 0x46, 0x46, 0, 0]), /not a WAV file/); // truncated header
  rejects(riff([fmt]), /no data chunk/);
  rejects(riff([dataChunk(good16(4))]), /no fmt chunk/);
  rejects(riff([fmt, dataChunk(good16(4), 1000)]), /claims 1000 bytes but only 8 follow/);
  rejects(riff([fmt, dataChunk(new Uint8Array(0))]), /no audio samples/);
  rejects(riff([{ id: 'fmt ', body: fmt.body, size: 0x7ffffff0 }, dataChunk(good16(4))]), /fmt chunk claims/);
  rejects(riff([fmtChunk({ tag: 2, channels: 1, rate: 16000, bits: 4 }), dataChunk(good16(4))]), /unsupported codec: WAV format tag 0x0002 \(MS ADPCM\)/);
  rejects(riff([fmtChunk({ tag: PCM, channels: 0, rate: 16000, bits: 16 }), dataChunk(good16(4))]), /0 channels/);
  rejects(riff([fmtChunk({ tag: PCM, channels: 1, rate: 0, bits: 16 }), dataChunk(good16(4))]), /0 Hz/);
  rejects(riff([fmtChunk({ tag: FLOAT, channels: 1, rate: 16000, bits: 16 }), dataChunk(good16(4))]), /16-bit float/);
});

test('a 4 GB length field fails fast without allocating', () => {
  const fmt = fmtChunk({ tag: PCM, channels: 1, rate: 16000, bits: 16 });
  const bytes = riff([fmt, dataChunk(good16(8), 0xfffffff0)], 0xfffffff8);
  const before = process.memoryUsage().arrayBuffers;
  const t = performance.now();
  rejects(bytes, /claims 4294967280 bytes but only 16 follow/);
  assert.ok(performance.now() - t < 100, 'rejected quickly');
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20, 'no large allocation');
});

test('NaN and Inf samples are rejected by decodeAudio, naming the file and the sample', async () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    const wav = riff([fmtChunk({ tag: FLOAT, channels: 1, rate: 16000, bits: 32 }), dataChunk(floatBytes([0.1, 0.2, bad, 0.3], 4))]);
    await assert.rejects(decodeAudio(wav, { source: 'nan.wav' }), (e: Error) => e.message.startsWith('nan.wav:') && e.message.includes('sample 2') && e.message.includes(String(bad)));
  }
});
