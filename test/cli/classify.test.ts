import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../src/node/index.js';
import { classifyCommand, type ClassifyCliOptions } from '../../src/cli/classify.js';
import { pipeline, type AudioClassificationPipeline } from '../../src/pipeline/audio-classification.js';
import { fixturesDir, REPO_ROOT } from '../helpers/fixtures.js';
import { pcm16Wav } from '../helpers/pcm16-wav.js';
import { capture } from '../helpers/capture.js';

const TINY = join(fixturesDir, 'models/tiny');
const AUDIO = join(fixturesDir, 'audio');

const DEFAULTS: ClassifyCliOptions = { topK: 5, aggregate: 'mean', timeline: false, json: false, csv: false, batchSize: 1 };

async function run(inputs: string[], opts: Partial<ClassifyCliOptions>) {
  const out = capture();
  const err = capture();
  const code = await classifyCommand(inputs, { ...DEFAULTS, model: TINY, ...opts }, { stdout: out.stream, stderr: err.stream });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('ast-audio classify', { timeout: 120_000 }, () => {
  let dir: string;
  let reference: AudioClassificationPipeline;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ast-classify-'));
    copyFileSync(join(AUDIO, 'chirp_16k.wav'), join(dir, 'a_chirp.wav'));
    copyFileSync(join(AUDIO, 'silence_16k.wav'), join(dir, 'b_silence.wav'));
    writeFileSync(join(dir, 'c_broken.wav'), 'RIFF not really a wav file');
    const long = new Float32Array(4 * 16000).map((_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000) * (i < 32000 ? 1 : 0.1));
    writeFileSync(join(dir, 'd_long.wav'), pcm16Wav(long, 16000));
    reference = await pipeline('audio-classification', TINY);
  });
  after(async () => {
    await reference.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('JSON: the pipeline result per file; a bad file is reported, skipped, and the exit code is 2', async () => {
    const { code, stdout, stderr } = await run([dir], { json: true, topK: 3 });
    assert.equal(code, 2);
    assert.match(stderr, /c_broken\.wav: /);
    assert.match(stderr, /# model .*tiny: 5 labels; scores: softmax \(a single-label classifier\)/);
    assert.match(stderr, /1 of 4 inputs failed/);
    const doc = JSON.parse(stdout) as { functionToApply: string; results: { file: string; labels?: unknown; error?: string }[] };
    assert.equal(doc.functionToApply, 'softmax');
    assert.deepEqual(doc.results.map((r) => r.file), ['a_chirp.wav', 'b_silence.wav', 'c_broken.wav', 'd_long.wav'].map((f) => join(dir, f)));
    for (const r of doc.results) {
      if (r.file.endsWith('c_broken.wav')) assert.ok(r.error && !r.labels);
      else assert.deepEqual(r.labels, await reference(r.file, { topK: 3 }));
    }
  });

  it('text and CSV, all files good: exit code 0', async () => {
    const files = [join(dir, 'a_chirp.wav'), join(dir, 'b_silence.wav')];
    const text = await run(files, { topK: 2 });
    assert.equal(text.code, 0, text.stderr);
    const expected = await reference(files[0]!, { topK: 2 });
    assert.ok(text.stdout.startsWith(`${files[0]} (0.50 s)\n  ${expected[0]!.score.toFixed(4).padStart(8)}  ${expected[0]!.label}\n`), text.stdout);
    const csv = await run(files, { csv: true, topK: 2 });
    const lines = csv.stdout.trim().split('\n');
    assert.equal(lines[0], 'file,rank,label,score');
    assert.equal(lines.length, 1 + 2 * 2);
    assert.equal(lines[1], `${files[0]},1,${expected[0]!.label},${expected[0]!.score}`);
  });

  it('--timeline with --hop prints every window with its start and end', async () => {
    const file = join(dir, 'd_long.wav');
    const { code, stdout } = await run([file], { timeline: true, hop: 0.64, csv: true, topK: 1 });
    assert.equal(code, 0);
    const expected = await reference.timeline(file, { hop: 0.64, topK: 1 });
    // 4 s = 398 frames; 128-frame windows every 64 frames -> 1 + ceil(270 / 64) = 6 windows.
    assert.equal(expected.length, 6);
    const lines = stdout.trim().split('\n').slice(1);
    assert.deepEqual(lines, expected.map((w) => `${file},${w.start.toFixed(3)},${w.end.toFixed(3)},1,${w.labels[0]!.label},${w.labels[0]!.score}`));
  });

  it('a progress bar on a terminal stderr from 8 files on, none otherwise', async () => {
    const many = mkdtempSync(join(dir, 'many-'));
    for (let i = 0; i < 8; i++) copyFileSync(join(AUDIO, 'chirp_16k.wav'), join(many, `clip${i}.wav`));
    const out = capture();
    const err = capture();
    Object.assign(err.stream, { isTTY: true, columns: 80 });
    const code = await classifyCommand([many], { ...DEFAULTS, model: TINY, csv: true }, { stdout: out.stream, stderr: err.stream });
    assert.equal(code, 0);
    assert.match(err.text(), /classify \[.*\] 8\/8 files/);
    assert.equal(out.text().trim().split('\n').length, 1 + 8 * 5);
    const quiet = await run([many], { csv: true });
    assert.doesNotMatch(quiet.stderr, /classify \[/);
  });

  it('fatal problems exit 1: nothing to classify, a missing model, bad window options', async () => {
    assert.equal((await run([join(dir, '*.ogg')], {})).code, 1);
    const noModel = await run([join(dir, 'a_chirp.wav')], { model: join(dir, 'no-model') });
    assert.equal(noModel.code, 1);
    assert.match(noModel.stderr, /cannot load the model: .*no-model/);
    const badWindow = await run([join(dir, 'a_chirp.wav')], { window: 3 });
    assert.equal(badWindow.code, 1);
    assert.match(badWindow.stderr, /window 3 s is longer than the model's 128 frames/);
  });

  it('the real command: --help lists options with examples; a run prints JSON and exits 0', () => {
    const cli = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', timeout: 60_000, cwd: REPO_ROOT });
    const help = cli(['classify', '--help']);
    assert.equal(help.status, 0, help.stderr);
    for (const flag of ['--model', '--top-k', '--json', '--csv', '--window', '--hop', '--timeline', '--batch-size', '--threads', 'Examples:']) {
      assert.ok(help.stdout.includes(flag), `--help mentions ${flag}`);
    }
    const res = cli(['classify', join(dir, 'a_chirp.wav'), '--model', TINY, '--json', '--top-k', '1']);
    assert.equal(res.status, 0, res.stderr);
    const doc = JSON.parse(res.stdout) as { results: { labels: { label: string }[] }[] };
    assert.equal(doc.results[0]!.labels.length, 1);
    const bad = cli(['classify', join(dir, 'a_chirp.wav'), '--top-k', 'zero']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /expected a positive integer or "all"/);
  });
});
