/** Browser entry: registers onnxruntime-web (WASM; WebGPU when asked) and URL file sources, then exposes the core. */
import * as ort from 'onnxruntime-web';
import { registerRuntime } from '../runtime/backend.js';
import { registerFileSourceResolver, urlSource } from '../io/files.js';

registerRuntime({ name: 'web', ort, defaultExecutionProviders: ['wasm'] });
registerFileSourceResolver(async (url) => urlSource(url));

export * from '../index.js';
