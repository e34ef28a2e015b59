/**
 * q8's load path for local safetensors checkpoints: the encoder Linears' float32 weights are left in the file
 * (loadPretrained's `defer`) and read group by group into scratch buffers while quantising (LoadOptions.deferred).
 * Its result must be the whole-file path's (the path of Hub sources and fp16 / bf16 checkpoints): the same int8
 * bytes, so the same logits exactly; its accuracy against the PyTorch reference is test/model/low-precision.test.ts's
 * (whose fromPretrained loads now take this path for float32 fixtures).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import '../../src/node/index.js';
import { ASTForAudioClassification, ASTModel, isQ8LinearWeight } from '../../src/model/ast.js';
import { loadPretrained } from '../../src/model/pretrained.js';
import { dirSource } from '../../src/node/files.js';
import { memorySource } from '../../src/io/files.js';
import { hubSource } from '../../src/node/hub.js';
import { fixtureIndex, fixturesDir, readFixtureNpy } from '../helpers/fixtures.js';
import { startFakeHub } from '../hub/fake-hub.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const tiny = join(fixturesDir, 'models/tiny');

test('defer leaves exactly the encoder Linear weights in the file, checked and with their shapes', async () => {
  const whole = await loadPretrained(dirSource(tiny), { head: 'classification' });
  const part = await loadPretrained(dirSource(tiny), { head: 'classification', defer: isQ8LinearWeight });
  try {
    assert.ok(part.deferred, 'a local float32 safetensors checkpoint defers');
    const linears = [...whole.weights.keys()].filter((k) => isQ8LinearWeight(k.replace(/^audio_spectrogram_transformer\./, '')));
    // 6 per layer: query, key, value, attention output, intermediate, output
    assert.equal(linears.length, 6 * whole.config.num_hidden_layers);
    assert.deepEqual([...part.deferred.dims.keys()].sort(), [...linears].sort());
    for (const k of linears) {
      assert.ok(!part.weights.has(k), `${k} is not in weights`);
      assert.deepEqual(part.deferred.dims.get(k), whole.weights.get(k)!.dims);
      // read back: the file's bytes
      const into = new Float32Array(whole.weights.get(k)!.data.length);
      await part.deferred.read(k, into);
      assert.deepEqual(into, whole.weights.get(k)!.data);
    }
    for (const [k, t] of part.weights) assert.deepEqual(t.data, whole.weights.get(k)!.data, k);
    assert.equal(part.weights.size + linears.length, whole.weights.size);
  } finally {
    await part.deferred?.close();
  }
});

test('a Hub checkpoint defers too (read from its cached file), with the same logits as the whole-file path', async () => {
  const hub = await startFakeHub(tiny);
  const root = mkdtempSync(join(tmpdir(), 'ast-q8-hub-'));
  try {
    const src = hubSource(hub.repoId, { env: { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: join(root, 'cache') } });
    const part = await loadPretrained(src, { head: 'classification', defer: isQ8LinearWeight });
    assert.ok(part.deferred, 'the cached model.safetensors is read in parts');
    const whole = await loadPretrained(dirSource(tiny), { head: 'classification' });
    const a = await ASTForAudioClassification.fromWeights(whole.config, whole.weights, { threads: 1, dtype: 'q8' });
    const b = await ASTForAudioClassification.fromWeights(part.config, part.weights, { threads: 1, dtype: 'q8', deferred: part.deferred });
    try {
      const c = fixtureIndex.models.find((m) => m.model === 'tiny')!;
      const x = readFixtureNpy(`models/tiny/${c.case}/input_values.npy`);
      const input = { inputValues: { dtype: 'float32' as const, dims: x.shape, data: x.data as Float32Array } };
      assert.deepEqual((await b.forward(input)).logits.data, (await a.forward(input)).logits.data);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  } finally {
    await hub.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('sources without ranged reads, and non-float32 tensors, load whole as before', async () => {
  const src = dirSource(tiny);
  const bytes = { 'config.json': await src.read('config.json'), 'model.safetensors': await src.read('model.safetensors') };
  const mem = await loadPretrained(memorySource(bytes), { head: 'classification', preprocessor: 'optional', defer: isQ8LinearWeight });
  assert.equal(mem.deferred, undefined);
  // strided is a bf16 checkpoint: nothing to defer (its tensors are widened to float32 when read)
  const bf16 = await loadPretrained(dirSource(join(fixturesDir, 'models/strided')), { head: 'classification', defer: isQ8LinearWeight });
  assert.equal(bf16.deferred, undefined);
});

test('q8 quantised while reading gives the whole-file path\'s logits exactly, on every float32 fixture model', async () => {
  const models = [...new Set(fixtureIndex.models.map((c) => c.model))];
  for (const name of models) {
    const dir = join(fixturesDir, 'models', name);
    const c = fixtureIndex.models.find((m) => m.model === name)!;
    const x = readFixtureNpy(`models/${name}/${c.case}/input_values.npy`);
    const input = { inputValues: { dtype: 'float32' as const, dims: x.shape, data: x.data as Float32Array } };
    const whole = await loadPretrained(dirSource(dir), { head: 'classification' });
    const a = await ASTForAudioClassification.fromWeights(whole.config, whole.weights, { threads: 1, dtype: 'q8' });
    const b = await ASTForAudioClassification.fromPretrained(dir, { threads: 1, dtype: 'q8' });
    try {
      const [ya, yb] = [await a.forward(input), await b.forward(input)];
      assert.deepEqual(yb.logits.data, ya.logits.data, `${name}: logits`);
      assert.deepEqual(yb.lastHiddenState.data, ya.lastHiddenState.data, `${name}: last hidden state`);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  }
  // the bare encoder too (its weights are named without the base prefix)
  const base = await loadPretrained(dirSource(tiny), { head: 'base' });
  const a = await ASTModel.fromWeights(base.config, base.weights, { threads: 1, dtype: 'q8' });
  const b = await ASTModel.fromPretrained(tiny, { threads: 1, dtype: 'q8' });
  try {
    const x = readFixtureNpy(`models/tiny/${fixtureIndex.models.find((m) => m.model === 'tiny')!.case}/input_values.npy`);
    const input = { inputValues: { dtype: 'float32' as const, dims: x.shape, data: x.data as Float32Array } };
    assert.deepEqual((await b.forward(input)).poolerOutput.data, (await a.forward(input)).poolerOutput.data);
  } finally {
    await a.dispose();
    await b.dispose();
  }
});

test('weights left in the file are for q8 only: another dtype is a clear error', async () => {
  const part = await loadPretrained(dirSource(tiny), { head: 'classification', defer: isQ8LinearWeight });
  await assert.rejects(
    ASTForAudioClassification.fromWeights(part.config, part.weights, { threads: 1, dtype: 'fp32', deferred: part.deferred }),
    /weights left in the checkpoint file are read only by dtype q8 \(got dtype fp32\)/,
  );
  // closed by that error: a later read says so
  const [name, dims] = [...part.deferred!.dims][0]!;
  await assert.rejects(part.deferred!.read(name, new Float32Array(dims[0]! * dims[1]!)), /asked for after close\(\)/);
});
