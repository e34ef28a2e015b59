import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTorchCheckpoint, readZipEntries } from '../../src/io/torch-pickle.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { readCheckpointTensors } from '../../src/io/checkpoint.js';
import { memorySource } from '../../src/io/files.js';
import type { Tensor } from '../../src/tensor.js';
import { fixturesDir } from '../helpers/fixtures.js';

// ---- A writer for torch.save's layout, built here from the format (not from our reader):
// zip of STORED entries <root>/data.pkl, <root>/data/<key>, <root>/version, each entry's data
// 64-byte aligned through an "FB" padding extra field, as torch's writer (miniz) does.

const enc = new TextEncoder();

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function zipStored(files: [string, Uint8Array][]): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of files) {
    const nameBytes = enc.encode(name);
    const base = offset + 30 + nameBytes.length + 4; // 4: the padding field's own header
    const pad = (64 - (base % 64)) % 64;
    const local = new Uint8Array(30 + nameBytes.length + 4 + pad);
    const v = new DataView(local.buffer);
    v.setUint32(0, 0x04034b50, true);
    v.setUint16(4, 20, true);
    v.setUint32(14, crc32(data), true);
    v.setUint32(18, data.length, true);
    v.setUint32(22, data.length, true);
    v.setUint16(26, nameBytes.length, true);
    v.setUint16(28, 4 + pad, true);
    local.set(nameBytes, 30);
    v.setUint16(30 + nameBytes.length, 0x4246, true); // "FB"
    v.setUint16(32 + nameBytes.length, pad, true);
    const c = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(16, crc32(data), true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, offset, true);
    c.set(nameBytes, 46);
    central.push(c);
    chunks.push(local, data);
    offset += local.length + data.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, files.length, true);
  ev.setUint16(10, files.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const all = [...chunks, ...central, end];
  const out = new Uint8Array(all.reduce((s, c) => s + c.length, 0));
  let p = 0;
  for (const c of all) out.set(c, p), (p += c.length);
  return out;
}

/** Pickle protocol 2 opcodes, as Python's pickle writes them. */
class Pickle {
  private bytes: number[] = [0x80, 2]; // PROTO 2
  op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  str(s: string): this {
    const u = enc.encode(s);
    return this.op(0x58, u.length & 255, (u.length >> 8) & 255, (u.length >> 16) & 255, u.length >>> 24, ...u); // BINUNICODE
  }
  int(n: number): this {
    if (n < 256) return this.op(0x4b, n); // BININT1
    if (n < 65536) return this.op(0x4d, n & 255, n >> 8); // BININT2
    return this.op(0x4a, n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255); // BININT
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...enc.encode(`${module}\n${name}\n`)); // GLOBAL
  }
  tuple(items: number[]): this {
    if (items.length === 0) return this.op(0x29);
    this.op(0x28);
    for (const x of items) this.int(x);
    return this.op(0x74);
  }
  put(i: number): this {
    return this.op(0x71, i); // BINPUT
  }
  get(i: number): this {
    return this.op(0x68, i); // BINGET
  }
  done(): Uint8Array {
    return new Uint8Array([...this.bytes, 0x2e]); // STOP
  }
}

interface Entry {
  name: string;
  storage: 'FloatStorage' | 'HalfStorage' | 'BFloat16Storage' | 'LongStorage';
  key: string;
  numel: number;
  offset: number;
  size: number[];
  stride: number[];
  parameter?: boolean;
}

/** data.pkl of an OrderedDict state dict, opcode for opcode as torch.save writes it (memo slot 0: OrderedDict, 1: _rebuild_tensor_v2). */
function stateDictPickle(entries: Entry[], withMetadata = true): Uint8Array {
  const p = new Pickle().global('collections', 'OrderedDict').put(0).op(0x29, 0x52).op(0x28); // OrderedDict() MARK
  let first = true;
  for (const e of entries) {
    p.str(e.name);
    if (e.parameter) p.global('torch._utils', '_rebuild_parameter').op(0x28);
    if (first) p.global('torch._utils', '_rebuild_tensor_v2').put(1);
    else p.get(1);
    first = false;
    p.op(0x28).op(0x28).str('storage').global('torch', e.storage).str(e.key).str('cpu').int(e.numel).op(0x74, 0x51); // (…) BINPERSID
    p.int(e.offset).tuple(e.size).tuple(e.stride).op(0x89); // NEWFALSE requires_grad
    p.get(0).op(0x29, 0x52); // OrderedDict() backward hooks
    p.op(0x74, 0x52); // TUPLE REDUCE
    if (e.parameter) p.op(0x89).get(0).op(0x29, 0x52).op(0x74, 0x52); // (tensor, False, OrderedDict()) REDUCE
  }
  p.op(0x75); // SETITEMS
  if (withMetadata) {
    // state_dict()._metadata = {'': {'version': 1}} set with BUILD, as torch does
    p.op(0x7d).str('_metadata').get(0).op(0x29, 0x52).str('').op(0x7d).str('version').int(1).op(0x73, 0x73, 0x73, 0x62);
  }
  return p.done();
}

function checkpoint(pkl: Uint8Array, storages: Record<string, Uint8Array>, root = 'archive'): Uint8Array {
  return zipStored([
    [`${root}/data.pkl`, pkl],
    ...Object.entries(storages).map(([k, b]): [string, Uint8Array] => [`${root}/data/${k}`, b]),
    [`${root}/version`, enc.encode('3\n')],
  ]);
}

const f32 = (...x: number[]) => new Uint8Array(new Float32Array(x).buffer);

test('a state dict with offsets, strides, fp16/bf16/int64 and a Parameter', () => {
  const base = f32(...Array.from({ length: 12 }, (_, i) => i)); // storage "0": 0..11
  const half = new Uint8Array(new Uint16Array([0x3e00, 0xc000]).buffer); // 1.5, -2
  const bf = new Uint8Array(new Uint16Array([0x3f80, 0x4049]).buffer); // 1, 3.140625
  const ids = new Uint8Array(new BigInt64Array([7n, -3n]).buffer);
  const pkl = stateDictPickle([
    { name: 'w', storage: 'FloatStorage', key: '0', numel: 12, offset: 0, size: [3, 4], stride: [4, 1] },
    { name: 'view', storage: 'FloatStorage', key: '0', numel: 12, offset: 4, size: [2, 3], stride: [3, 1] }, // base[4:10].reshape(2, 3)
    { name: 't', storage: 'FloatStorage', key: '0', numel: 12, offset: 0, size: [4, 3], stride: [1, 4] }, // base.reshape(3, 4).t()
    { name: 'col', storage: 'FloatStorage', key: '0', numel: 12, offset: 1, size: [3], stride: [4] }, // base.reshape(3, 4)[:, 1]
    { name: 'h', storage: 'HalfStorage', key: '1', numel: 2, offset: 0, size: [2], stride: [1] },
    { name: 'b', storage: 'BFloat16Storage', key: '2', numel: 2, offset: 0, size: [2], stride: [1], parameter: true },
    { name: 'ids', storage: 'LongStorage', key: '3', numel: 2, offset: 0, size: [2], stride: [1] },
    { name: 'scalar', storage: 'FloatStorage', key: '0', numel: 12, offset: 11, size: [], stride: [] },
  ]);
  const sd = parseTorchCheckpoint(checkpoint(pkl, { '0': base, '1': half, '2': bf, '3': ids }), 'pytorch_model.bin');
  const values = (t: Tensor) => [...(t.data as Iterable<number | bigint>)];
  assert.deepEqual([...sd.keys()], ['w', 'view', 't', 'col', 'h', 'b', 'ids', 'scalar']);
  assert.deepEqual(sd.get('w')!.dims, [3, 4]);
  assert.deepEqual(values(sd.get('w')!), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(values(sd.get('view')!), [4, 5, 6, 7, 8, 9]);
  assert.deepEqual(values(sd.get('t')!), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  assert.deepEqual(values(sd.get('col')!), [1, 5, 9]);
  assert.equal(sd.get('h')!.dtype, 'float16');
  assert.deepEqual(values(sd.get('h')!), [0x3e00, 0xc000]);
  assert.equal(sd.get('b')!.dtype, 'bfloat16');
  assert.deepEqual(values(sd.get('b')!), [0x3f80, 0x4049]);
  assert.deepEqual(values(sd.get('ids')!), [7n, -3n]);
  assert.deepEqual(sd.get('scalar')!.dims, []);
  assert.deepEqual(values(sd.get('scalar')!), [11]);
});

test('the tiny fixture as pytorch_model.bin loads to the same tensors as its model.safetensors', async () => {
  const file = join(fixturesDir, 'models', 'tiny', 'model.safetensors');
  const st = parseSafetensors(new Uint8Array(readFileSync(file)), file).tensors;
  const storages: Record<string, Uint8Array> = {};
  const entries: Entry[] = [];
  for (const [name, t] of st) {
    const key = String(entries.length);
    const d = t.data as Float32Array;
    storages[key] = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    const stride = t.dims.map((_, i) => t.dims.slice(i + 1).reduce((a, b) => a * b, 1));
    entries.push({ name, storage: 'FloatStorage', key, numel: d.length, offset: 0, size: [...t.dims], stride });
  }
  const bin = checkpoint(stateDictPickle(entries), storages, 'pytorch_model');
  const fromBin = await readCheckpointTensors(memorySource({ 'pytorch_model.bin': bin }, '/tiny'));
  assert.deepEqual([...fromBin.keys()], [...st.keys()]);
  for (const [name, t] of st) {
    assert.deepEqual(fromBin.get(name)!.dims, t.dims, name);
    assert.deepEqual(fromBin.get(name)!.data, t.data, name);
  }
  // model.safetensors wins when both are present, as in transformers.
  const both = await readCheckpointTensors(memorySource({ 'pytorch_model.bin': new Uint8Array(4), 'model.safetensors': new Uint8Array(readFileSync(file)) }, '/both'));
  assert.equal(both.size, st.size);
});

/** A pickle that runs `callable(arg)` on load, the way a malicious __reduce__ does. */
function callingPickle(module: string, name: string, arg: string): Uint8Array {
  return new Pickle().global(module, name).op(0x28).str(arg).op(0x74, 0x52).done();
}

test('a pickle calling os.system (or posix.system, builtins.eval, …) is refused before anything runs', () => {
  for (const [m, n] of [['os', 'system'], ['posix', 'system'], ['builtins', 'eval'], ['builtins', 'exec'], ['subprocess', 'Popen'], ['torch', 'load']]) {
    const bin = checkpoint(callingPickle(m, n, 'echo pwned'), {});
    assert.throws(
      () => parseTorchCheckpoint(bin, 'evil.bin'),
      new RegExp(`^Error: evil.bin: refusing to load global ${m}.${n}: only tensors and containers are allowed`),
    );
  }
  // The malicious call hidden inside an otherwise normal state dict.
  const p = new Pickle().global('collections', 'OrderedDict').op(0x29, 0x52, 0x28).str('x').global('os', 'system').op(0x28).str('id').op(0x74, 0x52, 0x75).done();
  assert.throws(() => parseTorchCheckpoint(checkpoint(p, {}), 'evil.bin'), /refusing to load global os.system/);
});

test('REDUCE on anything but an allowed global, and unknown opcodes, are refused', () => {
  const reduceOnTuple = new Pickle().op(0x29, 0x29, 0x52).done(); // () () REDUCE
  assert.throws(() => parseTorchCheckpoint(checkpoint(reduceOnTuple, {}), 'x.bin'), /x.bin: refusing REDUCE on a tuple\/list/);
  const inst = new Pickle().op(0x28).op(0x69, ...enc.encode('os\nsystem\n')).done(); // INST
  assert.throws(() => parseTorchCheckpoint(checkpoint(inst, {}), 'x.bin'), /x.bin: refusing pickle opcode 0x69 \('i'\)/);
  const newobj = new Pickle().global('collections', 'OrderedDict').op(0x29, 0x81).done(); // NEWOBJ
  assert.throws(() => parseTorchCheckpoint(checkpoint(newobj, {}), 'x.bin'), /refusing pickle opcode 0x81/);
  const buildOnGlobal = new Pickle().global('torch', 'FloatStorage').op(0x7d, 0x62).done(); // BUILD on a class
  assert.throws(() => parseTorchCheckpoint(checkpoint(buildOnGlobal, {}), 'x.bin'), /refusing BUILD on torch.FloatStorage/);
});

test('truncated and malformed files give clear errors', () => {
  const good = checkpoint(stateDictPickle([{ name: 'w', storage: 'FloatStorage', key: '0', numel: 2, offset: 0, size: [2], stride: [1] }]), { '0': f32(1, 2) });
  assert.equal(parseTorchCheckpoint(good, 'ok.bin').size, 1);
  for (const cut of [good.length - 1, good.length - 30, Math.floor(good.length / 2), 100]) {
    assert.throws(() => parseTorchCheckpoint(good.subarray(0, cut), 'cut.bin'), /^Error: cut.bin: truncated/);
  }
  assert.throws(() => parseTorchCheckpoint(new Uint8Array([0x80, 0x02, 0x8a, 0x0a]), 'old.bin'), /old.bin: legacy torch.save format \(PyTorch < 1.6\)/);
  assert.throws(() => parseTorchCheckpoint(enc.encode('hello world'), 'txt.bin'), /txt.bin: not a PyTorch checkpoint \(not a zip archive\)/);
  assert.throws(() => parseTorchCheckpoint(zipStored([['a/b.txt', enc.encode('x')]]), 'z.bin'), /z.bin: not a PyTorch checkpoint \(no <name>\/data.pkl/);
  // storage shorter than the persistent id says
  const short = checkpoint(stateDictPickle([{ name: 'w', storage: 'FloatStorage', key: '0', numel: 3, offset: 0, size: [3], stride: [1] }]), { '0': f32(1, 2) });
  assert.throws(() => parseTorchCheckpoint(short, 's.bin'), /s.bin: storage 0 has 8 bytes but 3 x FloatStorage needs 12/);
  // a view reaching past its storage
  const past = checkpoint(stateDictPickle([{ name: 'w', storage: 'FloatStorage', key: '0', numel: 2, offset: 1, size: [2], stride: [1] }]), { '0': f32(1, 2) });
  assert.throws(() => parseTorchCheckpoint(past, 'p.bin'), /p.bin: tensor size \(2\) stride \(1\) offset 1 reaches element 2 of storage 0 \(2 elements\)/);
  const missing = checkpoint(stateDictPickle([{ name: 'w', storage: 'FloatStorage', key: '9', numel: 2, offset: 0, size: [2], stride: [1] }]), {});
  assert.throws(() => parseTorchCheckpoint(missing, 'm.bin'), /m.bin: storage archive\/data\/9 is missing/);
  // a truncated pickle inside an intact zip
  const pkl = stateDictPickle([{ name: 'w', storage: 'FloatStorage', key: '0', numel: 2, offset: 0, size: [2], stride: [1] }]);
  assert.throws(() => parseTorchCheckpoint(checkpoint(pkl.subarray(0, pkl.length - 10), { '0': f32(1, 2) }), 'tp.bin'), /tp.bin: (truncated pickle|corrupt pickle)/);
  // a pickle that is not a dict of tensors
  assert.throws(() => parseTorchCheckpoint(checkpoint(new Pickle().int(5).done(), {}), 'n.bin'), /n.bin: not a state dict \(the pickle holds number\)/);
});

test('zip reader: entries and their bytes', () => {
  const z = zipStored([['r/a', enc.encode('hello')], ['r/b', new Uint8Array([1, 2, 3])]]);
  const e = readZipEntries(z, 'z');
  assert.deepEqual([...e.keys()], ['r/a', 'r/b']);
  assert.equal(new TextDecoder().decode(e.get('r/a')), 'hello');
  assert.deepEqual([...e.get('r/b')!], [1, 2, 3]);
});
