/**
 * Issue 16: a clip a little longer than the model's window must not be scored from a window that is
 * mostly padding, and an MP3 must not carry its encoder delay and padding into the scores.
 * Inputs are committed (scripts/make-mp3-test-files.sh made them with sox and lame).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../src/node/index.js';
import { decodeAudio } from '../../src/audio/decode.js';
import { fbank, astFbankOptions } from '../../src/audio/fbank.js';
import { pipeline, type AudioClassificationPipeline, type AudioClassificationResult } from '../../src/pipeline/audio-classification.js';
import { frameCount } from '../../src/pipeline/windows.js';
import { float32Tensor } from '../../src/tensor.js';
import { fixturesDir, maxAbsDiff, readFixtureNpy, REPO_ROOT } from '../helpers/fixtures.js';

const DATA = join(REPO_ROOT, 'test/data/audio');
const YES = join(REPO_ROOT, 'models/speech-commands/examples/yes.wav');
const MODELS = join(fixturesDir, 'models');

async function decodeFile(path: string): Promise<Float32Array> {
  return (await decodeAudio(new Uint8Array(readFileSync(path)), { samplingRate: 16000, source: path })).waveform;
}

/** Every label's score, by name. */
function byLabel(results: AudioClassificationResult[]): Map<string, number> {
  return new Map(results.map((r) => [r.label, r.score]));
}

describe('no window drowns the audio (embedded 1 s speech-commands model)', { timeout: 120_000 }, () => {
  let classify: AudioClassificationPipeline;
  let alone: Map<string, number>;
  before(async () => {
    classify = await pipeline('audio-classification');
    alone = byLabel(await classify(YES, { topK: null }));
    assert.ok(alone.get('yes')! > 0.99, 'the clip alone is a clear "yes"');
  });
  after(async () => {
    await classify.dispose();
  });

  const within = async (input: string, what: string) => {
    const scores = byLabel(await classify(input, { topK: null }));
    let worst = 0;
    for (const [label, s] of alone) worst = Math.max(worst, Math.abs(scores.get(label)! - s));
    // Issue 16 asks for 0.01; before the fix the padded clip scored yes 0.4998, the MP3 0.4983.
    assert.ok(worst <= 0.01, `${what}: max |score - yes.wav alone| = ${worst}`);
    console.log(`# ${what}: max |score - yes.wav alone| = ${worst.toExponential(2)}`);
  };

  it('yes.wav + 50 ms of silence scores within 0.01 of yes.wav alone; its two windows are full', async () => {
    const padded = join(DATA, 'yes_pad50ms.wav');
    // The committed file is what it says: the clip, then 800 zero samples (sox pad 0 0.05).
    const [a, b] = [await decodeFile(YES), await decodeFile(padded)];
    assert.equal(b.length, a.length + 800);
    assert.deepEqual(b.subarray(0, a.length), a);
    assert.ok(b.subarray(a.length).every((x) => x === 0));
    await within(padded, 'yes + 50 ms silence');
    const timeline = await classify.timeline(padded, { topK: 1 });
    // 16800 samples = 103 frames: windows over frames 0-99 and 3-102, the last ending at 1.05 s.
    assert.deepEqual(timeline.map((w) => [w.start, w.end]), [[0, (99 * 160 + 400) / 16000], [0.03, 1.05]]);
  });

  it('an MP3 of yes.wav with the LAME tag decodes to the 16000 samples and scores within 0.01', async () => {
    const mp3 = join(DATA, 'yes_lame_64k.mp3');
    assert.equal((await decodeFile(mp3)).length, 16000);
    await within(mp3, 'MP3 with LAME tag');
  });

  it('an MP3 without the tag (LAME 24 kbit/s) loses the decoder delay and scores within 0.01', async () => {
    const mp3 = join(DATA, 'yes_lame_24k_notag.mp3');
    // 30 frames of 576 samples less the 529-sample decoder delay; the 576-sample encoder delay stays (README).
    assert.equal((await decodeFile(mp3)).length, 30 * 576 - 529);
    await within(mp3, 'MP3 without tag');
  });

  it('timeline with a hop longer than the model\'s 1 s window: a clear error, before any file is read', async () => {
    await assert.rejects(
      classify.timeline('/nonexistent/long.mp3', { hop: 5 }),
      (err: Error) => err instanceof RangeError && err.message === 'hop (5 s) must not be longer than the window (1 s): audio between windows would be skipped',
    );
  });
});

describe('window layout checked by hand on the fixture models', { timeout: 300_000 }, () => {
  it('10.5 s on a 1024-frame random-weight model: two windows, neither more than half padding, scored as by hand', async () => {
    const model = await pipeline('audio-classification', join(MODELS, 'shallow-base'));
    try {
      const fe = model.featureExtractor.config;
      assert.equal(fe.max_length, 1024);
      const sr = 16000;
      const n = 168_000; // 10.5 s
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const t = i / sr;
        x[i] = 0.3 * Math.sin(2 * Math.PI * (300 + 80 * t) * t) + (t > 10.24 ? 0.4 * Math.sin(2 * Math.PI * 2000 * t) : 0);
      }
      const timeline = await model.timeline({ waveform: x, samplingRate: sr }, { topK: null });
      assert.equal(timeline.length, 2);
      for (const w of timeline) {
        const covered = frameCount(Math.round((w.end - w.start) * sr), sr);
        const padding = 1 - Math.min(covered, 1024) / 1024;
        assert.ok(padding <= 0.5, `window ${w.start}-${w.end} s is ${(padding * 100).toFixed(1)} % padding`);
      }
      // By hand: the whole clip's 1048 fbank frames; windows are frames 0-1023 and 24-1047, normalised
      // as ASTFeatureExtractor does, each forwarded alone, sigmoid (527 labels).
      const whole = fbank(x, astFbankOptions(sr, fe.num_mel_bins));
      assert.equal(whole.frames, 1048);
      const M = fe.num_mel_bins;
      const perWindow: number[][] = [];
      for (const first of [0, 24]) {
        const feats = Float32Array.from(whole.data.subarray(first * M, (first + 1024) * M), (v) => (v - fe.mean) / (fe.std * 2));
        const { logits } = await model.model.forward({ inputValues: float32Tensor([1, 1024, M], feats) });
        perWindow.push(Array.from(logits.data, (z) => 1 / (1 + Math.exp(-z))));
      }
      assert.ok(maxAbsDiff(perWindow[0]!, perWindow[1]!) > 1e-4, 'the two windows differ, so the test can tell them apart');
      const TOL = 1e-5; // as the 30 s by-hand test in audio-classification.test.ts
      timeline.forEach((w, k) => {
        const got = new Map(w.labels.map((l) => [l.label, l.score]));
        const d = maxAbsDiff(perWindow[k]!, perWindow[k]!.map((_, j) => got.get(`class_${j}`)!));
        assert.ok(d <= TOL, `window ${k}: ${d}`);
      });
      const mean = perWindow[0]!.map((s, j) => (s + perWindow[1]![j]!) / 2);
      const clip = new Map((await model({ waveform: x, samplingRate: sr }, { topK: null })).map((l) => [l.label, l.score]));
      assert.ok(maxAbsDiff(mean, mean.map((_, j) => clip.get(`class_${j}`)!)) <= TOL);
    } finally {
      await model.dispose();
    }
  });

  it('a clip of exactly one window is Hugging Face\'s single window: the PyTorch fixture logits', async () => {
    const tiny = await pipeline('audio-classification', join(MODELS, 'tiny'));
    try {
      // The fixture's row 0 is speech_16k.wav through transformers, which truncates it to its first 128
      // frames; the first (128 - 1) * 160 + 400 = 20720 samples are exactly those 128 frames.
      const speech = await decodeFile(join(fixturesDir, 'audio/speech_16k.wav'));
      const logits = readFixtureNpy('models/tiny/case-single_label/logits.npy');
      const n = logits.shape[1]!;
      const row = Array.from(logits.data.subarray(0, n), Number);
      const max = Math.max(...row);
      const e = row.map((z) => Math.exp(z - max));
      const expected = e.map((v) => v / e.reduce((a, b) => a + b, 0));
      for (const length of [20720, 20720 + 159]) {
        const clip = speech.slice(0, length);
        assert.equal(frameCount(length, 16000), 128);
        const timeline = await tiny.timeline(clip, { topK: null });
        assert.deepEqual(timeline.map((w) => [w.start, w.end]), [[0, length / 16000]]);
        const got = new Map((await tiny(clip, { topK: null })).map((l) => [l.label, l.score]));
        const d = maxAbsDiff(expected, expected.map((_, j) => got.get(`class_${j}`)!));
        assert.ok(d <= 2e-5, `${length} samples: max |score - torch softmax| = ${d}`); // SCORE_TOL of audio-classification.test.ts
      }
    } finally {
      await tiny.dispose();
    }
  });
});
