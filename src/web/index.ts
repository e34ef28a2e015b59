/** Browser entry: registers onnxruntime-web (WASM; WebGPU when asked), then exposes the core. */
import * as ort from 'onnxruntime-web';
import { registerRuntime } from '../runtime/backend.js';

registerRuntime({ name: 'web', ort, defaultExecutionProviders: ['wasm'] });

export * from '../index.js';
