/**
 * The two pages of the browser bench, one per side, each a cross-origin isolated tab of the same Chromium:
 *  - ours: the prebuilt module `dist/browser/ast-audio.js` (served at /ours/), the checkpoint folder at /ckpt/;
 *  - transformers.js: its browser build `dist/transformers.js` from node_modules (served at /tjs/), its own
 *    onnxruntime-web's loader and binary at /tjs-ort/ (instead of its default CDN), the ONNX export at /tjs-models/.
 * Both expose the same `window.bench`: load(options) -> { loadMs, threads }, run() -> ms of one forward on the
 * same [1, 1024, 128] input (a 10 s clip's features), dispose(). Thread count and spinning are set the same way.
 */

/** The input both sides run: [1, 1024, 128], the same values as bench/engine.ts's transformers.js worker. */
const INPUT = `Float32Array.from({ length: 1024 * 128 }, (_, i) => Math.sin(i * 0.37) * 0.5)`;

// onnxruntime session config for both sides: idle WASM threads block instead of spinning (as bench/engine.ts)
const NO_SPINNING = `{ session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } }`;

const HEAD = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">`;

export const OURS_PAGE = `${HEAD}<title>bench: ast-audio</title>
<script type="module">
import { ASTForAudioClassification, env } from '/ours/ast-audio.js';
let model;
const x = { dtype: 'float32', dims: [1, 1024, 128], data: ${INPUT} };
window.bench = {
  async load({ dtype, device, threads }) {
    env.wasm.numThreads = threads;
    const t0 = performance.now();
    model = await ASTForAudioClassification.fromPretrained(new URL('/ckpt/', location.href).href, {
      dtype, executionProviders: device === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'], sessionConfig: ${NO_SPINNING},
    });
    return { loadMs: performance.now() - t0, threads: env.wasm.numThreads };
  },
  async run() {
    const t0 = performance.now();
    await model.forward({ inputValues: x });
    return performance.now() - t0;
  },
  async dispose() { await model?.dispose(); model = undefined; },
};
window.benchReady = true;
</script>`;

export const TJS_PAGE = `${HEAD}<title>bench: transformers.js</title>
<script type="module">
import { env, AutoModelForAudioClassification, Tensor } from '/tjs/transformers.js';
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = new URL('/tjs-models/', location.href).href;
env.useBrowserCache = false;
env.useWasmCache = false;
// its own onnxruntime-web build (WebGPU + WASM, 'asyncify'), served locally instead of from its default CDN
env.backends.onnx.wasm.wasmPaths = {
  mjs: new URL('/tjs-ort/ort-wasm-simd-threaded.asyncify.mjs', location.href).href,
  wasm: new URL('/tjs-ort/ort-wasm-simd-threaded.asyncify.wasm', location.href).href,
};
let model;
const x = new Tensor('float32', ${INPUT}, [1, 1024, 128]);
window.bench = {
  version: env.version,
  async load({ dtype, device, threads }) {
    env.backends.onnx.wasm.numThreads = threads;
    const t0 = performance.now();
    model = await AutoModelForAudioClassification.from_pretrained('ast-base', {
      dtype, device, session_options: { extra: ${NO_SPINNING} },
    });
    return { loadMs: performance.now() - t0, threads: env.backends.onnx.wasm.numThreads };
  },
  async run() {
    const t0 = performance.now();
    await model({ input_values: x });
    return performance.now() - t0;
  },
  async dispose() { await model?.dispose(); model = undefined; },
};
window.benchReady = true;
</script>`;
