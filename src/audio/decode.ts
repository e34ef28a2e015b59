/**
 * Bytes -> mono float32 waveform. WAV is parsed here (wav.ts); FLAC, MP3 and OGG (Vorbis, Opus)
 * go through the `audio-decode` package (WASM decoders that run in Node and in browsers), and so
 * do M4A/MP4 (AAC), ADTS AAC and WebM, which our tests do not cover (no encoder to make them).
 * Channels are averaged like `waveform.mean(0)`; resampling, when asked for, is torchaudio's sinc.
 */
import { FormatError } from '../io/errors.js';
import { isWav, parseWav } from './wav.js';
import { MAX_RESAMPLE_KERNEL_VALUES, resample, resampleKernelValues } from './resample.js';
import { assertFinite } from './fbank.js';

export interface DecodedAudio {
  /** Mono: the mean over channels, at `samplingRate`. */
  waveform: Float32Array;
  samplingRate: number;
  /** Channel count of the file before downmixing. */
  channels: number;
  /** The file's own sampling rate. */
  originalSamplingRate: number;
}

export interface DecodeOptions {
  /** Resample to this rate (torchaudio's sinc interpolation); the file's own rate when omitted. */
  samplingRate?: number;
  /** The file name, for errors. */
  source?: string;
}

type Codec = 'flac' | 'mp3' | 'ogg' | 'm4a' | 'aac' | 'webm';

function ascii(bytes: Uint8Array, at: number, n: number): string {
  let s = '';
  for (let i = 0; i < n && at + i < bytes.length; i++) s += String.fromCharCode(bytes[at + i]!);
  return s;
}

/** Recognises the containers we hand to audio-decode, by their magic bytes. */
function sniffCodec(bytes: Uint8Array): Codec | undefined {
  if (ascii(bytes, 0, 4) === 'fLaC') return 'flac';
  if (ascii(bytes, 0, 4) === 'OggS') return 'ogg';
  if (ascii(bytes, 0, 3) === 'ID3') return 'mp3';
  if (ascii(bytes, 4, 4) === 'ftyp') return 'm4a';
  if (bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return 'webm';
  // ADTS AAC: 12 sync bits, layer 00.
  if (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xf6) === 0xf0) return 'aac';
  // MPEG audio frame sync: 11 set bits, layer bits not 00.
  if (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0 && (bytes[1]! & 0x06) !== 0) return 'mp3';
  return undefined;
}

function describeUnknown(bytes: Uint8Array): string {
  const head = ascii(bytes, 0, 4);
  if (head === 'FORM') return 'AIFF';
  return `unrecognised format (first bytes ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')})`;
}

/** The codec of an Ogg stream, from its first packet; only Vorbis and Opus are decoded. */
function oggCodec(bytes: Uint8Array): string {
  if (bytes.length < 28) return 'truncated';
  const packet = 27 + bytes[26]!;
  const id = ascii(bytes, packet, 8);
  if (id.slice(1, 7) === 'vorbis') return 'vorbis';
  if (id === 'OpusHead') return 'opus';
  if (id.slice(1, 5) === 'FLAC') return 'FLAC';
  if (id.startsWith('Speex')) return 'Speex';
  if (id.slice(1, 7) === 'theora') return 'Theora (video)';
  return 'unknown';
}

/**
 * FLAC's bits per sample, from STREAMINFO (always the first metadata block): audio-decode scales
 * FLAC integers by 2^(bits-1) - 1, torchaudio by 2^(bits-1), so we undo the former.
 */
function flacBitsPerSample(bytes: Uint8Array): number | undefined {
  if (bytes.length < 42 || (bytes[4]! & 0x7f) !== 0) return undefined;
  const si = 8; // "fLaC" + 4-byte block header
  return (((bytes[si + 12]! & 0x01) << 4) | (bytes[si + 13]! >> 4)) + 1;
}

async function decodeWithLibrary(bytes: Uint8Array, codec: Codec, source: string): Promise<{ channelData: Float32Array[]; sampleRate: number }> {
  const { default: decode } = await import('audio-decode');
  let result: { channelData: Float32Array[]; sampleRate: number };
  try {
    result = await decode(bytes);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/no decoder|unknown audio format/i.test(msg)) {
      throw new FormatError(source, `unsupported codec inside ${codec.toUpperCase()} (${msg})`);
    }
    throw new FormatError(source, `cannot decode ${codec.toUpperCase()}: ${msg} (corrupt or truncated file?)`);
  }
  const channelData = result.channelData.map((c) => (c instanceof Float32Array ? c : Float32Array.from(c)));
  if (codec === 'flac') {
    const bits = flacBitsPerSample(bytes);
    if (bits !== undefined && bits <= 24) {
      const maxCode = 2 ** (bits - 1) - 1;
      const full = 2 ** (bits - 1);
      for (const ch of channelData) for (let i = 0; i < ch.length; i++) ch[i] = Math.round(ch[i]! * maxCode) / full;
    }
  }
  return { channelData, sampleRate: result.sampleRate };
}

/** Mean over channels in float32, as torch's `waveform.mean(0)` (sum rounded to float32, then divided). */
export function downmix(channels: Float32Array[]): Float32Array {
  if (channels.length === 1) return channels[0]!;
  const n = channels[0]!.length;
  const out = new Float32Array(n);
  const sum = new Float32Array(1);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const ch of channels) s += ch[i]!;
    sum[0] = s;
    out[i] = sum[0]! / channels.length;
  }
  return out;
}

/**
 * Upsampling beyond this factor is refused: a header claiming 1 Hz would otherwise turn each byte of
 * the file into 16000 samples (8 kHz -> 16 kHz is 2, even 250 Hz -> 16 kHz is 64).
 */
export const MAX_UPSAMPLING = 64;

/** Resampling a file's audio must stay within bounds set by the file's size, checked before anything is built. */
function checkResampling(from: number, to: number, source: string): void {
  if (!Number.isInteger(from)) throw new FormatError(source, `sampling rate ${from} Hz is not an integer`);
  if (to > from * MAX_UPSAMPLING) {
    throw new FormatError(
      source,
      `sampled at ${from} Hz; resampling to ${to} Hz would make ${Math.ceil(to / from)} samples of each (at most ${MAX_UPSAMPLING} allowed; ` +
        'is the header right?)',
    );
  }
  const values = resampleKernelValues(from, to);
  if (values > MAX_RESAMPLE_KERNEL_VALUES) {
    throw new FormatError(
      source,
      `cannot resample ${from} Hz to ${to} Hz: the rates share no large common factor, so the sinc kernel would need ${values} values ` +
        `(limit ${MAX_RESAMPLE_KERNEL_VALUES}); resample the file to a common rate first`,
    );
  }
}

/** Decodes WAV/FLAC/MP3/OGG bytes into a mono waveform, optionally resampled. */
export async function decodeAudio(bytes: Uint8Array, options: DecodeOptions = {}): Promise<DecodedAudio> {
  const source = options.source ?? '<bytes>';
  if (bytes.length === 0) throw new FormatError(source, `empty file`);
  if (options.samplingRate !== undefined && !(Number.isInteger(options.samplingRate) && options.samplingRate > 0)) {
    throw new Error(`${source}: samplingRate must be a positive integer, got ${options.samplingRate}`); // the caller's option, not the file
  }
  let channelData: Float32Array[];
  let sampleRate: number;
  let kind = 'WAV';
  const head = ascii(bytes, 0, 4);
  if (isWav(bytes) || head === 'RIFF' || head === 'RF64' || head === 'BW64') {
    ({ channelData, sampleRate } = parseWav(bytes, source));
  } else {
    const codec = sniffCodec(bytes);
    if (!codec) throw new FormatError(source, `unsupported codec: ${describeUnknown(bytes)}; WAV, FLAC, MP3, OGG (Vorbis, Opus), M4A/AAC and WebM are read`);
    if (codec === 'ogg') {
      const inner = oggCodec(bytes);
      if (inner !== 'vorbis' && inner !== 'opus' && inner !== 'truncated') {
        throw new FormatError(source, `unsupported codec: Ogg ${inner}; OGG files are read when they hold Vorbis or Opus`);
      }
    }
    kind = codec.toUpperCase();
    ({ channelData, sampleRate } = await decodeWithLibrary(bytes, codec, source));
  }
  const channels = channelData.length;
  if (channels === 0 || channelData[0]!.length === 0) {
    throw new FormatError(source, `no audio samples decoded from this ${kind} file (empty, truncated or corrupt)`);
  }
  if (!(sampleRate > 0)) throw new FormatError(source, `decoder reported a sampling rate of ${sampleRate}`);
  const mono = downmix(channelData);
  assertFinite(mono, source);
  const target = options.samplingRate ?? sampleRate;
  if (target !== sampleRate) checkResampling(sampleRate, target, source);
  const waveform = target === sampleRate ? mono : resample(mono, sampleRate, target);
  return { waveform, samplingRate: target, channels, originalSamplingRate: sampleRate };
}
