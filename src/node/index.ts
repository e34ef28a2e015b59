/** Node entry: registers onnxruntime-node and a folder file source, then exposes the core plus Node-only helpers. */
import * as ort from 'onnxruntime-node';
import { registerRuntime } from '../runtime/backend.js';
import { registerFileSourceResolver } from '../io/files.js';
import { dirSource } from './files.js';

registerRuntime({ name: 'node', ort, defaultExecutionProviders: ['cpu'] });
// A later change resolves Hub ids here too; for now a string is a folder.
registerFileSourceResolver(async (pathOrId) => dirSource(pathOrId));

export * from '../index.js';
export { dirSource } from './files.js';
