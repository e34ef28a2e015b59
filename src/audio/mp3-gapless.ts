/**
 * MP3 gapless trimming. An MP3 decoder's output starts with the encoder's delay (LAME: 576 samples) and
 * the decoder's own delay (529 samples for Layer III), and ends with the padding that fills the last
 * frame: a 1.00 s clip comes back as 1.08 s. LAME (and ffmpeg) write the exact delay and padding into
 * the "LAME" extension of the Xing/Info tag in the first frame; players use it to play gaplessly.
 *
 * audio-decode's mpg123 trims by that tag itself (checked: a tagged LAME file of 16000 samples decodes
 * to exactly 16000, aligned). What is left to do here:
 *  - with the tag, check the decoder did it, and trim by the tag if it did not;
 *  - without the tag (LAME leaves it out when the first frame is too small to hold it, as at its
 *    default 24 kbit/s for 16 kHz mono), only the decoder's 529 samples are known and trimmed; the
 *    encoder delay (576 samples for LAME, 36 ms at 16 kHz) and the end padding stay, as no file says
 *    how long they are.
 */

/** Layer III decoder delay in samples (the MDCT/filterbank overlap: 528 + 1), the same for every decoder. */
export const MP3_DECODER_DELAY = 529;

export interface Mp3GaplessInfo {
  /** Samples per channel per frame: 1152 (MPEG-1) or 576 (MPEG-2 and 2.5), Layer III. */
  samplesPerFrame: number;
  /** Audio frames after the tag frame, from the Xing/Info header, when present. */
  frames?: number;
  /** Encoder delay and end padding in samples, from the LAME extension, when present. */
  encoderDelay?: number;
  padding?: number;
}

function ascii(bytes: Uint8Array, at: number, n: number): string {
  let s = '';
  for (let i = 0; i < n && at + i < bytes.length; i++) s += String.fromCharCode(bytes[at + i]!);
  return s;
}

function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/** Where the first MPEG audio frame starts: after an ID3v2 tag, if any. */
function firstFrameOffset(bytes: Uint8Array): number | undefined {
  let at = 0;
  if (ascii(bytes, 0, 3) === 'ID3' && bytes.length >= 10) {
    const size = ((bytes[6]! & 0x7f) << 21) | ((bytes[7]! & 0x7f) << 14) | ((bytes[8]! & 0x7f) << 7) | (bytes[9]! & 0x7f);
    at = 10 + size + ((bytes[5]! & 0x10) !== 0 ? 10 : 0);
  }
  // Some files have a few stray bytes before the first sync; look a little way, as decoders do.
  for (const end = Math.min(bytes.length - 4, at + 4096); at < end; at++) {
    if (bytes[at] === 0xff && (bytes[at + 1]! & 0xe0) === 0xe0) return at;
  }
  return undefined;
}

/** The gapless facts of an MP3 (Layer III) file's first frame; undefined for other layers or no frame. */
export function readMp3GaplessInfo(bytes: Uint8Array): Mp3GaplessInfo | undefined {
  const frame = firstFrameOffset(bytes);
  if (frame === undefined) return undefined;
  const version = (bytes[frame + 1]! >> 3) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
  const layer = (bytes[frame + 1]! >> 1) & 3; // 1: Layer III
  if (version === 1 || layer !== 1) return undefined;
  const mpeg1 = version === 3;
  const mono = ((bytes[frame + 3]! >> 6) & 3) === 3;
  const info: Mp3GaplessInfo = { samplesPerFrame: mpeg1 ? 1152 : 576 };
  const sideInfo = mpeg1 ? (mono ? 17 : 32) : mono ? 9 : 17;
  let at = frame + 4 + sideInfo;
  const id = ascii(bytes, at, 4);
  if (id !== 'Xing' && id !== 'Info') return info;
  const flags = u32(bytes, at + 4);
  at += 8;
  if (flags & 1) {
    info.frames = u32(bytes, at);
    at += 4;
  }
  if (flags & 2) at += 4; // byte count
  if (flags & 4) at += 100; // seek table
  if (flags & 8) at += 4; // quality
  // The LAME extension: a 9-byte encoder name, then delay and padding (12 bits each) 21 bytes in.
  const encoder = ascii(bytes, at, 4);
  if ((encoder === 'LAME' || encoder === 'Lavc' || encoder === 'Lavf' || encoder === 'GOGO') && at + 24 <= bytes.length) {
    info.encoderDelay = (bytes[at + 21]! << 4) | (bytes[at + 22]! >> 4);
    info.padding = ((bytes[at + 22]! & 0x0f) << 8) | bytes[at + 23]!;
  }
  return info;
}

/**
 * The decoded channels of an MP3 without encoder delay and padding where the file states them (and the
 * decoder did not already remove them), and without the decoder delay otherwise.
 */
export function trimMp3Gapless(bytes: Uint8Array, channels: Float32Array[]): Float32Array[] {
  const info = readMp3GaplessInfo(bytes);
  const n = channels[0]?.length ?? 0;
  if (!info || n === 0) return channels;
  let start: number;
  let end: number;
  if (info.frames !== undefined && info.encoderDelay !== undefined && info.padding !== undefined) {
    const expected = info.frames * info.samplesPerFrame - info.encoderDelay - info.padding;
    // mpg123 already trimmed (the usual case), or the file is shorter than its tag says (truncated):
    // nothing to take off that we could place.
    if (n <= expected) return channels;
    start = Math.min(info.encoderDelay + MP3_DECODER_DELAY, n - expected);
    end = start + expected;
  } else {
    start = Math.min(MP3_DECODER_DELAY, n);
    end = n;
  }
  return channels.map((c) => c.subarray(start, end));
}
