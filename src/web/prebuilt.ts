/**
 * Entry of the prebuilt ES module `dist/browser/ast-audio.js` (scripts/build-browser.mjs bundles it, with
 * onnxruntime-web inside). onnxruntime-web's WASM binary and its Emscripten loader (`.wasm`, `.mjs`) are copied
 * beside the module; here onnxruntime-web is pointed at that folder, resolved from this module's own URL, so
 * `import { pipeline } from './ast-audio.js'` works from any folder of any static server without configuration.
 * A page that keeps those files elsewhere sets `env.wasm.wasmPaths` after importing, before its first pipeline.
 */
import { env } from './index.js';

env.wasm.wasmPaths = new URL('./', import.meta.url).href;

export * from './index.js';
