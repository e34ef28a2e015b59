/**
 * Long recordings for the streaming tests and the tag-stream bench: WAV files of any length written a
 * second at a time (the writer never holds the recording), and a small model with 10.24 s windows, so
 * that hours of audio are a few hundred windows rather than thousands of the embedded model's 1 s ones.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { formatSafetensors } from '../../src/io/safetensors.js';
import { ASTConfig } from '../../src/model/config.js';
import { initWeights } from '../../src/train/init.js';
import { fixturesDir } from './fixtures.js';

/** Distinct seconds of test signal: each a tone of its own pitch over quiet hiss, as 16-bit codes. */
const DISTINCT_SECONDS = 61;

function secondsOfSignal(rate: number): Int16Array[] {
  return Array.from({ length: DISTINCT_SECONDS }, (_, s) => {
    const freq = 200 + ((s * 7919) % 3000);
    const out = new Int16Array(rate);
    for (let k = 0; k < rate; k++) {
      let h = Math.imul(s * rate + k + 1, 2654435761) >>> 0; // integer hash as noise
      h = Math.imul(h ^ (h >>> 15), 2246822519) >>> 0;
      const noise = ((h ^ (h >>> 13)) / 2 ** 32 - 0.5) * 0.05;
      out[k] = Math.round((0.3 * Math.sin((2 * Math.PI * freq * k) / rate) + noise) * 32767);
    }
    return out;
  });
}

/**
 * Writes `seconds` (whole) of 16-bit PCM mono at `rate` to `path`: second t of the recording is the
 * distinct second (t * 37) mod 61, so the windows differ along the file, and a file written from
 * `offsetSeconds` is exactly that stretch of a longer one. One second in memory at a time.
 */
export function writeLongWav(path: string, seconds: number, rate = 16000, offsetSeconds = 0): void {
  const samples = seconds * rate;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + samples * 2, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(samples * 2, 40);
  // Little-endian hosts (x86, ARM) write Int16Array bytes as WAV stores them.
  const blocks = secondsOfSignal(rate).map((b) => new Uint8Array(b.buffer));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header);
    for (let t = offsetSeconds; t < offsetSeconds + seconds; t++) writeSync(fd, blocks[(t * 37) % DISTINCT_SECONDS]!);
  } finally {
    closeSync(fd);
  }
}

/** The seconds of one window of the long-window model (1024 frames). */
export const LONG_WINDOW_SECONDS = 10.24;

/**
 * Writes a checkpoint folder: the tiny fixture model's shape (hidden 64, 2 layers, 5 labels) with
 * 1024-frame windows (AudioSet's 10.24 s) and 16x16 patches without overlap, fresh weights (seed 7).
 */
export function writeLongWindowModel(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const tiny = JSON.parse(readFileSync(join(fixturesDir, 'models/tiny/config.json'), 'utf8')) as Record<string, unknown>;
  const configJson = { ...tiny, max_length: 1024, frequency_stride: 16, time_stride: 16, initializer_range: 0.5 };
  const pre = JSON.parse(readFileSync(join(fixturesDir, 'models/tiny/preprocessor_config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configJson, null, 2));
  writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({ ...pre, max_length: 1024 }, null, 2));
  writeFileSync(join(dir, 'model.safetensors'), formatSafetensors(initWeights(ASTConfig.fromJSON(configJson), 7)));
  return dir;
}
