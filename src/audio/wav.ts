/**
 * RIFF/WAVE reader: PCM u8/s16/s24/s32, IEEE float32/64, WAVE_FORMAT_EXTENSIBLE, any channel
 * count, chunks in any order (LIST before fmt, fmt after data), odd-sized chunks with their pad
 * byte. Integer samples are scaled exactly as `torchaudio.load(normalize=True)` (sox backend):
 * int / 2^(bits-1), u8 as (x - 128) / 128, 32-bit PCM rounded to the 2^-24 grid as sox does.
 * Float samples are kept as they are (float64 rounded to float32); torchaudio 0.13's sox backend
 * would also clip them to [-1, 1] and round them to 2^-24 steps, which newer torchaudio (ffmpeg)
 * and Hugging Face's ffmpeg reader do not do.
 *
 * Sizes are checked against the bytes present before anything is allocated. A data size of
 * 0xFFFFFFFF is the streaming writers' "unknown length" placeholder and means "to the end of the
 * file"; any other size that runs past the end of the file is an error (a truncated file or a
 * lying header). A trailing partial sample frame is dropped, as sox does.
 */
import { FormatError } from '../io/errors.js';

export interface WavData {
  /** One array per channel, float32 scaled to [-1, 1). */
  channelData: Float32Array[];
  sampleRate: number;
  /** Bits per sample of the container (8, 16, 24, 32, 64). */
  bitsPerSample: number;
  encoding: 'pcm' | 'float';
}

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
const UNKNOWN_LENGTH = 0xffffffff;

const FORMAT_NAMES: Record<number, string> = {
  0x0002: 'MS ADPCM',
  0x0006: 'A-law',
  0x0007: 'mu-law',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG',
  0x0055: 'MP3',
  0x2000: 'AC-3',
};

function fourcc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}

export function isWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && fourcc(bytes, 0) === 'RIFF' && fourcc(bytes, 8) === 'WAVE';
}

interface Fmt {
  formatTag: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
}

function parseFmt(view: DataView, at: number, size: number, source: string): Fmt {
  if (size < 16) throw new FormatError(source, `WAV fmt chunk is ${size} bytes, needs at least 16`);
  let formatTag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bitsPerSample = view.getUint16(at + 14, true);
  if (formatTag === WAVE_FORMAT_EXTENSIBLE) {
    // cbSize(2) validBits(2) channelMask(4) subFormat GUID(16): its first two bytes are the real tag.
    if (size < 40) throw new FormatError(source, `WAVE_FORMAT_EXTENSIBLE fmt chunk is ${size} bytes, needs 40`);
    formatTag = view.getUint16(at + 24, true);
  }
  return { formatTag, channels, sampleRate, blockAlign, bitsPerSample };
}

/**
 * Where a WAV file's samples are and how they are stored: what a reader needs to decode them all at
 * once (parseWav) or a stretch at a time (a streaming reader that only holds a few windows).
 */
export interface WavLayout {
  channels: number;
  sampleRate: number;
  /** Bytes per sample of one channel (1, 2, 3, 4, 8). */
  containerBytes: number;
  encoding: 'pcm' | 'float';
  /** Byte offset of the first sample frame in the file. */
  dataStart: number;
  /** Whole sample frames in the data chunk (a trailing partial frame is dropped, as sox does). */
  frames: number;
}

/**
 * Random access to a file's bytes: up to `length` bytes from `offset` (fewer at the end). parseWav
 * reads from memory; a streaming reader reads the file, so only the chunk headers are read here.
 */
export type ByteReader = (offset: number, length: number) => Uint8Array;

/** The largest fmt chunk body we read: WAVE_FORMAT_EXTENSIBLE's 40 bytes, with room to spare. */
const FMT_READ_BYTES = 64;

/**
 * Walks the chunks of a WAV file of `totalBytes` bytes (read through `read`) and checks its format.
 * `source` names the file in errors.
 */
export function readWavLayout(read: ByteReader, totalBytes: number, source = '<bytes>'): WavLayout {
  if (totalBytes === 0) throw new FormatError(source, `empty file`);
  const head = read(0, 12);
  if (!isWav(head)) {
    if (head.length >= 4 && (fourcc(head, 0) === 'RF64' || fourcc(head, 0) === 'BW64')) {
      throw new FormatError(source, `unsupported codec: RF64/BW64 (64-bit WAV) is not supported; convert to WAV or FLAC`);
    }
    throw new FormatError(source, `not a WAV file (no RIFF/WAVE header)`);
  }
  let fmt: Fmt | undefined;
  let dataStart = -1;
  let dataBytes = 0;
  // Walk the chunks; the RIFF size field is not trusted (writers often get it wrong).
  let at = 12;
  while (at + 8 <= totalBytes) {
    const header = read(at, 8);
    const id = fourcc(header, 0);
    const size = new DataView(header.buffer, header.byteOffset, 8).getUint32(4, true);
    const body = at + 8;
    const remaining = totalBytes - body;
    if (id === 'data') {
      if (size > remaining) {
        if (size !== UNKNOWN_LENGTH) {
          throw new FormatError(
            source, `WAV data chunk claims ${size} bytes but only ${remaining} follow (truncated file or a header that lies about its size)`,
          );
        }
        dataBytes = remaining; // streaming placeholder: read what is there
      } else {
        dataBytes = size;
      }
      dataStart = body;
      if (fmt) break; // fmt already seen: nothing after data matters
    } else if (id === 'fmt ') {
      if (size > remaining) throw new FormatError(source, `WAV fmt chunk claims ${size} bytes but only ${remaining} follow (truncated file)`);
      const fmtBytes = read(body, Math.min(size, FMT_READ_BYTES));
      fmt = parseFmt(new DataView(fmtBytes.buffer, fmtBytes.byteOffset, fmtBytes.byteLength), 0, size, source);
      if (dataStart >= 0) break;
    } else if (size > remaining) {
      break; // a trailing chunk cut short (or lying) is irrelevant once fmt and data are known
    }
    if (id === 'data' && dataBytes !== size) break; // read to the end: no chunk can follow
    at = body + size + (size & 1); // odd-sized chunks carry a pad byte
  }
  if (!fmt) throw new FormatError(source, `WAV has no fmt chunk (truncated or not audio)`);
  if (dataStart < 0) throw new FormatError(source, `WAV has no data chunk (truncated file?)`);
  const { formatTag, channels, sampleRate, bitsPerSample } = fmt;
  if (formatTag !== WAVE_FORMAT_PCM && formatTag !== WAVE_FORMAT_IEEE_FLOAT) {
    const name = FORMAT_NAMES[formatTag] ?? 'unknown';
    throw new FormatError(source, `unsupported codec: WAV format tag 0x${formatTag.toString(16).padStart(4, '0')} (${name}); only PCM and IEEE float WAV are read`);
  }
  if (channels === 0) throw new FormatError(source, `WAV header says 0 channels`);
  if (sampleRate === 0) throw new FormatError(source, `WAV header says a sampling rate of 0 Hz`);
  // The container width is what the samples occupy; 12- or 20-bit audio sits left-justified in it.
  const containerBytes = Math.ceil(bitsPerSample / 8);
  const encoding = formatTag === WAVE_FORMAT_IEEE_FLOAT ? 'float' : 'pcm';
  const supported = encoding === 'float' ? containerBytes === 4 || containerBytes === 8 : containerBytes >= 1 && containerBytes <= 4;
  if (!supported) throw new FormatError(source, `unsupported WAV sample format: ${bitsPerSample}-bit ${encoding}`);
  const frameBytes = containerBytes * channels;
  if (fmt.blockAlign !== 0 && fmt.blockAlign !== frameBytes) {
    throw new FormatError(source, `WAV block align ${fmt.blockAlign} does not match ${channels} channels x ${containerBytes} bytes`);
  }
  const frames = Math.floor(dataBytes / frameBytes);
  if (frames === 0) throw new FormatError(source, `WAV contains no audio samples`);
  return { channels, sampleRate, containerBytes, encoding, dataStart, frames };
}

/** Decodes a whole WAV file. `source` names the file in errors. */
export function parseWav(bytes: Uint8Array, source = '<bytes>'): WavData {
  const layout = readWavLayout((offset, length) => bytes.subarray(offset, offset + length), bytes.length, source);
  const { channels, frames } = layout;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const channelData = Array.from({ length: channels }, () => new Float32Array(frames));
  readWavSamples(view, layout.dataStart, layout, frames, channelData);
  return { channelData, sampleRate: layout.sampleRate, bitsPerSample: layout.containerBytes * 8, encoding: layout.encoding };
}

/**
 * Decodes `frames` sample frames that start at byte `start` of `view` into `out` (one array per
 * channel, each at least `frames` long): the same scaling as parseWav, for a reader that holds a stretch.
 */
export function readWavSamples(view: DataView, start: number, layout: WavLayout, frames: number, out: Float32Array[]): void {
  readSamples(view, start, frames, layout.channels, layout.containerBytes, layout.encoding, out);
}

/**
 * 32-bit PCM as torchaudio 0.13 (sox) scales it: SOX_SAMPLE_TO_FLOAT_32BIT rounds to a multiple of
 * 2^-24 and clips the top 64 codes to 1.0. For 8/16/24-bit PCM this equals int / 2^(bits-1) exactly.
 */
export function int32ToFloat(d: number): number {
  if (d > 0x7fffffff - 64) return 1;
  return ((d + 64) & ~127) / 2147483648; // 2^31
}

function readSamples(
  view: DataView,
  start: number,
  frames: number,
  channels: number,
  width: number,
  encoding: 'pcm' | 'float',
  out: Float32Array[],
): void {
  let p = start;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++, p += width) {
      let v: number;
      if (encoding === 'float') v = width === 4 ? view.getFloat32(p, true) : view.getFloat64(p, true);
      else if (width === 2) v = view.getInt16(p, true) / 32768;
      else if (width === 3) {
        const u = view.getUint8(p) | (view.getUint8(p + 1) << 8) | (view.getInt8(p + 2) << 16);
        v = u / 8388608; // 2^23
      } else if (width === 4) v = int32ToFloat(view.getInt32(p, true));
      else v = (view.getUint8(p) - 128) / 128;
      out[c]![i] = v;
    }
  }
}
