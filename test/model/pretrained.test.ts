/**
 * The one pretrained loader: config.json and preprocessor_config.json must agree on the input shape,
 * and a disagreement names both files and the field. Uses the tiny fixture checkpoint (max_length 128,
 * 32 mel bins), changed in memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { memorySource } from '../../src/io/files.js';
import { loadPretrained } from '../../src/model/pretrained.js';
import { formatSafetensors, parseSafetensors } from '../../src/io/safetensors.js';
import { fixturesDir } from '../helpers/fixtures.js';

const dir = join(fixturesDir, 'models', 'tiny');
const read = (name: string) => new Uint8Array(readFileSync(join(dir, name)));
const json = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as Record<string, unknown>;
const bytes = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

function checkpoint(preprocessor: Record<string, unknown> | undefined, description: string) {
  const files: Record<string, Uint8Array> = { 'config.json': read('config.json'), 'model.safetensors': read('model.safetensors') };
  if (preprocessor) files['preprocessor_config.json'] = bytes(preprocessor);
  return memorySource(files, description);
}

test('the fixture loads: config, extractor config, weights and the input spec agree', async () => {
  const p = await loadPretrained(checkpoint(json('preprocessor_config.json'), 'tiny'));
  assert.deepEqual(p.input, { samplingRate: 16000, maxLength: 128, numMelBins: 32 }); // the fixture's files say so
  assert.equal(p.extractorConfig.max_length, 128);
  assert.equal(p.head, 'classification');
  assert.ok(p.weights.has('classifier.dense.weight'));
});

for (const [field, value] of [['max_length', 100], ['num_mel_bins', 64]] as const) {
  test(`a preprocessor_config.json whose ${field} differs from config.json: the error names both files and ${field}`, async () => {
    const pre = { ...json('preprocessor_config.json'), [field]: value };
    await assert.rejects(loadPretrained(checkpoint(pre, 'ckpt')), (e: unknown) => {
      const m = (e as Error).message;
      assert.match(m, /preprocessor_config\.json/);
      assert.match(m, /config\.json/);
      assert.ok(m.includes(`disagree on ${field}`), m);
      assert.ok(m.includes(`makes ${value}`), m);
      return true;
    });
  });
}

test('a missing preprocessor_config.json is an error by default, and defaults in the config shape when optional', async () => {
  await assert.rejects(loadPretrained(checkpoint(undefined, 'ckpt')), /preprocessor_config\.json: no such file/);
  const p = await loadPretrained(checkpoint(undefined, 'ckpt'), { preprocessor: 'optional' });
  assert.equal(p.extractorConfig.max_length, 128);
  assert.equal(p.extractorConfig.num_mel_bins, 32);
});

test("head 'auto': a head when the checkpoint has one, the bare encoder when it has none", async () => {
  const pre = json('preprocessor_config.json');
  assert.equal((await loadPretrained(checkpoint(pre, 'tiny'), { head: 'auto' })).head, 'classification');
  const { tensors } = parseSafetensors(read('model.safetensors'), 'tiny');
  const encoderOnly = new Map([...tensors].filter(([k]) => !k.startsWith('classifier.')));
  const files = { 'config.json': read('config.json'), 'preprocessor_config.json': bytes(pre), 'model.safetensors': formatSafetensors(encoderOnly) };
  const p = await loadPretrained(memorySource(files, 'encoder'), { head: 'auto' });
  assert.equal(p.head, 'base');
  assert.ok(!p.weights.has('classifier.dense.weight') && p.weights.has('layernorm.weight'));
});
