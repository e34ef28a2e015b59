/**
 * ASTFeatureExtractor behaviour around the fbank (which fixtures.test.ts checks against torchaudio):
 * config fields and defaults, rate checks, padding and truncation, batches, normalisation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ASTFeatureExtractor, AST_FEATURE_EXTRACTOR_DEFAULTS } from '../../src/audio/feature-extractor.js';
import { fbank, astFbankOptions } from '../../src/audio/fbank.js';
import { resample } from '../../src/audio/resample.js';
import { memorySource } from '../../src/io/files.js';
import { maxAbsDiff } from '../helpers/fixtures.js';

function tone(n: number, rate = 16000, f = 440): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin((2 * Math.PI * f * i) / rate) + 0.01 * Math.sin(i * 1.3));
}

test('defaults are Hugging Face\'s ASTFeatureExtractor defaults', () => {
  const fe = ASTFeatureExtractor.fromConfig({});
  assert.deepEqual(fe.config, {
    feature_size: 1, sampling_rate: 16000, num_mel_bins: 128, max_length: 1024, padding_value: 0.0,
    do_normalize: true, mean: -4.2677393, std: 4.5689974, return_attention_mask: false,
  });
  assert.deepEqual(fe.config, { ...AST_FEATURE_EXTRACTOR_DEFAULTS });
});

test('fromPretrained reads preprocessor_config.json; unknown fields round-trip; bad fields name the file', async () => {
  const json = { sampling_rate: 16000, num_mel_bins: 64, max_length: 200, mean: -6.8, std: 5.5, do_normalize: true, processor_class: 'X' };
  const src = memorySource({ 'preprocessor_config.json': new TextEncoder().encode(JSON.stringify(json)) }, 'ckpt');
  const fe = await ASTFeatureExtractor.fromPretrained(src);
  assert.equal(fe.config.num_mel_bins, 64);
  assert.equal(fe.config.max_length, 200);
  assert.equal(fe.toJSON().processor_class, 'X');
  assert.equal(fe.toJSON().feature_extractor_type, 'ASTFeatureExtractor');
  await assert.rejects(ASTFeatureExtractor.fromPretrained(memorySource({}, 'empty')), /empty\/preprocessor_config\.json: no such file/);
  const bad = memorySource({ 'preprocessor_config.json': new TextEncoder().encode('{"max_length": 0}') }, 'bad');
  await assert.rejects(ASTFeatureExtractor.fromPretrained(bad), /bad\/preprocessor_config\.json: max_length must be a positive integer/);
  assert.throws(() => ASTFeatureExtractor.fromConfig({ std: 0 }, 'p.json'), /p\.json: std must be positive/);
  assert.throws(() => ASTFeatureExtractor.fromConfig({ do_normalize: 'yes' } as never, 'p.json'), /do_normalize must be true or false/);
});

test('a sampling rate other than the config\'s is an error that says to resample; resample: true does it', () => {
  const fe = ASTFeatureExtractor.fromConfig({ max_length: 100 });
  const x = tone(22050, 22050);
  assert.throws(() => fe.extract(x, { samplingRate: 22050, source: 'clip.wav' }), /clip\.wav: sampled at 22050 Hz but the feature extractor expects 16000 Hz; resample/);
  const a = fe.extract(x, { samplingRate: 22050, resample: true }).inputValues;
  const b = fe.extract(resample(x, 22050, 16000), { samplingRate: 16000 }).inputValues;
  assert.deepEqual(a.data, b.data);
  assert.throws(() => fe.extract(x, undefined as never), /samplingRate/);
});

test('padding (zeros in the log domain, then normalised), truncation, pad: false', () => {
  const cfg = { max_length: 50, num_mel_bins: 32, mean: -3, std: 2 };
  const fe = ASTFeatureExtractor.fromConfig(cfg);
  const raw = ASTFeatureExtractor.fromConfig({ ...cfg, do_normalize: false });
  const short = tone(16000 * 0.2); // 1 + (3200 - 400) / 160 = 18 frames
  const direct = fbank(short, astFbankOptions(16000, 32)); // [18, 32]
  assert.equal(direct.frames, 18);

  const free = raw.extract(short, { samplingRate: 16000, pad: false }).inputValues;
  assert.deepEqual(free.dims, [1, 18, 32]);
  assert.deepEqual(free.data, direct.data);

  const padded = fe.extract(short, { samplingRate: 16000 }).inputValues;
  assert.deepEqual(padded.dims, [1, 50, 32]);
  const head = padded.data.subarray(0, 18 * 32);
  const expectHead = direct.data.map((v) => (v - cfg.mean) / (2 * cfg.std));
  assert.ok(maxAbsDiff(head, expectHead) <= 1e-6);
  // pad: false normalises too (taken with the logs inside the fbank, so checked separately)
  const freeNorm = fe.extract(short, { samplingRate: 16000, pad: false }).inputValues;
  assert.deepEqual(freeNorm.dims, [1, 18, 32]);
  assert.ok(maxAbsDiff(freeNorm.data, expectHead) <= 1e-6);
  const padValue = Math.fround((0 - cfg.mean) / (2 * cfg.std)); // 0.75
  assert.ok(padded.data.subarray(18 * 32).every((v) => v === padValue));

  const long = tone(16000 * 1); // 98 frames > 50
  const longRaw = fbank(long, astFbankOptions(16000, 32));
  const cut = raw.extract(long, { samplingRate: 16000 }).inputValues;
  assert.deepEqual(cut.dims, [1, 50, 32]);
  assert.deepEqual(cut.data, longRaw.data.subarray(0, 50 * 32));
});

test('a batch stacks clips of different lengths; pad: false needs equal lengths', () => {
  const fe = ASTFeatureExtractor.fromConfig({ max_length: 60, num_mel_bins: 40 });
  const a = tone(4000, 16000, 300);
  const b = tone(12000, 16000, 900);
  const batch = fe.extract([a, b], { samplingRate: 16000 }).inputValues;
  assert.deepEqual(batch.dims, [2, 60, 40]);
  assert.deepEqual(batch.data.subarray(0, 2400), fe.extract(a, { samplingRate: 16000 }).inputValues.data);
  assert.deepEqual(batch.data.subarray(2400), fe.extract(b, { samplingRate: 16000 }).inputValues.data);
  assert.throws(() => fe.extract([a, b], { samplingRate: 16000, pad: false, source: ['a.wav', 'b.wav'] }), /b\.wav: 73 frames but a\.wav has 23/);
});

test('too-short clips and non-finite samples are errors naming the clip', () => {
  const fe = ASTFeatureExtractor.fromConfig({});
  assert.throws(() => fe.extract(new Float32Array(320), { samplingRate: 16000, source: 'tiny.wav' }), /tiny\.wav: .*choose a window size 400 that is \[2, 320\]/);
  const x = tone(4000);
  x[10] = Infinity;
  assert.throws(() => fe.extract(x, { samplingRate: 16000, source: 'inf.wav' }), /inf\.wav: sample 10 is Infinity/);
});
