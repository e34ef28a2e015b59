/**
 * One fuzz target per parser. Each feeds its parser byte-mutated valid files (the fixtures and small
 * files written here or by real PyTorch), structure-aware inputs (headers with lying fields) and
 * random bytes, through the public reading function, and checks what comes back.
 */
import { lstat, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseWav, type WavData } from '../../src/audio/wav.js';
import { decodeAudio, type DecodedAudio } from '../../src/audio/decode.js';
import { formatSafetensors, parseSafetensors, readSafetensorsHeader } from '../../src/io/safetensors.js';
import { readCheckpoint } from '../../src/io/checkpoint.js';
import { formatNpy, parseNpy, type NpyArray } from '../../src/io/npy.js';
import { parseTorchCheckpoint } from '../../src/io/torch-pickle.js';
import { ASTConfig, MAX_NUM_LABELS } from '../../src/model/config.js';
import { ASTFeatureExtractor } from '../../src/audio/feature-extractor.js';
import { memorySource } from '../../src/io/files.js';
import { FormatError } from '../../src/io/errors.js';
import { hubSource } from '../../src/node/hub.js';
import { numel, type Tensor } from '../../src/tensor.js';
import { REPO_ROOT, fixturesDir } from '../helpers/fixtures.js';
import { dataChunk, fmtChunk, floatBytes, pcmBytes, riff } from '../audio/wav-bytes.js';
import { InvalidResult, type FuzzTarget } from './engine.js';
import { INTERESTING, NASTY_NUMBERS, PROTO_KEYS, deepNesting, jsonBytes, jsonKey, jsonValue, mutatedBytes, mutatedObject, randomBytes } from './mutate.js';

const MiB = 1024 * 1024;
const enc = new TextEncoder();
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const read = (p: string) => new Uint8Array(readFileSync(p));
const fixture = (p: string) => read(join(fixturesDir, p));
const repoFile = (p: string) => read(join(REPO_ROOT, p));
const u32le = (v: number) => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];

function concat(parts: (Uint8Array | number[])[]): Uint8Array {
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) out.set(p, at), (at += p.length);
  return out;
}

// ---------------------------------------------------------------- validity of results

const ARRAY_OF: Record<Tensor['dtype'], Function> = {
  float32: Float32Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int64: BigInt64Array,
  int32: Int32Array,
  bool: Uint8Array,
};

function checkTensor(name: string, t: Tensor): void {
  if (!Array.isArray(t.dims) || !t.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new InvalidResult(`${name}: dims ${String(t.dims)}`);
  const C = ARRAY_OF[t.dtype];
  if (!C) throw new InvalidResult(`${name}: dtype ${String(t.dtype)}`);
  if (!(t.data instanceof (C as new () => unknown))) throw new InvalidResult(`${name}: ${t.dtype} data in a ${t.data?.constructor?.name}`);
  if (t.data.length !== numel(t.dims)) throw new InvalidResult(`${name}: ${t.data.length} values for dims [${t.dims}]`);
}

function checkTensors(tensors: Map<string, Tensor>): void {
  for (const [name, t] of tensors) checkTensor(name, t);
}

function checkWav(w: WavData): void {
  if (w.channelData.length === 0) throw new InvalidResult('no channels');
  const n = w.channelData[0]!.length;
  if (n === 0 || !w.channelData.every((c) => c instanceof Float32Array && c.length === n)) throw new InvalidResult('ragged or empty channels');
  if (!Number.isInteger(w.sampleRate) || w.sampleRate <= 0) throw new InvalidResult(`sample rate ${w.sampleRate}`);
}

function checkNpy(a: NpyArray): void {
  if (!['<f4', '<f8', '<i8', '<i4', '|u1', '|b1'].includes(a.descr)) throw new InvalidResult(`descr ${a.descr}`);
  if (!a.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new InvalidResult(`shape (${a.shape})`);
  if (a.data.length !== numel([...a.shape])) throw new InvalidResult(`${a.data.length} values for shape (${a.shape})`);
}

// ---------------------------------------------------------------- WAV

const wavSeeds = [
  fixture('audio/tiny_16k.wav'),
  fixture('audio/chirp_16k.wav').subarray(0, 2000),
  repoFile('test/data/audio/tone_stereo_16k_s24.wav').subarray(0, 3000),
  riff([fmtChunk({ tag: 3, channels: 1, rate: 22050, bits: 32 }), dataChunk(floatBytes([0, 0.5, -1, 1e-3], 4))]),
  riff([fmtChunk({ tag: 3, channels: 2, rate: 8000, bits: 64 }), dataChunk(floatBytes([0, 0.5, -1, 1e-3], 8))]),
  riff([{ id: 'LIST', body: ascii('INFOabc') }, fmtChunk({ tag: 1, channels: 1, rate: 11025, bits: 8 }), dataChunk(pcmBytes([0, 128, 255], 1))]),
  riff([fmtChunk({ tag: 1, channels: 3, rate: 48000, bits: 32, extensibleSubTag: 1 }), dataChunk(pcmBytes([1, -1, 2 ** 31 - 1, 0, 5, -(2 ** 31)], 4))]),
  riff([dataChunk(pcmBytes([1, 2, 3, 4], 2)), fmtChunk({ tag: 1, channels: 1, rate: 16000, bits: 16 })]),
];

/** WAV files assembled from chunks whose fields and sizes are chosen to lie. */
const wavStructured = fc
  .array(
    fc.oneof(
      fc.record({
        id: fc.constant('fmt '),
        tag: fc.oneof(fc.constantFrom(1, 3, 0xfffe, 2, 0x55, 0), fc.nat(0xffff)),
        channels: fc.oneof(fc.constantFrom(0, 1, 2, 6, 0xffff), fc.nat(0xffff)),
        rate: fc.oneof(fc.constantFrom(0, 1, 8000, 16000, 44100, 44101, 0xffffffff), fc.nat()),
        bits: fc.oneof(fc.constantFrom(0, 1, 8, 12, 16, 20, 24, 32, 64, 0xffff), fc.nat(0xffff)),
        sub: fc.option(fc.nat(0xffff)),
        size: fc.option(fc.oneof(fc.constantFrom(0, 15, 16, 39, 40, 0xffffffff), fc.nat())),
      }),
      fc.record({
        id: fc.constant('data'),
        body: fc.uint8Array({ maxLength: 2048 }),
        size: fc.option(fc.oneof(fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff), fc.nat())),
      }),
      fc.record({ id: fc.constantFrom('LIST', 'fact', 'JUNK', '\0\0\0\0'), body: fc.uint8Array({ maxLength: 64 }), size: fc.option(fc.nat()) }),
    ),
    { maxLength: 5 },
  )
  .map((chunks) =>
    riff(
      chunks.map((c) => {
        if (c.id === 'fmt ') {
          const f = fmtChunk({ tag: c.tag, channels: c.channels, rate: c.rate >>> 0, bits: c.bits, extensibleSubTag: c.sub ?? undefined });
          return { ...f, size: c.size ?? undefined };
        }
        return { id: c.id, body: c.body, size: c.size ?? undefined };
      }),
    ),
  );

export const wavTarget: FuzzTarget = {
  name: 'wav',
  parser: 'src/audio/wav.ts',
  inputs: fc.oneof({ weight: 6, arbitrary: mutatedBytes(wavSeeds) }, { weight: 3, arbitrary: wavStructured }, { weight: 1, arbitrary: randomBytes([ascii('RIFF\x10\0\0\0WAVE')]) }),
  run: async (bytes) => parseWav(bytes, 'fuzz.wav'),
  check: (r) => checkWav(r as WavData),
  size: (b) => b.length,
  // 8-bit mono: one byte per sample becomes one float32; plus 1 MiB for per-channel arrays (65535 channels).
  bound: (n) => 4 * n + MiB,
  fileTag: 'fuzz.wav',
};

// ---------------------------------------------------------------- decode (WAV, FLAC, MP3, OGG, … through audio-decode)

const decodeSeeds = [
  wavSeeds[0]!,
  wavSeeds[3]!,
  fixture('audio/speech_8k.wav').subarray(0, 4000),
  repoFile('test/data/audio/tone_stereo_16k.flac'),
  repoFile('test/data/audio/tone_stereo_16k_s24.flac').subarray(0, 3000),
  repoFile('test/data/audio/tone_stereo_16k.ogg'),
];
const audioMagics = [
  ascii('fLaC'),
  ascii('OggS'),
  ascii('ID3\x03\0\0\0\0\0\0'),
  ascii('\0\0\0\x20ftypM4A '),
  Uint8Array.of(0x1a, 0x45, 0xdf, 0xa3),
  Uint8Array.of(0xff, 0xf1),
  Uint8Array.of(0xff, 0xfb, 0x90, 0x64),
  ascii('RIFF\x10\0\0\0WAVE'),
];

/** The most samples per input byte a compressed codec may produce before the fuzz run calls it a bomb. */
export const DECODE_EXPANSION = 1024;

export const decodeTarget: FuzzTarget = {
  name: 'decode',
  parser: 'src/audio/decode.ts (+ audio-decode)',
  inputs: fc.oneof({ weight: 7, arbitrary: mutatedBytes(decodeSeeds, 4) }, { weight: 2, arbitrary: randomBytes(audioMagics, 1024) }, { weight: 1, arbitrary: wavStructured }),
  run: (bytes) => decodeAudio(bytes, { source: 'fuzz.audio', samplingRate: 16000 }),
  check(r) {
    const out = r as DecodedAudio;
    if (out.samplingRate !== 16000 || out.waveform.length === 0 || !out.waveform.every(Number.isFinite)) throw new InvalidResult('bad waveform');
  },
  size: (b) => b.length,
  // Decoded float32 samples (a compressed codec may expand each byte into many) x the 64x upsampling
  // limit is what resampling may make; plus the resampling kernel (at most 2^20 float64 = 8 MiB).
  bound: (n) => 4 * DECODE_EXPANSION * n + 16 * MiB,
  fileTag: 'fuzz.audio',
};

// ---------------------------------------------------------------- safetensors

const t = (dtype: Tensor['dtype'], dims: number[], data: Tensor['data']) => ({ dtype, dims, data }) as Tensor;
const smallSafetensors = [
  formatSafetensors({ a: t('float32', [2, 3], new Float32Array(6).fill(1.5)), b: t('int64', [2], BigInt64Array.of(1n, -2n)) }, { format: 'pt' }),
  formatSafetensors({ h: t('float16', [3], Uint16Array.of(1, 2, 3)), z: t('bool', [0, 4], new Uint8Array(0)), i: t('int32', [], Int32Array.of(7)) }),
  formatSafetensors({ x: t('bfloat16', [1, 1, 2], Uint16Array.of(0x3f80, 0xbf80)) }),
];
const tinySafetensors = fixture('models/tiny/model.safetensors');

const ST_DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'BOOL'];
const ST_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, BOOL: 1 };

/** A safetensors header built to be valid, then given one lie: overlapping or duplicated ranges, offsets past the end, wrong length field… */
const safetensorsStructured = fc
  .record({
    tensors: fc.array(
      fc.record({
        name: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...PROTO_KEYS, '__metadata__')),
        dtype: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...ST_DTYPES) }, { weight: 1, arbitrary: fc.constantFrom('U8', 'F8_E4M3', 'toString', 'f32', '') }),
        shape: fc.array(fc.oneof({ weight: 6, arbitrary: fc.nat(5) }, { weight: 1, arbitrary: fc.constantFrom(...NASTY_NUMBERS) }), { maxLength: 4 }),
      }),
      { maxLength: 5 },
    ),
    lie: fc.oneof(
      fc.constant({ kind: 'none' as const }),
      fc.record({ kind: fc.constant('overlap' as const), i: fc.nat(4), j: fc.nat(4) }),
      fc.record({ kind: fc.constant('offset' as const), i: fc.nat(4), which: fc.nat(1), value: jsonValue }),
      fc.record({ kind: fc.constant('shape' as const), i: fc.nat(4), value: jsonValue }),
      fc.record({ kind: fc.constant('entry' as const), i: fc.nat(4), value: jsonValue }),
      fc.record({ kind: fc.constant('nest' as const), depth: fc.integer({ min: 100, max: 200_000 }) }),
      fc.record({ kind: fc.constant('metadata' as const), value: jsonValue }),
      fc.record({ kind: fc.constant('string' as const), n: fc.integer({ min: 1 << 10, max: 1 << 20 }) }),
    ),
    lengthField: fc.oneof(fc.constant(undefined), fc.constantFrom(0n, 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 63n, 100_000_001n), fc.integer({ min: -8, max: 8 })),
    extraData: fc.integer({ min: -16, max: 16 }),
    unaligned: fc.boolean(),
  })
  .map(({ tensors, lie, lengthField, extraData, unaligned }) => {
    const header: Record<string, unknown> = {};
    let offset = unaligned ? 1 : 0;
    if (unaligned) header.pad = { dtype: 'BOOL', shape: [1], data_offsets: [0, 1] };
    const names: string[] = [];
    for (const x of tensors) {
      const bytes = x.shape.reduce((a, b) => a * b, 1) * (ST_BYTES[x.dtype] ?? 1);
      const size = Number.isSafeInteger(bytes) && bytes <= 4096 ? bytes : 8;
      Object.defineProperty(header, x.name, { value: { dtype: x.dtype, shape: x.shape, data_offsets: [offset, offset + size] }, enumerable: true, configurable: true, writable: true });
      names.push(x.name);
      offset += size;
    }
    const entry = (i: number) => (names.length ? (header[names[i % names.length]!] as Record<string, unknown>) : undefined);
    let json: string;
    switch (lie.kind) {
      case 'overlap': {
        const a = entry(lie.i);
        const b = entry(lie.j);
        if (a && b) b.data_offsets = a.data_offsets;
        break;
      }
      case 'offset': {
        const a = entry(lie.i);
        if (a) (a.data_offsets as unknown[])[lie.which] = lie.value;
        break;
      }
      case 'shape': {
        const a = entry(lie.i);
        if (a) a.shape = lie.value;
        break;
      }
      case 'entry':
        if (names.length) header[names[lie.i % names.length]!] = lie.value;
        break;
      case 'metadata':
        header.__metadata__ = lie.value;
        break;
      case 'string':
        header.__metadata__ = { note: 'x'.repeat(lie.n) };
        break;
      default:
        break;
    }
    json = JSON.stringify(header);
    if (lie.kind === 'nest') json = json.replace(/^\{/, `{"deep":${deepNesting(lie.depth)},`).replace(',}', '}');
    const text = enc.encode(json);
    const data = new Uint8Array(Math.max(0, offset + extraData));
    const len = lengthField === undefined ? BigInt(text.length) : typeof lengthField === 'bigint' ? lengthField : BigInt(Math.max(0, text.length + lengthField));
    const out = new Uint8Array(8 + text.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, len), true);
    out.set(text, 8);
    return out;
  });

export const safetensorsTarget: FuzzTarget = {
  name: 'safetensors',
  parser: 'src/io/safetensors.ts',
  inputs: fc.oneof(
    { weight: 5, arbitrary: safetensorsStructured },
    { weight: 4, arbitrary: mutatedBytes([...smallSafetensors, ...smallSafetensors, tinySafetensors]) },
    { weight: 1, arbitrary: randomBytes([Uint8Array.of(2, 0, 0, 0, 0, 0, 0, 0, 0x7b)]) },
  ),
  async run(bytes) {
    readSafetensorsHeader(bytes, 'fuzz.safetensors');
    return parseSafetensors(bytes, 'fuzz.safetensors').tensors;
  },
  check: (r) => checkTensors(r as Map<string, Tensor>),
  size: (b) => b.length,
  // Tensors are views on the input, or aligned copies of their bytes (F64 narrowed to F32: half).
  bound: (n) => n + MiB,
  fileTag: 'fuzz.safetensors',
};

// ---------------------------------------------------------------- checkpoint loader (single, sharded, torch)

const smallLegacy = repoFile('test/data/legacy-torch/small-legacy.bin');
const smallZip = repoFile('test/data/legacy-torch/small-zip.bin');
const SHARD_NAMES = ['a.safetensors', 'b.safetensors', '../a.safetensors', '', 'a/b', '.', '..', 'missing.safetensors', 'a.bin', 'b.bin'];

const checkpointFiles: fc.Arbitrary<Record<string, Uint8Array>> = fc.oneof(
  mutatedBytes([...smallSafetensors, tinySafetensors]).map((b): Record<string, Uint8Array> => ({ 'model.safetensors': b })),
  mutatedBytes([smallZip, smallLegacy]).map((b): Record<string, Uint8Array> => ({ 'pytorch_model.bin': b })),
  fc
    .record({
      torch: fc.boolean(),
      map: fc.dictionary(fc.oneof(fc.constantFrom('a', 'b', 'h', 'i', 'x', 'z', 'f32', 'i64'), jsonKey), fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...SHARD_NAMES) }, { weight: 1, arbitrary: jsonValue }), { maxKeys: 6 }),
      indexEdit: fc.option(mutatedObject({ weight_map: {} }, ['metadata'])),
      shardA: fc.oneof(fc.constantFrom(...smallSafetensors), mutatedBytes(smallSafetensors, 2)),
      shardB: fc.oneof(fc.constantFrom(...smallSafetensors), mutatedBytes(smallSafetensors, 2)),
      torchA: fc.oneof(fc.constant(smallZip), mutatedBytes([smallZip, smallLegacy], 2)),
      rawIndex: fc.option(mutatedBytes([enc.encode('{"weight_map":{"a":"a.safetensors","h":"b.safetensors"}}')], 4), { freq: 4 }),
    })
    .map((r) => {
      const index = r.indexEdit && 'weight_map' in r.indexEdit && typeof r.indexEdit.weight_map !== 'object' ? r.indexEdit : { ...(r.indexEdit ?? {}), weight_map: r.map };
      let indexBytes: Uint8Array;
      try {
        indexBytes = r.rawIndex ?? enc.encode(JSON.stringify(index));
      } catch {
        indexBytes = enc.encode(deepNesting(50_000));
      }
      const files: Record<string, Uint8Array> = r.torch
        ? { 'pytorch_model.bin.index.json': indexBytes, 'a.bin': r.torchA, 'b.bin': smallLegacy }
        : { 'model.safetensors.index.json': indexBytes, 'a.safetensors': r.shardA, 'b.safetensors': r.shardB };
      return files;
    }),
);

export const checkpointTarget: FuzzTarget<Record<string, Uint8Array>> = {
  name: 'checkpoint',
  parser: 'src/io/checkpoint.ts (single, sharded safetensors and torch)',
  inputs: checkpointFiles,
  run: async (files) => (await readCheckpoint(memorySource(files, 'fuzzckpt'))).tensors,
  check: (r) => checkTensors(r as Map<string, Tensor>),
  size: (files) => Object.values(files).reduce((s, b) => s + b.length, 0),
  bound: (n) => n + MiB,
  fileTag: 'fuzzckpt',
};

// ---------------------------------------------------------------- .npy

const npySeeds = [
  formatNpy([2, 3], new Float32Array(6).fill(0.25)),
  formatNpy([3], Float64Array.of(1, 2, 3)),
  formatNpy([2], BigInt64Array.of(5n, -5n)),
  formatNpy([], Int32Array.of(9)),
  formatNpy([0, 4], new Uint8Array(0)),
  fixture('models/tiny/case-single_label/logits.npy'),
];

const npyStructured = fc
  .record({
    major: fc.oneof(fc.constantFrom(1, 2, 3), fc.nat(255)),
    descr: fc.oneof(fc.constantFrom('<f4', '<f8', '<i8', '<i4', '|u1', '|b1', '>f4', '<f2', '<U8', "'", '', ...PROTO_KEYS), fc.string({ maxLength: 6 })),
    fortran: fc.constantFrom('False', 'True', 'false', '0'),
    shape: fc.oneof(
      fc.array(fc.oneof(fc.nat(6), fc.constantFrom(...NASTY_NUMBERS), fc.constantFrom('abc', '-3', '1.5', '1e3', '0x10', 'NaN', 'Infinity', '', ' ')), { maxLength: 4 }).map((a) => `(${a.join(', ')}${a.length === 1 ? ',' : ''})`),
      fc.constantFrom('(', ')', '(2, 3', '((2,),)', ''),
    ),
    extra: fc.oneof(fc.constant(''), fc.string({ maxLength: 16 }), fc.integer({ min: 1 << 10, max: 1 << 18 }).map((n) => ' '.repeat(n))),
    headerLen: fc.option(fc.oneof(fc.constantFrom(0, 1, 0xffff, 0x7fffffff, 0xffffffff), fc.nat(4096))),
    dataLen: fc.nat(256),
  })
  .map((r) => {
    const header = enc.encode(`{'descr': '${r.descr}', 'fortran_order': ${r.fortran}, 'shape': ${r.shape}, ${r.extra}}\n`);
    const lenBytes = r.major === 1 ? 2 : 4;
    const len = r.headerLen ?? header.length;
    const lenField = lenBytes === 2 ? [len & 255, (len >>> 8) & 255] : u32le(len);
    return concat([[0x93, ...ascii('NUMPY'), r.major, 0], lenField, header, new Uint8Array(r.dataLen)]);
  });

export const npyTarget: FuzzTarget = {
  name: 'npy',
  parser: 'src/io/npy.ts',
  inputs: fc.oneof({ weight: 5, arbitrary: npyStructured }, { weight: 4, arbitrary: mutatedBytes(npySeeds) }, { weight: 1, arbitrary: randomBytes([Uint8Array.of(0x93, ...ascii('NUMPY'), 1, 0)]) }),
  run: async (bytes) => parseNpy(bytes, 'fuzz.npy'),
  check: (r) => checkNpy(r as NpyArray),
  size: (b) => b.length,
  bound: (n) => n + MiB,
  fileTag: 'fuzz.npy',
};

// ---------------------------------------------------------------- torch (zip and legacy)

/** torch.save's legacy prologue: the magic number, protocol 1001, and an (empty) sys-info dict, each its own pickle. */
const LEGACY_PROLOGUE = concat([
  [0x80, 2, 0x8a, 10],
  (() => {
    const out: number[] = [];
    let v = 0x1950a86a20f9469cfc6cn;
    for (let i = 0; i < 10; i++, v >>= 8n) out.push(Number(v & 0xffn));
    return out;
  })(),
  [0x2e, 0x80, 2, 0x4d, 0xe9, 0x03, 0x2e, 0x80, 2, 0x7d, 0x2e],
]);

function pstr(s: string | Uint8Array): number[] {
  const b = typeof s === 'string' ? enc.encode(s) : s;
  return [0x58, ...u32le(b.length), ...b]; // BINUNICODE
}
function pint(n: number): number[] {
  if (n >= 0 && n < 256) return [0x4b, n];
  if (n >= 0 && n < 65536) return [0x4d, n & 255, n >> 8];
  if (n >= -(2 ** 31) && n < 2 ** 31) return [0x4a, ...u32le(n >>> 0)];
  // LONG1, 8 bytes two's complement
  let v = BigInt.asUintN(64, BigInt(Math.trunc(n)));
  const out = [0x8a, 8];
  for (let i = 0; i < 8; i++, v >>= 8n) out.push(Number(v & 0xffn));
  return out;
}
const pglobal = (m: string, n: string) => [0x63, ...enc.encode(`${m}\n${n}\n`)];
const ptuple = (items: number[][]) => [0x28, ...items.flat(), 0x74];

const STORAGES = ['FloatStorage', 'HalfStorage', 'BFloat16Storage', 'DoubleStorage', 'LongStorage', 'IntStorage', 'BoolStorage', 'ByteStorage', 'toString'];
const nastyInt = fc.oneof({ weight: 4, arbitrary: fc.nat(12) }, { weight: 1, arbitrary: fc.constantFrom(...NASTY_NUMBERS.filter(Number.isInteger), -1, -(2 ** 31)) });

/** One pickle "token": an opcode with arguments, or a whole tensor rebuild with nasty sizes. */
const pickleToken: fc.Arbitrary<number[]> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0x4e, 0x88, 0x89, 0x28, 0x29, 0x74, 0x85, 0x86, 0x87, 0x5d, 0x6c, 0x61, 0x65, 0x7d, 0x64, 0x73, 0x75, 0x30, 0x31, 0x32, 0x52, 0x62, 0x51, 0x94, 0x93, 0x2e).map((op) => [op]) },
  { weight: 3, arbitrary: nastyInt.map(pint) },
  { weight: 2, arbitrary: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('storage', 'cpu', '0', '1')).map(pstr) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }).map((b) => pstr(b)) }, // maybe not UTF-8
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(0x55, 0x54, 0x43, 0x42, 0x8c, 0x8d, 0x58), fc.constantFrom(...INTERESTING, 0xfffffff0n)).map(([op, n]) => {
    const w = op === 0x55 || op === 0x43 || op === 0x8c ? 1 : op === 0x8d ? 8 : 4;
    const out: number[] = [op];
    let v = n;
    for (let i = 0; i < w; i++, v >>= 8n) out.push(Number(v & 0xffn));
    return out;
  }) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(0x71, 0x68), fc.nat(4)).map(([op, i]) => [op, i]) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(0x72, 0x6a), fc.constantFrom(0, 1, 0xffffffff)).map(([op, i]) => [op, ...u32le(i)]) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      pglobal('collections', 'OrderedDict'),
      pglobal('torch._utils', '_rebuild_tensor_v2'),
      pglobal('torch._utils', '_rebuild_parameter'),
      pglobal('torch', 'FloatStorage'),
      pglobal('os', 'system'),
      pglobal('builtins', 'getattr'),
      pglobal('torch', 'toString'),
      [0x63, ...enc.encode('torch\n')],
    ),
  },
  { weight: 1, arbitrary: fc.tuple(fc.nat(255), fc.uint8Array({ maxLength: 4 })).map(([op, b]) => [op, ...b]) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        storage: fc.constantFrom(...STORAGES),
        key: fc.constantFrom('0', '1', '2'),
        numel: nastyInt,
        legacy: fc.boolean(),
        view: fc.option(fc.tuple(nastyInt, nastyInt)),
        offset: nastyInt,
        size: fc.array(nastyInt, { maxLength: 3 }),
        stride: fc.array(nastyInt, { maxLength: 3 }),
      })
      .map((r) => [
        ...pglobal('torch._utils', '_rebuild_tensor_v2'),
        0x28,
        ...ptuple([
          pstr('storage'),
          pglobal('torch', r.storage),
          pstr(r.key),
          pstr('cpu'),
          pint(r.numel),
          ...(r.legacy ? [r.view ? ptuple([pstr('v' + r.key), pint(r.view[0]), pint(r.view[1])]) : [0x4e]] : []),
        ]),
        0x51, // BINPERSID
        ...pint(r.offset),
        ...ptuple(r.size.map(pint)),
        ...ptuple(r.stride.map(pint)),
        0x89,
        ...pglobal('collections', 'OrderedDict'),
        0x29,
        0x52,
        0x74,
        0x52, // REDUCE
      ]),
  },
);

/** A legacy-format file around a generated pickle: mostly a state dict {name: token…}, sometimes raw tokens. */
const torchStructured = fc
  .record({
    stateDict: fc.boolean(),
    tokens: fc.array(pickleToken, { maxLength: 24 }),
    keys: fc.array(fc.constantFrom('0', '1', '2', 'x'), { maxLength: 4 }),
    storages: fc.array(fc.record({ count: fc.oneof(fc.bigInt({ min: 0n, max: 16n }), fc.constantFrom(...INTERESTING)), bytes: fc.nat(64) }), { maxLength: 4 }),
    appends: fc.option(fc.integer({ min: 1000, max: 130_000 }), { freq: 200 }),
  })
  .map((r) => {
    let program: number[];
    if (r.appends) program = [0x5d, 0x28, ...new Array<number>(r.appends).fill(0x4e), 0x65]; // a list of 100k+ Nones in one APPENDS
    else if (r.stateDict) program = [0x7d, 0x28, ...r.tokens.flatMap((tok, i) => [...pstr(`t${i}`), ...tok]), 0x75];
    else program = r.tokens.flat();
    const keyList = [0x80, 2, 0x5d, 0x28, ...r.keys.flatMap((k) => pstr(k)), 0x65, 0x2e];
    const storageBytes = r.storages.flatMap((s) => {
      let v = BigInt.asUintN(64, s.count);
      const c: number[] = [];
      for (let i = 0; i < 8; i++, v >>= 8n) c.push(Number(v & 0xffn));
      return [...c, ...new Array<number>(s.bytes).fill(0x3f)];
    });
    return concat([LEGACY_PROLOGUE, [0x80, 2], program, [0x2e], keyList, storageBytes]);
  });

export const torchTarget: FuzzTarget = {
  name: 'torch',
  parser: 'src/io/torch-pickle.ts (zip and legacy)',
  inputs: fc.oneof(
    { weight: 5, arbitrary: mutatedBytes([smallLegacy, smallZip, repoFile('test/data/legacy-torch/malicious-legacy.bin'), repoFile('test/data/legacy-torch/malicious-zip.bin')]) },
    { weight: 4, arbitrary: torchStructured },
    { weight: 1, arbitrary: randomBytes([Uint8Array.of(0x80, 2), ascii('PK\x03\x04'), LEGACY_PROLOGUE]) },
  ),
  run: async (bytes) => parseTorchCheckpoint(bytes, 'fuzz.bin'),
  check: (r) => checkTensors(r as Map<string, Tensor>),
  size: (b) => b.length,
  // Contiguous tensors are views; strided ones are gathered into at most their storage's size; a
  // misaligned storage is copied once; DoubleStorage is narrowed to float32 (half its bytes).
  bound: (n) => n + MiB,
  fileTag: 'fuzz.bin',
};

// ---------------------------------------------------------------- config.json

const configSeeds = ['tiny', 'regression', 'strided', 'shallow-base'].map((m) => fixture(`models/${m}/config.json`));
const tinyConfig = JSON.parse(new TextDecoder().decode(configSeeds[0]!)) as Record<string, unknown>;

const id2labelArb = fc.oneof(
  fc.dictionary(jsonKey, fc.oneof(fc.string({ maxLength: 6 }), jsonValue), { maxKeys: 8 }),
  fc.integer({ min: 1, max: 2000 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), `l${i}`]))),
  jsonValue,
);
const configObjects = fc.oneof(
  mutatedObject(tinyConfig, ['num_labels', 'dtype', 'torch_dtype', 'problem_type', 'model_type', 'architectures']),
  fc.record({ base: mutatedObject(tinyConfig), id2label: id2labelArb, num_labels: fc.option(fc.oneof(fc.constantFrom(...NASTY_NUMBERS, MAX_NUM_LABELS, MAX_NUM_LABELS + 1), fc.nat(10))) })
    .map(({ base, id2label, num_labels }) => {
      const o: Record<string, unknown> = { ...base, id2label };
      delete o.label2id;
      if (num_labels !== null) o.num_labels = num_labels;
      return o;
    }),
  fc.record({ n: fc.oneof(fc.constantFrom(...NASTY_NUMBERS, MAX_NUM_LABELS), fc.nat(100)) }).map(({ n }) => {
    const o: Record<string, unknown> = { ...tinyConfig, num_labels: n };
    delete o.id2label;
    delete o.label2id;
    return o;
  }),
  jsonValue,
);

export const configTarget: FuzzTarget = {
  name: 'config.json',
  parser: 'src/model/config.ts',
  inputs: jsonBytes(configObjects, configSeeds),
  run: (bytes) => ASTConfig.fromPretrained(memorySource({ 'config.json': bytes }, 'fuzzcfg')),
  check(r) {
    const c = r as ASTConfig;
    // A valid config is usable: its labels agree with num_labels and it writes back to an equal config.
    if (c.labels.length !== c.num_labels) throw new InvalidResult(`${c.labels.length} labels but num_labels ${c.num_labels}`);
    const again = ASTConfig.fromJSON(JSON.parse(JSON.stringify(c.toJSON())), 'round trip');
    if (JSON.stringify(again.toJSON()) !== JSON.stringify(c.toJSON())) throw new InvalidResult('config does not round-trip');
  },
  size: (b) => b.length,
  // Parsed JSON is bounded by the input; labels made from num_labels alone by MAX_NUM_LABELS names.
  bound: (n) => n + MiB,
  fileTag: 'fuzzcfg',
};

// ---------------------------------------------------------------- preprocessor_config.json

const preprocessorSeeds = [fixture('models/tiny/preprocessor_config.json'), fixture('features/default.preprocessor_config.json')];
const tinyPreprocessor = JSON.parse(new TextDecoder().decode(preprocessorSeeds[0]!)) as Record<string, unknown>;

export const preprocessorTarget: FuzzTarget = {
  name: 'preprocessor_config.json',
  parser: 'src/audio/feature-extractor.ts',
  inputs: jsonBytes(fc.oneof({ weight: 9, arbitrary: mutatedObject(tinyPreprocessor) }, { weight: 1, arbitrary: jsonValue }), preprocessorSeeds),
  run: (bytes) => ASTFeatureExtractor.fromPretrained(memorySource({ 'preprocessor_config.json': bytes }, 'fuzzpre')),
  check(r) {
    const fe = r as ASTFeatureExtractor;
    const again = ASTFeatureExtractor.fromConfig(JSON.parse(JSON.stringify(fe.toJSON())), 'round trip');
    if (JSON.stringify(again.config) !== JSON.stringify(fe.config)) throw new InvalidResult('preprocessor config does not round-trip');
  },
  size: (b) => b.length,
  bound: (n) => n + MiB,
  fileTag: 'fuzzpre',
};

// ---------------------------------------------------------------- Hub cache layout

const REPO = 'fuzz-owner/fuzz-model';
const COMMIT = 'a'.repeat(40);
const OTHER_COMMIT = '0123456789abcdef0123456789abcdef01234567';
const HUB_FILES = ['config.json', 'model.safetensors', 'preprocessor_config.json', 'pytorch_model.bin', 'model.safetensors.index.json'];
const cacheRoot = join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `ast-audio-fuzz-hub-${process.pid}`);

interface HubLayout {
  revision: string;
  ref: string | null | 'DIR';
  files: { name: string; commit: string; kind: 'link' | 'file' | 'dangling' | 'loop' | 'dir' | 'noexist' | 'linkdir'; content: Uint8Array }[];
}

const hubContent = fc.oneof(
  fc.constantFrom(configSeeds[0]!, smallSafetensors[0]!, preprocessorSeeds[0]!, smallZip),
  mutatedBytes([configSeeds[0]!, smallSafetensors[0]!, smallSafetensors[1]!, preprocessorSeeds[0]!, smallLegacy], 3),
  fc.uint8Array({ maxLength: 64 }),
);
const hubLayout: fc.Arbitrary<HubLayout> = fc.record({
  revision: fc.constantFrom('main', 'v1.0', COMMIT, 'refs/pr/1'),
  ref: fc.oneof(fc.constantFrom(COMMIT, `${COMMIT}\n`, OTHER_COMMIT, COMMIT.toUpperCase(), '', 'DIR', null), fc.string({ maxLength: 50 })),
  files: fc.array(
    fc.record({
      name: fc.constantFrom(...HUB_FILES),
      commit: fc.constantFrom(COMMIT, COMMIT, OTHER_COMMIT),
      kind: fc.constantFrom('link', 'link', 'link', 'file', 'dangling', 'loop', 'dir', 'noexist', 'linkdir'),
      content: hubContent,
    }),
    { maxLength: 6 },
  ),
});

async function writeLayout(layout: HubLayout): Promise<void> {
  const storage = join(cacheRoot, 'models--fuzz-owner--fuzz-model');
  await rm(cacheRoot, { recursive: true, force: true });
  await mkdir(join(storage, 'blobs'), { recursive: true });
  const refPath = join(storage, 'refs', layout.revision);
  if (layout.ref !== null) {
    await mkdir(join(refPath, '..'), { recursive: true });
    if (layout.ref === 'DIR') await mkdir(refPath, { recursive: true });
    else await writeFile(refPath, layout.ref);
  }
  let blob = 0;
  for (const f of layout.files) {
    const dir = join(storage, f.kind === 'noexist' ? '.no_exist' : 'snapshots', f.commit);
    const path = join(dir, f.name);
    await mkdir(dir, { recursive: true });
    if (await lstat(path).then(() => true, () => false)) continue;
    const blobName = `blob${blob++}`;
    switch (f.kind) {
      case 'link':
        await writeFile(join(storage, 'blobs', blobName), f.content);
        await symlink(`../../blobs/${blobName}`, path);
        break;
      case 'file':
        await writeFile(path, f.content);
        break;
      case 'dangling':
        await symlink(`../../blobs/missing-${blobName}`, path);
        break;
      case 'loop':
        await symlink(f.name, path);
        break;
      case 'dir':
        await mkdir(path, { recursive: true });
        break;
      case 'linkdir':
        await symlink('..', path);
        break;
      case 'noexist':
        await writeFile(path, '');
        break;
    }
  }
}

export const hubTarget: FuzzTarget<HubLayout> = {
  name: 'hub cache',
  parser: 'src/node/hub.ts (hubSource, offline) -> readCheckpoint, ASTConfig',
  inputs: hubLayout,
  async run(layout) {
    await writeLayout(layout);
    const src = hubSource(REPO, { cacheDir: cacheRoot, offline: true, revision: layout.revision, env: {} });
    // Every public reading path; each may refuse with a FormatError, anything else is a crash.
    const attempts: (() => Promise<unknown>)[] = [
      ...HUB_FILES.map((name) => async () => ((await src.exists(name)) ? src.read(name) : undefined)),
      async () => checkTensors((await readCheckpoint(src)).tensors),
      () => ASTConfig.fromPretrained(src),
      () => ASTFeatureExtractor.fromPretrained(src),
    ];
    for (const attempt of attempts) {
      try {
        await attempt();
      } catch (err) {
        if (!(err instanceof FormatError) || !err.file.includes(`hub:${REPO}`) || err instanceof InvalidResult) throw err;
      }
    }
  },
  size: (layout) => layout.files.reduce((s, f) => s + f.content.length, 0) + 64,
  bound: (n) => n + MiB,
  fileTag: `hub:${REPO}`,
  async teardown() {
    await rm(cacheRoot, { recursive: true, force: true });
  },
};

export const TARGETS = [wavTarget, decodeTarget, safetensorsTarget, checkpointTarget, npyTarget, torchTarget, configTarget, preprocessorTarget, hubTarget] as FuzzTarget<unknown>[];
