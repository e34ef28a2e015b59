/**
 * What a pipeline accepts as audio, turned into a mono waveform at the model's sampling rate.
 * Browser-safe: URLs are fetched; a file path needs the platform's reader, which the Node entry
 * registers (browsers have no paths).
 */
import { decodeAudio } from '../audio/decode.js';
import { resample } from '../audio/resample.js';
import { getAudioFileReader } from './file-reader.js';

/** Samples with their rate; mono (average the channels first). */
export interface RawAudio {
  waveform: Float32Array;
  samplingRate: number;
}

/**
 * A path or URL (http, https, data, blob, file), the encoded bytes of a file (wav, flac, mp3, ogg …),
 * samples with their rate, or bare samples taken to be at the model's sampling rate (as in
 * transformers and transformers.js).
 */
export type AudioInput = string | URL | Uint8Array | ArrayBuffer | Float32Array | RawAudio;

/** A short name for errors and reports: the path or URL, else the input's position. */
export function describeInput(input: AudioInput, index: number): string {
  if (typeof input === 'string') return input.startsWith('data:') ? `data URL #${index}` : input;
  if (input instanceof URL) return input.protocol === 'data:' ? `data URL #${index}` : input.href;
  if (input instanceof Float32Array || isRawAudio(input)) return `waveform #${index}`;
  return `bytes #${index}`;
}

function isRawAudio(x: unknown): x is RawAudio {
  return typeof x === 'object' && x !== null && 'waveform' in x && 'samplingRate' in x;
}

/** Mono samples at `samplingRate`, or an error that starts with `name`. */
export async function loadInput(input: AudioInput, samplingRate: number, name: string): Promise<Float32Array> {
  if (input instanceof Float32Array) return input;
  if (isRawAudio(input)) {
    const { waveform, samplingRate: rate } = input;
    if (!(waveform instanceof Float32Array)) throw new Error(`${name}: waveform must be a Float32Array of mono samples`);
    if (!Number.isFinite(rate) || rate <= 0) throw new Error(`${name}: samplingRate must be a positive number of Hz, got ${rate}`);
    return rate === samplingRate ? waveform : resample(waveform, rate, samplingRate);
  }
  const bytes = await readBytes(input, name);
  const decoded = await decodeAudio(bytes, { samplingRate, source: name });
  return decoded.waveform;
}

async function readBytes(input: string | URL | Uint8Array | ArrayBuffer, name: string): Promise<Uint8Array> {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  const text = input instanceof URL ? input.href : input;
  if (/^(https?|data|blob):/i.test(text)) {
    const res = await fetch(text).catch((err: unknown) => {
      throw new Error(`${name}: cannot fetch (${err instanceof Error ? err.message : String(err)})`);
    });
    if (!res.ok) throw new Error(`${name}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  const reader = getAudioFileReader();
  if (!reader) throw new Error(`${name}: reading a file path needs the Node entry ("ast-audio"); in a browser pass a URL, bytes or samples`);
  return reader(text);
}
