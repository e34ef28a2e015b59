import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import '../../src/node/index.js';
import { fbank, astFbankOptions } from '../../src/audio/fbank.js';
import { memorySource } from '../../src/io/files.js';
import { dirSource } from '../../src/node/files.js';
import { ASTForAudioClassification } from '../../src/model/ast.js';
import { pipeline, type AudioClassificationPipeline, type AudioClassificationResult } from '../../src/pipeline/audio-classification.js';
import { float32Tensor } from '../../src/tensor.js';
import { fixturesDir, maxAbsDiff, readFixtureNpy } from '../helpers/fixtures.js';
import type { NpyArray } from '../../src/io/npy.js';

const MODELS = join(fixturesDir, 'models');
const AUDIO = join(fixturesDir, 'audio');

/** Reference activations in float64, written out here rather than taken from the pipeline. */
function softmax(row: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(row));
  const e = Array.from(row, (x) => Math.exp(x - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}
const sigmoid = (row: ArrayLike<number>) => Array.from(row, (x) => 1 / (1 + Math.exp(-x)));

/** Label names and scores sorted best first, from reference scores. */
function reference(scores: number[], k = scores.length): AudioClassificationResult[] {
  return scores
    .map((score, i) => ({ label: `class_${i}`, score }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

/** Same labels in the same order, and each score within `tol`. */
function assertTopK(actual: AudioClassificationResult[], expected: AudioClassificationResult[], tol: number, what: string): number {
  assert.deepEqual(actual.map((r) => r.label), expected.map((r) => r.label), `${what}: label order`);
  const d = maxAbsDiff(actual.map((r) => r.score), expected.map((r) => r.score));
  assert.ok(d <= tol, `${what}: max score diff ${d} > ${tol}`);
  return d;
}

function rows(npy: NpyArray): number[][] {
  const [b, n] = npy.shape as [number, number];
  return Array.from({ length: b }, (_, i) => Array.from({ length: n }, (_, j) => Number(npy.data[i * n + j])));
}

// Scores are compared with PyTorch's logits pushed through softmax/sigmoid here. Our logits differ
// from PyTorch's by float32 rounding through decode, fbank and the encoder; softmax/sigmoid have slope
// <= 1. Measured max score difference: 1.9e-6 (tiny), 2.3e-7 (shallow-base); 2e-5 leaves room for
// other CPUs' kernels while still failing on any real preprocessing or activation mistake.
const SCORE_TOL = 2e-5;

describe('pipeline("audio-classification") on the fixture checkpoints', { timeout: 120_000 }, () => {
  let tiny: AudioClassificationPipeline;
  before(async () => {
    tiny = await pipeline('audio-classification', join(MODELS, 'tiny'));
  });
  after(async () => {
    await tiny.dispose();
  });

  it('single-label: top-5 equals softmax over PyTorch logits (short clip and HF truncation of a long one)', async () => {
    const logits = rows(readFixtureNpy('models/tiny/case-single_label/logits.npy'));
    assert.equal(tiny.functionToApply, 'softmax');
    // chirp (0.5 s) fits the tiny model's 1.28 s window: the default path is HF's single padded window.
    const chirp = await tiny(join(AUDIO, 'chirp_16k.wav'));
    const d1 = assertTopK(chirp, reference(softmax(logits[1]!), 5), SCORE_TOL, 'chirp');
    // speech is 3.7 s: HF truncates to the first window, which is aggregate 'first'.
    const speech = await tiny(join(AUDIO, 'speech_16k.wav'), { aggregate: 'first', topK: 3 });
    const d0 = assertTopK(speech, reference(softmax(logits[0]!), 3), SCORE_TOL, 'speech');
    console.log(`# single-label max |score - torch softmax| = ${Math.max(d0, d1).toExponential(2)}`);
  });

  it('multi-label: sigmoid over PyTorch logits, default for a multi_label_classification config', async () => {
    const logits = rows(readFixtureNpy('models/tiny/case-multi_label/logits.npy'));
    const files = ['tone_16k.wav', 'noise_16k.wav', 'silence_16k.wav'].map((f) => join(AUDIO, f));
    // Same weights, config marked multi-label (as a fine-tune with problem_type would be).
    const dir = dirSource(join(MODELS, 'tiny'));
    const config = JSON.parse(new TextDecoder().decode(await dir.read('config.json')));
    const multi = await pipeline(
      'audio-classification',
      memorySource({
        'config.json': new TextEncoder().encode(JSON.stringify({ ...config, problem_type: 'multi_label_classification' })),
        'preprocessor_config.json': await dir.read('preprocessor_config.json'),
        'model.safetensors': await dir.read('model.safetensors'),
      }),
    );
    try {
      assert.equal(multi.functionToApply, 'sigmoid');
      const out = await multi(files, { topK: null, aggregate: 'first', batchSize: 2 });
      assert.equal(out.length, 3);
      let worst = 0;
      out.forEach((r, i) => (worst = Math.max(worst, assertTopK(r, reference(sigmoid(logits[i]!)), SCORE_TOL, files[i]!))));
      console.log(`# multi-label max |score - torch sigmoid| = ${worst.toExponential(2)}`);
    } finally {
      await multi.dispose();
    }
  });

  it('527 labels (AudioSet-style) default to sigmoid; a regression head to raw values', async () => {
    const base = await pipeline('audio-classification', join(MODELS, 'shallow-base'));
    try {
      assert.equal(base.functionToApply, 'sigmoid');
      const logits = rows(readFixtureNpy('models/shallow-base/case-inference/logits.npy'));
      const out = await base(join(AUDIO, 'speech_16k.wav'), { topK: 10 });
      const d = assertTopK(out, reference(sigmoid(logits[0]!), 10), SCORE_TOL, 'shallow-base');
      console.log(`# shallow-base (527 labels) max |score - torch sigmoid| = ${d.toExponential(2)}`);
    } finally {
      await base.dispose();
    }
    const reg = await pipeline('audio-classification', join(MODELS, 'regression'));
    try {
      assert.equal(reg.functionToApply, 'none');
      const logits = rows(readFixtureNpy('models/regression/case-regression/logits.npy'));
      const [tone] = await reg([join(AUDIO, 'tone_16k.wav')], { aggregate: 'first' });
      assert.equal(tone!.length, 1);
      assert.ok(Math.abs(tone![0]!.score - logits[0]![0]!) < SCORE_TOL);
    } finally {
      await reg.dispose();
    }
  });

  it('the same scores from our own logits: extractor + model.forward + softmax/sigmoid written here', async () => {
    const model = tiny.model;
    const wav = join(AUDIO, 'chirp_16k.wav');
    const { inputValues } = tiny.featureExtractor.extract(await decodeFixture(wav), { samplingRate: 16000 });
    const { logits } = await model.forward({ inputValues });
    for (const fn of ['softmax', 'sigmoid'] as const) {
      const expected = reference((fn === 'softmax' ? softmax : sigmoid)(logits.data));
      // Same float32 logits on both sides; only float32 vs float64 activation differs (~1e-7).
      assertTopK(await tiny(wav, { functionToApply: fn, topK: null }), expected, 1e-6, fn);
    }
    const none = await tiny(wav, { functionToApply: 'none', topK: 2 });
    assertTopK(none, reference(Array.from(logits.data), 2), 0, 'none');
  });

  it('accepts a path, a file: URL, bytes, samples with their rate, bare samples, and a batch', async () => {
    const wav = join(AUDIO, 'chirp_16k.wav');
    const samples = await decodeFixture(wav);
    const expected = await tiny(wav, { topK: null });
    const inputs = [
      pathToFileURL(wav),
      pathToFileURL(wav).href,
      new Uint8Array(readFileSync(wav)),
      { waveform: samples, samplingRate: 16000 },
      samples,
    ];
    const out = await tiny(inputs, { topK: null });
    assert.equal(out.length, inputs.length);
    for (const r of out) assertTopK(r, expected, 1e-6, 'input kinds');
    // Samples at another rate are resampled to the model's 16 kHz first.
    const at8k = await tiny({ waveform: samples.filter((_, i) => i % 2 === 0), samplingRate: 8000 });
    assert.equal(at8k.length, 5);
  });

  it('topK: default 5, clamped to the label count, null for all; bad options are named', async () => {
    const wav = join(AUDIO, 'chirp_16k.wav');
    assert.equal((await tiny(wav)).length, 5);
    assert.equal((await tiny(wav, { topK: 2 })).length, 2);
    assert.equal((await tiny(wav, { topK: 50 })).length, 5);
    const all = await tiny(wav, { topK: null });
    assert.ok(all.every((r, i) => i === 0 || all[i - 1]!.score >= r.score), 'sorted best first');
    await assert.rejects(tiny(wav, { topK: 0 }), /topK must be a positive integer/);
    // Options given to pipeline() are defaults for every call; undefined in a call keeps them.
    const two = await pipeline('audio-classification', join(MODELS, 'tiny'), { topK: 2, functionToApply: 'none' });
    try {
      const r = await two(wav, { topK: undefined });
      assert.equal(r.length, 2);
      assertTopK(r, (await tiny(wav, { functionToApply: 'none', topK: 2 })), 0, 'pipeline defaults');
      assert.equal((await two(wav, { topK: 4 })).length, 4);
    } finally {
      await two.dispose();
    }
    await assert.rejects(tiny(wav, { functionToApply: 'relu' as never }), /functionToApply must be/);
    await assert.rejects(tiny(wav, { window: 5 }), /longer than the model's 128 frames/);
  });

  it('bad inputs: a clear error naming the input; run() reports it and classifies the rest', async () => {
    const good = join(AUDIO, 'chirp_16k.wav');
    await assert.rejects(tiny(join(AUDIO, 'tiny_16k.wav')), /tiny_16k\.wav: 320 samples is shorter than one 25 ms analysis frame/);
    await assert.rejects(tiny('/no/such/file.wav'), /\/no\/such\/file\.wav: no such file/);
    await assert.rejects(tiny(new Uint8Array([1, 2, 3, 4])), /bytes #0/);
    const items = [];
    for await (const item of tiny.run([good, '/no/such/file.wav', good], { batchSize: 4 })) items.push(item);
    assert.deepEqual(items.map((i) => i.index), [0, 1, 2]);
    assert.ok(items[0]!.labels && items[2]!.labels && !items[1]!.labels);
    assert.match(items[1]!.error!.message, /no such file/);
    // A bad waveform batched with good ones fails alone.
    const samples = await decodeFixture(good);
    const withNaN = samples.slice();
    withNaN[100] = Number.NaN;
    const batch = [];
    for await (const item of tiny.run([samples, withNaN, samples], { batchSize: 3 })) batch.push(item);
    assert.ok(batch[0]!.labels && batch[2]!.labels);
    assert.match(batch[1]!.error!.message, /waveform #1.*NaN|NaN.*waveform #1/);
  });
});

describe('long audio: windows checked against forwarding each window by hand', { timeout: 120_000 }, () => {
  let tiny: AudioClassificationPipeline;
  let model: ASTForAudioClassification;
  before(async () => {
    tiny = await pipeline('audio-classification', join(MODELS, 'tiny'));
    model = tiny.model;
  });
  after(async () => {
    await tiny.dispose();
  });

  it('30 s generated signal, tiny model (128-frame = 1.28 s windows): timeline, mean and max', async () => {
    const sr = 16000;
    const n = 30 * sr;
    // A signal whose content changes over time so windows differ: a gliding tone, bursts, a beat.
    const x = new Float32Array(n);
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    for (let i = 0; i < n; i++) {
      const t = i / sr;
      const f = 200 + 100 * t;
      x[i] = 0.3 * Math.sin(2 * Math.PI * f * t) + (Math.floor(t / 3) % 2 === 0 ? 0.2 * rand() : 0) + 0.1 * Math.sin(2 * Math.PI * 1000 * t) * (t % 1 < 0.1 ? 1 : 0);
    }

    // By hand: Kaldi fbank of the whole 30 s once, cut into 128-frame windows every `hop` frames, the
    // last one ending at the last frame (issue 16: no window is padding; it was padded with padding_value
    // before), normalised as ASTFeatureExtractor does, each forwarded alone.
    const fe = tiny.featureExtractor.config;
    const whole = fbank(x, astFbankOptions(sr, fe.num_mel_bins));
    const T = fe.max_length;
    const M = fe.num_mel_bins;
    assert.equal(whole.frames, 2998);
    const startFrame = (k: number, hop: number) => {
      const count = 1 + Math.ceil((whole.frames - T) / hop);
      return k === count - 1 ? whole.frames - T : k * hop;
    };
    const byHand = async (hop: number): Promise<number[][]> => {
      const count = 1 + Math.ceil((whole.frames - T) / hop);
      const scores: number[][] = [];
      for (let k = 0; k < count; k++) {
        const feats = new Float32Array(T * M);
        const first = startFrame(k, hop);
        feats.set(whole.data.subarray(first * M, (first + T) * M));
        for (let i = 0; i < feats.length; i++) feats[i] = (feats[i]! - fe.mean) / (fe.std * 2);
        const { logits } = await model.forward({ inputValues: float32Tensor([1, T, M], feats) });
        scores.push(softmax(logits.data));
      }
      return scores;
    };
    const perWindow = await byHand(T);
    const windows = perWindow.length;
    assert.equal(windows, 24);
    // The signal must make windows differ, or this test could not tell windows apart.
    assert.ok(maxAbsDiff(perWindow[0]!, perWindow[3]!) > 1e-3, 'windows of the test signal differ');
    const mean = perWindow[0]!.map((_, j) => perWindow.reduce((s, w) => s + w[j]!, 0) / windows);
    const max = perWindow[0]!.map((_, j) => Math.max(...perWindow.map((w) => w[j]!)));

    // The pipeline cuts samples and extracts per window, batched 5 at a time; same frames, so the only
    // differences are the extractor normalising inside its fbank (one float32 rounding, the test normalises
    // afterwards) and batched vs single forward in ONNX Runtime (measured 2.2e-7).
    const TOL = 1e-5;
    const timeline = await tiny.timeline({ waveform: x, samplingRate: sr }, { topK: 3, batchSize: 5 });
    assert.equal(timeline.length, windows);
    let worst = 0;
    timeline.forEach((w, k) => {
      assert.equal(w.start, (startFrame(k, T) * 160) / sr);
      assert.equal(w.end, k === windows - 1 ? 30 : (k * T * 160 + (T - 1) * 160 + 400) / sr);
      worst = Math.max(worst, assertTopK(w.labels, reference(perWindow[k]!, 3), TOL, `window ${k}`));
    });
    console.log(`# 30 s timeline: max |pipeline - by hand| over 24 windows = ${worst.toExponential(2)}`);
    assertTopK(await tiny({ waveform: x, samplingRate: sr }, { topK: null, batchSize: 3 }), reference(mean), TOL, 'mean');
    assertTopK(await tiny({ waveform: x, samplingRate: sr }, { topK: null, aggregate: 'max' }), reference(max), TOL, 'max');
    assertTopK(await tiny({ waveform: x, samplingRate: sr }, { topK: null, aggregate: 'first' }), reference(perWindow[0]!), TOL, 'first');

    // Overlapping windows: hop 0.64 s = 64 frames -> 1 + ceil((2998 - 128) / 64) = 46 windows.
    const overlapped = await byHand(64);
    assert.equal(overlapped.length, 46);
    const overlappedTimeline = await tiny.timeline({ waveform: x, samplingRate: sr }, { hop: 0.64, topK: 2, batchSize: 8 });
    assert.equal(overlappedTimeline.length, 46);
    overlappedTimeline.forEach((w, k) => assertTopK(w.labels, reference(overlapped[k]!, 2), TOL, `overlapped window ${k}`));
    const overlappedMean = overlapped[0]!.map((_, j) => overlapped.reduce((s, w) => s + w[j]!, 0) / overlapped.length);
    assertTopK(await tiny({ waveform: x, samplingRate: sr }, { hop: 0.64, topK: null, batchSize: 8 }), reference(overlappedMean), TOL, 'overlapped mean');
  });
});

async function decodeFixture(path: string): Promise<Float32Array> {
  const { decodeAudio } = await import('../../src/audio/decode.js');
  return (await decodeAudio(new Uint8Array(readFileSync(path)), { samplingRate: 16000, source: path })).waveform;
}
