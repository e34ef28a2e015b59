import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ASTConfig, HIDDEN_ACTS } from '../../src/model/config.js';
import { memorySource } from '../../src/io/files.js';
import { fixturesDir } from '../helpers/fixtures.js';

const modelsDir = join(fixturesDir, 'models');
const fixtureModels = readdirSync(modelsDir).filter((m) => existsSync(join(modelsDir, m, 'config.json')));
test('the fixture models are found (an empty list would check no config)', () => {
  assert.ok(fixtureModels.length >= 4, `${modelsDir}: ${fixtureModels.length} models with a config.json`);
});

// The shape of a config.json as transformers saves it (MIT/ast-finetuned-audioset-10-10-0.4593 style):
// no num_labels key, a transformers_version, labels with names.
const hfSaved = {
  architectures: ['ASTForAudioClassification'],
  attention_probs_dropout_prob: 0.0,
  frequency_stride: 10,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.0,
  hidden_size: 768,
  id2label: { '0': 'Speech', '1': 'Male speech, man speaking', '2': 'Music' },
  initializer_range: 0.02,
  intermediate_size: 3072,
  label2id: { Speech: 0, 'Male speech, man speaking': 1, Music: 2 },
  layer_norm_eps: 1e-12,
  max_length: 1024,
  model_type: 'audio-spectrogram-transformer',
  num_attention_heads: 12,
  num_hidden_layers: 12,
  num_mel_bins: 128,
  patch_size: 16,
  qkv_bias: true,
  time_stride: 10,
  torch_dtype: 'float32',
  transformers_version: '4.25.0.dev0',
};

test('defaults are HF ASTConfig() defaults (the MIT AudioSet architecture)', () => {
  const c = ASTConfig.fromJSON({});
  assert.equal(c.hidden_size, 768);
  assert.equal(c.num_hidden_layers, 12);
  assert.equal(c.num_attention_heads, 12);
  assert.equal(c.intermediate_size, 3072);
  assert.equal(c.hidden_act, 'gelu');
  assert.equal(c.hidden_dropout_prob, 0);
  assert.equal(c.attention_probs_dropout_prob, 0);
  assert.equal(c.initializer_range, 0.02);
  assert.equal(c.layer_norm_eps, 1e-12);
  assert.equal(c.patch_size, 16);
  assert.equal(c.qkv_bias, true);
  assert.equal(c.frequency_stride, 10);
  assert.equal(c.time_stride, 10);
  assert.equal(c.max_length, 1024);
  assert.equal(c.num_mel_bins, 128);
  // PretrainedConfig: 2 labels named LABEL_i when nothing is said.
  assert.equal(c.num_labels, 2);
  assert.deepEqual(c.id2label, { '0': 'LABEL_0', '1': 'LABEL_1' });
  assert.deepEqual(c.label2id, { LABEL_0: 0, LABEL_1: 1 });
  assert.equal(c.problem_type, null);
  // AST-Base: (128-16)//10+1 = 12 frequency patches, (1024-16)//10+1 = 101 time patches, 1212 + 2 tokens.
  assert.equal(c.frequencyOutDim, 12);
  assert.equal(c.timeOutDim, 101);
  assert.equal(c.numPatches, 1212);
  assert.equal(c.sequenceLength, 1214);
  assert.equal(c.headDim, 64);
});

test('num_labels alone makes LABEL_i names; id2label alone sets num_labels and label2id', () => {
  const a = ASTConfig.fromJSON({ num_labels: 3 });
  assert.deepEqual(a.labels, ['LABEL_0', 'LABEL_1', 'LABEL_2']);
  const b = ASTConfig.fromJSON({ id2label: { '1': 'no', '0': 'yes' } });
  assert.equal(b.num_labels, 2);
  assert.deepEqual(b.labels, ['yes', 'no']);
  assert.deepEqual(b.label2id, { yes: 0, no: 1 });
});

test('a transformers-saved config.json round-trips exactly, unknown fields included', () => {
  const c = ASTConfig.fromJSON(structuredClone(hfSaved), 'MIT/config.json');
  assert.equal(c.num_labels, 3);
  assert.equal(c.torch_dtype, 'float32');
  assert.deepEqual(c.extra, { architectures: ['ASTForAudioClassification'], transformers_version: '4.25.0.dev0' });
  assert.deepEqual(c.toJSON(), hfSaved);
  assert.deepEqual(JSON.parse(JSON.stringify(c)), hfSaved);
});

for (const m of fixtureModels) {
  test(`fixture ${m}/config.json loads and round-trips`, async () => {
    const file = join(modelsDir, m, 'config.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    const c = await ASTConfig.fromPretrained(memorySource({ 'config.json': readFileSync(file) }, m));
    assert.equal(c.num_labels, Object.keys(json.id2label).length);
    assert.equal(c.hidden_size, json.hidden_size);
    assert.equal(c.qkv_bias, json.qkv_bias);
    assert.deepEqual(c.toJSON(), json);
  });
}

test('strided fixture geometry: 16x12 strides', () => {
  const c = ASTConfig.fromJSON(JSON.parse(readFileSync(join(modelsDir, 'strided', 'config.json'), 'utf8')));
  // (64-16)//16+1 = 4, (256-16)//12+1 = 21
  assert.equal(c.frequencyOutDim, 4);
  assert.equal(c.timeOutDim, 21);
  assert.equal(c.numPatches, 84);
});

test('withOverrides: a new label set rebuilds label2id and num_labels', () => {
  const c = ASTConfig.fromJSON(structuredClone(hfSaved));
  const d = c.withOverrides({ id2label: { '0': 'yes', '1': 'no' }, max_length: 512 });
  assert.equal(d.num_labels, 2);
  assert.deepEqual(d.label2id, { yes: 0, no: 1 });
  assert.equal(d.max_length, 512);
  assert.equal(d.extra.transformers_version, '4.25.0.dev0');
  const e = c.withOverrides({ num_labels: 4 });
  assert.deepEqual(e.labels, ['LABEL_0', 'LABEL_1', 'LABEL_2', 'LABEL_3']);
});

const bad: [string, Record<string, unknown>, RegExp][] = [
  ['heads not dividing hidden size', { hidden_size: 100, num_attention_heads: 12 }, /hidden_size \(100\) is not a multiple of num_attention_heads \(12\)/],
  ['unknown activation lists the known ones', { hidden_act: 'mish' }, new RegExp(`unknown hidden_act "mish"; known: ${HIDDEN_ACTS.join(', ')}`)],
  ['non-positive size', { intermediate_size: 0 }, /intermediate_size must be a positive integer, got 0/],
  ['non-integer size', { num_hidden_layers: 1.5 }, /num_hidden_layers must be a positive integer, got 1.5/],
  ['string size', { hidden_size: '768' }, /hidden_size must be a positive integer, got "768"/],
  ['patch larger than mel bins', { num_mel_bins: 8 }, /patch_size \(16\) is larger than num_mel_bins \(8\)/],
  ['patch larger than max_length', { max_length: 10 }, /patch_size \(16\) is larger than max_length \(10\)/],
  ['bad problem_type', { problem_type: 'ranking' }, /problem_type "ranking" is not one of regression, single_label_classification, multi_label_classification/],
  ['id2label vs num_labels', { num_labels: 3, id2label: { '0': 'a', '1': 'b' } }, /num_labels is 3 but id2label has 2 labels/],
  ['id2label with a gap', { id2label: { '0': 'a', '2': 'b' } }, /id2label has 2 entries but no id 1/],
  ['id2label non-integer key', { id2label: { x: 'a' } }, /id2label key "x" is not a non-negative integer/],
  ['label2id out of range', { id2label: { '0': 'a' }, label2id: { a: 5 } }, /label2id\["a"\] must be an id in 0..0, got 5/],
  ['dropout out of range', { hidden_dropout_prob: 1.5 }, /hidden_dropout_prob must be a number in \[0, 1\]/],
  ['layer_norm_eps zero', { layer_norm_eps: 0 }, /layer_norm_eps must be a finite number > 0/],
  ['qkv_bias not boolean', { qkv_bias: 'yes' }, /qkv_bias must be true or false/],
  ['another model type', { model_type: 'vit' }, /model_type is "vit", not "audio-spectrogram-transformer"/],
];
for (const [what, json, message] of bad) {
  test(`rejects ${what}, naming the file`, () => {
    assert.throws(
      () => ASTConfig.fromJSON(json, '/ckpt/config.json'),
      (err: Error) => err.message.startsWith('/ckpt/config.json: ') && message.test(err.message),
    );
  });
}

test('rejects a non-object and corrupt JSON, naming the file', async () => {
  assert.throws(() => ASTConfig.fromJSON([1, 2], 'x/config.json'), /x\/config.json: a config must be a JSON object, got an array/);
  const src = memorySource({ 'config.json': new TextEncoder().encode('{"hidden_size": 7') }, '/m');
  await assert.rejects(ASTConfig.fromPretrained(src), /\/m\/config.json: not valid JSON/);
  await assert.rejects(ASTConfig.fromPretrained(memorySource({}, '/empty')), /\/empty\/config.json: no such file/);
});
