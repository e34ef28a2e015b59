import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inferProblemType, lossTerms, referenceLoss, type Labels } from '../../src/model/loss.js';
import { fixturesDir, fixtureIndex, readFixtureNpy } from '../helpers/fixtures.js';

const int64 = (v: number[]): Labels => ({ dtype: 'int64', dims: [v.length], data: BigInt64Array.from(v.map(BigInt)) });
const f32 = (dims: number[], v: number[]): Labels => ({ dtype: 'float32', dims, data: Float32Array.from(v) });

test('problem_type is inferred exactly as HF: config first, then num_labels == 1, then the label dtype', () => {
  assert.equal(inferProblemType({ num_labels: 1 }, int64([0])), 'regression');
  assert.equal(inferProblemType({ num_labels: 3 }, int64([0])), 'single_label_classification');
  assert.equal(inferProblemType({ num_labels: 3 }, { dtype: 'int32', dims: [1], data: new Int32Array([2]) }), 'single_label_classification');
  assert.equal(inferProblemType({ num_labels: 3 }, f32([1, 3], [0, 1, 0])), 'multi_label_classification');
  assert.equal(inferProblemType({ num_labels: 3, problem_type: 'regression' }, int64([0])), 'regression');
});

test('the loss of the reference logits equals PyTorch\'s loss on every labelled fixture case', () => {
  for (const c of fixtureIndex.models.filter((m) => m.case !== 'case-inference')) {
    const dir = join(fixturesDir, 'models', c.model, c.case);
    const meta = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
    const config = JSON.parse(readFileSync(join(fixturesDir, 'models', c.model, 'config.json'), 'utf8'));
    const logits = readFixtureNpy(`models/${c.model}/${c.case}/logits.npy`);
    const rows = meta.labels as number[] | number[][];
    const labels: Labels = Array.isArray(rows[0])
      ? f32([rows.length, (rows[0] as number[]).length], (rows as number[][]).flat())
      : int64(rows as number[]);
    const terms = lossTerms(config, labels, logits.shape[0]!);
    assert.equal(terms.problemType, meta.problem_type);
    const loss = referenceLoss({ dtype: 'float32', dims: logits.shape, data: logits.data as Float32Array }, terms);
    // float64 evaluation of torch's float32 loss: measured differences below 3e-7
    assert.ok(Math.abs(loss - meta.loss) < 1e-6, `${c.model}/${c.case}: ${loss} vs ${meta.loss}`);
  }
});

test('cross-entropy ignores label -100 and averages over the rest, as torch', () => {
  const terms = lossTerms({ num_labels: 2 }, int64([1, -100]), 2);
  // row 0: -log softmax([0, ln 3])[1] = -log(3/4); row 1 ignored; mean over 1 row
  const loss = referenceLoss({ dtype: 'float32', dims: [2, 2], data: Float32Array.from([0, Math.log(3), 5, 5]) }, terms);
  assert.ok(Math.abs(loss - -Math.log(0.75)) < 1e-7);
});

test('bad labels name the problem', () => {
  assert.throws(() => lossTerms({ num_labels: 3 }, int64([3]), 1), /class id 3 at row 0 is outside \[0, 3\)/);
  assert.throws(() => lossTerms({ num_labels: 3 }, int64([0]), 2), /expected 2 class ids/);
  assert.throws(() => lossTerms({ num_labels: 3 }, f32([1, 2], [0, 1]), 1), /expected 3 values/);
});
