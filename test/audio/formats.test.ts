/**
 * Every format audio-decode reads is accepted (issue 16): here the ones sox can write, made by the test
 * from one stereo tone. Lossless ones (AIFF, AIFC, CAF, WavPack; 16 and 24 bit) must give exactly sox's
 * own integer samples divided by 2^(bits-1), as torchaudio reads integer audio; AMR-NB (a lossy speech
 * codec at 8 kHz) must keep the tone's two frequencies. A folder listing picks these files up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeAudio } from '../../src/audio/decode.js';
import { listAudioFiles, readAudioFile } from '../../src/node/audio.js';

const hasSox = spawnSync('sox', ['--version'], { encoding: 'utf8' }).status === 0;

function sox(args: string[]): void {
  const r = spawnSync('sox', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sox ${args.join(' ')}: ${r.stderr}`);
}

/** sox's own decode of a file to interleaved signed 32-bit integers (24-bit samples sit in the top bits). */
function soxInt32(file: string, dir: string): { data: Int32Array; channels: number } {
  const raw = join(dir, 'ref.raw');
  sox([file, '-t', 'raw', '-e', 'signed', '-b', '32', raw]);
  const buf = readFileSync(raw);
  const channels = Number(spawnSync('soxi', ['-c', file], { encoding: 'utf8' }).stdout.trim());
  return { data: new Int32Array(buf.buffer, buf.byteOffset, buf.length / 4), channels };
}

/** Magnitude of the DFT of `x` at `hz` (Goertzel), per sample. */
function toneLevel(x: Float32Array, rate: number, hz: number): number {
  const w = (2 * Math.PI * hz) / rate;
  let re = 0;
  let im = 0;
  for (let i = 0; i < x.length; i++) {
    re += x[i]! * Math.cos(w * i);
    im -= x[i]! * Math.sin(w * i);
  }
  return Math.hypot(re, im) / x.length;
}

test('AIFF, AIFC, CAF and WavPack (16 and 24 bit) decode to sox\'s integer samples / 2^(bits-1)', { skip: !hasSox && 'sox not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ast-formats-'));
  try {
    const src = join(dir, 'src.wav');
    // two tones, one per channel, 0.3 s at 16 kHz, dithering off so the 16-bit codes are deterministic
    sox(['-D', '-n', '-r', '16000', '-c', '2', '-b', '16', src, 'synth', '0.3', 'sine', '440', 'sine', '660', 'vol', '0.9']);
    for (const ext of ['aiff', 'aifc', 'caf', 'wv']) {
      for (const bits of [16, 24]) {
        const file = join(dir, `t${bits}.${ext}`);
        sox(['-D', src, '-b', String(bits), file]);
        const { data, channels } = soxInt32(file, dir);
        const d = await readAudioFile(file);
        assert.equal(d.channels, 2, file);
        assert.equal(d.originalSamplingRate, 16000, file);
        assert.equal(d.waveform.length, data.length / channels, file);
        const step = 2 ** (32 - bits); // the integer code of the file = sox's int32 / step
        const full = 2 ** (bits - 1);
        for (let i = 0; i < d.waveform.length; i++) {
          // torch: each channel to float32 (code / 2^(bits-1)), sum in float32, then / 2
          const l = Math.fround(data[2 * i]! / step / full);
          const r = Math.fround(data[2 * i + 1]! / step / full);
          assert.equal(d.waveform[i], Math.fround(Math.fround(l + r) / 2), `${ext} ${bits}-bit sample ${i}`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('AMR-NB (8 kHz speech codec, lossy) keeps the tone: 440 and 660 Hz stand 20x above 1 kHz', { skip: !hasSox && 'sox not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ast-formats-'));
  try {
    const file = join(dir, 'tone.amr');
    sox(['-D', '-n', '-r', '8000', '-c', '1', '-b', '16', '-t', 'amr-nb', file, 'synth', '0.5', 'sine', '440', 'synth', '0.5', 'sine', 'mix', '660', 'vol', '0.5']);
    const d = await decodeAudio(new Uint8Array(readFileSync(file)), { source: 'tone.amr' });
    assert.equal(d.originalSamplingRate, 8000);
    assert.equal(d.channels, 1);
    assert.equal(d.waveform.length, 4000); // 25 frames of 20 ms
    const [a, b, off] = [440, 660, 1000].map((hz) => toneLevel(d.waveform, 8000, hz));
    assert.ok(a! > 20 * off! && b! > 20 * off!, `levels 440 Hz ${a}, 660 Hz ${b}, 1 kHz ${off}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a folder listing takes .aiff/.aif/.aifc/.caf/.wv/.amr files as audio, and not go.mod', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ast-formats-'));
  try {
    for (const f of ['a.aiff', 'b.AIF', 'c.aifc', 'd.caf', 'e.wv', 'f.amr', 'go.mod', 'notes.txt']) writeFileSync(join(dir, f), 'x');
    const found = (await listAudioFiles(dir)).map((p) => p.slice(dir.length + 1));
    assert.deepEqual(found, ['a.aiff', 'b.AIF', 'c.aifc', 'd.caf', 'e.wv', 'f.amr']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
