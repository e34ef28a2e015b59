/**
 * Whole-model gradient parity (llm.c's test_gpt2 style): on every labelled fixture case, the loss
 * and every parameter's gradient from our training graph are compared with PyTorch's, and one AdamW
 * step with our gradients is compared with torch.optim.AdamW's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import '../../src/node/index.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { toFloat32, type Float32Tensor, type Tensor } from '../../src/tensor.js';
import { ASTConfig } from '../../src/model/config.js';
import { loadWeights } from '../../src/model/weights.js';
import { ASTTrainable } from '../../src/train/trainable.js';
import { AdamW } from '../../src/train/adamw.js';
import type { Labels } from '../../src/model/loss.js';
import { fixturesDir, fixtureIndex, readFixtureNpy, maxAbs, maxAbsDiff } from '../helpers/fixtures.js';

function readTensors(path: string): Map<string, Float32Tensor> {
  const st = parseSafetensors(readFileSync(path), path);
  return new Map([...st.tensors].map(([k, t]) => [k, toFloat32(t)]));
}

function labelsOf(json: unknown): Labels {
  const rows = json as number[] | number[][];
  const flat = (rows as unknown[]).flat() as number[];
  const dims = Array.isArray(rows[0]) ? [rows.length, (rows[0] as number[]).length] : [rows.length];
  // the oracle passes python ints as torch.long and floats as float32 (json keeps 1.0 as 1.0 in the file)
  const text = JSON.stringify(json);
  const isFloat = /\d\.\d/.test(text);
  if (isFloat) return { dtype: 'float32', dims, data: Float32Array.from(flat) };
  return { dtype: 'int64', dims, data: BigInt64Array.from(flat.map((v) => BigInt(v))) } as Tensor<'int64'>;
}

/**
 * The scale a gradient is judged against: its own max abs, except key.bias. A key bias shifts every
 * score of a query row by the same amount, which softmax ignores, so its true gradient is exactly 0 and
 * both dumps hold float32 noise (torch's max 3e-9..1e-7); it is judged against the same layer's
 * query.bias gradient instead.
 */
function scaleOfGrad(ref: Map<string, Float32Tensor>, name: string): Float32Array {
  const other = name.endsWith('attention.attention.key.bias') ? name.replace('key.bias', 'query.bias') : name;
  return ref.get(other)!.data;
}

const cases = fixtureIndex.models.filter((m) => m.case !== 'case-inference');
test('the fixture filter finds its cases (an empty list would run no comparison)', () => {
  assert.ok(cases.length >= 4, `training fixtures: ${cases.length} cases`);
});

for (const c of cases) {
  test(`gradients match PyTorch: ${c.model}/${c.case}`, async () => {
    const dir = join(fixturesDir, 'models', c.model);
    const caseDir = join(dir, c.case);
    const meta = JSON.parse(readFileSync(join(caseDir, 'case.json'), 'utf8'));
    const config = ASTConfig.fromJSON(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), `${dir}/config.json`);
    const { weights } = loadWeights(config, readTensors(join(dir, 'model.safetensors')), 'classification', dir);
    const own = new Map([...weights].map(([k, t]) => [k, { ...t, data: Float32Array.from(t.data) }]));
    const model = new ASTTrainable(config, own, { threads: 1 });
    const x = readFixtureNpy(`models/${c.model}/${c.case}/input_values.npy`);
    const labels = labelsOf(meta.labels);
    const out = await model.computeGradients({ inputValues: { dtype: 'float32', dims: x.shape, data: x.data as Float32Array }, labels });
    await model.dispose();

    // loss within 1e-5 (issue 5)
    const lossDiff = Math.abs(out.loss - meta.loss);
    console.log(`# ${c.model}/${c.case}: loss ${out.loss} vs ${meta.loss} (|diff| ${lossDiff.toExponential(2)})`);
    assert.ok(lossDiff <= 1e-5, `loss ${out.loss} vs reference ${meta.loss}`);
    const refLogits = readFixtureNpy(`models/${c.model}/${c.case}/logits.npy`);
    assert.ok(maxAbsDiff(out.logits.data, refLogits.data as Float32Array) <= 1e-4 * maxAbs(refLogits.data as Float32Array));

    // every gradient within 1e-4 of the reference tensor's max abs value (issue 5)
    const ref = readTensors(join(caseDir, 'grads.safetensors'));
    assert.equal(out.grads.size, ref.size, 'one gradient per parameter');
    let worst = 0;
    let worstName = '';
    for (const [name, r] of ref) {
      const got = out.grads.get(name);
      assert.ok(got, `no gradient for ${name}`);
      // 1e-4 (issue 5); measured worst 1.3e-6 (strided key.weight). key.bias: see scaleOfGrad
      const rel = maxAbsDiff(got.data, r.data) / Math.max(maxAbs(scaleOfGrad(ref, name)), 1e-30);
      if (rel > worst) [worst, worstName] = [rel, name];
      assert.ok(rel <= 1e-4, `${name}: max |diff| / max |ref| = ${rel.toExponential(2)}`);
    }
    console.log(`# ${c.model}/${c.case}: worst gradient ${worstName} at ${worst.toExponential(2)} of its max abs`);

    // one AdamW step with our gradients: within 1e-6 where the reference gradient is above 1e-3 of its tensor's max abs
    const opt = new AdamW({ lr: meta.adamw.lr, weightDecay: meta.adamw.weight_decay, betas: meta.adamw.betas, eps: meta.adamw.eps });
    const params = new Map([...weights].map(([k, t]) => [k, { ...t, data: Float32Array.from(t.data) }]));
    opt.step(params, out.grads);
    const after = readTensors(join(caseDir, 'after_adamw_step.safetensors'));
    let worstStep = 0;
    for (const [name, p] of params) {
      const e = after.get(name)!;
      const r = ref.get(name)!.data;
      const cut = 1e-3 * maxAbs(scaleOfGrad(ref, name));
      for (let i = 0; i < r.length; i++) {
        if (Math.abs(r[i]!) > cut) worstStep = Math.max(worstStep, Math.abs(p.data[i]! - e.data[i]!));
      }
    }
    console.log(`# ${c.model}/${c.case}: AdamW step with our gradients, max |diff| ${worstStep.toExponential(2)}`);
    assert.ok(worstStep <= 1e-6, `AdamW step with our gradients differs by ${worstStep}`);
  });
}

// recomputeAttention: false keeps the attention probabilities from the forward pass instead of recomputing
// them: a different graph for the same gradients, held to the same PyTorch reference and tolerance
for (const c of cases.slice(0, 2)) {
  test(`gradients match PyTorch with the attention probabilities kept (recomputeAttention false): ${c.model}/${c.case}`, async () => {
    const dir = join(fixturesDir, 'models', c.model);
    const caseDir = join(dir, c.case);
    const meta = JSON.parse(readFileSync(join(caseDir, 'case.json'), 'utf8'));
    const config = ASTConfig.fromJSON(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), `${dir}/config.json`);
    const { weights } = loadWeights(config, readTensors(join(dir, 'model.safetensors')), 'classification', dir);
    const model = new ASTTrainable(config, weights, { threads: 1, recomputeAttention: false });
    const x = readFixtureNpy(`models/${c.model}/${c.case}/input_values.npy`);
    const out = await model.computeGradients({ inputValues: { dtype: 'float32', dims: x.shape, data: x.data as Float32Array }, labels: labelsOf(meta.labels) });
    await model.dispose();
    assert.ok(Math.abs(out.loss - meta.loss) <= 1e-5, `loss ${out.loss} vs reference ${meta.loss}`);
    const ref = readTensors(join(caseDir, 'grads.safetensors'));
    assert.equal(out.grads.size, ref.size, 'one gradient per parameter');
    for (const [name, r] of ref) {
      // 1e-4 of the reference's max abs, as above
      const rel = maxAbsDiff(out.grads.get(name)!.data, r.data) / Math.max(maxAbs(scaleOfGrad(ref, name)), 1e-30);
      assert.ok(rel <= 1e-4, `${name}: max |diff| / max |ref| = ${rel.toExponential(2)}`);
    }
  });
}
