/**
 * Browser entry: registers onnxruntime-web (WASM; WebGPU when asked) and URL file sources, then exposes the core.
 * onnxruntime-web is an optional peer dependency (a Node program never loads it, and it is 139 MB installed):
 * browser users install it beside this package, `npm install ast-audio onnxruntime-web`.
 */
import * as ort from 'onnxruntime-web';
import { registerRuntime } from '../runtime/backend.js';
import { registerFileSourceResolver, urlSource } from '../io/files.js';
import { hubUrlSource, looksLikeRepoId } from '../io/hub-names.js';

registerRuntime({ name: 'web', ort, defaultExecutionProviders: ['wasm'] });
// `owner/name` is a Hub repo, read from its resolve URLs (as transformers.js does); anything else is a URL.
registerFileSourceResolver(async (ref, options) => (looksLikeRepoId(ref) ? hubUrlSource(ref, { revision: options?.revision }) : urlSource(ref)));

export * from '../index.js';
/** onnxruntime-web's settings (WASM paths and threads, WebGPU), as transformers.js exposes `env`: set before the first model loads. */
export const env: typeof ort.env = ort.env;
