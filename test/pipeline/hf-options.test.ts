/**
 * transformers.js's option names on pipeline('audio-classification') (issue 16 item 3): `top_k`,
 * `progress_callback` with the event shapes transformers.js documents (src/utils/core.js ProgressInfo:
 * initiate/download/done {status, name, file}; progress {status, name, file, progress 0-100, loaded,
 * total}; ready {status, task, model}), `device`, `dtype`, and unknown options refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../src/node/index.js';
import { pipeline, type AudioClassificationPipeline, type ProgressInfo } from '../../src/pipeline/audio-classification.js';
import { executionProvidersFor } from '../../src/pipeline/hf-options.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { startFakeHub } from '../hub/fake-hub.js';

const TINY = join(fixturesDir, 'models/tiny');
const WAV = join(fixturesDir, 'audio/chirp_16k.wav');

/** The keys transformers.js's ProgressInfo typedefs give each status. */
const SHAPES: Record<ProgressInfo['status'], string[]> = {
  initiate: ['file', 'name', 'status'],
  download: ['file', 'name', 'status'],
  progress: ['file', 'loaded', 'name', 'progress', 'status', 'total'],
  done: ['file', 'name', 'status'],
  ready: ['model', 'status', 'task'],
};

/** Checks shapes and per-file order (initiate, download, progress…, done), then ready last; returns events by file. */
function checkEvents(events: ProgressInfo[], name: string): Map<string, ProgressInfo[]> {
  for (const e of events) {
    assert.deepEqual(Object.keys(e).sort(), SHAPES[e.status], `shape of ${JSON.stringify(e)}`);
    if (e.status !== 'ready') assert.equal(e.name, name);
  }
  assert.deepEqual(events.at(-1), { status: 'ready', task: 'audio-classification', model: name });
  assert.equal(events.filter((e) => e.status === 'ready').length, 1);
  const byFile = new Map<string, ProgressInfo[]>();
  for (const e of events) if (e.status !== 'ready') byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  for (const [file, list] of byFile) {
    const statuses = list.map((e) => e.status);
    assert.deepEqual(statuses.slice(0, 2), ['initiate', 'download'], file);
    assert.equal(statuses.at(-1), 'done', file);
    const progress = list.filter((e): e is Extract<ProgressInfo, { status: 'progress' }> => e.status === 'progress');
    assert.ok(progress.length >= 1, `${file}: at least one progress event`);
    assert.equal(progress.length, statuses.length - 3, `${file}: only progress between download and done`);
    for (const p of progress) assert.ok(p.progress >= 0 && p.progress <= 100 && p.loaded <= p.total, JSON.stringify(p));
    const last = progress.at(-1)!;
    assert.equal(last.progress, 100);
    assert.equal(last.loaded, last.total);
  }
  return byFile;
}

describe('transformers.js options on the pipeline', { timeout: 120_000 }, () => {
  let tiny: AudioClassificationPipeline;
  before(async () => {
    tiny = await pipeline('audio-classification', TINY);
  });
  after(async () => {
    await tiny.dispose();
  });

  it('top_k is topK (per call and as a pipeline default); function_to_apply is functionToApply', async () => {
    const all = await tiny(WAV, { topK: null });
    assert.equal(all.length, 5);
    assert.deepEqual(await tiny(WAV, { top_k: 2 }), all.slice(0, 2));
    assert.deepEqual(await tiny(WAV, { top_k: null }), all);
    assert.deepEqual(await tiny(WAV, { top_k: 2, topK: 2 }), all.slice(0, 2));
    await assert.rejects(tiny(WAV, { top_k: 2, topK: 3 }), /top_k \(2\) and topK \(3\) disagree/);
    assert.deepEqual(await tiny.timeline(WAV, { top_k: 1 }), [{ start: 0, end: 0.5, labels: all.slice(0, 1) }]);
    const sigmoid = await tiny(WAV, { functionToApply: 'sigmoid', topK: 3 });
    assert.deepEqual(await tiny(WAV, { function_to_apply: 'sigmoid', top_k: 3 }), sigmoid);
    const three = await pipeline('audio-classification', TINY, { top_k: 3 });
    try {
      assert.deepEqual(await three(WAV), all.slice(0, 3));
    } finally {
      await three.dispose();
    }
  });

  it('an unknown option is an error naming it, per call and at load', async () => {
    await assert.rejects(tiny(WAV, { topk: 2 } as never), /audio classification: unknown option topk; known options: topK \(top_k\), functionToApply \(function_to_apply\), window, hop, aggregate, batchSize/);
    await assert.rejects(pipeline('audio-classification', TINY, { quantize: true } as never), /pipeline\('audio-classification'\): unknown option quantize; known options: .*revision, dtype, threads, executionProviders, graphOptimizationLevel, memoryArena, sessionConfig, profileFilePrefix, device, progress_callback$/);
    // transformers.js options we cannot honour say so and what to do instead.
    await assert.rejects(pipeline('audio-classification', TINY, { local_files_only: true } as never), /option local_files_only is not supported by ast-audio \(set HF_HUB_OFFLINE=1, or pass a local folder\)/);
  });

  it('dtype: fp32 (or float32), fp16 and q8; anything else lists the valid values', async () => {
    for (const dtype of ['fp32', 'float32', 'fp16', 'q8'] as const) {
      const p = await pipeline('audio-classification', TINY, { dtype });
      assert.equal(p.model.dtype, dtype === 'float32' ? 'fp32' : dtype);
      await p.dispose();
    }
    for (const dtype of ['q4', 'int8', 'float16', 'constructor']) {
      await assert.rejects(pipeline('audio-classification', TINY, { dtype } as never), new RegExp(`dtype "${dtype}" is not supported: valid values are 'fp32', 'fp16', 'q8'`));
    }
  });

  it('device: cpu honoured in Node (webgpu too: test/cli/device.test.ts); browser devices and unknown ones refused with the valid list', async () => {
    const cpu = await pipeline('audio-classification', TINY, { device: 'cpu' });
    try {
      assert.deepEqual(await cpu(WAV, { topK: null }), await tiny(WAV, { topK: null }));
    } finally {
      await cpu.dispose();
    }
    await assert.rejects(
      pipeline('audio-classification', TINY, { device: 'wasm' }),
      /device "wasm" is not available in Node \(onnxruntime-node\): use one of 'auto', 'cpu', 'cuda', 'webgpu'; wasm is the browser build's/,
    );
    // Node's WebGPU EP alone: ORT runs what it lacks on its CPU EP by itself, and q8 stays refused there
    assert.deepEqual(executionProvidersFor('webgpu', 'node'), ['webgpu']);
    await assert.rejects(pipeline('audio-classification', TINY, { device: 'webgpu', dtype: 'q8' }), /dtype q8 runs on the cpu or wasm execution provider .*got webgpu/);
    await assert.rejects(pipeline('audio-classification', TINY, { device: 'cpu', executionProviders: ['cpu'] }), /give device or executionProviders, not both/);
    // The browser table (the web entry registers runtime "web").
    assert.deepEqual(executionProvidersFor('wasm', 'web'), ['wasm']);
    assert.deepEqual(executionProvidersFor('webgpu', 'web'), ['webgpu', 'wasm']);
    assert.equal(executionProvidersFor('auto', 'web'), undefined);
    assert.throws(() => executionProvidersFor('cpu', 'web'), /device "cpu" is not available in a browser \(onnxruntime-web\): use one of 'auto', 'wasm', 'webgpu'/);
  });

  it('progress_callback from a folder: initiate, download, progress (100 %), done per file, then ready', async () => {
    const events: ProgressInfo[] = [];
    const p = await pipeline('audio-classification', TINY, { progress_callback: (e) => events.push(e) });
    await p.dispose();
    const byFile = checkEvents(events, TINY);
    assert.deepEqual([...byFile.keys()].sort(), ['config.json', 'model.safetensors', 'preprocessor_config.json']);
    for (const [file, list] of byFile) {
      const size = statSync(join(TINY, file)).size;
      assert.deepEqual(list.filter((e) => e.status === 'progress'), [{ status: 'progress', name: TINY, file, progress: 100, loaded: size, total: size }]);
    }
    await assert.rejects(pipeline('audio-classification', TINY, { progress_callback: 'yes' } as never), /progress_callback must be a function/);
  });

  it('progress_callback on a Hub download: byte progress up to the file size', async () => {
    const hub = await startFakeHub(TINY);
    const root = mkdtempSync(join(tmpdir(), 'ast-progress-'));
    const saved = { HF_ENDPOINT: process.env.HF_ENDPOINT, HF_HUB_CACHE: process.env.HF_HUB_CACHE, HF_HUB_OFFLINE: process.env.HF_HUB_OFFLINE };
    process.env.HF_ENDPOINT = hub.endpoint;
    process.env.HF_HUB_CACHE = join(root, 'cache');
    delete process.env.HF_HUB_OFFLINE;
    try {
      const events: ProgressInfo[] = [];
      const p = await pipeline('audio-classification', hub.repoId, { progress_callback: (e) => events.push(e) });
      await p.dispose();
      const byFile = checkEvents(events, hub.repoId);
      const weights = byFile.get('model.safetensors')!.filter((e) => e.status === 'progress');
      assert.equal(weights.at(-1)!.total, hub.files.get('model.safetensors')!.length);
      for (let i = 1; i < weights.length; i++) assert.ok(weights[i]!.loaded >= weights[i - 1]!.loaded, 'bytes only go up');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await hub.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
