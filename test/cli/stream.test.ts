/**
 * Streaming long recordings (issue 13, item 1), through the real `ast-audio` process: a 2-hour WAV is
 * classified with --timeline in bounded memory, and a streamed file's windows equal the whole-waveform
 * path's. The model is a small one with AudioSet's 10.24 s windows (test/helpers/long-audio.ts), so two
 * hours are 704 windows; the files are written here, into a temp folder removed afterwards.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import '../../src/node/index.js';
import { decodeAudio } from '../../src/audio/decode.js';
import { pipeline, type AudioClassificationPipeline, type ClassifiedAudio } from '../../src/pipeline/audio-classification.js';
import { planWindows } from '../../src/pipeline/windows.js';
import { classifyFileStreaming } from '../../src/node/classify-file.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { writeLongWav, writeLongWindowModel } from '../helpers/long-audio.js';

/**
 * The bound: a streamed file's peak RSS is the process with the model loaded (measured on a 10 s clip)
 * plus at most STREAM_MARGIN_MB, whatever its length; and the 2-hour file's peak is within
 * DURATION_SLACK_MB of the 20-minute file's (the timeline of 704 windows vs 118 is the only thing that
 * grows). Holding the 2-hour file whole would add 230 MB of bytes and 460 MB of float32 samples.
 */
const STREAM_MARGIN_MB = 100;
const DURATION_SLACK_MB = 40;

function sox(args: string[]): boolean {
  return spawnSync('sox', args, { stdio: 'ignore' }).status === 0;
}

describe('streaming long recordings through the ast-audio process', { timeout: 900_000 }, () => {
  let dir: string;
  let model: string;
  let rssHook: string;
  let classify: AudioClassificationPipeline;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ast-stream-'));
    model = writeLongWindowModel(join(dir, 'model'));
    rssHook = join(dir, 'report-rss.mjs');
    // The child reports its own peak resident set (getrusage ru_maxrss, KiB on Linux) as it exits.
    writeFileSync(rssHook, "process.on('exit', () => process.stderr.write(`# maxRSS ${process.resourceUsage().maxRSS} KiB\\n`));\n");
    writeLongWav(join(dir, '10s.wav'), 10);
    writeLongWav(join(dir, '20min.wav'), 20 * 60);
    writeLongWav(join(dir, '2h.wav'), 2 * 60 * 60);
    writeLongWav(join(dir, 'cut60.wav'), 60, 16000, 3000); // seconds 3000-3060 of the 2-hour recording
    classify = await pipeline('audio-classification', model);
  });
  after(async () => {
    await classify?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function cli(args: string[]): { stdout: string; stderr: string; maxRssMB: number } {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(rssHook).href, join(REPO_ROOT, 'src/cli/main.ts'), ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 600_000,
      maxBuffer: 64 << 20,
    });
    assert.equal(r.status, 0, `ast-audio ${args.join(' ')}: ${r.stderr}`);
    const kib = /# maxRSS (\d+) KiB/.exec(r.stderr);
    assert.ok(kib, `no RSS report in: ${r.stderr}`);
    return { stdout: r.stdout, stderr: r.stderr, maxRssMB: Number(kib[1]) / 1024 };
  }

  /** Windows of --timeline --json output, checked to cover the whole file (so all of it was read). */
  function timeline(file: string, seconds: number): { rss: number; windows: { start: number; end: number }[] } {
    const r = cli(['classify', file, '-m', model, '--timeline', '--json', '--top-k', '1', '--no-progress']);
    const doc = JSON.parse(r.stdout) as { results: { duration: number; windows: { start: number; end: number }[] }[] };
    const result = doc.results[0]!;
    const plan = planWindows(seconds * 16000, 16000, 1024);
    assert.equal(result.duration, seconds);
    assert.equal(result.windows.length, plan.windows.length, `${file}: one timeline entry per window`);
    assert.equal(result.windows.at(-1)!.end, seconds, `${file}: the last window ends at the end of the audio`);
    return { rss: r.maxRssMB, windows: result.windows };
  }

  it('classifies a 2-hour WAV with --timeline in the model plus a fixed margin, as a 20-minute one', (t) => {
    const clip = timeline(join(dir, '10s.wav'), 10).rss;
    const twenty = timeline(join(dir, '20min.wav'), 20 * 60).rss;
    const two = timeline(join(dir, '2h.wav'), 2 * 60 * 60).rss;
    t.diagnostic(`peak RSS: 10 s clip (model loaded) ${clip.toFixed(0)} MB, 20 min ${twenty.toFixed(0)} MB, 2 h ${two.toFixed(0)} MB`);
    assert.ok(twenty <= clip + STREAM_MARGIN_MB, `20 min: ${twenty.toFixed(0)} MB > ${clip.toFixed(0)} + ${STREAM_MARGIN_MB} MB`);
    assert.ok(two <= clip + STREAM_MARGIN_MB, `2 h: ${two.toFixed(0)} MB > ${clip.toFixed(0)} + ${STREAM_MARGIN_MB} MB`);
    assert.ok(two <= twenty + DURATION_SLACK_MB, `2 h: ${two.toFixed(0)} MB > 20 min's ${twenty.toFixed(0)} + ${DURATION_SLACK_MB} MB`);
  });

  it('ast-audio tag streams too: the 2-hour WAV in the same bound, every window in its timeline', (t) => {
    const clip = timeline(join(dir, '10s.wav'), 10).rss;
    const out = join(dir, 'tagged');
    const r = cli(['tag', join(dir, '2h.wav'), '--out', out, '-m', model, '--format', 'jsonl', '--timeline', '--top-k', '1', '--no-progress']);
    t.diagnostic(`tag, 2 h: peak RSS ${r.maxRssMB.toFixed(0)} MB (10 s clip classified: ${clip.toFixed(0)} MB)`);
    assert.ok(r.maxRssMB <= clip + STREAM_MARGIN_MB, `tag 2 h: ${r.maxRssMB.toFixed(0)} MB > ${clip.toFixed(0)} + ${STREAM_MARGIN_MB} MB`);
    const rows = readdirSync(out)
      .filter((f) => /^part-.*\.jsonl$/.test(f))
      .flatMap((f) => readFileSync(join(out, f), 'utf8').trim().split('\n'))
      .map((line) => JSON.parse(line) as { duration_s: number; sampling_rate: number; timeline: unknown[] });
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.duration_s, 7200);
    assert.equal(rows[0]!.sampling_rate, 16000);
    assert.equal(rows[0]!.timeline.length, planWindows(7200 * 16000, 16000, 1024).windows.length);
  });

  /** Every window's every score from the process (streamed) against the whole-waveform path in this process. */
  async function assertSameWindows(file: string): Promise<void> {
    const r = cli(['classify', file, '-m', model, '--timeline', '--json', '--top-k', 'all', '--hop', '3', '--no-progress']);
    const streamed = (JSON.parse(r.stdout) as { results: ClassifiedAudio[] }).results[0]!;
    // A Float32Array input takes the whole-waveform path: decoded and resampled in one piece, then windowed.
    const whole = await decodeAudio(new Uint8Array(readFileSync(file)), { samplingRate: 16000, source: file });
    let reference: ClassifiedAudio | undefined;
    for await (const item of classify.run([whole.waveform], { topK: null, hop: 3, functionToApply: 'softmax' })) reference = item;
    assert.ok(reference && !reference.error, String(reference?.error));
    assert.equal(streamed.windows!.length, reference.windows!.length);
    let worst = 0;
    reference.windows!.forEach((w, k) => {
      const s = streamed.windows![k]!;
      assert.equal(s.start, w.start);
      assert.equal(s.end, w.end);
      const score = new Map(s.labels.map((l) => [l.label, l.score]));
      for (const l of w.labels) worst = Math.max(worst, Math.abs(score.get(l.label)! - l.score));
    });
    assert.ok(worst <= 1e-5, `${file}: a window's score differs by ${worst}`);
  }

  it('a 60 s cut: the streamed windows equal the whole-file path (every score within 1e-5)', async () => {
    await assertSameWindows(join(dir, 'cut60.wav'));
  });

  it('a 60 s 44.1 kHz stereo 24-bit FLAC: streamed (decoded, downmixed, resampled per chunk) equals the whole-file path', async (t) => {
    const flac = join(dir, 'cut60.flac');
    if (!sox([join(dir, 'cut60.wav'), '-r', '44100', '-c', '2', '-b', '24', flac, 'remix', '1', '1v0.5'])) {
      t.skip('sox is not installed');
      return;
    }
    await assertSameWindows(flac);
  });

  it('a 60 s MP3 (LAME, 44.1 kHz stereo) and Ogg Vorbis: decoded a chunk at a time, equal to the whole-file path', async (t) => {
    const wav = join(dir, 'cut60-44k.wav');
    if (!sox([join(dir, 'cut60.wav'), '-r', '44100', '-c', '2', wav, 'remix', '1', '1v0.5'])) return t.skip('sox is not installed');
    const ogg = join(dir, 'cut60.ogg');
    assert.ok(sox([wav, ogg]), 'sox writes Ogg Vorbis');
    await assertSameWindows(ogg);
    const mp3 = join(dir, 'cut60.mp3');
    if (spawnSync('lame', ['--quiet', '-b', '128', wav, mp3]).status !== 0) return t.skip('lame is not installed');
    await assertSameWindows(mp3);
    // and the fixtures without a LAME tag (the decoder's delay is dropped) and with one
    await assertSameWindows(join(REPO_ROOT, 'test/data/audio/yes_lame_24k_notag.mp3'));
  });

  it('classifyFileStreaming: labels, windows, duration, the file rate and the embedding; a held-whole format over its limit is refused by name', async () => {
    const file = join(dir, 'cut60.wav');
    const r = await classifyFileStreaming(classify, file, { topK: 2, embeddings: true });
    assert.ifError(r.error);
    assert.equal(r.source, file);
    assert.equal(r.duration, 60);
    assert.equal(r.samplingRate, 16000);
    assert.equal(r.labels!.length, 2);
    assert.equal(r.windows!.length, planWindows(60 * 16000, 16000, 1024).windows.length);
    assert.equal(r.embedding!.length, 64, 'the hidden size of the test model');
    // The embedding is the mean of each window's pooler output: the model run on each window here.
    const wave = (await decodeAudio(new Uint8Array(readFileSync(file)), { samplingRate: 16000 })).waveform;
    const mean = new Float64Array(64);
    for (const w of planWindows(wave.length, 16000, 1024).windows) {
      const features = classify.featureExtractor.extract(wave.subarray(w.startSample, w.endSample), { samplingRate: 16000 });
      const out = await classify.model.forward({ inputValues: features.inputValues });
      out.poolerOutput.data.forEach((v, i) => (mean[i] += v / r.windows!.length));
    }
    mean.forEach((v, i) => assert.ok(Math.abs(v - r.embedding![i]!) <= 1e-5, `embedding[${i}] ${r.embedding![i]} vs ${v}`));

    const aiff = join(dir, 'cut60.aiff');
    if (sox([file, aiff])) {
      const refused = await classifyFileStreaming(classify, aiff, { maxWholeFileBytes: 1000 });
      assert.match(refused.error!.message, /cut60\.aiff: AIFF audio is decoded whole \(WAV, FLAC, MP3 and Ogg Vorbis are read as a stream\), and the file is 1\.8 MiB \(limit 0\.0 MiB\)/);
    }
    const missing = await classifyFileStreaming(classify, join(dir, 'nope.wav'));
    assert.match(missing.error!.message, /nope\.wav: no such file/);
  });
});
