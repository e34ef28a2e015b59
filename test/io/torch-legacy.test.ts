/**
 * The legacy torch.save format (PyTorch < 1.6, `_use_new_zipfile_serialization=False`), on files written
 * by real PyTorch (scripts/make-legacy-torch-checkpoints.py, committed under test/data/legacy-torch):
 * every tensor equals the safetensors path bit for bit, and the model's logits are identical; hostile
 * pickles (`__reduce__` to os.system) in both formats are refused before anything runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import '../../src/node/index.js';
import { parseTorchCheckpoint } from '../../src/io/torch-pickle.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { memorySource } from '../../src/io/files.js';
import { FormatError } from '../../src/io/errors.js';
import { ASTForAudioClassification } from '../../src/model/ast.js';
import { REPO_ROOT, fixturesDir, readFixtureNpy } from '../helpers/fixtures.js';

const dataDir = join(REPO_ROOT, 'test/data/legacy-torch');
const tinyDir = join(fixturesDir, 'models/tiny');
const MARKER = '/tmp/ast-audio-legacy-pickle-ran'; // what the malicious pickles would `touch`

/** Each legacy file and the safetensors file holding the same tensors (written by the same script, or the fixture). */
const VARIANTS = [
  { name: 'fp32', dtype: 'float32', safetensors: join(tinyDir, 'model.safetensors') },
  { name: 'fp16', dtype: 'float16', safetensors: join(dataDir, 'fp16/model.safetensors') },
  { name: 'bf16', dtype: 'bfloat16', safetensors: join(dataDir, 'bf16/model.safetensors') },
  { name: 'shared', dtype: 'float32', safetensors: join(tinyDir, 'model.safetensors') },
] as const;

const bytesOf = (d: ArrayBufferView) => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

for (const v of VARIANTS) {
  test(`legacy torch.save ${v.name}: every tensor equals the safetensors path, and so do the logits`, async () => {
    const legacyBytes = readFileSync(join(dataDir, v.name, 'pytorch_model.bin'));
    const legacy = parseTorchCheckpoint(legacyBytes, `${v.name}/pytorch_model.bin`);
    const expected = parseSafetensors(readFileSync(v.safetensors), v.safetensors).tensors;
    assert.deepEqual([...legacy.keys()].sort(), [...expected.keys()].sort());
    for (const [name, t] of expected) {
      const got = legacy.get(name)!;
      assert.equal(got.dtype, v.dtype, name);
      assert.deepEqual(got.dims, t.dims, name);
      assert.deepEqual(bytesOf(got.data), bytesOf(t.data), `${v.name}: ${name} differs`);
    }

    const config = readFileSync(join(tinyDir, 'config.json'));
    const x = readFixtureNpy('models/tiny/case-single_label/input_values.npy');
    const inputValues = { dtype: 'float32' as const, dims: x.shape, data: x.data as Float32Array };
    const viaLegacy = await ASTForAudioClassification.fromPretrained(memorySource({ 'config.json': config, 'pytorch_model.bin': legacyBytes }, 'legacy'));
    const viaSafetensors = await ASTForAudioClassification.fromPretrained(
      memorySource({ 'config.json': config, 'model.safetensors': readFileSync(v.safetensors) }, 'st'),
    );
    try {
      const a = (await viaLegacy.forward({ inputValues })).logits;
      const b = (await viaSafetensors.forward({ inputValues })).logits;
      assert.deepEqual(a.dims, b.dims);
      assert.deepEqual([...a.data], [...b.data], `${v.name}: logits differ`);
    } finally {
      await viaLegacy.dispose();
      await viaSafetensors.dispose();
    }
  });
}

test('the shared-storage file really shares: query/key/value are views at offsets of one storage, the classifier is strided', () => {
  // Independent of our reader: the pickle names each storage key once per tensor that uses it.
  const bytes = readFileSync(join(dataDir, 'shared/pytorch_model.bin'));
  const text = new TextDecoder('latin1').decode(bytes);
  const keys = new Set([...text.matchAll(/X[\x01-\x20]\x00\x00\x00(\d+)q/g)].map((m) => m[1])); // BINUNICODE '<key digits>' BINPUT
  const tensors = parseTorchCheckpoint(bytes, 'shared.bin');
  assert.ok(keys.size > 0 && keys.size < tensors.size, `${keys.size} storages for ${tensors.size} tensors`);
});

for (const file of ['malicious-legacy.bin', 'malicious-zip.bin']) {
  test(`${file}: a pickle whose __reduce__ calls os.system is refused, nothing runs`, () => {
    const bytes = readFileSync(join(dataDir, file));
    assert.throws(
      () => parseTorchCheckpoint(bytes, file),
      (err: unknown) =>
        err instanceof FormatError &&
        new RegExp(`^${file}: refusing to load global (posix|os)\\.system: only tensors and containers are allowed`).test(err.message),
    );
    assert.equal(existsSync(MARKER), false);
  });
}

/** The fp32 legacy file's layout, found from the format: after the storage-key list pickle come (int64 count, bytes) records. */
function lastStorageCountOffset(bytes: Uint8Array): number {
  // The last storage record is the last 8 + 4n bytes; its count is n.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = bytes.length - 12; at > 0; at--) {
    const n = view.getBigInt64(at, true);
    if (n > 0n && BigInt(at) + 8n + n * 4n === BigInt(bytes.length)) return at;
  }
  throw new Error('no storage record found');
}

test('legacy files with lying or missing storage sizes are refused before anything is allocated', () => {
  const good = new Uint8Array(readFileSync(join(dataDir, 'fp32/pytorch_model.bin')));
  const at = lastStorageCountOffset(good);
  for (const count of [0n, 2n ** 31n, 2n ** 63n - 1n, -1n]) {
    const bad = good.slice();
    new DataView(bad.buffer).setBigInt64(at, count, true);
    assert.throws(() => parseTorchCheckpoint(bad, 'lie.bin'), /^Error: lie\.bin: storage \d+ holds -?\d+ elements but the pickle says \d+ x FloatStorage/);
  }
  assert.throws(() => parseTorchCheckpoint(good.subarray(0, good.length - 1), 'cut.bin'), /^Error: cut\.bin: truncated legacy torch\.save file: storage \d+ needs/);
  assert.throws(() => parseTorchCheckpoint(good.subarray(0, at), 'cut.bin'), /^Error: cut\.bin: truncated legacy torch\.save file \(storage \d+ is missing\)/);
});
