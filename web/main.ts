/**
 * The demo page: model loader, file/drop/microphone input, top-k bars, spectrogram and timeline. All
 * inference runs in worker.ts; this module decodes what only a page can (WebAudio), captures the
 * microphone with an AudioWorklet, draws, and exposes `window.astDemo` for scripts and tests.
 */
import { FRAME_SHIFT_MS } from '../src/pipeline/windows.js';
import { drawSpectrogram, drawTimeline, renderLabels, type TimelineWindow } from './draw.js';
import type { ClassifyResult, DemoAudio, DemoDevice, DemoDtype, LoadedModel, MemoryReport, Scored, WorkerReply, WorkerRequest } from './protocol.js';

export interface AstDemo {
  /** Resolves once the first model is loaded (rejects when it cannot be). */
  ready: Promise<void>;
  /** The backend the loaded model runs on: 'wasm' or 'webgpu'. */
  readonly backend: string;
  /** Classifies one file's bytes as the file input does (and shows the result); top 5 labels unless topK says. */
  classify(audio: ArrayBuffer | Blob, options?: { topK?: number }): Promise<Scored[]>;
  /** The loaded model's facts (threads, window), for scripts. */
  readonly model: LoadedModel | undefined;
  /** WebAssembly memory of the inference worker (ONNX Runtime's heap). */
  memory(): Promise<MemoryReport>;
}

declare global {
  interface Window {
    astDemo: AstDemo;
  }
}

interface DemoConfig {
  /** Checkpoint folder URL (may be relative to the page) or Hub id. */
  model: string;
  name: string;
  /** Example clips the server offers (URLs relative to the page). */
  examples: string[];
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>('status');

// ---------- messages ----------
function showError(message: string): void {
  const div = document.createElement('div');
  div.className = 'error';
  div.setAttribute('role', 'alert');
  div.textContent = message;
  $('messages').append(div);
  status.textContent = 'error (see above)';
}
function clearErrors(): void {
  $('messages').replaceChildren();
}
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

// ---------- the worker ----------
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
let nextId = 1;
const pending = new Map<number, { resolve: (r: WorkerReply) => void; onProgress?: (loaded: number, total: number, file: string) => void }>();
worker.onmessage = (event: MessageEvent<WorkerReply>) => {
  const reply = event.data;
  const waiter = pending.get(reply.id);
  if (!waiter) return;
  if (reply.type === 'progress') {
    waiter.onProgress?.(reply.loaded, reply.total, reply.file);
    return;
  }
  pending.delete(reply.id);
  waiter.resolve(reply);
};
worker.onerror = (event) => showError(`the inference worker failed: ${event.message}`);

type RequestBody = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;
async function ask(request: RequestBody, transfer: Transferable[] = [], onProgress?: (loaded: number, total: number, file: string) => void): Promise<WorkerReply> {
  const id = nextId++;
  const reply = await new Promise<WorkerReply>((resolve) => {
    pending.set(id, { resolve, onProgress });
    worker.postMessage({ ...request, id }, transfer);
  });
  if (reply.type === 'error') throw new Error(reply.message);
  return reply;
}

// ---------- model loading ----------
let model: LoadedModel | undefined;
const deviceSelect = $<HTMLSelectElement>('device');
const dtypeSelect = $<HTMLSelectElement>('dtype');
const modelInput = $<HTMLInputElement>('model-url');

/** A Hub id stays as it is; anything else is a folder URL, made absolute against the page. */
function modelRef(text: string): string {
  const t = text.trim();
  return /^[\w.-]+\/[\w.-]+$/.test(t) && !t.startsWith('.') ? t : new URL(t.endsWith('/') ? t : `${t}/`, location.href).href;
}

async function loadModel(ref: string, device: DemoDevice, dtype: DemoDtype): Promise<LoadedModel> {
  const bar = $<HTMLProgressElement>('model-progress');
  const bytes = $<HTMLSpanElement>('model-bytes');
  const files = new Map<string, { loaded: number; total: number }>();
  status.textContent = `loading ${ref} (${device}, ${dtype})…`;
  const reply = await ask({ type: 'load', model: modelRef(ref), device, dtype }, [], (loaded, total, file) => {
    files.set(file, { loaded, total });
    let l = 0;
    let t = 0;
    for (const f of files.values()) {
      l += f.loaded;
      t += f.total;
    }
    bar.max = t || 1;
    bar.value = l;
    bytes.textContent = `${(l / 1e6).toFixed(2)} / ${(t / 1e6).toFixed(2)} MB (${file})`;
  });
  if (reply.type !== 'loaded') throw new Error(`unexpected reply ${reply.type}`);
  model = reply.model;
  $('model-info').textContent =
    `${model.model}: ${model.labels.length} labels, ${model.windowSeconds} s window, ${model.device} ${model.dtype}, ` +
    `${model.threads} WASM thread${model.threads === 1 ? '' : 's'}${model.crossOriginIsolated ? '' : ' (page not cross-origin isolated)'}, loaded in ${model.loadMs.toFixed(0)} ms`;
  status.textContent = 'ready: drop a file, pick an example or start the microphone';
  return model;
}

$<HTMLFormElement>('model-form').addEventListener('submit', (event) => {
  event.preventDefault();
  clearErrors();
  loadModel(modelInput.value, deviceSelect.value as DemoDevice, dtypeSelect.value as DemoDtype).catch((err: unknown) => showError(`cannot load the model: ${errorText(err)}`));
});

async function detectWebGpu(): Promise<void> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  const option = deviceSelect.querySelector<HTMLOptionElement>('option[value="webgpu"]')!;
  option.disabled = !adapter;
  option.textContent = adapter ? 'webgpu' : gpu ? 'webgpu (no adapter)' : 'webgpu (not in this browser)';
}

// ---------- decoding on the page ----------
/** WAV and FLAC go to our decoder (the CLI's numbers); other formats to the browser's decoder first. */
function isWavOrFlac(b: Uint8Array): boolean {
  const tag = (at: number) => String.fromCharCode(...b.subarray(at, at + 4));
  if (tag(0) === 'RIFF' && tag(8) === 'WAVE') return true;
  if (tag(0) === 'fLaC') return true;
  if (tag(0).startsWith('ID3') && b.length > 10) {
    const size = ((b[6]! & 0x7f) << 21) | ((b[7]! & 0x7f) << 14) | ((b[8]! & 0x7f) << 7) | (b[9]! & 0x7f);
    return tag(10 + size) === 'fLaC';
  }
  return false;
}

/** decodeAudioData runs at the context's rate; 48 kHz keeps the whole band, our resampler takes it to the model's. */
const BROWSER_DECODE_RATE = 48000;

async function prepareAudio(bytes: ArrayBuffer, name: string): Promise<DemoAudio> {
  if (isWavOrFlac(new Uint8Array(bytes, 0, Math.min(bytes.byteLength, 4096)))) return { kind: 'bytes', bytes, name };
  try {
    const ctx = new OfflineAudioContext(1, 1, BROWSER_DECODE_RATE);
    // decodeAudioData detaches its argument: give it a copy, keep the bytes for our decoder
    const buffer = await ctx.decodeAudioData(bytes.slice(0));
    const waveform = new Float32Array(buffer.length);
    for (let c = 0; c < buffer.numberOfChannels; c++) {
      const ch = buffer.getChannelData(c);
      for (let i = 0; i < ch.length; i++) waveform[i]! += ch[i]! / buffer.numberOfChannels;
    }
    return { kind: 'samples', waveform, samplingRate: buffer.sampleRate, name };
  } catch {
    // not a format this browser decodes: our decoder (audio-decode's WASM codecs) may still know it
    return { kind: 'bytes', bytes, name };
  }
}

// ---------- classifying files ----------
const labelsList = $<HTMLOListElement>('labels');
const topKSelect = $<HTMLSelectElement>('top-k');
const fileHop = $<HTMLSelectElement>('file-hop');

async function classifyBytes(bytes: ArrayBuffer, name: string, topK: number): Promise<Scored[]> {
  if (!model) await window.astDemo.ready;
  const audio = await prepareAudio(bytes, name);
  const transfer = audio.kind === 'bytes' ? [] : [audio.waveform.buffer as ArrayBuffer];
  const hop = fileHop.value === '' ? undefined : Number(fileHop.value);
  status.textContent = `classifying ${name}…`;
  let reply;
  try {
    reply = await ask({ type: 'classify', audio, hop, spectrogram: true }, transfer);
  } catch (err) {
    throw new Error(`cannot classify ${name}: ${errorText(err)}`);
  }
  if (reply.type !== 'result') throw new Error(`unexpected reply ${reply.type}`);
  showFileResult(name, reply.result, topK);
  return reply.result.labels.slice(0, topK);
}

function showFileResult(name: string, result: ClassifyResult, topK: number): void {
  $('result-name').textContent = `— ${name} (${result.duration.toFixed(2)} s, ${result.windows.length} window${result.windows.length === 1 ? '' : 's'}, ${result.ms.toFixed(0)} ms)`;
  renderLabels(labelsList, result.labels.slice(0, topK));
  if (result.spectrogram) drawSpectrogram($('spectrogram'), result.spectrogram.data, result.spectrogram.frames, result.spectrogram.bins);
  showTimeline(result.windows, `— ${result.windows.length} window${result.windows.length === 1 ? '' : 's'} of ${model!.windowSeconds} s`);
  status.textContent = `classified ${name}`;
}

function showTimeline(windows: readonly TimelineWindow[], info: string): void {
  const labels = model!.labels;
  drawTimeline($('timeline'), windows, labels);
  $('timeline-info').textContent = info;
  const top = $<HTMLOListElement>('timeline-top');
  top.replaceChildren(
    ...windows
      .slice(-50)
      .reverse()
      .map((w) => {
        let best = 0;
        for (let i = 1; i < w.scores.length; i++) if (w.scores[i]! > w.scores[best]!) best = i;
        const li = document.createElement('li');
        li.dataset.label = labels[best]!;
        li.dataset.start = String(w.start);
        li.textContent = `${w.start.toFixed(2)}–${w.end.toFixed(2)} s: ${labels[best]} ${w.scores[best]!.toFixed(3)}`;
        return li;
      }),
  );
}

async function classifyFile(file: Blob & { name?: string }): Promise<void> {
  clearErrors();
  try {
    await classifyBytes(await file.arrayBuffer(), file.name ?? 'blob', Number(topKSelect.value));
  } catch (err) {
    showError(errorText(err));
  }
}

$<HTMLInputElement>('file').addEventListener('change', (event) => {
  const input = event.target as HTMLInputElement;
  const file = input.files?.[0];
  if (file) void classifyFile(file).finally(() => (input.value = ''));
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const file = e.dataTransfer?.files[0];
  if (file) void classifyFile(file);
});

// ---------- live microphone ----------
/** Captured samples at the context's rate, with the context time of each block's last sample. */
interface Capture {
  ctx: AudioContext;
  stream: MediaStream;
  rate: number;
  blocks: { samples: Float32Array; first: number; endTime: number }[];
  total: number;
  nextWindow: number;
  busy: boolean;
  windows: TimelineWindow[];
}
let capture: Capture | undefined;
const micButton = $<HTMLButtonElement>('mic');
const liveHop = $<HTMLSelectElement>('live-hop');
/** The live timeline keeps this many windows (a minute at the default hop). */
const LIVE_WINDOWS = 120;

async function startMicrophone(): Promise<void> {
  if (!model) await window.astDemo.ready;
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  } catch (err) {
    const name = err instanceof DOMException ? err.name : '';
    throw new Error(
      name === 'NotAllowedError' ? 'microphone: permission refused (allow it in the address bar and try again)' : name === 'NotFoundError' ? 'microphone: no input device found' : `microphone: ${errorText(err)}`,
    );
  }
  const ctx = new AudioContext();
  await ctx.audioWorklet.addModule(new URL('./capture-worklet.js', import.meta.url));
  const node = new AudioWorkletNode(ctx, 'ast-capture', { numberOfOutputs: 1 });
  const mute = ctx.createGain();
  mute.gain.value = 0; // pulled by the destination so the worklet runs, but silent
  ctx.createMediaStreamSource(stream).connect(node).connect(mute).connect(ctx.destination);
  await ctx.resume();
  const c: Capture = { ctx, stream, rate: ctx.sampleRate, blocks: [], total: 0, nextWindow: 0, busy: false, windows: [] };
  capture = c;
  node.port.onmessage = (event: MessageEvent<{ samples: Float32Array; endTime: number }>) => {
    c.blocks.push({ samples: event.data.samples, first: c.total, endTime: event.data.endTime });
    c.total += event.data.samples.length;
    void liveStep(c);
  };
  micButton.textContent = 'stop microphone';
  status.textContent = `listening (${c.rate} Hz capture, resampled to ${model!.samplingRate} Hz)`;
}

function stopMicrophone(): void {
  if (!capture) return;
  for (const t of capture.stream.getTracks()) t.stop();
  void capture.ctx.close();
  capture = undefined;
  micButton.textContent = 'start microphone';
  status.textContent = 'microphone stopped';
}

/** Samples [from, to) of the capture, and the context time of sample `to - 1`. */
function captured(c: Capture, from: number, to: number): { samples: Float32Array; endTime: number } {
  const out = new Float32Array(to - from);
  let endTime = 0;
  for (const b of c.blocks) {
    const bEnd = b.first + b.samples.length;
    if (bEnd <= from || b.first >= to) continue;
    const s = Math.max(from, b.first);
    const e = Math.min(to, bEnd);
    out.set(b.samples.subarray(s - b.first, e - b.first), s - from);
    if (to - 1 >= b.first && to - 1 < bEnd) endTime = b.endTime - (bEnd - to) / c.rate;
  }
  return { samples: out, endTime };
}

/**
 * Windows every `hop` (rounded to whole 10 ms frames, as windows.ts does), each the model's window length;
 * when inference falls behind, stale windows are skipped so the labels stay current.
 */
async function liveStep(c: Capture): Promise<void> {
  if (c.busy || capture !== c) return;
  const hopSeconds = (Math.max(1, Math.round((Number(liveHop.value) * 1000) / FRAME_SHIFT_MS)) * FRAME_SHIFT_MS) / 1000;
  const span = Math.round(model!.windowSeconds * c.rate);
  const startOf = (k: number) => Math.round(k * hopSeconds * c.rate);
  let k = c.nextWindow;
  if (startOf(k) + span > c.total) return;
  while (startOf(k + 1) + span <= c.total) k++; // newest complete window
  c.nextWindow = k + 1;
  c.busy = true;
  try {
    const { samples, endTime } = captured(c, startOf(k), startOf(k) + span);
    const reply = await ask({ type: 'classify', audio: { kind: 'samples', waveform: samples, samplingRate: c.rate, name: 'microphone' }, spectrogram: true }, [samples.buffer]);
    if (reply.type !== 'result' || capture !== c) return;
    const latencyMs = (c.ctx.currentTime - endTime) * 1000;
    const start = startOf(k) / c.rate;
    c.windows.push({ start, end: start + model!.windowSeconds, scores: reply.result.windows[0]!.scores });
    if (c.windows.length > LIVE_WINDOWS) c.windows.shift();
    renderLabels(labelsList, reply.result.labels.slice(0, Number(topKSelect.value)));
    if (reply.result.spectrogram) drawSpectrogram($('spectrogram'), reply.result.spectrogram.data, reply.result.spectrogram.frames, reply.result.spectrogram.bins);
    showTimeline(c.windows, `— live, ${model!.windowSeconds} s windows every ${hopSeconds} s`);
    $('result-name').textContent = '— microphone';
    const latency = $('latency');
    latency.textContent = `latency ${latencyMs.toFixed(0)} ms (window's last sample → label; inference ${reply.result.ms.toFixed(0)} ms)`;
    latency.dataset.ms = String(latencyMs);
    // keep only the audio a future window can still read
    const keepFrom = startOf(c.nextWindow);
    while (c.blocks.length > 0 && c.blocks[0]!.first + c.blocks[0]!.samples.length <= keepFrom) c.blocks.shift();
  } catch (err) {
    showError(`microphone: ${errorText(err)}`);
  } finally {
    c.busy = false;
  }
  void liveStep(c);
}

micButton.addEventListener('click', () => {
  if (capture) {
    stopMicrophone();
    return;
  }
  clearErrors();
  startMicrophone().catch((err: unknown) => showError(errorText(err)));
});

// ---------- start ----------
async function fetchConfig(): Promise<DemoConfig> {
  const res = await fetch('demo-config.json');
  if (!res.ok) throw new Error(`demo-config.json: HTTP ${res.status}`);
  return (await res.json()) as DemoConfig;
}

async function start(): Promise<void> {
  const config = await fetchConfig();
  const params = new URLSearchParams(location.search);
  modelInput.value = params.get('model') ?? config.model;
  for (const [select, key] of [
    [deviceSelect, 'device'],
    [dtypeSelect, 'dtype'],
  ] as const) {
    const v = params.get(key);
    if (v) select.value = v;
  }
  const examples = $('examples');
  if (config.examples.length > 0 && !params.has('model')) {
    examples.append('examples: ');
    for (const url of config.examples) {
      const button = document.createElement('button');
      button.type = 'button';
      const name = decodeURIComponent(url.split('/').pop()!);
      button.textContent = name;
      button.addEventListener('click', () => {
        void fetch(url)
          .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`${url}: HTTP ${r.status}`))))
          .then((blob) => classifyFile(Object.assign(blob, { name })))
          .catch((err: unknown) => showError(errorText(err)));
      });
      examples.append(button);
    }
  }
  await detectWebGpu();
  await loadModel(modelInput.value, deviceSelect.value as DemoDevice, dtypeSelect.value as DemoDtype);
}

const ready = start().then(() => undefined);
// shown on the page; the rejection is also the value of astDemo.ready, so scripts see it when they await
ready.catch((err: unknown) => showError(`cannot load the model: ${errorText(err)}`));

window.astDemo = {
  ready,
  get backend() {
    return model?.device ?? deviceSelect.value;
  },
  get model() {
    return model;
  },
  async classify(audio, options = {}) {
    const bytes = audio instanceof Blob ? await audio.arrayBuffer() : audio;
    const name = audio instanceof Blob && 'name' in audio ? String((audio as File).name) : 'astDemo.classify';
    return classifyBytes(bytes, name, options.topK ?? 5);
  },
  async memory() {
    const reply = await ask({ type: 'memory' });
    if (reply.type !== 'memory') throw new Error(`unexpected reply ${reply.type}`);
    return reply.memory;
  },
};
