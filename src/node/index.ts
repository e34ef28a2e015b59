/** Node entry: registers onnxruntime-node, then exposes the core plus Node-only helpers. */
import * as ort from 'onnxruntime-node';
import { registerRuntime } from '../runtime/backend.js';

registerRuntime({ name: 'node', ort, defaultExecutionProviders: ['cpu'] });

export * from '../index.js';
