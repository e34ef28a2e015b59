/**
 * `ast-audio train` and `ast-audio eval` read their data as a stream (issue 13 item 3): a clip's features
 * are made when its batch needs them, so peak memory does not grow with the dataset.
 *
 * Each clip is 5.12 s, the model's input 512 frames x 128 mel bins, so every clip's fbank is 256 KiB (and
 * its waveform, which mixup keeps, 320 KiB): 30 vs 300 clips. Held in memory, as on main before this test,
 * the large run's peak RSS was 186 MiB (train) and 148 MiB (eval) above the small one's; streamed, the bound
 * is 40 MiB for train (which runs the small set for 10 epochs, so both runs do the same work) and 64 MiB for
 * eval (see EVAL_MARGIN_MIB), also for a Parquet dataset. The child reports its peak resident set (getrusage
 * ru_maxrss) as it exits. What is not the data is kept out of the comparison: `train` runs with --low-memory
 * (ONNX Runtime's memory arena grows over the first few dozen steps, to a plateau: 900 clips peak where 300
 * do), and glibc's mmap threshold is fixed (see `cli`). A tiny AST (1 layer, hidden 32, 16x16-stride patches)
 * keeps each step to milliseconds.
 *
 * And the stream changes no number: on the small set, the CLI's streamed run ends with the same weights
 * (sha256) and log as the training loop fed the same clips as an in-memory `Example[]` in this process, with
 * balanced sampling, SpecAugment and mixup drawing from the RNG; `eval`'s result equals `evaluate` over an
 * in-memory `Example[]`, and the Parquet file's eval the class folders'.
 */
import '../../src/node/index.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Rng } from '../../src/rng.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { pcm16Wav } from '../helpers/pcm16-wav.js';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { prepareTraining, runEval, loadExamples, readLabelledClips } from '../../src/node/train.js';
import { train, evaluate, type Example } from '../../src/train/trainer.js';
import { loadPretrained } from '../../src/model/pretrained.js';
import { ASTForAudioClassification } from '../../src/model/ast.js';
import { dirSource } from '../../src/node/files.js';

const CONFIG = {
  hidden_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_length: 512,
  num_mel_bins: 128,
  frequency_stride: 16,
  time_stride: 16,
};
const CLIP_FEATURE_MIB = (512 * 128 * 4) / 2 ** 20;
const MARGIN_MIB = 40;
/**
 * eval's margin: V8 frees an ArrayBuffer's memory when a collection finds it unreferenced, and collects for
 * ArrayBuffers once about 64 MiB of them have been allocated since the last one (its external-memory soft
 * limit). The 300-clip run passes that limit, the 30-clip run (about 24 MiB of buffers in all) never does, so up
 * to 64 MiB of dead buffers may separate them without anything being held (measured: 0 to 30 MiB).
 */
const EVAL_MARGIN_MIB = 64;
/** 5.12 s at 16 kHz: 512 frames, every row of the padded fbank filled (zero pages of padding would not be resident). */
const SAMPLES = 81920;

/**
 * root/<class>/<k>.wav: 5.12 s tones near each class's frequency plus seeded noise; the same clips as a
 * Hugging Face layout Parquet file `parquet` (audio {bytes, path}, string label, row groups of 10 rows).
 */
function writeDataset(root: string, parquet: string, perClass: number, seed: number): void {
  const rng = new Rng(seed);
  const audio: { bytes: Uint8Array; path: string }[] = [];
  const labels: string[] = [];
  for (const [c, f] of Object.entries({ high: 4000, low: 300, mid: 1200 })) {
    mkdirSync(join(root, c), { recursive: true });
    for (let k = 0; k < perClass; k++) {
      const ff = f * (0.9 + 0.2 * rng.uniform());
      const s = new Float32Array(SAMPLES);
      for (let i = 0; i < s.length; i++) s[i] = 0.5 * Math.sin((2 * Math.PI * ff * i) / 16000) + 0.05 * (2 * rng.uniform() - 1);
      const bytes = pcm16Wav(s);
      const name = `${String(k).padStart(3, '0')}.wav`; // listed in the rows' order
      writeFileSync(join(root, c, name), bytes);
      audio.push({ bytes, path: name });
      labels.push(c);
    }
  }
  const buffer = parquetWriteBuffer({
    columnData: [{ name: 'audio', data: audio }, { name: 'label', data: labels }],
    schema: [
      { name: 'schema', num_children: 2 },
      { name: 'audio', repetition_type: 'OPTIONAL', num_children: 2 },
      { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
      { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'label', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    ],
    rowGroupSize: 10,
  });
  writeFileSync(parquet, new Uint8Array(buffer));
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('train and eval stream their data: peak RSS independent of the dataset size, numbers as in memory', { timeout: 240_000 }, () => {
  let dir: string;
  let rssHook: string;
  let common: string[];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ast-train-stream-'));
    rssHook = join(dir, 'report-rss.mjs');
    writeFileSync(rssHook, "process.on('exit', () => process.stderr.write(`# maxRSS ${process.resourceUsage().maxRSS} KiB\\n`));\n");
    writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
    writeDataset(join(dir, 'small'), join(dir, 'small.parquet'), 10, 3);
    writeDataset(join(dir, 'large'), join(dir, 'large.parquet'), 100, 3);
    common = [
      '--config', join(dir, 'config.json'), '--batch-size', '10', '--lr', '1e-3', '--seed', '5', '--validation-split', '0.1',
      '--balanced', '--freq-mask', '8', '--time-mask', '16', '--mixup', '2', '--mixup-prob', '0.5', '--save-steps', '0', '--threads', '1',
      '--low-memory', // see the top of the file
    ];
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function cli(args: string[]): { stdout: string; stderr: string; maxRssMiB: number } {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(rssHook).href, join(REPO_ROOT, 'src/cli/main.ts'), ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 180_000,
      // glibc's dynamic mmap threshold keeps freed 256-640 KiB buffers in the heap as slack that grows with the
      // number of allocations for a while (51 MiB more for 300 clips than for 30 here, the same with
      // ast-audio's data held or not): a fixed threshold returns them, so the peak is what the process holds
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '65536' },
    });
    assert.equal(r.status, 0, `ast-audio ${args.join(' ')}: ${r.stderr}`);
    const kib = /# maxRSS (\d+) KiB/.exec(r.stderr);
    assert.ok(kib, `no RSS report in: ${r.stderr}`);
    return { stdout: r.stdout, stderr: r.stderr, maxRssMiB: Number(kib[1]) / 1024 };
  }

  it(`train: the 10x larger set's peak RSS is within ${MARGIN_MIB} MiB of the small one's`, (t) => {
    // the same work (27 steps, 300 clips loaded): 10 epochs of the small set, 1 of the large one, so only the
    // dataset's size differs, not how much garbage the run has made by its peak
    const small = cli(['train', join(dir, 'small'), '--out', join(dir, 'run-small'), '--epochs', '10', ...common]);
    const large = cli(['train', join(dir, 'large'), '--out', join(dir, 'run-large'), '--epochs', '1', ...common]);
    assert.match(large.stderr, /270 training clips, 30 validation clips, 3 labels/);
    const held = 270 * CLIP_FEATURE_MIB - 27 * CLIP_FEATURE_MIB; // features alone, had they been kept
    t.diagnostic(`peak RSS: 30 clips ${small.maxRssMiB.toFixed(0)} MiB, 300 clips ${large.maxRssMiB.toFixed(0)} MiB (features held in memory would add >= ${held.toFixed(0)} MiB)`);
    assert.ok(large.maxRssMiB - small.maxRssMiB <= MARGIN_MIB, `peak RSS grew by ${(large.maxRssMiB - small.maxRssMiB).toFixed(0)} MiB with the data`);
  });

  it(`eval: the 10x larger set's peak RSS is within ${EVAL_MARGIN_MIB} MiB of the small one's`, (t) => {
    const model = join(dir, 'run-small');
    const small = cli(['eval', join(dir, 'small'), '--model', model, '--json', '--threads', '1']);
    const large = cli(['eval', join(dir, 'large'), '--model', model, '--json', '--threads', '1']);
    assert.equal((JSON.parse(large.stdout) as { clips: number }).clips, 300);
    t.diagnostic(`peak RSS: 30 clips ${small.maxRssMiB.toFixed(0)} MiB, 300 clips ${large.maxRssMiB.toFixed(0)} MiB`);
    assert.ok(large.maxRssMiB - small.maxRssMiB <= EVAL_MARGIN_MIB, `peak RSS grew by ${(large.maxRssMiB - small.maxRssMiB).toFixed(0)} MiB with the data`);
  });

  it(`eval of a Parquet dataset: the 10x larger file's peak RSS is within ${EVAL_MARGIN_MIB} MiB of the small one's`, (t) => {
    const model = join(dir, 'run-small');
    const small = cli(['eval', join(dir, 'small.parquet'), '--model', model, '--json', '--threads', '1']);
    const large = cli(['eval', join(dir, 'large.parquet'), '--model', model, '--json', '--threads', '1']);
    const fromFolders = cli(['eval', join(dir, 'large'), '--model', model, '--json', '--threads', '1']);
    assert.deepEqual(JSON.parse(large.stdout), JSON.parse(fromFolders.stdout), 'the same clips as in class folders, in the same order');
    t.diagnostic(`peak RSS: 30 rows (4.7 MiB file) ${small.maxRssMiB.toFixed(0)} MiB, 300 rows (47 MiB file) ${large.maxRssMiB.toFixed(0)} MiB`);
    assert.ok(large.maxRssMiB - small.maxRssMiB <= EVAL_MARGIN_MIB, `peak RSS grew by ${(large.maxRssMiB - small.maxRssMiB).toFixed(0)} MiB with the data`);
  });

  it('the streamed run ends with the weights and log of the same clips trained from memory', async () => {
    // the same command in this process, its clips decoded into Example[] before the first step (the loop's in-memory input)
    const out = join(dir, 'run-memory');
    const { run } = await prepareTraining({
      data: join(dir, 'small'), out, config: join(dir, 'config.json'), epochs: 10, batchSize: 10, lr: 1e-3, seed: 5, validationSplit: 0.1,
      balanced: true, freqMask: 8, timeMask: 16, mixupAlpha: 2, mixupProb: 0.5, saveSteps: 0, threads: 1, lowMemory: true,
    });
    try {
      const inMemory = async (source: typeof run.train): Promise<Example[]> => {
        assert.ok(!Array.isArray(source), 'prepareTraining gives a streaming source');
        const s = source as Exclude<typeof run.train, readonly Example[]>;
        return Promise.all(Array.from({ length: s.length }, (_, i) => s.example(i)));
      };
      await train({ ...run, train: await inMemory(run.train), validation: await inMemory(run.validation) });
    } finally {
      await run.model.dispose();
    }
    const streamed = join(dir, 'run-small');
    assert.equal(sha256(join(out, 'model.safetensors')), sha256(join(streamed, 'model.safetensors')));
    const history = (d: string) => JSON.parse(readFileSync(join(d, 'checkpoint-epoch-10', 'trainer_state.json'), 'utf8')).log_history;
    assert.deepEqual(history(out), history(streamed));
  });

  it('eval streamed equals evaluate over the clips held in memory', async () => {
    const modelDir = join(dir, 'run-small');
    const got = JSON.parse(cli(['eval', join(dir, 'small'), '--model', modelDir, '--json', '--threads', '1']).stdout) as Record<string, number>;
    const { config, extractor, weights } = await loadPretrained(dirSource(modelDir), { head: 'classification' });
    const clips = await readLabelledClips(join(dir, 'small'));
    const examples = await loadExamples(clips, config.labels, false, extractor, false);
    const model = await ASTForAudioClassification.fromWeights(config, weights, { threads: 1 });
    try {
      const fe = extractor.config;
      const want = await evaluate(
        { config, predict: async (inputValues) => (await model.forward({ inputValues })).logits },
        examples,
        false,
        { input: { maxLength: config.max_length, numMelBins: config.num_mel_bins }, normalize: { mean: fe.mean, scale: 2 * fe.std } },
        8,
      );
      assert.deepEqual(got, JSON.parse(JSON.stringify(want)));
      // and the API's runEval (the same stream) agrees
      assert.deepEqual(await runEval(modelDir, join(dir, 'small'), { threads: 1 }), want);
    } finally {
      await model.dispose();
    }
  });
});
