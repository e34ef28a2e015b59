/** Builds WAV files byte by byte for the tests: every layout the reader claims to handle. */

export interface Chunk {
  id: string;
  body: Uint8Array;
  /** Size written in the header when it should lie (defaults to body.length). */
  size?: number;
}

function u16(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff];
}
function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

export function fmtChunk(o: { tag: number; channels: number; rate: number; bits: number; extensibleSubTag?: number; validBits?: number }): Chunk {
  const blockAlign = o.channels * Math.ceil(o.bits / 8);
  const base = [...u16(o.extensibleSubTag !== undefined ? 0xfffe : o.tag), ...u16(o.channels), ...u32(o.rate), ...u32(o.rate * blockAlign), ...u16(blockAlign), ...u16(o.bits)];
  if (o.extensibleSubTag === undefined) return { id: 'fmt ', body: new Uint8Array(base) };
  // cbSize 22, valid bits, channel mask, SubFormat GUID {tag}-0000-0010-8000-00aa00389b71
  const guidTail = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];
  return { id: 'fmt ', body: new Uint8Array([...base, ...u16(22), ...u16(o.validBits ?? o.bits), ...u32(0), ...u16(o.extensibleSubTag), ...guidTail]) };
}

export function dataChunk(bytes: Uint8Array, size?: number): Chunk {
  return { id: 'data', body: bytes, size };
}

/** RIFF/WAVE around the chunks; odd-sized bodies get their pad byte. */
export function riff(chunks: Chunk[], riffSize?: number): Uint8Array {
  const parts: number[] = [];
  for (const c of chunks) {
    parts.push(...ascii(c.id), ...u32(c.size ?? c.body.length), ...c.body);
    if (c.body.length & 1) parts.push(0);
  }
  return new Uint8Array([...ascii('RIFF'), ...u32(riffSize ?? parts.length + 4), ...ascii('WAVE'), ...parts]);
}

/** Interleaves integer codes as little-endian `bytes`-wide samples (two's complement; u8 given as 0..255). */
export function pcmBytes(codes: number[], width: number): Uint8Array {
  const out = new Uint8Array(codes.length * width);
  codes.forEach((c, i) => {
    for (let b = 0; b < width; b++) out[i * width + b] = Number((BigInt(c) >> BigInt(8 * b)) & 0xffn);
  });
  return out;
}

export function floatBytes(values: number[], width: 4 | 8): Uint8Array {
  const out = new Uint8Array(values.length * width);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => (width === 4 ? v.setFloat32(i * width, x, true) : v.setFloat64(i * width, x, true)));
  return out;
}
