/**
 * Both ways of writing attention on the CPU EP, on every fixture model, against the PyTorch reference:
 * 'plain' (MatMul + Softmax + MatMul, standard ONNX ops; what autodiff differentiates) and 'fused'
 * (com.microsoft.MultiHeadAttention, the default on the CPU). Tolerance: parity.test.ts's, 1e-4 of the
 * reference's max |value|; the measured maxima are printed, and the two ways' distance from each other too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import '../../src/node/index.js';
import { ASTForAudioClassification, type AttentionImpl } from '../../src/model/ast.js';
import { fixtureIndex, fixturesDir, maxAbs, maxAbsDiff, readFixtureNpy } from '../helpers/fixtures.js';
import type { Float32Tensor } from '../../src/tensor.js';

const REL_TOL = 1e-4;
const IMPLS: readonly AttentionImpl[] = ['plain', 'fused'];

for (const c of fixtureIndex.models) {
  test(`plain and fused attention match PyTorch on ${c.model}/${c.case}`, async () => {
    const caseDir = `models/${c.model}/${c.case}`;
    const xa = readFixtureNpy(`${caseDir}/input_values.npy`);
    const inputValues: Float32Tensor = { dtype: 'float32', dims: xa.shape, data: xa.data as Float32Array };
    const refLogits = readFixtureNpy(`${caseDir}/logits.npy`);
    const refHidden = readFixtureNpy(`${caseDir}/last_hidden_state.npy`);
    const logits = new Map<AttentionImpl, Float32Array>();
    for (const attention of IMPLS) {
      const model = await ASTForAudioClassification.fromPretrained(join(fixturesDir, 'models', c.model), { threads: 1, attention });
      try {
        const out = await model.forward({ inputValues });
        for (const [name, ours, ref] of [
          ['logits', out.logits, refLogits],
          ['last_hidden_state', out.lastHiddenState, refHidden],
        ] as const) {
          assert.deepEqual([...ours.dims], ref.shape, `${c.model} ${attention} ${name} shape`);
          const d = maxAbsDiff(ours.data, ref.data as Float32Array);
          const rel = d / maxAbs(ref.data as Float32Array);
          console.log(`  ${c.model} ${attention.padEnd(5)} ${name.padEnd(17)} max|diff| ${d.toExponential(2)}  rel ${rel.toExponential(2)}`);
          assert.ok(rel <= REL_TOL, `${c.model} ${attention} ${name}: ${d} (${rel} of max), tolerance ${REL_TOL}`);
        }
        logits.set(attention, out.logits.data);
      } finally {
        await model.dispose();
      }
    }
    console.log(`  ${c.model} plain vs fused logits max|diff| ${maxAbsDiff(logits.get('plain')!, logits.get('fused')!).toExponential(2)}`);
  });
}
