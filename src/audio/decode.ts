/**
 * Bytes -> mono float32 waveform. WAV is parsed here (wav.ts); every other format goes to the
 * `audio-decode` package (WASM decoders that run in Node and in browsers), which recognises the format
 * itself: whatever it decodes is accepted (READ_FORMATS). Our tests make and check WAV, FLAC, MP3,
 * OGG (Vorbis, Opus), AIFF/AIFC, CAF, WavPack and AMR-NB (sox, lame); the others are audio-decode's own.
 * Integer formats are scaled by 2^(bits-1), as torchaudio does (audio-decode's FLAC and WavPack use
 * 2^(bits-1) - 1, which we undo). Channels are averaged like `waveform.mean(0)`; resampling, when asked
 * for, is torchaudio's sinc.
 */
import { FormatError } from '../io/errors.js';
import { isWav, parseWav } from './wav.js';
import { MAX_RESAMPLE_KERNEL_VALUES, resample, resampleKernelValues } from './resample.js';
import { assertFinite } from './fbank.js';
import { trimMp3Gapless } from './mp3-gapless.js';

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

/** What audio-decode reads (its README's list), for the error on bytes it does not recognise. */
export const READ_FORMATS =
  'WAV, FLAC, MP3, OGG (Vorbis, Opus, FLAC), M4A/MP4/MOV and ADTS (AAC), AIFF/AIFC, CAF, WebM/MKV, AVI, AMR, WMA, ' +
  'WavPack, TTA, Musepack, AC-3/E-AC-3, DTS, DSD (DSF/DFF), QOA and tracker modules (MOD/XM/S3M/IT)';

function ascii(bytes: Uint8Array, at: number, n: number): string {
  let s = '';
  for (let i = 0; i < n && at + i < bytes.length; i++) s += String.fromCharCode(bytes[at + i]!);
  return s;
}

/** Length of a leading ID3v2 tag (MP3, FLAC and AAC files may start with one), 0 when there is none. */
export function id3Length(bytes: Uint8Array): number {
  if (bytes.length < 10 || ascii(bytes, 0, 3) !== 'ID3') return 0;
  const size = ((bytes[6]! & 0x7f) << 21) | ((bytes[7]! & 0x7f) << 14) | ((bytes[8]! & 0x7f) << 7) | (bytes[9]! & 0x7f);
  return 10 + size + (bytes[5]! & 0x10 ? 10 : 0);
}

/**
 * A name for the format, for messages and for the fixes below; undefined when we do not know it,
 * in which case the bytes still go to audio-decode, which knows more formats than this list.
 */
export function sniffFormat(bytes: Uint8Array): string | undefined {
  const head = ascii(bytes, 0, 4);
  if (head === 'fLaC') return 'FLAC';
  if (head === 'OggS') return 'OGG';
  if (head === 'FORM' && /^AIF[FC]$/.test(ascii(bytes, 8, 4))) return ascii(bytes, 8, 4);
  if (head === 'caff') return 'CAF';
  if (head === 'wvpk') return 'WavPack';
  if (head === '#!AM') return 'AMR';
  if (ascii(bytes, 4, 4) === 'ftyp') return 'M4A';
  if (bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return 'WEBM';
  const at = id3Length(bytes);
  if (at > 0 && ascii(bytes, at, 4) === 'fLaC') return 'FLAC';
  // ADTS AAC: 12 sync bits, layer 00.
  if (bytes.length >= at + 2 && bytes[at] === 0xff && (bytes[at + 1]! & 0xf6) === 0xf0) return 'AAC';
  // MPEG audio frame sync: 11 set bits, layer bits not 00; or an ID3v2 tag ahead of it.
  if (at > 0 || (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0 && (bytes[1]! & 0x06) !== 0)) return 'MP3';
  return undefined;
}

/** The codec of an Ogg stream, from its first packet: Vorbis, Opus and FLAC are decoded. */
export function oggCodec(bytes: Uint8Array): string {
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
 * The integer width of a FLAC or WavPack stream, whose decoders scale integers by 2^(bits-1) - 1
 * (WavPack: the positive ones) where torchaudio divides by 2^(bits-1): from FLAC's STREAMINFO (native, after an ID3 tag, or in
 * Ogg's first packet) or WavPack's first block header. Undefined for float or unknown layouts.
 */
export function integerBits(bytes: Uint8Array, format: string | undefined): number | undefined {
  if (format === 'WavPack') {
    if (bytes.length < 32) return undefined;
    const flags = new DataView(bytes.buffer, bytes.byteOffset + 24, 4).getUint32(0, true);
    return flags & 0x80 ? undefined : ((flags & 3) + 1) * 8; // 0x80: float samples
  }
  let block: number; // offset of STREAMINFO's 4-byte block header
  if (format === 'OGG') block = 27 + bytes[26]! + 13; // 0x7F "FLAC", version, header count, "fLaC"
  else if (format === 'FLAC') block = id3Length(bytes) + 4;
  else return undefined;
  const si = block + 4;
  if (bytes.length < si + 34 || ascii(bytes, block - 4, 4) !== 'fLaC' || (bytes[block]! & 0x7f) !== 0) return undefined;
  return (((bytes[si + 12]! & 0x01) << 4) | (bytes[si + 13]! >> 4)) + 1;
}

async function decodeWithLibrary(bytes: Uint8Array, format: string | undefined, source: string): Promise<{ channelData: Float32Array[]; sampleRate: number }> {
  const { default: decode } = await import('audio-decode');
  const kind = format ?? 'audio';
  let result: { channelData: Float32Array[]; sampleRate: number };
  try {
    result = await decode(bytes);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/unknown audio format/i.test(msg)) {
      const first = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
      throw new FormatError(source, `unsupported codec: unrecognised format (first bytes ${first}); read are ${READ_FORMATS}`);
    }
    const missing = /no decoder for (\w+)/i.exec(msg)?.[1];
    if (missing) {
      const name = missing === 'mid' ? 'MIDI (notes, not audio)' : missing === 'ape' ? "Monkey's Audio (APE)" : missing.toUpperCase();
      throw new FormatError(source, `unsupported codec: ${name}; read are ${READ_FORMATS}`);
    }
    throw new FormatError(source, `cannot decode ${kind}: ${msg} (corrupt or truncated file?)`);
  }
  let channelData = result.channelData.map((c) => (c instanceof Float32Array ? c : Float32Array.from(c)));
  // Encoder delay and padding, as a gapless player removes them (mp3-gapless.ts).
  if (format === 'MP3') channelData = trimMp3Gapless(bytes, channelData);
  const bits = integerBits(bytes, format);
  if (bits !== undefined) rescaleIntegerCodes(channelData, bits, format);
  return { channelData, sampleRate: result.sampleRate };
}

/**
 * Rescales, in place, a FLAC or WavPack decoder's floats of `bits`-bit integer codes to torchaudio's
 * code / 2^(bits-1). Wider codes are left as decoded.
 */
export function rescaleIntegerCodes(channelData: Float32Array[], bits: number, format: string | undefined): void {
  if (bits > 24) return;
  const maxCode = 2 ** (bits - 1) - 1;
  const full = 2 ** (bits - 1);
  // FLAC's decoder divides every code by 2^(bits-1) - 1; WavPack's only the positive ones (negatives by 2^(bits-1))
  const negScale = format === 'WavPack' ? full : maxCode;
  for (const ch of channelData) for (let i = 0; i < ch.length; i++) ch[i] = Math.round(ch[i]! * (ch[i]! > 0 ? maxCode : negScale)) / full;
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
export function checkResampling(from: number, to: number, source: string): void {
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

/** Decodes audio bytes (WAV, or any format audio-decode reads: READ_FORMATS) into a mono waveform, optionally resampled. */
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
    const format = sniffFormat(bytes);
    if (format === 'OGG') {
      const inner = oggCodec(bytes);
      if (inner !== 'vorbis' && inner !== 'opus' && inner !== 'FLAC' && inner !== 'truncated') {
        throw new FormatError(source, `unsupported codec: Ogg ${inner}; OGG files are read when they hold Vorbis, Opus or FLAC`);
      }
    }
    kind = format ?? 'audio';
    ({ channelData, sampleRate } = await decodeWithLibrary(bytes, format, source));
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
