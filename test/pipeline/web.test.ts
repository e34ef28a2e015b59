/**
 * The pipeline with only what a browser has: onnxruntime-web (WASM, here in Node), files from memory,
 * audio as bytes. Nothing from src/node is imported, so no file reader or Hub resolver is registered.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import * as ortWeb from 'onnxruntime-web';
import { registerRuntime } from '../../src/runtime/backend.js';
import { memorySource } from '../../src/io/files.js';
import { pipeline } from '../../src/pipeline/audio-classification.js';
import { fixturesDir, maxAbsDiff, readFixtureNpy } from '../helpers/fixtures.js';

const require = createRequire(import.meta.url);
ortWeb.env.wasm.numThreads = 1;
ortWeb.env.wasm.wasmPaths = pathToFileURL(join(dirname(require.resolve('onnxruntime-web')), '/')).href;

test('pipeline on onnxruntime-web with in-memory files: scores = softmax over PyTorch logits', { timeout: 60_000 }, async () => {
  registerRuntime({ name: 'web', ort: ortWeb, defaultExecutionProviders: ['wasm'] });
  const dir = join(fixturesDir, 'models/tiny');
  const files = Object.fromEntries(
    ['config.json', 'preprocessor_config.json', 'model.safetensors'].map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]),
  );
  const classify = await pipeline('audio-classification', memorySource(files, 'upload'));
  try {
    const bytes = new Uint8Array(readFileSync(join(fixturesDir, 'audio/chirp_16k.wav')));
    const out = await classify(bytes, { topK: null });
    // chirp is row 1 of the single-label case; softmax written here in float64.
    const logits = Array.from(readFixtureNpy('models/tiny/case-single_label/logits.npy').data as Float32Array).slice(5, 10);
    const max = Math.max(...logits);
    const sum = logits.reduce((s, x) => s + Math.exp(x - max), 0);
    const expected = logits.map((x, i) => ({ label: `class_${i}`, score: Math.exp(x - max) / sum })).sort((a, b) => b.score - a.score);
    assert.deepEqual(out.map((r) => r.label), expected.map((r) => r.label));
    // Same tolerance as the Node pipeline test (measured here: printed below).
    const d = maxAbsDiff(out.map((r) => r.score), expected.map((r) => r.score));
    console.log(`# onnxruntime-web pipeline max |score - torch softmax| = ${d.toExponential(2)}`);
    assert.ok(d <= 2e-5);
    // A file path needs the Node entry's reader; the error says so instead of failing obscurely.
    await assert.rejects(classify('clip.wav'), /clip\.wav: reading a file path needs the Node entry/);
  } finally {
    await classify.dispose();
  }
});

test('device on onnxruntime-web: wasm honoured (same scores as the default), cpu refused with the browser list', { timeout: 60_000 }, async () => {
  registerRuntime({ name: 'web', ort: ortWeb, defaultExecutionProviders: ['wasm'] });
  const dir = join(fixturesDir, 'models/tiny');
  const files = Object.fromEntries(
    ['config.json', 'preprocessor_config.json', 'model.safetensors'].map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]),
  );
  const bytes = new Uint8Array(readFileSync(join(fixturesDir, 'audio/chirp_16k.wav')));
  const plain = await pipeline('audio-classification', memorySource(files, 'upload'));
  const wasm = await pipeline('audio-classification', memorySource(files, 'upload'), { device: 'wasm' });
  try {
    assert.deepEqual(await wasm(bytes, { top_k: null }), await plain(bytes, { topK: null }));
  } finally {
    await plain.dispose();
    await wasm.dispose();
  }
  await assert.rejects(
    pipeline('audio-classification', memorySource(files, 'upload'), { device: 'cpu' }),
    /device "cpu" is not available in a browser \(onnxruntime-web\): use one of 'auto', 'wasm', 'webgpu'; cpu and cuda are the Node build's/,
  );
});
