/**
 * The WebGPU path (onnxruntime-node's bundled WebGPU EP: Dawn over Vulkan) on every fixture model: logits
 * and last hidden state against the PyTorch reference and against our CPU path, with the parity tolerance
 * (1e-4 of the reference's max |value|; measured on Mesa lavapipe: 1.8e-7 to 8.6e-7).
 *
 * Needs a WebGPU adapter. Without a GPU, a software one: `bash bench/gpu/software-adapter.sh` fetches
 * Mesa 25 lavapipe (Debian bookworm-backports) into .lavapipe/, which this file uses when VK_ICD_FILENAMES /
 * VK_DRIVER_FILES name no driver. Where no adapter exists the tests skip and say why (what was tried is in
 * README.md's "GPU" section).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import '../../src/node/index.js';
import { ASTForAudioClassification, type AttentionImpl } from '../../src/model/ast.js';
import { fixtureIndex, fixturesDir, maxAbs, maxAbsDiff, readFixtureNpy } from '../helpers/fixtures.js';
import type { Float32Tensor } from '../../src/tensor.js';
import { webgpuSkip } from '../helpers/webgpu.js';

const REL_TOL = 1e-4;

const skip = await webgpuSkip();

function check(label: string, ours: Float32Tensor, ref: Float32Array, dims: readonly number[]): void {
  assert.deepEqual([...ours.dims], [...dims], `${label} shape`);
  const d = maxAbsDiff(ours.data, ref);
  const rel = d / maxAbs(ref);
  console.log(`  ${label.padEnd(44)} max|diff| ${d.toExponential(2)}  rel ${rel.toExponential(2)}`);
  assert.ok(rel <= REL_TOL, `${label}: differs by ${d} (${rel} of max), tolerance ${REL_TOL}`);
}

async function forward(model: string, x: Float32Tensor, ep: 'webgpu' | 'cpu', attention: AttentionImpl) {
  const m = await ASTForAudioClassification.fromPretrained(join(fixturesDir, 'models', model), {
    executionProviders: [ep],
    attention,
    threads: ep === 'cpu' ? 1 : undefined,
    // on the GPU the weights are uploaded once as initializers, not fed at each run
    weights: ep === 'cpu' ? 'inputs' : 'initializers',
  });
  try {
    return await m.forward({ inputValues: x });
  } finally {
    await m.dispose();
  }
}

for (const c of fixtureIndex.models) {
  test(`webgpu parity ${c.model}/${c.case} (plain attention)`, { skip }, async () => {
    const caseDir = `models/${c.model}/${c.case}`;
    const xa = readFixtureNpy(`${caseDir}/input_values.npy`);
    const x: Float32Tensor = { dtype: 'float32', dims: xa.shape, data: xa.data as Float32Array };
    const gpu = await forward(c.model, x, 'webgpu', 'plain');
    const cpu = await forward(c.model, x, 'cpu', 'plain');
    for (const name of ['logits', 'last_hidden_state'] as const) {
      const ref = readFixtureNpy(`${caseDir}/${name}.npy`);
      const key = name === 'logits' ? 'logits' : 'lastHiddenState';
      check(`${c.model} webgpu ${name} vs PyTorch`, gpu[key], ref.data as Float32Array, ref.shape);
      check(`${c.model} webgpu ${name} vs our CPU path`, gpu[key], cpu[key].data, cpu[key].dims);
    }
  });
}

// ORT 1.30's WebGPU MultiHeadAttention kernel: 1e-2 relative off on 'strided' (head dim 16, 86 tokens) and
// 5e-3 on 'shallow-base' (head dim 64, 1214 tokens) under lavapipe, while 'tiny' and 'regression' pass. Until
// it is known whether a real GPU does the same (bench/gpu measures both), WebGPU runs plain attention.
test('webgpu fused attention (com.microsoft.MultiHeadAttention) keeps the parity tolerance on strided', {
  skip,
  todo: 'ORT 1.30 WebGPU MultiHeadAttention misses the tolerance here (rel 1.3e-2 under lavapipe)',
}, async () => {
  const c = fixtureIndex.models.find((m) => m.model === 'strided')!;
  const caseDir = `models/${c.model}/${c.case}`;
  const xa = readFixtureNpy(`${caseDir}/input_values.npy`);
  const gpu = await forward(c.model, { dtype: 'float32', dims: xa.shape, data: xa.data as Float32Array }, 'webgpu', 'fused');
  const ref = readFixtureNpy(`${caseDir}/logits.npy`);
  check('strided webgpu fused logits vs PyTorch', gpu.logits, ref.data as Float32Array, ref.shape);
});
