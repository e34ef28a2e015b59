/** Node entry: registers onnxruntime-node and a folder file source, then exposes the core plus Node-only helpers. */
import * as ort from 'onnxruntime-node';
import { registerRuntime } from '../runtime/backend.js';
import { registerFileSourceResolver } from '../io/files.js';
import { readLocalFile, resolveNodeSource } from './resolve.js';
import { registerAudioFileReader, registerAudioFileStreamer } from '../pipeline/file-reader.js';
import { openAudioStream } from './audio-stream.js';
import { registerInt8Helper } from '../model/quant-thread.js';
import { startQuantThread } from './quant-thread.js';

registerRuntime({ name: 'node', ort, defaultExecutionProviders: ['cpu'] });
// An existing folder is read in place; an `owner/name` that is not a folder comes from the Hub, cached.
registerFileSourceResolver(resolveNodeSource);
registerAudioFileReader(readLocalFile);
// Local files are read a stretch at a time (WAV, FLAC), so a long recording holds a few windows, not the file.
registerAudioFileStreamer(openAudioStream);
// q8 quantises its Linears at load on two threads: this one and a worker (src/node/quant-thread.ts)
registerInt8Helper(startQuantThread);

export * from '../index.js';
export { dirSource } from './files.js';
export { hubSource, hubCacheDir } from './hub.js';
export type { HubOptions, HubFileSource } from './hub.js';
export { classifyFileStreaming, type ClassifyFileOptions } from './classify-file.js';
export { openAudioStream, MAX_WHOLE_FILE_BYTES, type AudioStreamOptions } from './audio-stream.js';
export { loadAudio, readAudioFile, listAudioFiles, listAudioInput, readManifestPaths, AUDIO_EXTENSIONS } from './audio.js';
