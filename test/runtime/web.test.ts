/**
 * The ONNX bytes the engine builds run unchanged under onnxruntime-web (the browser runtime), here with
 * its WASM backend in Node, on the tiny checkpoint: logits match the PyTorch reference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ortWeb from 'onnxruntime-web';
import * as ortNode from 'onnxruntime-node';
import { registerRuntime } from '../../src/runtime/backend.js';
import { ASTForAudioClassification } from '../../src/model/ast.js';
import { dirSource } from '../../src/node/files.js';
import { fixturesDir, maxAbs, maxAbsDiff, readFixtureNpy } from '../helpers/fixtures.js';

// Node has no page to fetch the .wasm from: point onnxruntime-web at its own dist folder, one thread (no workers).
const require = createRequire(import.meta.url);
const webDist = join(dirname(require.resolve('onnxruntime-web')), '/');
ortWeb.env.wasm.numThreads = 1;
ortWeb.env.wasm.wasmPaths = pathToFileURL(webDist).href;

test('tiny checkpoint: the same ONNX bytes under onnxruntime-web (wasm) match the reference logits', async () => {
  // load with onnxruntime-node registered (fromPretrained builds its own session), then export the bytes
  registerRuntime({ name: 'node', ort: ortNode, defaultExecutionProviders: ['cpu'] });
  const model = await ASTForAudioClassification.fromPretrained(dirSource(join(fixturesDir, 'models/tiny')), { threads: 1 });
  const bytes = model.toOnnx();
  await model.dispose();

  const caseDir = 'models/tiny/case-single_label';
  const x = readFixtureNpy(`${caseDir}/input_values.npy`);
  const ref = readFixtureNpy(`${caseDir}/logits.npy`);
  const session = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  try {
    const out = await session.run({ input_values: new ortWeb.Tensor('float32', x.data as Float32Array, x.shape) });
    const logits = out.logits!;
    assert.deepEqual(logits.dims, ref.shape);
    const diff = maxAbsDiff(logits.data as Float32Array, ref.data as Float32Array);
    const scale = maxAbs(ref.data as Float32Array);
    console.log(`  onnxruntime-web wasm logits max|diff| ${diff.toExponential(2)} (max|ref| ${scale.toFixed(2)})`);
    // same tolerance as the node parity test: 1e-4 of the reference's max |value|
    assert.ok(diff / scale <= 1e-4, `logits differ by ${diff}`);
  } finally {
    await session.release();
  }
});

test('the web runtime drives ASTForAudioClassification end to end (registered like src/web/index.ts)', async () => {
  registerRuntime({ name: 'web', ort: ortWeb, defaultExecutionProviders: ['wasm'] });
  try {
    const caseDir = 'models/tiny/case-multi_label';
    const x = readFixtureNpy(`${caseDir}/input_values.npy`);
    const ref = readFixtureNpy(`${caseDir}/logits.npy`);
    const model = await ASTForAudioClassification.fromPretrained(dirSource(join(fixturesDir, 'models/tiny')));
    try {
      const out = await model.forward({ inputValues: { dtype: 'float32', dims: x.shape, data: x.data as Float32Array } });
      const diff = maxAbsDiff(out.logits.data, ref.data as Float32Array);
      console.log(`  web runtime (weights as external-data initializers) logits max|diff| ${diff.toExponential(2)}`);
      assert.ok(diff / maxAbs(ref.data as Float32Array) <= 1e-4, `logits differ by ${diff}`);
    } finally {
      await model.dispose();
    }
  } finally {
    registerRuntime({ name: 'node', ort: ortNode, defaultExecutionProviders: ['cpu'] });
  }
});
