/**
 * fromPretrained on bad checkpoints: clear errors that name the file or tensor and the problem, before
 * any session is built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import '../../src/node/index.js';
import { memorySource } from '../../src/io/files.js';
import { ASTForAudioClassification, ASTModel } from '../../src/model/ast.js';
import { fixturesDir } from '../helpers/fixtures.js';

const tinyDir = join(fixturesDir, 'models/tiny');
const files = (overrides: Record<string, Uint8Array> = {}) =>
  memorySource(
    {
      'config.json': readFileSync(join(tinyDir, 'config.json')),
      'model.safetensors': readFileSync(join(tinyDir, 'model.safetensors')),
      ...overrides,
    },
    'ckpt',
  );
const json = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
const tinyConfig = () => JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8')) as Record<string, unknown>;

test('a config that does not match the weights names the tensor and both shapes', async () => {
  await assert.rejects(
    ASTForAudioClassification.fromPretrained(files({ 'config.json': json({ ...tinyConfig(), intermediate_size: 96 }) })),
    /intermediate\.dense\.weight.*\[128, 64\].*\[96, 64\]/s,
  );
});

test('another label count is a mismatch of the head, with a hint', async () => {
  const c = tinyConfig();
  delete c.id2label;
  delete c.label2id;
  await assert.rejects(
    ASTForAudioClassification.fromPretrained(files({ 'config.json': json({ ...c, num_labels: 7 }) })),
    /classifier\.dense\.weight.*\[5, 64\].*\[7, 64\]/s,
  );
});

test('a truncated weights file is refused with its name', async () => {
  const bytes = readFileSync(join(tinyDir, 'model.safetensors'));
  await assert.rejects(ASTModel.fromPretrained(files({ 'model.safetensors': bytes.subarray(0, bytes.length - 100) })), /ckpt\/model\.safetensors/);
});

test('a header that claims more bytes than the file has is refused before allocating', async () => {
  const bytes = new Uint8Array(readFileSync(join(tinyDir, 'model.safetensors')));
  new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.length * 10), true);
  await assert.rejects(ASTModel.fromPretrained(files({ 'model.safetensors': bytes })), /ckpt\/model\.safetensors/);
});

test('no weights at all names the folder and what was looked for', async () => {
  await assert.rejects(
    ASTModel.fromPretrained(memorySource({ 'config.json': readFileSync(join(tinyDir, 'config.json')) }, 'ckpt')),
    /ckpt: no weights found; looked for model\.safetensors/,
  );
});

test('dtype other than float32 is refused', async () => {
  await assert.rejects(
    ASTModel.fromPretrained(files(), { dtype: 'float16' as unknown as 'fp32' }),
    /dtype float16 is not supported/,
  );
});
