import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import '../../src/node/index.js';
import { classifyCommand } from '../../src/cli/classify.js';
import { DEFAULT_MODEL_DIR, pipeline } from '../../src/pipeline/audio-classification.js';
import { fixturesDir, REPO_ROOT } from '../helpers/fixtures.js';
import { capture } from '../helpers/capture.js';

const DEFAULT = join(REPO_ROOT, DEFAULT_MODEL_DIR);
const WAV = join(fixturesDir, 'audio/speech_16k.wav');

describe('the embedded default model', { timeout: 120_000 }, () => {
  // The model is committed, so a checkout without it is broken: fail here rather than skip the tests below.
  it(`${DEFAULT_MODEL_DIR} is in the checkout`, () => {
    for (const f of ['config.json', 'preprocessor_config.json', 'model.safetensors']) assert.ok(existsSync(join(DEFAULT, f)), `${DEFAULT_MODEL_DIR}/${f} is missing`);
  });

  it('pipeline() with no model loads models/speech-commands from the package', async () => {
    const byDefault = await pipeline('audio-classification');
    const explicit = await pipeline('audio-classification', DEFAULT);
    try {
      assert.deepEqual(byDefault.model.config.labels, explicit.model.config.labels);
      const out = await byDefault(WAV, { topK: 3 });
      assert.deepEqual(out, await explicit(WAV, { topK: 3 }));
      assert.ok(out.every((r) => explicit.model.config.labels.includes(r.label)));
    } finally {
      await byDefault.dispose();
      await explicit.dispose();
    }
  });

  it('names the word spoken in each of its example clips (examples/<word>.wav, held-out voices)', async () => {
    // The expectation is the file name (what espeak-ng was asked to say), not an output of this code.
    const classify = await pipeline('audio-classification', DEFAULT, { threads: 1 });
    try {
      const words = readdirSync(join(DEFAULT, 'examples')).filter((f) => f.endsWith('.wav'));
      assert.ok(words.length >= 10, `${DEFAULT_MODEL_DIR}/examples: ${words.length} clips`);
      for (const f of words) {
        const [top] = await classify(join(DEFAULT, 'examples', f), { topK: 1 });
        assert.equal(top!.label, basename(f, '.wav'), `${DEFAULT_MODEL_DIR}/examples/${f}`);
      }
    } finally {
      await classify.dispose();
    }
  });

  it('the CLI uses it when --model is not given', async () => {
    const out = capture();
    const err = capture();
    const code = await classifyCommand(
      [WAV],
      { topK: 1, aggregate: 'mean', timeline: false, json: true, csv: false, batchSize: 1, progress: false },
      { stdout: out.stream, stderr: err.stream },
    );
    const stdout = out.text();
    const stderr = err.text();
    assert.equal(code, 0, stderr);
    assert.match(stderr, /# model models\/speech-commands: /);
    const doc = JSON.parse(stdout) as { model: string; results: { labels: { label: string }[] }[] };
    assert.equal(doc.model, DEFAULT_MODEL_DIR);
    assert.equal(doc.results[0]!.labels.length, 1);
  });
});
