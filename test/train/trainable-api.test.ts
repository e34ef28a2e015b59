/**
 * The code path a user fine-tunes with (issue 17 item 4): `ASTTrainable.fromPretrained` (the one loader),
 * labels in plain JavaScript shapes, one AdamW step, `savePretrained`, and a reload. Expected values are
 * PyTorch's (the fixture cases' loss and torch.optim.AdamW's step), or the same computation with the labels
 * given as Tensors, which the issue names as the reference for plain-array labels.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/node/index.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { toFloat32, type Float32Tensor } from '../../src/tensor.js';
import { ASTTrainable } from '../../src/train/trainable.js';
import { ASTForAudioClassification } from '../../src/model/ast.js';
import { AdamW } from '../../src/train/adamw.js';
import { savePretrained } from '../../src/node/checkpoints.js';
import type { LabelsInput } from '../../src/model/loss.js';
import { fixturesDir, maxAbs, readFixtureNpy } from '../helpers/fixtures.js';

const TINY = join(fixturesDir, 'models', 'tiny');

function readTensors(path: string): Map<string, Float32Tensor> {
  return new Map([...parseSafetensors(readFileSync(path), path).tensors].map(([k, t]) => [k, toFloat32(t)]));
}

function fixtureCase(name: 'case-single_label' | 'case-multi_label') {
  const dir = join(TINY, name);
  const meta = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as { labels: number[] | number[][]; loss: number; adamw: { lr: number; weight_decay: number; betas: [number, number]; eps: number } };
  const x = readFixtureNpy(`models/tiny/${name}/input_values.npy`);
  return { dir, meta, inputValues: { dtype: 'float32', dims: x.shape, data: x.data as Float32Array } as Float32Tensor };
}

describe('ASTTrainable.fromPretrained, one step, savePretrained, reload', { timeout: 120_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ast-trainable-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the checkpoint (PyTorch\'s loss), steps as torch.optim.AdamW, and saves weights that reload bit for bit', async () => {
    const c = fixtureCase('case-single_label');
    const model = await ASTTrainable.fromPretrained(TINY, { threads: 1 });
    try {
      assert.equal(model.config.num_labels, 5);
      assert.deepEqual(model.notices, []);
      // labels straight from the case's JSON: a plain number[] of class ids
      const out = await model.computeGradients({ inputValues: c.inputValues, labels: c.meta.labels });
      assert.ok(Math.abs(out.loss - c.meta.loss) <= 1e-5, `loss ${out.loss} vs PyTorch ${c.meta.loss}`);
      const a = c.meta.adamw;
      new AdamW({ lr: a.lr, weightDecay: a.weight_decay, betas: a.betas, eps: a.eps }).step(model.weights, out.grads);
      // torch's step (after_adamw_step.safetensors): within 1e-6 where the gradient is not float32 noise (as grad-parity.test.ts)
      const torchAfter = readTensors(join(c.dir, 'after_adamw_step.safetensors'));
      const torchGrads = readTensors(join(c.dir, 'grads.safetensors'));
      let worst = 0;
      for (const [name, p] of model.weights) {
        const g = torchGrads.get(name)!.data;
        const scale = name.endsWith('key.bias') ? torchGrads.get(name.replace('key.bias', 'query.bias'))!.data : g;
        const cut = 1e-3 * maxAbs(scale);
        const e = torchAfter.get(name)!.data;
        for (let i = 0; i < g.length; i++) if (Math.abs(g[i]!) > cut) worst = Math.max(worst, Math.abs(p.data[i]! - e[i]!));
      }
      assert.ok(worst <= 1e-6, `one step differs from torch's by ${worst}`);

      const saved = await savePretrained(join(dir, 'stepped'), model);
      const files = readTensors(join(saved, 'model.safetensors'));
      assert.equal(files.size, model.weights.size);
      for (const [name, w] of model.weights) assert.deepEqual(files.get(name)!.data, w.data, `${name} in model.safetensors`);
      assert.deepEqual(JSON.parse(readFileSync(join(saved, 'preprocessor_config.json'), 'utf8')).mean, JSON.parse(readFileSync(join(TINY, 'preprocessor_config.json'), 'utf8')).mean);
      // and every loader reads them back as they were
      const again = await ASTTrainable.fromPretrained(saved, { threads: 1 });
      for (const [name, w] of model.weights) assert.deepEqual(again.weights.get(name)!.data, w.data, `${name} after ASTTrainable.fromPretrained`);
      const inference = await ASTForAudioClassification.fromPretrained(saved, { threads: 1 });
      for (const [name, w] of model.weights) assert.deepEqual(inference.weights.get(name)!.data, w.data, `${name} after ASTForAudioClassification.fromPretrained`);
      await again.dispose();
      await inference.dispose();
    } finally {
      await model.dispose();
    }
  });

  it('numLabels / id2label make a new head (re-initialised, with a notice) that is saved and reloaded with its labels', async () => {
    const model = await ASTTrainable.fromPretrained(TINY, { id2label: { 0: 'dog', 1: 'cat', 2: 'bird' }, seed: 7, threads: 1 });
    try {
      assert.deepEqual(model.config.labels, ['dog', 'cat', 'bird']);
      assert.deepEqual(model.weights.get('classifier.dense.weight')!.dims, [3, 64]);
      assert.ok(model.notices.some((n) => /classifier\.dense\.weight: checkpoint \[5, 64\] vs config \[3, 64\]/.test(n)), model.notices.join('\n'));
      // the encoder is the checkpoint's, untouched
      const ckpt = readTensors(join(TINY, 'model.safetensors'));
      const q = 'audio_spectrogram_transformer.encoder.layer.0.attention.attention.query.weight';
      assert.deepEqual(model.weights.get(q)!.data, ckpt.get(q)!.data);
      const c = fixtureCase('case-single_label');
      const out = await model.computeGradients({ inputValues: c.inputValues, labels: [2, 0] });
      new AdamW({ lr: 1e-3 }).step(model.weights, out.grads);
      assert.notDeepEqual(model.weights.get(q)!.data, ckpt.get(q)!.data, 'the step moved the encoder');
      const saved = await savePretrained(join(dir, 'new-head'), model);
      const again = await ASTTrainable.fromPretrained(saved, { threads: 1 });
      assert.deepEqual(again.config.labels, ['dog', 'cat', 'bird']);
      assert.deepEqual(again.notices, []);
      for (const [name, w] of model.weights) assert.deepEqual(again.weights.get(name)!.data, w.data, name);
      await again.dispose();
      const numbered = await ASTTrainable.fromPretrained(TINY, { numLabels: 2 });
      assert.deepEqual(numbered.config.labels, ['LABEL_0', 'LABEL_1']);
      await numbered.dispose();
      await assert.rejects(ASTTrainable.fromPretrained(TINY, { numLabels: 0 }), /numLabels must be a positive integer, got 0/);
      // a training-graph option of the wrong type is named, not ignored
      await assert.rejects(ASTTrainable.fromPretrained(TINY, { recomputeAttention: 'no' as unknown as boolean }), /recomputeAttention must be true or false, got "no"/);
    } finally {
      await model.dispose();
    }
  });
});

describe('labels in plain JavaScript shapes', { timeout: 120_000 }, () => {
  let model: ASTTrainable;
  before(async () => {
    model = await ASTTrainable.fromPretrained(TINY, { threads: 1 });
  });
  after(() => model.dispose());

  async function sameAsTensor(c: ReturnType<typeof fixtureCase>, tensorLabels: LabelsInput, plain: Record<string, LabelsInput>): Promise<void> {
    const ref = await model.computeGradients({ inputValues: c.inputValues, labels: tensorLabels });
    assert.ok(Math.abs(ref.loss - c.meta.loss) <= 1e-5, `Tensor labels: loss ${ref.loss} vs PyTorch ${c.meta.loss}`);
    for (const [what, labels] of Object.entries(plain)) {
      const out = await model.computeGradients({ inputValues: c.inputValues, labels });
      assert.equal(out.loss, ref.loss, `${what}: loss`);
      assert.equal(out.grads.size, ref.grads.size);
      for (const [name, g] of ref.grads) assert.deepEqual(out.grads.get(name)!.data, g.data, `${what}: gradient of ${name}`);
    }
  }

  it('class ids as number[], Int32Array, a bare BigInt64Array: the loss and gradients of int64 Tensor labels', async () => {
    const c = fixtureCase('case-single_label');
    const ids = c.meta.labels as number[];
    await sameAsTensor(c, { dtype: 'int64', dims: [ids.length], data: BigInt64Array.from(ids, BigInt) }, {
      'number[]': ids,
      Int32Array: Int32Array.from(ids),
      BigInt64Array: BigInt64Array.from(ids, BigInt),
      Uint8Array: Uint8Array.from(ids),
      'int32 Tensor': { dtype: 'int32', dims: [ids.length], data: Int32Array.from(ids) },
    });
  });

  it('multi-hot rows as number[][] and a flat Float32Array: the loss and gradients of a float32 [B, L] Tensor', async () => {
    const c = fixtureCase('case-multi_label');
    const rows = c.meta.labels as number[][];
    const flat = Float32Array.from(rows.flat());
    await sameAsTensor(c, { dtype: 'float32', dims: [rows.length, 5], data: flat }, {
      'number[][]': rows,
      Float32Array: Float32Array.from(flat),
      Float64Array: Float64Array.from(flat),
    });
  });

  it('anything else is an error naming the expected shapes and types, never a TypeError', async () => {
    const c = fixtureCase('case-single_label');
    const expected = /^labels: expected class ids as number\[\] or an integer typed array .*\[batch\], multi-hot rows as number\[\]\[\] \[batch\]\[num_labels\].* or a Tensor .*; got /;
    const bad: [unknown, RegExp][] = [
      ['1,2,3', /got string 1,2,3$/],
      [null, /got null$/],
      [{ ids: [1, 2, 3] }, /got an object with keys \["ids"\]$/],
      [[], /got an empty array$/],
      [[0, Number.NaN, 1], /got NaN at index 1$/],
      [[[1, 0, 0, 0, 0], [1, 0]], /got row 1 with 2 values \(the model has 5 labels\)$/],
      [[0, 'one', 1], /got string one at index 1$/],
      [{ dtype: 'int64', dims: [3], data: [0, 1, 2] }, /got a int64 Tensor whose data is an array of 3$/],
      [{ dtype: 'float32', dims: [2, 2], data: new Float32Array(3) }, /got a Tensor \[2, 2\] holding 3 values$/],
      [{ dtype: 'bool', dims: [3], data: new Uint8Array(3) }, /got a Tensor of dtype bool$/],
    ];
    for (const [labels, what] of bad) {
      await assert.rejects(model.computeGradients({ inputValues: c.inputValues, labels: labels as LabelsInput }), (err: Error) => {
        assert.ok(!(err instanceof TypeError), `${JSON.stringify(labels)}: ${err.name}: ${err.message}`);
        assert.match(err.message, expected);
        assert.match(err.message, what);
        return true;
      });
    }
    // the right type with the wrong count still says what it expected
    await assert.rejects(model.computeGradients({ inputValues: c.inputValues, labels: [0, 1, 2] }), /expected 2 class ids for a batch of 2/);
  });
});
