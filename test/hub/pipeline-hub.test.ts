import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../src/node/index.js';
import { classifyCommand } from '../../src/cli/classify.js';
import { ASTForAudioClassification } from '../../src/model/ast.js';
import { pipeline } from '../../src/pipeline/audio-classification.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { capture } from '../helpers/capture.js';
import { startFakeHub, type FakeHub } from './fake-hub.js';

const TINY = join(fixturesDir, 'models/tiny');
const WAV = join(fixturesDir, 'audio/chirp_16k.wav');
const ENV_KEYS = ['HF_ENDPOINT', 'HF_HUB_CACHE', 'HF_HUB_OFFLINE', 'HF_TOKEN', 'HF_HOME'] as const;

/** A Hub id given to pipeline(), fromPretrained() and the CLI, served by the loopback Hub via HF_ENDPOINT. */
describe('Hub ids through pipeline, fromPretrained and the CLI (loopback server)', { timeout: 60_000 }, () => {
  let hub: FakeHub;
  let root: string;
  const saved: Partial<Record<(typeof ENV_KEYS)[number], string>> = {};

  before(async () => {
    hub = await startFakeHub(TINY);
    root = mkdtempSync(join(tmpdir(), 'ast-hub-pipe-'));
    for (const k of ENV_KEYS) {
      saved[k] = process.env[k];
      delete process.env[k];
    }
    process.env.HF_ENDPOINT = hub.endpoint;
    process.env.HF_HUB_CACHE = join(root, 'cache');
  });
  after(async () => {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await hub.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('downloads once, gives the folder checkpoint results, and loads again without a request', async () => {
    const local = await pipeline('audio-classification', TINY);
    const expected = await local(WAV, { topK: null });
    await local.dispose();

    const first = await pipeline('audio-classification', hub.repoId);
    assert.deepEqual(await first(WAV, { topK: null }), expected);
    await first.dispose();
    const firstLoad = hub.requests.length;
    // config, preprocessor config and weights: a probe and a download each, plus the redirect hops
    // (measured: 7).
    assert.ok(firstLoad > 0 && firstLoad <= 10, `first load made ${firstLoad} requests`);

    const second = await pipeline('audio-classification', hub.repoId);
    assert.deepEqual(await second(WAV, { topK: null }), expected);
    await second.dispose();
    assert.equal(hub.requests.length, firstLoad, 'the second load is served from the cache');
  });

  it('fromPretrained with a revision; an unknown revision is a clear error', async () => {
    const m = await ASTForAudioClassification.fromPretrained(hub.repoId, { revision: hub.commit });
    assert.equal(m.config.num_labels, 5);
    await m.dispose();
    await assert.rejects(ASTForAudioClassification.fromPretrained(hub.repoId, { revision: 'v2' }), /hub:test-org\/tiny-ast@v2\/.*HTTP 404/);
  });

  it('HF_HUB_OFFLINE=1 with an empty cache fails naming the file and the setting', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    process.env.HF_HUB_CACHE = join(root, 'empty-cache');
    const before = hub.requests.length;
    try {
      await assert.rejects(pipeline('audio-classification', hub.repoId), /hub:test-org\/tiny-ast@main\/\S+: not in the Hugging Face cache .*HF_HUB_OFFLINE/);
    } finally {
      delete process.env.HF_HUB_OFFLINE;
      process.env.HF_HUB_CACHE = join(root, 'cache');
    }
    assert.equal(hub.requests.length, before);
  });

  it('the CLI takes a Hub id for --model', async () => {
    const dir = mkdtempSync(join(root, 'clips-'));
    copyFileSync(WAV, join(dir, 'x.wav'));
    const out = capture();
    const err = capture();
    const code = await classifyCommand(
      [dir],
      { model: hub.repoId, topK: 2, aggregate: 'mean', timeline: false, json: true, csv: false, batchSize: 1, progress: true },
      { stdout: out.stream, stderr: err.stream },
    );
    assert.equal(code, 0, err.text());
    const doc = JSON.parse(out.text()) as { model: string; results: { labels: unknown[] }[] };
    assert.equal(doc.model, hub.repoId);
    assert.equal(doc.results[0]!.labels.length, 2);
  });
});
