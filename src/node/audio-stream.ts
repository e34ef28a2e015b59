/**
 * Node's streaming audio reader: a local file as a stream of decoded chunks, so that classifying a
 * 10-hour recording holds the model and a few windows, not the recording.
 *
 *  - WAV (PCM 8/16/24/32-bit, float 32/64, any channel count) is read from a file handle, 64 Ki sample
 *    frames at a time; only the chunk headers are read to find the samples (wav.ts readWavLayout).
 *  - Native FLAC goes to libFLAC's chunk interface (@wasm-audio-decoders/flac), MP3 and Ogg Vorbis to
 *    audio-decode's chunk interface (the same codecs decodeAudio uses), 64 KiB of bytes at a time.
 *  - Every other format (Opus, Ogg FLAC, M4A, AIFF, …, FLAC behind an ID3 tag) is decoded whole, as before: up to
 *    MAX_WHOLE_FILE_BYTES of file; a larger one is refused with the reason, rather than risking running
 *    out of memory (a 128 MiB M4A is about 2.3 hours at 128 kbit/s and decodes to about 3 GB of float samples).
 *
 * Whatever the route, the pipeline turns the chunks into the same mono 16 kHz samples decodeAudio gives.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FormatError } from '../io/errors.js';
import { decodeAudio, id3Length, integerBits, oggCodec, sniffFormat } from '../audio/decode.js';
import { readWavLayout, readWavSamples, type WavLayout } from '../audio/wav.js';
import { readMp3GaplessInfo } from '../audio/mp3-gapless.js';
import { codecChunks, flacChunks, type AudioChunk, type AudioStream } from '../audio/stream.js';

/** Sample frames per WAV read: 256 KiB of 16-bit stereo; small beside a 10 s window, large enough for few reads. */
export const WAV_CHUNK_FRAMES = 1 << 16;
/** Bytes per read of a compressed file. */
export const ENCODED_CHUNK_BYTES = 1 << 16;
/** Formats without a streaming reader here are decoded whole up to this file size (128 MiB). */
export const MAX_WHOLE_FILE_BYTES = 128 * 2 ** 20;
/** Bytes read to recognise the format (FLAC's STREAMINFO, an MP3's first frame). */
const HEAD_BYTES = 4096;

export interface AudioStreamOptions {
  /** Largest file decoded whole when its format does not stream (default MAX_WHOLE_FILE_BYTES). */
  maxWholeFileBytes?: number;
}

/** How a file will be read: streamed (WAV, FLAC) or held whole. For messages and the README's table. */
export type StreamRoute = 'wav' | 'flac' | 'mp3' | 'ogg' | 'whole';

/**
 * A local audio file (path or `file:` URL) as decoded chunks at its own rate; undefined for what is not
 * a regular file (a pipe, a device: read those whole). Errors name the file, as readLocalFile's do.
 */
export async function openAudioStream(pathOrUrl: string, options: AudioStreamOptions = {}): Promise<(AudioStream & { route: StreamRoute }) | undefined> {
  const path = pathOrUrl.startsWith('file:') ? fileURLToPath(pathOrUrl) : pathOrUrl;
  const size = await fileSize(path);
  if (size === undefined) return undefined;
  let head = await readHead(path, Math.min(size, HEAD_BYTES));
  const tagBytes = id3Length(head);
  // an MP3's first frame (its gapless tag) comes after a leading ID3 tag, which may hold pictures
  if (tagBytes > 0) head = await readHead(path, Math.min(size, tagBytes + HEAD_BYTES));
  const tag = ascii(head, 0, 4);
  if (tag === 'RIFF' || tag === 'RF64' || tag === 'BW64') {
    const layout = await withFile(path, (fd) => readWavLayout((offset, length) => readAt(fd, offset, length), size, path));
    return { route: 'wav', source: path, sampleRate: layout.sampleRate, expectedFrames: layout.frames, chunks: wavChunks(path, layout) };
  }
  const format = sniffFormat(head);
  if (format === 'FLAC' && tagBytes === 0) {
    return { route: 'flac', source: path, chunks: flacChunks(fileBytes(path), integerBits(head, 'FLAC'), path) };
  }
  if (format === 'MP3' && readMp3GaplessInfo(head)) return { route: 'mp3', source: path, chunks: codecChunks(fileBytes(path), 'mp3', head, path) };
  if (format === 'OGG' && oggCodec(head) === 'vorbis') return { route: 'ogg', source: path, chunks: codecChunks(fileBytes(path), 'oga', head, path) };
  const limit = options.maxWholeFileBytes ?? MAX_WHOLE_FILE_BYTES;
  if (size > limit) {
    throw new FormatError(
      path,
      `${format ?? 'this'} audio is decoded whole (WAV, FLAC, MP3 and Ogg Vorbis are read as a stream), and the file is ${mib(size)} ` +
        `(limit ${mib(limit)}); convert it to FLAC or WAV to classify it in bounded memory (e.g. sox in.mp3 out.flac)`,
    );
  }
  return { route: 'whole', source: path, chunks: wholeChunks(path, size) };
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw new Error(`${path}: is a folder, not an audio file`);
    if (!s.isFile()) return undefined; // a pipe or device has no size to plan with
    if (s.size === 0) throw new Error(`${path}: empty file`);
    return s.size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(err);
    throw new Error(`${path}: ${why}`);
  }
}

async function withFile<T>(path: string, use: (fd: number) => T): Promise<T> {
  const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${path}: ${err.code === 'EACCES' ? 'permission denied' : err.message}`);
  });
  try {
    return use(fh.fd);
  } finally {
    await fh.close();
  }
}

/** Synchronous positioned read: the WAV header walk reads a few 8-byte chunk headers. */
function readAt(fd: number, offset: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  const n = readSync(fd, buf, 0, length, offset);
  return n === length ? buf : buf.subarray(0, n);
}

function readHead(path: string, length: number): Promise<Uint8Array> {
  return withFile(path, (fd) => readAt(fd, 0, length));
}

/** The data chunk, WAV_CHUNK_FRAMES frames at a time, scaled as parseWav scales it. */
async function* wavChunks(path: string, layout: WavLayout): AsyncGenerator<AudioChunk> {
  const frameBytes = layout.containerBytes * layout.channels;
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(WAV_CHUNK_FRAMES * frameBytes);
    const view = new DataView(buf.buffer);
    for (let done = 0; done < layout.frames; ) {
      const want = Math.min(WAV_CHUNK_FRAMES, layout.frames - done);
      const { bytesRead } = await fh.read(buf, 0, want * frameBytes, layout.dataStart + done * frameBytes);
      const frames = Math.floor(bytesRead / frameBytes);
      // The file shrank since its header was read: what is there is all there is.
      if (frames === 0) throw new FormatError(path, `WAV data ends at sample frame ${done} of ${layout.frames} (was the file truncated while being read?)`);
      const channelData = Array.from({ length: layout.channels }, () => new Float32Array(frames));
      readWavSamples(view, 0, layout, frames, channelData);
      yield { channelData, sampleRate: layout.sampleRate };
      done += frames;
    }
  } finally {
    await fh.close();
  }
}

async function* fileBytes(path: string): AsyncGenerator<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    for (;;) {
      const buf = new Uint8Array(ENCODED_CHUNK_BYTES);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** A format without a streaming reader: the whole file decoded at its own rate, as one chunk. */
async function* wholeChunks(path: string, size: number): AsyncGenerator<AudioChunk> {
  const bytes = new Uint8Array(await readFile(path));
  if (bytes.length !== size) throw new Error(`${path}: the file changed size while being read`);
  const decoded = await decodeAudio(bytes, { source: path });
  yield { channelData: [decoded.waveform], sampleRate: decoded.samplingRate };
}

function ascii(bytes: Uint8Array, at: number, n: number): string {
  let s = '';
  for (let i = 0; i < n && at + i < bytes.length; i++) s += String.fromCharCode(bytes[at + i]!);
  return s;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
