import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensors, formatSafetensors, readSafetensorsHeader } from '../../src/io/safetensors.js';
import { readCheckpointTensors } from '../../src/io/checkpoint.js';
import { memorySource } from '../../src/io/files.js';
import type { Tensor } from '../../src/tensor.js';
import { fixturesDir } from '../helpers/fixtures.js';

const enc = new TextEncoder();

/** A safetensors file assembled by hand: header text exactly as given, then the raw data bytes. */
function handMade(header: string, data: Uint8Array): Uint8Array {
  const h = enc.encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function le(...parts: [('f32' | 'u16' | 'i64' | 'f64' | 'u8'), number][]): Uint8Array {
  const size = { f32: 4, u16: 2, i64: 8, f64: 8, u8: 1 };
  const out = new Uint8Array(parts.reduce((s, [k]) => s + size[k], 0));
  const v = new DataView(out.buffer);
  let o = 0;
  for (const [k, x] of parts) {
    if (k === 'f32') v.setFloat32(o, x, true);
    else if (k === 'u16') v.setUint16(o, x, true);
    else if (k === 'i64') v.setBigInt64(o, BigInt(x), true);
    else if (k === 'f64') v.setFloat64(o, x, true);
    else v.setUint8(o, x);
    o += size[k];
  }
  return out;
}

// Every safetensors file among the fixtures, all written by the reference oracle (Python, its own writer).
const stFiles: string[] = [];
for (const m of readdirSync(join(fixturesDir, 'models'))) {
  const dir = join(fixturesDir, 'models', m);
  if (existsSync(join(dir, 'model.safetensors'))) stFiles.push(join(dir, 'model.safetensors'));
  for (const c of readdirSync(dir)) {
    for (const f of ['grads.safetensors', 'after_adamw_step.safetensors']) {
      if (existsSync(join(dir, c, f))) stFiles.push(join(dir, c, f));
    }
  }
}

test('fixtures: every file parses and re-formats to the same bytes as the Python writer', () => {
  assert.ok(stFiles.length >= 4, `found ${stFiles.length} fixture files`);
  for (const file of stFiles) {
    const bytes = new Uint8Array(readFileSync(file));
    const { tensors, metadata } = parseSafetensors(bytes, file);
    assert.ok(tensors.size > 0, file);
    const again = formatSafetensors(tensors, metadata);
    assert.equal(again.length, bytes.length, file);
    assert.ok(Buffer.from(again).equals(Buffer.from(bytes)), `${file}: re-formatted bytes differ`);
  }
});

test('fixtures: dtypes follow the config torch_dtype (fp32 tiny, fp16 shallow-base, bf16 strided)', () => {
  const expected: Record<string, string> = { tiny: 'float32', 'shallow-base': 'float16', strided: 'bfloat16', regression: 'float32' };
  for (const [m, dtype] of Object.entries(expected)) {
    const file = join(fixturesDir, 'models', m, 'model.safetensors');
    const { tensors, metadata } = parseSafetensors(new Uint8Array(readFileSync(file)), file);
    for (const [name, t] of tensors) assert.equal(t.dtype, dtype, `${m} ${name}`);
    assert.deepEqual(metadata, { format: 'pt' });
  }
});

test('hand-made file: F32, F16, BF16, I64, BOOL, F64 values and shapes', () => {
  const data = le(
    ['f64', 0.1], ['f64', -3],                    // d: F64 [2]       0..16
    ['i64', -5], ['i64', 2 ** 40],                 // i: I64 [2]       16..32
    ['f32', 1.5], ['f32', -2], ['f32', 0.25], ['f32', 1e-7], // a: F32 [2, 2] 32..48
    ['u16', 0x3c00], ['u16', 0xc000], ['u16', 0x0001], // h: F16 [3]  48..54 : 1, -2, 2^-24
    ['u16', 0x3f80], ['u16', 0x4049],              // b: BF16 [2]      54..58 : 1, 3.140625
    ['u8', 1], ['u8', 0],                          // m: BOOL [2]      58..60
  );
  const header = JSON.stringify({
    __metadata__: { format: 'pt', note: 'hand' },
    a: { dtype: 'F32', shape: [2, 2], data_offsets: [32, 48] },
    h: { dtype: 'F16', shape: [3], data_offsets: [48, 54] },
    b: { dtype: 'BF16', shape: [2], data_offsets: [54, 58] },
    i: { dtype: 'I64', shape: [2], data_offsets: [16, 32] },
    m: { dtype: 'BOOL', shape: [2], data_offsets: [58, 60] },
    d: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
  });
  const { tensors, metadata } = parseSafetensors(handMade(header, data), 'hand.safetensors');
  assert.deepEqual(metadata, { format: 'pt', note: 'hand' });
  const a = tensors.get('a')!;
  assert.equal(a.dtype, 'float32');
  assert.deepEqual(a.dims, [2, 2]);
  assert.deepEqual([...(a.data as Float32Array)], [1.5, -2, 0.25, Math.fround(1e-7)]);
  assert.deepEqual([...(tensors.get('h')!.data as Uint16Array)], [0x3c00, 0xc000, 0x0001]);
  assert.equal(tensors.get('h')!.dtype, 'float16');
  assert.deepEqual([...(tensors.get('b')!.data as Uint16Array)], [0x3f80, 0x4049]);
  assert.equal(tensors.get('b')!.dtype, 'bfloat16');
  assert.deepEqual([...(tensors.get('i')!.data as BigInt64Array)], [-5n, 2n ** 40n]);
  assert.deepEqual([...(tensors.get('m')!.data as Uint8Array)], [1, 0]);
  // F64 is narrowed to float32 (no float64 tensors in the library).
  assert.equal(tensors.get('d')!.dtype, 'float32');
  assert.deepEqual([...(tensors.get('d')!.data as Float32Array)], [Math.fround(0.1), -3]);
});

test('aligned tensors are views into the file; misaligned ones are copied with the right values', () => {
  const file = join(fixturesDir, 'models', 'tiny', 'model.safetensors');
  const bytes = new Uint8Array(readFileSync(file));
  const { tensors } = parseSafetensors(bytes, file);
  for (const t of tensors.values()) assert.equal(t.data.buffer, bytes.buffer, 'expected a zero-copy view');

  // This header's length puts the data start off a 4-byte boundary: misaligned for F32.
  const header = '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  assert.notEqual((8 + header.length) % 4, 0, 'test needs a misaligned data start');
  const b = handMade(header, le(['f32', 3.5], ['f32', -1.25]));
  const x = parseSafetensors(b, 'misaligned').tensors.get('x')!;
  assert.notEqual(x.data.buffer, b.buffer);
  assert.deepEqual([...(x.data as Float32Array)], [3.5, -1.25]);
});

test('formatSafetensors: round trip of mixed dtypes, sorted names, 8-byte aligned space-padded header', () => {
  const tensors: Record<string, Tensor> = {
    'z.weight': { dtype: 'float32', dims: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
    'a.half': { dtype: 'float16', dims: [3], data: new Uint16Array([0x3c00, 0x4000, 0x7bff]) },
    'm.bf': { dtype: 'bfloat16', dims: [1], data: new Uint16Array([0xbf80]) },
    'b.ids': { dtype: 'int64', dims: [2], data: new BigInt64Array([7n, -9n]) },
    'c.mask': { dtype: 'bool', dims: [3], data: new Uint8Array([1, 0, 1]) },
    'e.empty': { dtype: 'float32', dims: [0, 4], data: new Float32Array(0) },
  };
  const bytes = formatSafetensors(tensors, { format: 'pt' });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.match(headerText, /^\{.*\} *$/);
  const keys = Object.keys(JSON.parse(headerText)).filter((k) => k !== '__metadata__');
  assert.deepEqual(keys, [...keys].sort());
  // Each tensor starts at a multiple of its element size (widest first), from an 8-aligned data start.
  const header = JSON.parse(headerText) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const width: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, BOOL: 1 };
  for (const k of keys) assert.equal(header[k]!.data_offsets[0] % width[header[k]!.dtype]!, 0, k);

  const back = parseSafetensors(bytes, 'roundtrip');
  assert.deepEqual(back.metadata, { format: 'pt' });
  assert.deepEqual([...back.tensors.keys()].sort(), Object.keys(tensors).sort());
  for (const [k, t] of Object.entries(tensors)) {
    const u = back.tensors.get(k)!;
    assert.equal(u.dtype, t.dtype, k);
    assert.deepEqual(u.dims, t.dims, k);
    assert.deepEqual([...(u.data as ArrayLike<number | bigint> & Iterable<number | bigint>)], [...(t.data as Iterable<number | bigint>)], k);
  }
  // A Map in gives the same bytes as a record.
  assert.ok(Buffer.from(formatSafetensors(new Map(Object.entries(tensors)), { format: 'pt' })).equals(Buffer.from(bytes)));
});

test('formatSafetensors refuses a shape/data mismatch and a reserved name', () => {
  assert.throws(() => formatSafetensors({ w: { dtype: 'float32', dims: [3], data: new Float32Array(2) } }), /tensor "w" has 2 values but shape \[3\]/);
  assert.throws(() => formatSafetensors({ __metadata__: { dtype: 'float32', dims: [1], data: new Float32Array(1) } }), /reserved/);
});

// --- bad files: each error names the file and the problem
const good = formatSafetensors({ w: { dtype: 'float32', dims: [4], data: new Float32Array([1, 2, 3, 4]) } });
const goodHeaderLen = Number(new DataView(good.buffer).getBigUint64(0, true));

function withHeader(header: string, dataBytes: number): Uint8Array {
  return handMade(header, new Uint8Array(dataBytes));
}

const badFiles: [string, Uint8Array, RegExp][] = [
  ['empty file', new Uint8Array(0), /bad.st: truncated safetensors file \(0 bytes/],
  ['shorter than the length prefix', new Uint8Array(5), /bad.st: truncated safetensors file \(5 bytes/],
  ['header larger than the file', good.subarray(0, 8 + goodHeaderLen - 1), /bad.st: header length \d+ is larger than the file/],
  ['huge header length', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 2n ** 63n, true); return b; })(), /bad.st: header length 9223372036854775808 exceeds the 100000000-byte limit/],
  ['header length over the file, under the cap', (() => { const b = new Uint8Array(64); new DataView(b.buffer).setBigUint64(0, 1000n, true); return b; })(), /bad.st: header length 1000 is larger than the file \(64 bytes\)/],
  ['truncated data', good.subarray(0, good.length - 3), /bad.st: truncated safetensors file: tensors need 16 bytes of data but the file has 13/],
  ['corrupt JSON', withHeader('{"w": {"dtype": "F32", ', 0), /bad.st: corrupt safetensors header, not valid JSON/],
  ['not JSON at all', withHeader('PK\u0003\u0004xxxx', 0), /bad.st: not a safetensors file/],
  ['header is an array', withHeader('{}', 0).fill(0x5b, 8, 9), /not a safetensors file|not a JSON object|not valid JSON/],
  ['wrong dtype size', withHeader('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}', 8), /tensor "w": data_offsets \[0, 8\] hold 8 bytes but F32 \[4\] needs 16/],
  ['unknown dtype', withHeader('{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}', 16), /tensor "w": unknown dtype "F128"/],
  ['unsupported dtype', withHeader('{"w":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}', 1), /tensor "w": dtype I8 is not supported/],
  ['negative dim', withHeader('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}', 0), /shape must be a list of non-negative integers/],
  ['offsets reversed', withHeader('{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}', 8), /data_offsets must be \[begin, end\]/],
  ['overlap', withHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12), /tensors "a" and "b" overlap/],
  ['gap', withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8), /4 bytes before tensor "a" \(offset 0\) belong to no tensor/],
  ['trailing bytes', withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 12), /8 trailing bytes after the last tensor/],
  ['bad metadata', withHeader('{"__metadata__":{"n":1}}', 0), /__metadata__\["n"\] must be a string/],
];
for (const [what, bytes, message] of badFiles) {
  test(`bad file: ${what}`, () => {
    assert.throws(() => parseSafetensors(bytes, 'bad.st'), (err: Error) => err.message.startsWith('bad.st: ') && message.test(err.message));
  });
}

test('readSafetensorsHeader lists names, dtypes and shapes without touching data', () => {
  const h = readSafetensorsHeader(good, 'good.st');
  assert.deepEqual(h.tensors, [{ name: 'w', dtype: 'F32', shape: [4] }]);
});

test('readCheckpointTensors: model.safetensors, sharded index, and clear errors', async () => {
  const w = { dtype: 'float32', dims: [2], data: new Float32Array([1, 2]) } as const;
  const v = { dtype: 'float16', dims: [1], data: new Uint16Array([0x3c00]) } as const;
  const single = memorySource({ 'model.safetensors': formatSafetensors({ w, v }) }, '/ckpt');
  assert.deepEqual([...(await readCheckpointTensors(single)).keys()].sort(), ['v', 'w']);

  const index = (map: Record<string, string>) => enc.encode(JSON.stringify({ metadata: { total_size: 10 }, weight_map: map }));
  const shard1 = formatSafetensors({ w });
  const shard2 = formatSafetensors({ v });
  const sharded = memorySource({
    'model.safetensors.index.json': index({ w: 'model-00001-of-00002.safetensors', v: 'model-00002-of-00002.safetensors' }),
    'model-00001-of-00002.safetensors': shard1,
    'model-00002-of-00002.safetensors': shard2,
  }, '/sharded');
  const t = await readCheckpointTensors(sharded);
  assert.deepEqual([...(t.get('w')!.data as Float32Array)], [1, 2]);
  assert.deepEqual([...(t.get('v')!.data as Uint16Array)], [0x3c00]);

  await assert.rejects(
    readCheckpointTensors(memorySource({ 'model.safetensors.index.json': index({ w: '../../etc/passwd' }) }, '/evil')),
    /\/evil\/model.safetensors.index.json: weight_map names "..\/..\/etc\/passwd", which is not a file name/,
  );
  await assert.rejects(
    readCheckpointTensors(memorySource({ 'model.safetensors.index.json': index({ w: 'a.safetensors' }) }, '/m')),
    /shard \/m\/a.safetensors is missing/,
  );
  await assert.rejects(
    readCheckpointTensors(memorySource({ 'model.safetensors.index.json': index({ x: 'a.safetensors' }), 'a.safetensors': shard1 }, '/m')),
    /weight_map puts "x" in a.safetensors, but \/m\/a.safetensors does not hold it/,
  );
  await assert.rejects(
    readCheckpointTensors(memorySource({ 'model.safetensors.index.json': index({ w: 'a.safetensors', v: 'b.safetensors' }), 'a.safetensors': shard1, 'b.safetensors': formatSafetensors({ v, w }) }, '/m')),
    /tensor "w" is in two shards, a.safetensors and b.safetensors/,
  );
  await assert.rejects(
    readCheckpointTensors(memorySource({ 'model.safetensors.index.json': enc.encode('{"weight_map": ') }, '/m')),
    /\/m\/model.safetensors.index.json: not valid JSON/,
  );
  await assert.rejects(readCheckpointTensors(memorySource({}, '/nothing')), /\/nothing: no weights found; looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin/);
  await assert.rejects(
    readCheckpointTensors(memorySource({ 'model.safetensors': good.subarray(0, 20) }, '/cut')),
    /\/cut\/model.safetensors: header length \d+ is larger than the file/,
  );
});
