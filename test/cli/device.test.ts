/**
 * `--device webgpu` (onnxruntime-node's bundled WebGPU EP) through the real `ast-audio` process: classify, embed,
 * eval and serve on the WebGPU adapter of test/helpers/webgpu.ts (Mesa lavapipe without a GPU), and the error
 * where no adapter exists (the Vulkan loader pointed at no driver), which needs no adapter at all.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import '../../src/node/index.js';
import { parseNpy } from '../../src/io/npy.js';
import { fixturesDir, maxAbs, maxAbsDiff, readFixtureNpy, REPO_ROOT } from '../helpers/fixtures.js';
import { vulkanEnv, webgpuSkip } from '../helpers/webgpu.js';
import { startServer } from '../serve/server-process.js';

const EXAMPLES = join(REPO_ROOT, 'models/speech-commands/examples');
const CLIPS = readdirSync(EXAMPLES).filter((f) => f.endsWith('.wav')).sort();
/**
 * Scores on WebGPU vs the CPU path, fp32: both are float32 ORT kernels on the same graph, differing in summation
 * order only (logits agree to ~1e-6 relative on the fixtures: test/runtime/webgpu.test.ts); a softmax score moves
 * by at most about the logits' absolute difference.
 */
const FP32_SCORE_TOL = 1e-5;
/** fp16 on WebGPU vs fp32 on the CPU: float16 activations (11-bit mantissa), as the fp16 bar of dtype.test.ts. */
const FP16_SCORE_TOL = 5e-3;

const skip = await webgpuSkip();

function cli(args: string[], env: Record<string, string> = vulkanEnv()): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

type Labels = { label: string; score: number }[];

function classifyJson(args: string[]): Map<string, Labels> {
  const r = cli(['classify', EXAMPLES, '--top-k', 'all', '--json', '--batch-size', '4', ...args]);
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { results: { file: string; labels: Labels }[] };
  return new Map(doc.results.map((x) => [x.file.split('/').pop()!, x.labels]));
}

test('classify --device webgpu (fp32, fp16): the CPU labels on the embedded examples, scores within the stated tolerance', { skip, timeout: 600_000 }, () => {
  const cpu = classifyJson(['--device', 'cpu']);
  assert.deepEqual([...cpu.keys()], CLIPS);
  for (const [dtype, tol] of [['fp32', FP32_SCORE_TOL], ['fp16', FP16_SCORE_TOL]] as const) {
    const gpu = classifyJson(['--device', 'webgpu', '--dtype', dtype]);
    assert.deepEqual([...gpu.keys()], CLIPS);
    let worst = 0;
    for (const clip of CLIPS) {
      const c = cpu.get(clip)!;
      const g = gpu.get(clip)!;
      // the example files are named by their word (default-model.test.ts): the top label is that word everywhere
      assert.equal(g[0]!.label, clip.replace('.wav', ''), `${dtype} ${clip}`);
      if (dtype === 'fp32') assert.deepEqual(g.map((x) => x.label), c.map((x) => x.label), `${clip}: every label in the CPU's order`);
      const byLabel = new Map(g.map((x) => [x.label, x.score]));
      for (const { label, score } of c) worst = Math.max(worst, Math.abs(byLabel.get(label)! - score));
    }
    console.log(`  classify --device webgpu --dtype ${dtype}: max |score - CPU fp32 score| ${worst.toExponential(2)} (tolerance ${tol})`);
    assert.ok(worst <= tol, `${dtype}: scores differ from the CPU's by ${worst}, tolerance ${tol}`);
  }
});

test('embed --device webgpu: logits within the parity tolerance of PyTorch (tiny fixture)', { skip, timeout: 300_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'embed-webgpu-'));
  try {
    const audio = ['speech_16k.wav', 'chirp_16k.wav'].map((a) => join(fixturesDir, 'audio', a));
    const r = cli(['embed', '--model', join(fixturesDir, 'models/tiny'), ...audio, '--out', out, '--device', 'webgpu']);
    assert.equal(r.status, 0, r.stderr);
    const ours = parseNpy(readFileSync(join(out, 'logits.npy')));
    const ref = readFixtureNpy('models/tiny/case-single_label/logits.npy');
    const rel = maxAbsDiff(ours.data as Float32Array, ref.data as Float32Array) / maxAbs(ref.data as Float32Array);
    assert.ok(rel <= 1e-4, `${rel} of the reference's max, tolerance 1e-4 (the parity tolerance)`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('eval --device webgpu scores the embedded examples as the CPU does', { skip, timeout: 300_000 }, () => {
  const data = mkdtempSync(join(tmpdir(), 'eval-webgpu-'));
  try {
    for (const clip of CLIPS) {
      const w = clip.replace('.wav', '');
      mkdirSync(join(data, w));
      copyFileSync(join(EXAMPLES, clip), join(data, w, clip));
    }
    const [cpu, gpu] = ['cpu', 'webgpu'].map((device) => {
      const r = cli(['eval', data, '--model', join(REPO_ROOT, 'models/speech-commands'), '--device', device, '--json']);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as { accuracy: number; loss: number; clips: number };
    });
    assert.equal(gpu!.clips, CLIPS.length);
    assert.equal(gpu!.accuracy, 1);
    assert.ok(Math.abs(gpu!.loss - cpu!.loss) <= 1e-5, `loss webgpu ${gpu!.loss} vs cpu ${cpu!.loss}`);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('serve --device webgpu: /info says so and /classify gives the clip\'s word', { skip, timeout: 300_000 }, async () => {
  const server = await startServer(['--device', 'webgpu'], vulkanEnv(), 120_000);
  try {
    const info = (await (await fetch(`${server.url}/info`)).json()) as { device: string };
    assert.equal(info.device, 'webgpu');
    const res = await fetch(`${server.url}/classify`, { method: 'POST', body: readFileSync(join(EXAMPLES, 'yes.wav')), headers: { 'content-type': 'audio/wav' } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as Labels)[0]!.label, 'yes');
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('--device webgpu where no adapter exists: an error naming the cause and the software adapter; q8 and unknown devices refused', { timeout: 120_000 }, () => {
  // the Vulkan loader pointed at no driver: Dawn finds no adapter, as on a machine without a GPU or Vulkan driver
  const none = join(tmpdir(), 'no-such-vulkan-icd.json');
  const r = cli(['classify', join(EXAMPLES, 'yes.wav'), '--device', 'webgpu'], { VK_ICD_FILENAMES: none, VK_DRIVER_FILES: none });
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stderr, /ast-audio classify: cannot load the model: device webgpu: no WebGPU adapter was found \(ONNX Runtime: "Failed to get a WebGPU adapter: No supported adapters"\)/);
  assert.match(r.stderr, /Dawn, which needs a Vulkan driver/);
  assert.match(r.stderr, /bash bench\/gpu\/software-adapter\.sh/);
  // Dawn's own Vulkan warnings come before it (printed by the native library); our line carries no source path or stack
  const ours = r.stderr.slice(r.stderr.indexOf('ast-audio classify:'));
  assert.doesNotMatch(ours, /webgpu_context\.cc|\n\s+at /, 'no C++ source path or stack trace');

  const q8 = cli(['classify', join(EXAMPLES, 'yes.wav'), '--device', 'webgpu', '--dtype', 'q8'], {});
  assert.equal(q8.status, 1);
  assert.match(q8.stderr, /dtype q8 runs on the cpu or wasm execution provider \(com\.microsoft\.DynamicQuantizeMatMul\); got webgpu/);

  for (const command of [['classify', join(EXAMPLES, 'yes.wav')], ['embed', join(EXAMPLES, 'yes.wav'), '--out', join(tmpdir(), 'never-written')], ['eval', EXAMPLES], ['serve']]) {
    const bad = cli([...command, '--device', 'gpu'], {});
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /option '--device <device>' argument 'gpu' is invalid\. Allowed choices are cpu, webgpu\./, command[0]);
  }
});
