/**
 * `ast-audio export`: the folder it writes is loaded by transformers.js 4.x (the npm package, a devDependency,
 * on the same onnxruntime-node) with `AutoModelForAudioClassification.from_pretrained(dir, { dtype })` and
 * `pipeline('audio-classification', dir)`, and each file's logits agree:
 *   - with ours at the same dtype: the same graph on the same ORT, so 1e-4 of max|logit| (fp32 measured ~1e-7);
 *   - with the PyTorch fp32 reference: fp32 1e-4, fp16 5e-3, q8 5e-2 of max|logit| (the bars of
 *     test/model/low-precision.test.ts).
 * The pipeline (on samples, our pipeline truncating as transformers.js does) gives our top label and score.
 * Models: tiny (fp32, qkv bias) and strided (bf16 checkpoint, qkv_bias=false, strided patches).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoModelForAudioClassification, Tensor, env, pipeline as tjsPipeline } from '@huggingface/transformers';
import '../../src/node/index.js';
import { ASTForAudioClassification } from '../../src/model/ast.js';
import { pipeline } from '../../src/pipeline/audio-classification.js';
import { loadAudio } from '../../src/node/audio.js';
import { REPO_ROOT, fixturesDir, maxAbs, maxAbsDiff, readFixtureNpy } from '../helpers/fixtures.js';

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: REPO_ROOT });

const REF_BAR = { fp32: 1e-4, fp16: 5e-3, q8: 5e-2 } as const;
const OURS_BAR = 1e-4;

env.allowRemoteModels = false;

for (const [model, caseName] of [['tiny', 'case-single_label'], ['strided', 'case-single_label']] as const) {
  test(`export ${model} -> transformers.js loads model.onnx, model_fp16.onnx and model_quantized.onnx with our logits`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'export-'));
    try {
      const out = join(root, model);
      const r = cli(['export', join(fixturesDir, 'models', model), '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(readdirSync(out).sort(), ['config.json', 'onnx', 'preprocessor_config.json']);
      assert.deepEqual(readdirSync(join(out, 'onnx')).sort(), ['model.onnx', 'model_fp16.onnx', 'model_quantized.onnx']);
      assert.match(r.stdout, /onnx\/model_quantized\.onnx: [\d.]+ [KM]iB/);

      const x = readFixtureNpy(`models/${model}/${caseName}/input_values.npy`);
      const ref = readFixtureNpy(`models/${model}/${caseName}/logits.npy`).data as Float32Array;
      env.localModelPath = `${root}/`;
      for (const dtype of ['fp32', 'fp16', 'q8'] as const) {
        const tjs = await AutoModelForAudioClassification.from_pretrained(model, { dtype, device: 'cpu' });
        const ours = await ASTForAudioClassification.fromPretrained(join(fixturesDir, 'models', model), { dtype, threads: 1 });
        try {
          const theirs = (await tjs({ input_values: new Tensor('float32', x.data as Float32Array, [...x.shape]) })) as { logits: Tensor };
          const mine = (await ours.forward({ inputValues: { dtype: 'float32', dims: x.shape, data: x.data as Float32Array } })).logits;
          assert.deepEqual(theirs.logits.dims, mine.dims);
          const t = theirs.logits.data as Float32Array;
          const vsOurs = maxAbsDiff(t, mine.data) / maxAbs(mine.data);
          const vsRef = maxAbsDiff(t, ref) / maxAbs(ref);
          console.log(`  ${model} ${dtype}: transformers.js vs ours ${vsOurs.toExponential(2)}, vs PyTorch fp32 ${vsRef.toExponential(2)}`);
          assert.ok(vsOurs <= OURS_BAR, `${model} ${dtype}: transformers.js vs ours ${vsOurs}`);
          assert.ok(vsRef <= REF_BAR[dtype], `${model} ${dtype}: transformers.js vs reference ${vsRef}`);
        } finally {
          await tjs.dispose();
          await ours.dispose();
        }
      }

      // the pipeline, on samples (transformers.js reads files only in browsers): same top label as ours
      const wave = await loadAudio(join(fixturesDir, 'audio/speech_16k.wav'), { samplingRate: 16000 });
      const classify = await tjsPipeline('audio-classification', model, { dtype: 'q8', device: 'cpu' });
      const mine = await pipeline('audio-classification', join(fixturesDir, 'models', model), { dtype: 'q8', threads: 1 });
      try {
        const theirs = (await classify(wave, { top_k: 1 })) as { label: string; score: number }[];
        const [top] = await mine(wave, { topK: 1, aggregate: 'first' }); // transformers.js truncates to one window, as 'first'
        console.log(`  ${model} pipeline q8: transformers.js ${theirs[0]!.label} ${theirs[0]!.score.toFixed(3)}, ours ${top!.label} ${top!.score.toFixed(3)}`);
        assert.equal(theirs[0]!.label, top!.label);
        // both extractors follow torchaudio's fbank (ours to 5e-4, test/audio), the model is the same file
        assert.ok(Math.abs(theirs[0]!.score - top!.score) <= 0.01, `top score ${theirs[0]!.score} vs ours ${top!.score}`);
      } finally {
        await classify.dispose();
        await mine.dispose();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test('export: an unknown --dtype is a usage error naming the valid ones, and nothing is written', () => {
  const root = mkdtempSync(join(tmpdir(), 'export-'));
  try {
    const out = join(root, 'x');
    const r = cli(['export', join(fixturesDir, 'models/tiny'), '--out', out, '--dtype', 'fp32,q4']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--dtype: q4 is not supported: valid dtypes are fp32, fp16, q8/);
    assert.ok(!existsSync(out));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('export: a missing checkpoint is an error naming it, and nothing is written', () => {
  const root = mkdtempSync(join(tmpdir(), 'export-'));
  try {
    const out = join(root, 'x');
    const r = cli(['export', join(root, 'no-such-model'), '--out', out]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no-such-model/);
    assert.ok(!existsSync(out));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
