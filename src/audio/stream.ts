/**
 * Audio as a stream of chunks, for recordings too long to hold: a reader (src/node/audio-stream.ts for
 * files) yields the file's channels a stretch at a time; `monoChunks` turns them into the same mono
 * samples at the model's rate that decodeAudio gives for the whole file (downmix, finite check,
 * torchaudio's sinc resampling, all sample by sample or streamed bit-exactly), and `flacChunks`
 * decodes FLAC bytes as they arrive. Browser-safe: no file access here.
 */
import { FormatError } from '../io/errors.js';
import { assertFinite } from './fbank.js';
import { checkResampling, downmix, rescaleIntegerCodes } from './decode.js';
import { StreamingResampler } from './resample.js';
import type { FLACDecodedAudio } from '@wasm-audio-decoders/flac';

/** A stretch of decoded audio: one array per channel (equal lengths), at the file's rate. */
export interface AudioChunk {
  channelData: Float32Array[];
  sampleRate: number;
}

export interface AudioStream {
  /** Names the input in errors. */
  source: string;
  /** Sample frames (per channel, at `sampleRate`) the header promises, when it says: for progress only. */
  expectedFrames?: number;
  /** The file's rate, when the header is read before the first chunk. */
  sampleRate?: number;
  chunks: AsyncIterable<AudioChunk>;
}

/**
 * The stream's mono samples at `samplingRate`, chunk by chunk: equal, sample for sample, to
 * `decodeAudio(wholeFile, { samplingRate }).waveform`. `onRate` hears the file's own rate. Errors (rate changes mid-stream, NaN or Inf
 * samples, an unusable rate) name the source.
 */
export async function* monoChunks(stream: AudioStream, samplingRate: number, onRate?: (rate: number) => void): AsyncGenerator<Float32Array> {
  const source = stream.source;
  let rate: number | undefined;
  let resampler: StreamingResampler | undefined;
  let seen = 0;
  for await (const chunk of stream.chunks) {
    if (chunk.channelData.length === 0 || chunk.channelData[0]!.length === 0) continue;
    if (rate === undefined) {
      rate = chunk.sampleRate;
      if (!(rate > 0)) throw new FormatError(source, `decoder reported a sampling rate of ${rate}`);
      onRate?.(rate);
      if (rate !== samplingRate) {
        checkResampling(rate, samplingRate, source);
        resampler = new StreamingResampler(rate, samplingRate);
      }
    } else if (chunk.sampleRate !== rate) {
      throw new FormatError(source, `the sampling rate changes from ${rate} Hz to ${chunk.sampleRate} Hz mid-stream; only one rate per file is read`);
    }
    const mono = downmix(chunk.channelData);
    assertFinite(mono, source, seen);
    seen += mono.length;
    const out = resampler ? resampler.push(mono) : mono;
    if (out.length > 0) yield out;
  }
  if (resampler) {
    const tail = resampler.end();
    if (tail.length > 0) yield tail;
  }
}



/**
 * Native FLAC bytes (any chunking) -> decoded chunks, scaled as decodeAudio scales FLAC (`bits`: the
 * stream's integer width from STREAMINFO). libFLAC through the same WASM build audio-decode uses, fed a
 * chunk at a time, so only a frame or two of samples is held.
 */
export async function* flacChunks(bytes: AsyncIterable<Uint8Array>, bits: number | undefined, source: string): AsyncGenerator<AudioChunk> {
  const { FLACDecoder } = await import('@wasm-audio-decoders/flac');
  const decoder = new FLACDecoder();
  await decoder.ready;
  const take = (r: FLACDecodedAudio): AudioChunk | undefined => {
    const problem = r.errors?.[0];
    if (problem) throw new FormatError(source, `cannot decode FLAC: ${problem.message || 'decoder error'} (corrupt or truncated file?)`);
    const n = r.samplesDecoded;
    if (!n || r.channelData.length === 0) return undefined;
    const channelData = r.channelData.map((c) => c.slice(0, n)); // the decoder reuses its buffers
    if (bits !== undefined) rescaleIntegerCodes(channelData, bits, 'FLAC');
    return { channelData, sampleRate: r.sampleRate };
  };
  try {
    for await (const chunk of bytes) {
      const out = take(await decoder.decode(chunk));
      if (out) yield out;
    }
    const out = take(await decoder.flush());
    if (out) yield out;
  } finally {
    decoder.free();
  }
}
