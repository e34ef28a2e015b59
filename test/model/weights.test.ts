import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ASTConfig } from '../../src/model/config.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { astParameterSpecs, loadWeights, loadPretrainedWeights, adaptPositionEmbeddings, BASE_PREFIX } from '../../src/model/weights.js';
import { memorySource } from '../../src/io/files.js';
import type { Float32Tensor, Tensor } from '../../src/tensor.js';
import { fixturesDir } from '../helpers/fixtures.js';

const modelsDir = join(fixturesDir, 'models');
const models = readdirSync(modelsDir);

function fixture(m: string): { config: ASTConfig; tensors: Map<string, Tensor>; file: string } {
  const dir = join(modelsDir, m);
  const config = ASTConfig.fromJSON(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), join(dir, 'config.json'));
  const file = join(dir, 'model.safetensors');
  return { config, tensors: parseSafetensors(new Uint8Array(readFileSync(file)), file).tensors, file };
}

/** Independent half -> float: build the float32 bit pattern (normal, zero/subnormal via scaling, inf/nan). */
function halfBits(h: number): number {
  const sign = h >> 15 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m ? NaN : sign * Infinity;
  if (e === 0) return sign * m * 5.960464477539063e-8; // 2^-24 per unit of a subnormal
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, ((h >> 15) << 31) | ((e - 15 + 127) << 23) | (m << 13));
  return dv.getFloat32(0);
}
function bf16Bits(b: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, b << 16);
  return dv.getFloat32(0);
}
/** float32 bit patterns of all 65536 half / bf16 values, from the decoders above. */
const HALF_TABLE = new Uint32Array(Float32Array.from({ length: 65536 }, (_, h) => halfBits(h)).buffer);
const BF16_TABLE = new Uint32Array(Float32Array.from({ length: 65536 }, (_, b) => bf16Bits(b)).buffer);

test('parameter table: HF state_dict order and shapes (one layer, as transformers registers the modules)', () => {
  const c = ASTConfig.fromJSON({ hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, max_length: 32, num_mel_bins: 16, num_labels: 3 });
  const A = 'audio_spectrogram_transformer.';
  const L = `${A}encoder.layer.0.`;
  assert.deepEqual(astParameterSpecs(c, 'classification').map((s) => `${s.name} ${s.shape.join('x')}`), [
    `${A}embeddings.cls_token 1x1x8`,
    `${A}embeddings.distillation_token 1x1x8`,
    `${A}embeddings.position_embeddings 1x4x8`, // (16-16)//10+1 = 1, (32-16)//10+1 = 2 -> 2 patches + 2
    `${A}embeddings.patch_embeddings.projection.weight 8x1x16x16`,
    `${A}embeddings.patch_embeddings.projection.bias 8`,
    `${L}attention.attention.query.weight 8x8`, `${L}attention.attention.query.bias 8`,
    `${L}attention.attention.key.weight 8x8`, `${L}attention.attention.key.bias 8`,
    `${L}attention.attention.value.weight 8x8`, `${L}attention.attention.value.bias 8`,
    `${L}attention.output.dense.weight 8x8`, `${L}attention.output.dense.bias 8`,
    `${L}intermediate.dense.weight 16x8`, `${L}intermediate.dense.bias 16`,
    `${L}output.dense.weight 8x16`, `${L}output.dense.bias 8`,
    `${L}layernorm_before.weight 8`, `${L}layernorm_before.bias 8`,
    `${L}layernorm_after.weight 8`, `${L}layernorm_after.bias 8`,
    `${A}layernorm.weight 8`, `${A}layernorm.bias 8`,
    'classifier.layernorm.weight 8', 'classifier.layernorm.bias 8',
    'classifier.dense.weight 3x8', 'classifier.dense.bias 3',
  ]);
  const base = astParameterSpecs(c, 'base').map((s) => s.name);
  assert.equal(base.length, 23);
  assert.ok(base.every((n) => !n.startsWith(A) && !n.startsWith('classifier.')));
});

for (const m of models) {
  test(`fixture ${m}: the table matches model.safetensors name for name and shape for shape`, () => {
    const { config, tensors } = fixture(m);
    const specs = astParameterSpecs(config, 'classification');
    assert.equal(specs.length, tensors.size);
    for (const s of specs) {
      const t = tensors.get(s.name);
      assert.ok(t, `missing ${s.name}`);
      assert.deepEqual(t.dims, s.shape, s.name);
    }
  });

  test(`fixture ${m}: loadWeights gives every parameter in fp32, converted exactly`, () => {
    const { config, tensors, file } = fixture(m);
    const { weights, notices } = loadWeights(config, tensors, 'classification', file);
    assert.deepEqual(notices, []);
    assert.equal(weights.size, tensors.size);
    for (const [name, w] of weights) {
      const src = tensors.get(name)!;
      assert.equal(w.dtype, 'float32');
      assert.deepEqual(w.dims, src.dims);
      // Exact: every half/bf16 value is a float32; compared bit for bit.
      const table = src.dtype === 'float16' ? HALF_TABLE : BF16_TABLE;
      const got = new Uint32Array(w.data.buffer, w.data.byteOffset, w.data.length);
      let mismatches = 0;
      if (src.dtype === 'float32') {
        const s32 = src.data as Float32Array;
        const want = new Uint32Array(s32.buffer, s32.byteOffset, s32.length);
        for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) mismatches++;
      } else {
        const s16 = src.data as Uint16Array;
        for (let i = 0; i < s16.length; i++) if (got[i] !== table[s16[i]!]) mismatches++;
      }
      assert.equal(mismatches, 0, name);
    }
  });
}

test('ASTModel from a classification checkpoint: prefix stripped, head ignored with a notice', () => {
  const { config, tensors, file } = fixture('tiny');
  const { weights, notices } = loadWeights(config, tensors, 'base', file);
  assert.equal(weights.size, tensors.size - 4);
  assert.ok(weights.has('embeddings.cls_token'));
  assert.equal(weights.get('layernorm.weight')!.data, tensors.get(`${BASE_PREFIX}layernorm.weight`)!.data);
  assert.equal(notices.length, 1);
  assert.match(notices[0]!, /ignored the classification head \(classifier.dense.bias, classifier.dense.weight, classifier.layernorm.bias, classifier.layernorm.weight\)/);
});

test('classification from a base checkpoint: the head is missing unless ignoreMismatchedHead', () => {
  const { config, tensors, file } = fixture('tiny');
  const base = new Map([...tensors].filter(([k]) => !k.startsWith('classifier.')).map(([k, v]) => [k.slice(BASE_PREFIX.length), v]));
  assert.throws(
    () => loadWeights(config, base, 'classification', file),
    (e: Error) =>
      e.message.includes('missing classifier.dense.weight [5, 64] (pass ignoreMismatchedHead to initialise a new head)') &&
      e.message.includes('missing classifier.layernorm.bias [64]'),
  );
  const { weights, notices } = loadWeights(config, base, 'classification', file, { ignoreMismatchedHead: true, seed: 1 });
  assert.equal(weights.size, tensors.size);
  assert.equal(notices.length, 4);
  assert.ok(weights.get('classifier.layernorm.weight')!.data.every((x) => x === 1));
  assert.ok(weights.get('classifier.layernorm.bias')!.data.every((x) => x === 0));
  assert.ok(weights.get('classifier.dense.bias')!.data.every((x) => x === 0));
});

test('new label set: mismatched head is an error naming both shapes, or re-initialised with a notice', () => {
  const { config, tensors, file } = fixture('tiny');
  const seven = config.withOverrides({ id2label: Object.fromEntries(Array.from({ length: 7 }, (_, i) => [String(i), `w${i}`])) });
  assert.throws(
    () => loadWeights(seven, tensors, 'classification', file),
    (e: Error) =>
      e.message.startsWith(`${file}: checkpoint does not match the config`) &&
      e.message.includes('classifier.dense.weight: checkpoint [5, 64] vs config [7, 64] (a new label set? pass ignoreMismatchedHead)') &&
      e.message.includes('classifier.dense.bias: checkpoint [5] vs config [7]'),
  );
  const a = loadWeights(seven, tensors, 'classification', file, { ignoreMismatchedHead: true, seed: 3 });
  const b = loadWeights(seven, tensors, 'classification', file, { ignoreMismatchedHead: true, seed: 3 });
  const c = loadWeights(seven, tensors, 'classification', file, { ignoreMismatchedHead: true, seed: 4 });
  assert.deepEqual(a.notices, [
    'classifier.dense.weight: checkpoint [5, 64] vs config [7, 64], newly initialised (new label set)',
    'classifier.dense.bias: checkpoint [5] vs config [7], newly initialised (new label set)',
  ]);
  const w = a.weights.get('classifier.dense.weight')!;
  assert.deepEqual(w.dims, [7, 64]);
  assert.deepEqual(w.data, b.weights.get('classifier.dense.weight')!.data, 'same seed, same head');
  assert.notDeepEqual(w.data, c.weights.get('classifier.dense.weight')!.data, 'another seed, another head');
  // Normal(0, initializer_range = 0.02) over 448 draws: sample std within 15 % of 0.02, mean within 4 standard errors.
  const n = w.data.length;
  const mean = w.data.reduce((s, x) => s + x, 0) / n;
  const std = Math.sqrt(w.data.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
  assert.ok(Math.abs(std - 0.02) < 0.003, `std ${std}`);
  assert.ok(Math.abs(mean) < (4 * 0.02) / Math.sqrt(n), `mean ${mean}`);
  // The kept layernorm of the head and the encoder are the checkpoint's own.
  assert.equal(a.weights.get('classifier.layernorm.weight')!.data, tensors.get('classifier.layernorm.weight')!.data);
  // A caller's initialiser is used when given.
  const z = loadWeights(seven, tensors, 'classification', file, { ignoreMismatchedHead: true, initHead: (s) => new Float32Array(s.shape.reduce((p, d) => p * d, 1)).fill(0.5) });
  assert.ok(z.weights.get('classifier.dense.weight')!.data.every((x) => x === 0.5));
});

test('config vs weights mismatch: each problem names the tensor and both shapes', () => {
  const { config, tensors, file } = fixture('tiny');
  const noBias = config.withOverrides({ qkv_bias: false });
  assert.throws(() => loadWeights(noBias, tensors, 'classification', file), /unexpected audio_spectrogram_transformer.encoder.layer.0.attention.attention.query.bias \[64\]/);
  const oneLayer = config.withOverrides({ num_hidden_layers: 1 });
  assert.throws(() => loadWeights(oneLayer, tensors, 'classification', file), /unexpected audio_spectrogram_transformer.encoder.layer.1.output.dense.weight \[64, 128\]/);
  const threeLayers = config.withOverrides({ num_hidden_layers: 3 });
  assert.throws(() => loadWeights(threeLayers, tensors, 'classification', file), /missing audio_spectrogram_transformer.encoder.layer.2.attention.attention.query.weight \[64, 64\]/);
  const wider = config.withOverrides({ intermediate_size: 256 });
  assert.throws(
    () => loadWeights(wider, tensors, 'classification', file),
    /audio_spectrogram_transformer.encoder.layer.0.intermediate.dense.weight: checkpoint \[128, 64\] vs config \[256, 64\]/,
  );
  const longer = config.withOverrides({ max_length: 256 });
  assert.throws(
    () => loadWeights(longer, tensors, 'classification', file),
    /embeddings.position_embeddings: checkpoint \[1, 26, 64\] vs config \[1, 52, 64\] \(another max_length or stride\? pass checkpointGrid/,
  );
  const extra = new Map(tensors).set('audio_spectrogram_transformer.pooler.dense.weight', { dtype: 'float32', dims: [2], data: new Float32Array(2) });
  assert.throws(() => loadWeights(config, extra, 'classification', file), /unexpected audio_spectrogram_transformer.pooler.dense.weight \[2\]/);
  const ints = new Map(tensors).set('classifier.dense.bias', { dtype: 'int64', dims: [5], data: new BigInt64Array(5) });
  assert.throws(() => loadWeights(config, ints, 'classification', file), /classifier.dense.bias: dtype int64, expected a floating-point tensor/);
  const twice = new Map(tensors).set('layernorm.weight', tensors.get(`${BASE_PREFIX}layernorm.weight`)!);
  assert.throws(() => loadWeights(config, twice, 'classification', file), /"audio_spectrogram_transformer.layernorm.weight" and "layernorm.weight" are the same parameter/);
});

/** A [1, f*t + 2, H] tensor whose patch entries encode (f, t, h) so moves can be read back by hand. */
function gridTensor(f: number, t: number, H: number, value: (fi: number, ti: number, h: number) => number): Float32Tensor {
  const data = new Float32Array((f * t + 2) * H);
  for (let h = 0; h < H; h++) {
    data[h] = -1 - h; // [CLS]
    data[H + h] = -10 - h; // distillation
  }
  for (let fi = 0; fi < f; fi++) for (let ti = 0; ti < t; ti++) for (let h = 0; h < H; h++) data[(2 + fi * t + ti) * H + h] = value(fi, ti, h);
  return { dtype: 'float32', dims: [1, f * t + 2, H], data };
}
function at(p: Float32Tensor, t: number, fi: number, ti: number, h: number): number {
  const H = p.dims[2]!;
  return p.data[(2 + fi * t + ti) * H + h]!;
}

test('position embeddings: cut from the middle (start = t0//2 - t//2), tokens kept', () => {
  const code = (fi: number, ti: number, h: number) => 100 * fi + ti + h / 10;
  const p = gridTensor(3, 5, 2, code);
  // time 5 -> 2: start 2 - 1 = 1, keeps t = 1, 2; frequency 3 -> 2: start 1 - 1 = 0, keeps f = 0, 1.
  const { tensor, description } = adaptPositionEmbeddings(p, { frequency: 3, time: 5 }, { frequency: 2, time: 2 });
  assert.deepEqual(tensor.dims, [1, 6, 2]);
  assert.deepEqual([...tensor.data.subarray(0, 4)], [-1, -2, -10, -11]);
  const got: number[] = [];
  for (let fi = 0; fi < 2; fi++) for (let ti = 0; ti < 2; ti++) got.push(at(tensor, 2, fi, ti, 1));
  assert.deepEqual(got, [1.1, 2.1, 101.1, 102.1].map(Math.fround));
  assert.match(description, /3x5 -> 2x2 \(time 5->2 cut from the middle, frequency 3->2 cut from the middle/);
  // Even source: time 4 -> 3 keeps t = 1..3 (start 2 - 1 = 1).
  const q = adaptPositionEmbeddings(gridTensor(1, 4, 1, (_f, ti) => ti), { frequency: 1, time: 4 }, { frequency: 1, time: 3 }).tensor;
  assert.deepEqual([...q.data.subarray(2)], [1, 2, 3]);
});

test('position embeddings: bilinear growth, hand-computed (align_corners=False)', () => {
  // time 2 -> 4, source positions (i + 0.5) * 0.5 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the last):
  // values a0, 0.75 a0 + 0.25 a1, 0.25 a0 + 0.75 a1, a1.
  const p = gridTensor(1, 2, 1, (_f, ti) => [4, 8][ti]!);
  const t = adaptPositionEmbeddings(p, { frequency: 1, time: 2 }, { frequency: 1, time: 4 }).tensor;
  assert.deepEqual([...t.data.subarray(2)], [4, 5, 7, 8]);
  // frequency 2 -> 3, scale 2/3: sources -1/6 (-> 0), 0.5, 7/6 (-> 1): a0, (a0 + a1) / 2, a1; per time column and channel.
  const g = gridTensor(2, 2, 2, (fi, ti, h) => (fi === 0 ? 2 : 6) + 10 * ti + 100 * h);
  const f = adaptPositionEmbeddings(g, { frequency: 2, time: 2 }, { frequency: 3, time: 2 }).tensor;
  assert.deepEqual(f.dims, [1, 8, 2]);
  for (const [ti, h] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
    const base = 10 * ti + 100 * h;
    assert.deepEqual([0, 1, 2].map((fi) => at(f, 2, fi, ti, h)), [2 + base, 4 + base, 6 + base], `t ${ti} h ${h}`);
  }
  // Growing both: time first, then frequency, as ast_models.py does; a plane a*f + b*t stays a plane inside the grid.
  const plane = gridTensor(2, 2, 1, (fi, ti) => 8 * fi + 4 * ti);
  const both = adaptPositionEmbeddings(plane, { frequency: 2, time: 2 }, { frequency: 3, time: 4 }).tensor;
  const times = [0, 0.25, 0.75, 1]; // clamped source positions along time from above
  const freqs = [0, 0.5, 1];
  for (let fi = 0; fi < 3; fi++) for (let ti = 0; ti < 4; ti++) assert.equal(at(both, 4, fi, ti, 0), 8 * freqs[fi]! + 4 * times[ti]!);
  assert.throws(() => adaptPositionEmbeddings(plane, { frequency: 3, time: 3 }, { frequency: 1, time: 1 }), /do not fit a 3x3 patch grid/);
});

test('loadWeights adapts position embeddings to a shorter max_length when given the checkpoint grid', () => {
  const { config, tensors, file } = fixture('tiny'); // grid (32-16)//10+1 = 2 x (128-16)//10+1 = 12
  const shorter = config.withOverrides({ max_length: 64 }); // time (64-16)//10+1 = 5
  const { weights, notices } = loadWeights(shorter, tensors, 'classification', file, { checkpointGrid: config });
  const name = `${BASE_PREFIX}embeddings.position_embeddings`;
  const got = weights.get(name)!;
  assert.deepEqual(got.dims, [1, 12, 64]);
  const src = tensors.get(name)!.data as Float32Array;
  const H = 64;
  // Cut from the middle: start 12//2 - 5//2 = 4, so time 4..8 of each frequency row.
  for (let fi = 0; fi < 2; fi++) {
    for (let ti = 0; ti < 5; ti++) {
      const from = (2 + fi * 12 + 4 + ti) * H;
      const to = (2 + fi * 5 + ti) * H;
      assert.deepEqual(got.data.subarray(to, to + H), src.subarray(from, from + H));
    }
  }
  assert.deepEqual(got.data.subarray(0, 2 * H), src.subarray(0, 2 * H));
  assert.deepEqual(notices, [`${name}: patch grid 2x12 -> 2x5 (time 12->5 cut from the middle, as the AST repo)`]);
  // A grid that does not describe the checkpoint is an error, not a silent reshape.
  assert.throws(
    () => loadWeights(shorter, tensors, 'classification', file, { checkpointGrid: { frequency: 3, time: 12 } }),
    /position_embeddings: checkpoint \[1, 26, 64\] does not fit the checkpoint grid 3x12 \(\[1, 38, 64\]\)/,
  );
});

test('loadPretrainedWeights: from a folder of files, and a truncated model.safetensors names the file', async () => {
  const dir = join(modelsDir, 'strided');
  const config = ASTConfig.fromJSON(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  const bytes = new Uint8Array(readFileSync(join(dir, 'model.safetensors')));
  const { weights } = await loadPretrainedWeights(memorySource({ 'model.safetensors': bytes }, dir), config, 'classification');
  assert.equal(weights.size, astParameterSpecs(config, 'classification').length);
  await assert.rejects(
    loadPretrainedWeights(memorySource({ 'model.safetensors': bytes.subarray(0, bytes.length - 100) }, dir), config, 'classification'),
    new RegExp(`${dir}/model.safetensors: truncated safetensors file: tensors need \\d+ bytes of data but the file has \\d+`),
  );
  // Weights of another model under the same names: the config/weights mismatch is reported per tensor.
  const tiny = new Uint8Array(readFileSync(join(modelsDir, 'tiny', 'model.safetensors')));
  await assert.rejects(
    loadPretrainedWeights(memorySource({ 'model.safetensors': tiny }, '/wrong'), config, 'classification'),
    /\/wrong\/model.safetensors: checkpoint does not match the config \(3 layers, hidden 96, 3 labels, qkv_bias false\):\n  audio_spectrogram_transformer.embeddings.cls_token: checkpoint \[1, 1, 64\] vs config \[1, 1, 96\]/,
  );
});
