/**
 * Every contract violation the fuzzer (or reading the parsers for it) found, as a fixed input: each
 * is now a FormatError naming the file and the problem, refused before anything large is allocated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../src/io/errors.js';
import { parseTorchCheckpoint } from '../../src/io/torch-pickle.js';
import { parseNpy, formatNpy } from '../../src/io/npy.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { memorySource } from '../../src/io/files.js';
import { ASTConfig } from '../../src/model/config.js';
import { ASTFeatureExtractor } from '../../src/audio/feature-extractor.js';
import { decodeAudio } from '../../src/audio/decode.js';
import { resample, resampleKernelValues, MAX_RESAMPLE_KERNEL_VALUES } from '../../src/audio/resample.js';
import { REPO_ROOT, fixturesDir } from '../helpers/fixtures.js';
import { dataChunk, fmtChunk, pcmBytes, riff } from '../audio/wav-bytes.js';
import { installAllocationProbe, largestAllocation, resetLargestAllocation } from './alloc.js';

const enc = new TextEncoder();
const smallZip = () => new Uint8Array(readFileSync(join(REPO_ROOT, 'test/data/legacy-torch/small-zip.bin')));
const tinyConfig = () => JSON.parse(readFileSync(join(fixturesDir, 'models/tiny/config.json'), 'utf8')) as Record<string, unknown>;

/** Asserts a FormatError for `file` whose message matches `problem`. */
function refuses(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FormatError, `not a FormatError: ${String(err)}`);
    assert.equal(err.file, file);
    assert.match(err.problem, problem);
    return true;
  });
}
async function rejects(p: Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof FormatError, `not a FormatError: ${String(err)}`);
    assert.equal(err.file, file);
    assert.match(err.problem, problem);
    return true;
  });
}

/** The central directory of a zip: offset of its first entry (from the end record). */
function firstCentralEntry(b: Uint8Array): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let e = b.length - 22;
  while (v.getUint32(e, true) !== 0x06054b50) e--;
  return v.getUint32(e + 16, true);
}

// ---- zip (pytorch_model.bin)

test('zip: a central-directory entry whose extra field runs past the directory (was a RangeError)', () => {
  const b = smallZip();
  new DataView(b.buffer).setUint16(firstCentralEntry(b) + 30, 0xffff, true); // extra field length
  refuses(() => parseTorchCheckpoint(b, 'z.bin'), 'z.bin', /^corrupt zip central directory \(entry 0 runs past its end\)$/);
});

test('zip: a zip64 extra field too short for the sizes it must hold (was a RangeError)', () => {
  // One stored entry whose central record says size 0xffffffff and carries a 4-byte zip64 field (needs 8).
  const name = enc.encode('a');
  const local = new Uint8Array(30 + name.length);
  new DataView(local.buffer).setUint32(0, 0x04034b50, true);
  local.set(name, 30);
  const central = new Uint8Array(46 + name.length + 8);
  const c = new DataView(central.buffer);
  c.setUint32(0, 0x02014b50, true);
  c.setUint32(20, 0xffffffff, true); // compressed size: in zip64 field
  c.setUint32(24, 0xffffffff, true); // size: in zip64 field
  c.setUint16(28, name.length, true);
  c.setUint16(30, 8, true); // extra length
  central.set(name, 46);
  c.setUint16(46 + name.length, 0x0001, true); // zip64 id
  c.setUint16(48 + name.length, 4, true); // its length: 4, too short for one u64
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, 1, true);
  ev.setUint16(10, 1, true);
  ev.setUint32(12, central.length, true);
  ev.setUint32(16, local.length, true);
  const zip = new Uint8Array([...local, ...central, ...end]);
  refuses(() => parseTorchCheckpoint(zip, 'z64.bin'), 'z64.bin', /^corrupt zip entry a \(zip64 extra field too short\)$/);
});

// ---- pickles (both torch formats)

/** A legacy torch.save prologue (magic, protocol 1001, empty sys info), then `program` as the state-dict pickle. */
function legacy(program: number[]): Uint8Array {
  const magic = [0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];
  return new Uint8Array([...magic, 0x80, 2, 0x4d, 0xe9, 0x03, 0x2e, 0x80, 2, 0x7d, 0x2e, 0x80, 2, ...program, 0x2e, 0x80, 2, 0x5d, 0x2e]);
}

test('pickle: a negative BINSTRING length is refused (it moved the reader backwards: an endless loop)', () => {
  refuses(() => parseTorchCheckpoint(legacy([0x54, 0xfb, 0xff, 0xff, 0xff]), 'neg.bin'), 'neg.bin', /^corrupt pickle \(negative length -5 at \d+\)$/);
});

test('pickle: a string that is not UTF-8 is a FormatError (was a TypeError from TextDecoder)', () => {
  refuses(() => parseTorchCheckpoint(legacy([0x8c, 2, 0xff, 0xfe]), 'utf.bin'), 'utf.bin', /^corrupt pickle \(a string that is not UTF-8 at \d+\)$/);
});

test('pickle: APPENDS of 200,000 items does not overflow the call stack (was a RangeError)', () => {
  const n = 200_000;
  const program = [0x5d, 0x28, ...new Array<number>(n).fill(0x4e), 0x65]; // [] MARK None*n APPENDS
  refuses(() => parseTorchCheckpoint(legacy(program), 'big.bin'), 'big.bin', /^not a state dict \(the pickle holds a tuple\/list\)$/);
});

/** _rebuild_tensor_v2(('storage', torch.FloatStorage, '0', 'cpu', 1, None), 0, size, stride, False, OrderedDict()) in a dict. */
function oneTensorLegacy(size: number[], stride: number[], storageType = 'FloatStorage'): Uint8Array {
  const str = (s: string) => [0x8c, s.length, ...enc.encode(s)];
  const int = (n: number) => [0x4a, n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
  const tuple = (xs: number[][]) => [0x28, ...xs.flat(), 0x74];
  const global = (m: string, n: string) => [0x63, ...enc.encode(`${m}\n${n}\n`)];
  const program = [
    0x7d, ...str('w'),
    ...global('torch._utils', '_rebuild_tensor_v2'),
    0x28, ...tuple([str('storage'), global('torch', storageType), str('0'), str('cpu'), int(1), [0x4e]]), 0x51,
    ...int(0), ...tuple(size.map(int)), ...tuple(stride.map(int)), 0x89, ...global('collections', 'OrderedDict'), 0x29, 0x52, 0x74, 0x52,
    0x73,
  ];
  const magic = [0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];
  const keys = [0x80, 2, 0x5d, 0x28, ...str('0'), 0x65, 0x2e];
  return new Uint8Array([...magic, 0x80, 2, 0x4d, 0xe9, 0x03, 0x2e, 0x80, 2, 0x7d, 0x2e, 0x80, 2, ...program, 0x2e, ...keys, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x3f]);
}

test('torch: a stride-0 view of 10^12 elements over a 1-element storage is refused before anything is allocated', () => {
  installAllocationProbe();
  resetLargestAllocation();
  refuses(
    () => parseTorchCheckpoint(oneTensorLegacy([1_000_000, 1_000_000], [0, 0]), 'bcast.bin'),
    'bcast.bin',
    /^tensor size \(1000000,1000000\) stride \(0,0\) has 1000000000000 elements but storage 0 holds 1; overlapping views larger than their storage are not supported$/,
  );
  assert.ok(largestAllocation().bytes < 1024, `allocated ${largestAllocation().bytes} bytes`);
  // The same file with an honest shape loads: one float, 1.0.
  const ok = parseTorchCheckpoint(oneTensorLegacy([1], [1]), 'ok.bin').get('w')!;
  assert.deepEqual([...ok.data], [1]);
});

test('torch: a storage type named after an Object.prototype member is refused by the allow-list, not looked up', () => {
  refuses(() => parseTorchCheckpoint(oneTensorLegacy([1], [1], 'toString'), 'proto.bin'), 'proto.bin', /^refusing to load global torch\.toString: only tensors and containers/);
});

// ---- .npy

test('npy: a shape of (NaN, 3), (1.5,) or (0x10,) is refused (was parsed into shape [NaN, 3] with no data)', () => {
  const npy = (shape: string) => {
    const header = enc.encode(`{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }\n`);
    return new Uint8Array([0x93, ...enc.encode('NUMPY'), 1, 0, header.length & 255, header.length >> 8, ...header, ...new Uint8Array(24)]);
  };
  assert.deepEqual(parseNpy(npy('(2, 3)'), 'good.npy').shape, [2, 3]);
  assert.deepEqual(formatNpy([2, 3], new Float32Array(6)).length > 0, true);
  for (const shape of ['(NaN, 3)', '(1.5,)', '(0x10,)', '(1e3,)', '(-3,)', '(Infinity,)']) {
    refuses(() => parseNpy(npy(shape), 'bad.npy'), 'bad.npy', /^\.npy shape \(.*\) has ".*", not a dimension$/);
  }
});

test('npy: a version 2 file cut after 10 bytes, where its 4-byte header length begins (was a RangeError)', () => {
  refuses(() => parseNpy(new Uint8Array([0x93, ...enc.encode('NUMPY'), 2, 0, 0x76, 0]), 'v2.npy'), 'v2.npy', /^truncated \.npy header \(10 bytes\)$/);
  refuses(() => parseNpy(new Uint8Array([0x93, ...enc.encode('NUMPY'), 0, 0, 0x76, 0, 0, 0]), 'v0.npy'), 'v0.npy', /^unsupported \.npy format version 0\.0/);
});

test('npy: dtype "toString" is unsupported, not Object.prototype.toString (was read as a valid array)', () => {
  const header = enc.encode(`{'descr': 'toString', 'fortran_order': False, 'shape': (2,), }\n`);
  const bytes = new Uint8Array([0x93, ...enc.encode('NUMPY'), 1, 0, header.length, 0, ...header, 1, 2]);
  refuses(() => parseNpy(bytes, 'p.npy'), 'p.npy', /^unsupported \.npy dtype toString$/);
});

// ---- JSON (config.json, preprocessor_config.json, safetensors headers)

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

test('config.json nested 100,000 deep is refused (it parsed, then saving the config overflowed the stack)', async () => {
  const text = `{"model_type": "audio-spectrogram-transformer", "extra": ${deep(100_000)}}`;
  await rejects(ASTConfig.fromPretrained(memorySource({ 'config.json': enc.encode(text) }, 'm')), 'm/config.json', /^JSON nested more than 1000 levels deep$/);
  await rejects(
    ASTFeatureExtractor.fromPretrained(memorySource({ 'preprocessor_config.json': enc.encode(`{"x": ${deep(5000)}}`) }, 'm')),
    'm/preprocessor_config.json',
    /^JSON nested more than 1000 levels deep$/,
  );
  // Brackets inside strings are not nesting.
  const fine = await ASTConfig.fromPretrained(memorySource({ 'config.json': enc.encode(JSON.stringify({ ...tinyConfig(), note: '['.repeat(5000) })) }, 'm'));
  assert.equal((fine.extra as { note: string }).note.length, 5000);
});

test('safetensors: a header nested 100,000 deep is refused', () => {
  const header = enc.encode(`{"x": ${deep(100_000)}}`);
  const bytes = new Uint8Array(8 + header.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, 8);
  refuses(() => parseSafetensors(bytes, 'deep.safetensors'), 'deep.safetensors', /^corrupt safetensors header, not valid JSON \(nested more than 1000 levels deep\)$/);
});

test('safetensors: dtype "toString" is an unknown dtype, not Object.prototype.toString', () => {
  const header = enc.encode(JSON.stringify({ t: { dtype: 'toString', shape: [1], data_offsets: [0, 1] } }));
  const bytes = new Uint8Array(8 + header.length + 1);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, 8);
  refuses(() => parseSafetensors(bytes, 'p.safetensors'), 'p.safetensors', /^tensor "t": unknown dtype "toString" \(readable: /);
});

test('config.json: num_labels 10^12 is refused at once (it hung building 10^12 LABEL_i names)', async () => {
  const c = tinyConfig();
  delete c.id2label;
  delete c.label2id;
  const t0 = performance.now();
  await rejects(
    ASTConfig.fromPretrained(memorySource({ 'config.json': enc.encode(JSON.stringify({ ...c, num_labels: 1e12 })) }, 'm')),
    'm/config.json',
    /^num_labels is 1000000000000, more than the 50000 labels supported$/,
  );
  assert.ok(performance.now() - t0 < 1000);
});

test('preprocessor_config.json: keys named after Object.prototype members are kept as extra fields, not assigned into the config', () => {
  const fe = ASTFeatureExtractor.fromConfig({ toString: 5, constructor: 'x', sampling_rate: 16000 }, 'p');
  assert.equal(Object.hasOwn(fe.config, 'toString'), false);
  assert.deepEqual(fe.extra, { toString: 5, constructor: 'x' });
});

// ---- audio: resampling bounded by the file

test('decode: a WAV header claiming 1 Hz is not upsampled into 16000 samples per byte', async () => {
  const wav = riff([fmtChunk({ tag: 1, channels: 1, rate: 1, bits: 8 }), dataChunk(pcmBytes(new Array(4096).fill(128), 1))]);
  await rejects(decodeAudio(wav, { source: 'slow.wav', samplingRate: 16000 }), 'slow.wav', /^sampled at 1 Hz; resampling to 16000 Hz would make 16000 samples of each \(at most 64 allowed/);
});

test('decode: a 60-byte WAV claiming 549154 Hz is refused at once (building its 3.6-million-value kernel took 2.2 s)', async () => {
  const wav = riff([fmtChunk({ tag: 3, channels: 1, rate: 549154, bits: 32 }), dataChunk(new Uint8Array(16))]);
  const t0 = performance.now();
  await rejects(decodeAudio(wav, { source: 'odd.wav', samplingRate: 16000 }), 'odd.wav', /^cannot resample 549154 Hz to 16000 Hz: the rates share no large common factor/);
  assert.ok(performance.now() - t0 < 500);
});

test('resample: rates with no common factor (44101 -> 16000 Hz) build a small kernel and match the dense computation', () => {
  // The dense kernel torchaudio builds would be [16000, 44135] = 706 million values; only the taps near
  // each phase's support are built now.
  assert.ok(resampleKernelValues(44101, 16000) <= 1_000_000);
  installAllocationProbe();
  resetLargestAllocation();
  const x = Float32Array.from({ length: 44101 }, (_, i) => Math.sin(i / 7));
  const y = resample(x, 44101, 16000);
  assert.equal(y.length, 16000);
  assert.ok(largestAllocation().bytes < 16 * 1024 * 1024, `largest allocation ${largestAllocation().bytes}`);
  // A sine of period 14 pi samples at 44101 Hz is one of period 14 pi * 16000 / 44101 at 16 kHz.
  const period = (7 * 16000) / 44101;
  let worst = 0;
  for (let i = 100; i < 15900; i++) worst = Math.max(worst, Math.abs(y[i]! - Math.sin(i / period)));
  assert.ok(worst < 1e-3, `max error ${worst}`);
  // A rate in the millions with no common factor is refused rather than built for seconds.
  assert.ok(resampleKernelValues(1_000_001, 16000) > MAX_RESAMPLE_KERNEL_VALUES);
  assert.throws(() => resample(x, 1_000_001, 16000), /needs a sinc kernel of \d+ values/);
});
