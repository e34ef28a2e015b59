/**
 * The demo's inference worker: loads a checkpoint with the web entry's pipeline and classifies audio, so
 * the page never waits on a forward pass. Decoding (our decoder for bytes; our resampler for samples the
 * browser decoded), features, windows and aggregation are the library's, the same code the CLI runs.
 */
import { wasmMemoryBytes } from './wasm-memory.js'; // first: it must see ONNX Runtime's memory being made
import * as ort from 'onnxruntime-web';
import { decodeAudio, hubUrlSource, looksLikeRepoId, pipeline, resample, urlSource, type AudioClassificationPipeline, type FileSource } from '../src/web/index.js';
import { countingFetch } from './counting-fetch.js';
import type { ClassifyRequest, ClassifyResult, DemoAudio, LoadRequest, LoadedModel, WorkerReply, WorkerRequest } from './protocol.js';

interface WorkerScope {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
  location: { href: string };
  crossOriginIsolated: boolean;
}
const scope = self as unknown as WorkerScope;

// ORT's .mjs/.wasm files are copied beside this script by the build (scripts/build-web-demo.mjs).
ort.env.wasm.wasmPaths = new URL('./', scope.location.href).href;
// Threads need SharedArrayBuffer, which needs cross-origin isolation (the demo server's COOP/COEP headers).
ort.env.wasm.numThreads = scope.crossOriginIsolated ? navigator.hardwareConcurrency : 1;

let classifier: AudioClassificationPipeline | undefined;
let loaded: LoadedModel | undefined;
// One request at a time: a load waits for the classifications before it, and they for the load.
let queue: Promise<void> = Promise.resolve();

scope.onmessage = (event) => {
  const request = event.data;
  queue = queue.then(() => handle(request)).catch((err: unknown) => {
    scope.postMessage({ type: 'error', id: request.id, message: err instanceof Error ? err.message : String(err) });
  });
};

async function handle(request: WorkerRequest): Promise<void> {
  if (request.type === 'load') {
    const model = await load(request);
    scope.postMessage({ type: 'loaded', id: request.id, model });
  } else if (request.type === 'classify') {
    const result = await classify(request);
    const transfer: Transferable[] = result.windows.map((w) => w.scores.buffer as ArrayBuffer);
    if (result.spectrogram) transfer.push(result.spectrogram.data.buffer as ArrayBuffer);
    scope.postMessage({ type: 'result', id: request.id, result }, transfer);
  } else {
    const { bytes, count } = wasmMemoryBytes();
    scope.postMessage({ type: 'memory', id: request.id, memory: { wasmBytes: bytes, wasmMemories: count } });
  }
}

async function load(request: LoadRequest): Promise<LoadedModel> {
  const started = performance.now();
  const fetchCounting = countingFetch((file, loadedBytes, total) => {
    scope.postMessage({ type: 'progress', id: request.id, file, loaded: loadedBytes, total });
  });
  const source: FileSource = looksLikeRepoId(request.model) ? hubUrlSource(request.model, { fetch: fetchCounting }) : urlSource(request.model, fetchCounting);
  const next = await pipeline('audio-classification', source, { device: request.device, dtype: request.dtype });
  // the old model's session is released only once the new one works, so a failed load keeps the page usable
  await classifier?.dispose();
  classifier = next;
  const config = next.model.config;
  const fe = next.featureExtractor.config;
  loaded = {
    model: request.model,
    labels: [...config.labels],
    device: request.device,
    dtype: request.dtype,
    threads: ort.env.wasm.numThreads ?? 1,
    crossOriginIsolated: scope.crossOriginIsolated,
    samplingRate: fe.sampling_rate,
    windowFrames: fe.max_length,
    // Kaldi frames: (W - 1) shifts of 10 ms plus one 25 ms frame (src/pipeline/windows.ts)
    windowSeconds: ((fe.max_length - 1) * 10 + 25) / 1000,
    loadMs: performance.now() - started,
  };
  return loaded;
}

/** Mono samples at the model's rate: bytes through our decoder, browser-decoded samples through our resampler. */
async function toWaveform(audio: DemoAudio, samplingRate: number): Promise<Float32Array> {
  if (audio.kind === 'bytes') return (await decodeAudio(new Uint8Array(audio.bytes), { samplingRate, source: audio.name })).waveform;
  return audio.samplingRate === samplingRate ? audio.waveform : resample(audio.waveform, audio.samplingRate, samplingRate);
}

async function classify(request: ClassifyRequest): Promise<ClassifyResult> {
  if (!classifier || !loaded) throw new Error('no model is loaded yet');
  const started = performance.now();
  const { samplingRate, labels } = loaded;
  const waveform = await toWaveform(request.audio, samplingRate);
  let item;
  // topK null: every label, so the page can draw each window's full row in the heat map
  for await (const out of classifier.run([waveform], { topK: null, hop: request.hop })) item = out;
  if (!item) throw new Error(`${request.audio.name}: no result`);
  if (item.error) throw new Error(item.error.message.replace(/^waveform #0/, request.audio.name));
  const index = new Map(labels.map((l, i) => [l, i]));
  const windows = item.windows!.map((w) => {
    const scores = new Float32Array(labels.length);
    for (const { label, score } of w.labels) scores[index.get(label)!] = score;
    return { start: w.start, end: w.end, scores };
  });
  const result: ClassifyResult = { labels: item.labels!, windows, duration: item.duration, ms: 0 };
  if (request.spectrogram) {
    const { data, frames } = classifier.featureExtractor.fbank(waveform, samplingRate, { pad: false, source: request.audio.name });
    result.spectrogram = { data, frames, bins: classifier.featureExtractor.config.num_mel_bins };
  }
  result.ms = performance.now() - started;
  return result;
}
