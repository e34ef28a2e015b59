/**
 * Kaldi fbank beyond AST's settings, against torchaudio.compliance.kaldi.fbank outputs made by
 * scripts/make-fbank-option-fixtures.py (test/data/audio/fbank-options), and the real FFT
 * against a direct DFT written out here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNpy } from '../../src/io/npy.js';
import { fbank, fbankInto, type FbankOptions, type WindowType } from '../../src/audio/fbank.js';
import { powerSpectrum } from '../../src/audio/fft.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '../data/audio/fbank-options');
const npy = (name: string): Float32Array => parseNpy(new Uint8Array(readFileSync(join(DIR, name))), name).data as Float32Array;

test('real FFT power spectrum equals a direct DFT (sizes 4..1024; relative 1e-12)', () => {
  for (let n = 4; n <= 1024; n *= 2) {
    const x = new Float64Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.sin(0.37 * i) + ((i * 7919) % 13) / 13 - 0.5;
    const got = new Float64Array(n / 2 + 1);
    powerSpectrum(x, n, got);
    for (let k = 0; k <= n / 2; k++) {
      let re = 0, im = 0;
      for (let j = 0; j < n; j++) {
        re += x[j]! * Math.cos((2 * Math.PI * j * k) / n);
        im -= x[j]! * Math.sin((2 * Math.PI * j * k) / n);
      }
      const want = re * re + im * im;
      // measured worst 2e-14 relative (n = 1024); scale by the total energy so near-zero bins compare absolutely
      assert.ok(Math.abs(got[k]! - want) <= 1e-12 * (1 + want + n), `n=${n} k=${k}: ${got[k]} vs ${want}`);
    }
  }
});

type TorchOptions = Record<string, number | string | boolean>;
const NAMES: Record<string, keyof FbankOptions> = {
  num_mel_bins: 'numMelBins', window_type: 'windowType', snip_edges: 'snipEdges', use_energy: 'useEnergy',
  htk_compat: 'htkCompat', raw_energy: 'rawEnergy', use_power: 'usePower', use_log_fbank: 'useLogFbank',
  round_to_power_of_two: 'roundToPowerOfTwo', frame_length: 'frameLength', low_freq: 'lowFreq', high_freq: 'highFreq',
  subtract_mean: 'subtractMean', remove_dc_offset: 'removeDcOffset', preemphasis_coefficient: 'preemphasisCoefficient',
  sample_frequency: 'sampleFrequency',
};

const cases = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as Record<string, TorchOptions>;
const wave = npy('wave.npy');

for (const [name, torchOpts] of Object.entries(cases)) {
  test(`fbank option set "${name}" matches torchaudio`, () => {
    const opts: Partial<FbankOptions> = {};
    for (const [k, v] of Object.entries(torchOpts)) {
      const ours = NAMES[k];
      assert.ok(ours, `unmapped option ${k}`);
      (opts as Record<string, unknown>)[ours] = k === 'window_type' ? (v as WindowType) : v;
    }
    const ref = npy(`${name}.npy`);
    const got = fbank(wave, opts, name);
    assert.equal(got.data.length, ref.length, `${name}: ${got.frames} x ${got.bins} values`);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) {
      // Log features compare absolutely; linear ones (use_log_fbank false) relatively.
      const scale = torchOpts.use_log_fbank === false ? Math.max(1, Math.abs(ref[i]!)) : 1;
      worst = Math.max(worst, Math.abs(got.data[i]! - ref[i]!) / scale);
    }
    // 1e-4: float32 rounding in torchaudio; measured worst 3.2e-5 (povey_default).
    if (process.env.AST_REPORT) console.log(`${name}: ${worst.toExponential(2)}`);
    assert.ok(worst <= 1e-4, `${name}: max diff ${worst}`);
  });
}

test('fbank rejects audio shorter than one frame with torchaudio\'s wording, and bad options', () => {
  assert.throws(() => fbank(new Float32Array(399), { windowType: 'hanning' }, 'short.wav'), /^Error: short\.wav: .*choose a window size 400 that is \[2, 399\]/);
  assert.throws(() => fbank(new Float32Array(1000), { dither: 1 }, 'a'), /dither/);
  assert.throws(() => fbank(new Float32Array(1000), { numMelBins: 3 }, 'a'), /at least 3 mel bins/);
  assert.throws(() => fbank(new Float32Array(1000), { highFreq: 9000 }, 'a'), /high-freq 9000 vs\. nyquist 8000/);
  const x = new Float32Array(1000).fill(0.1);
  x[500] = NaN;
  assert.throws(() => fbank(x, {}, 'nan.wav'), /nan\.wav: sample 500 is NaN/);
});

test('fbankInto stops after maxFrames and writes into the given buffer (also with subtractMean)', () => {
  for (const subtractMean of [false, true]) {
    const full = fbank(wave, { subtractMean, numMelBins: 23 });
    const dest = new Float32Array(20 * 23).fill(0);
    const r = fbankInto(wave, { subtractMean, numMelBins: 23 }, 'w', 5, dest);
    assert.equal(r.frames, 5);
    assert.equal(r.data, dest);
    assert.deepEqual(dest.subarray(0, 5 * 23), full.data.subarray(0, 5 * 23));
    assert.ok(dest.subarray(5 * 23).every((v) => v === 0));
  }
});
