/**
 * forward({ outputLastHiddenState: false }) (what the server's model thread asks): logits and pooled output still
 * match PyTorch within the parity tolerance (1e-4 of the reference's max |value|), and last_hidden_state is not
 * fetched (an empty [B, 0, H] tensor), on every fixture model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import '../../src/node/index.js';
import { ASTForAudioClassification } from '../../src/model/ast.js';
import { fixtureIndex, fixturesDir, maxAbs, maxAbsDiff, readFixtureNpy } from '../helpers/fixtures.js';

const REL_TOL = 1e-4;

for (const c of fixtureIndex.models) {
  test(`outputLastHiddenState false: ${c.model}/${c.case} logits and pooler output vs PyTorch, no last hidden state`, async () => {
    const caseDir = `models/${c.model}/${c.case}`;
    const xa = readFixtureNpy(`${caseDir}/input_values.npy`);
    const model = await ASTForAudioClassification.fromPretrained(join(fixturesDir, 'models', c.model), { threads: 1 });
    try {
      const out = await model.forward({ inputValues: { dtype: 'float32', dims: xa.shape, data: xa.data as Float32Array }, outputLastHiddenState: false });
      for (const [name, ours] of [['logits', out.logits], ['pooler_output', out.poolerOutput]] as const) {
        const ref = readFixtureNpy(`${caseDir}/${name}.npy`);
        assert.deepEqual([...ours.dims], [...ref.shape], `${name} shape`);
        const rel = maxAbsDiff(ours.data, ref.data as Float32Array) / maxAbs(ref.data as Float32Array);
        assert.ok(rel <= REL_TOL, `${c.model} ${name}: ${rel} of the reference's max, tolerance ${REL_TOL}`);
      }
      assert.deepEqual([...out.lastHiddenState.dims], [xa.shape[0], 0, model.config.hidden_size]);
    } finally {
      await model.dispose();
    }
  });
}
