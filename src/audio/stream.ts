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
import { MP3_DECODER_DELAY, readMp3GaplessInfo } from './mp3-gapless.js';
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

/** Compressed formats decoded a chunk at a time through audio-decode's chunk interface (checked equal to its whole-file decode). */
export type ChunkedCodec = 'mp3' | 'oga';

/**
 * MP3 or Ogg Vorbis bytes (any chunking) -> decoded chunks, through the same audio-decode codecs that
 * decodeAudio uses on the whole file. MP3 gets decodeAudio's gapless handling (mp3-gapless.ts), read
 * from the first frame in `head`: with a LAME tag the decoder trims itself (checked at the end), without
 * one the decoder's 529-sample delay is dropped from the start.
 */
export async function* codecChunks(bytes: AsyncIterable<Uint8Array>, codec: ChunkedCodec, head: Uint8Array, source: string): AsyncGenerator<AudioChunk> {
  const { default: decode } = await import('audio-decode');
  const name = codec === 'mp3' ? 'MP3' : 'OGG';
  const info = codec === 'mp3' ? readMp3GaplessInfo(head) : undefined;
  const tagged = info?.frames !== undefined && info.encoderDelay !== undefined && info.padding !== undefined;
  const expected = tagged ? info.frames! * info.samplesPerFrame - info.encoderDelay! - info.padding! : Infinity;
  let skip = info && !tagged ? MP3_DECODER_DELAY : 0;
  let total = 0;
  const decoded = decode(bytes, codec);
  for (;;) {
    let next: IteratorResult<AudioChunk>;
    try {
      next = await decoded.next();
    } catch (e) {
      throw new FormatError(source, `cannot decode ${name}: ${e instanceof Error ? e.message : String(e)} (corrupt or truncated file?)`);
    }
    if (next.done) break;
    let { channelData } = next.value;
    const n = channelData[0]?.length ?? 0;
    total += n;
    if (skip > 0) {
      const cut = Math.min(skip, n);
      skip -= cut;
      channelData = channelData.map((c) => c.subarray(cut));
    }
    if (channelData.length > 0 && channelData[0]!.length > 0) yield { channelData, sampleRate: next.value.sampleRate };
  }
  if (total > expected) {
    // decodeAudio would trim this whole-file; streamed, the windows are already out. Not seen with mpg123.
    throw new FormatError(source, `the MP3 decoder returned ${total} samples where the LAME tag says ${expected} (it did not apply the gapless tag); convert the file to WAV or FLAC`);
  }
}
