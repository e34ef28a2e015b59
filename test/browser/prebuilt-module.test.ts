/**
 * The prebuilt ES module `dist/browser/ast-audio.js` in real headless Chromium, imported by a page with
 * `<script type="module">` from a cross-origin isolated static server (test/helpers/prebuilt-page.ts):
 *  - every fixture model's logits on its PyTorch input match the Node path (onnxruntime-node, this process) and
 *    the PyTorch reference within 1e-4 of the reference's max |value| (the repository's parity tolerance);
 *  - the embedded model (found by the module relative to its own URL), through the pipeline on its 10 example
 *    clips as bytes: every label's score within 1e-4 (absolute) of the Node pipeline's;
 *  - WASM ran multi-threaded: crossOriginIsolated, env.wasm.numThreads 2, and onnxruntime-web's thread workers
 *    started; the page logged no error.
 * Needs `npm run build` (the module) and Chromium (skips with the reason when either is missing).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import '../../src/node/index.js';
import { ASTForAudioClassification } from '../../src/model/ast.js';
import { pipeline } from '../../src/pipeline/audio-classification.js';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';
import { REPO_ROOT, fixtureIndex, fixturesDir, maxAbs, maxAbsDiff, readFixtureNpy } from '../helpers/fixtures.js';
import { openPrebuiltPage, prebuiltMissing, type PrebuiltPage } from '../helpers/prebuilt-page.js';

const skip = chromiumMissing() ?? prebuiltMissing() ?? false;
const THREADS = 2;
const REL_TOL = 1e-4;
const SCORE_TOL = 1e-4;

let browser: Browser;
let ctx: PrebuiltPage;

before(async () => {
  if (skip) return;
  browser = await launchChromium();
  ctx = await openPrebuiltPage(browser);
  await ctx.page.evaluate((n) => {
    (window as unknown as { astPage: { env: { wasm: { numThreads: number } } } }).astPage.env.wasm.numThreads = n;
  }, THREADS);
});

after(async () => {
  await ctx?.close();
  await browser?.close();
});

interface PageApi {
  forward(modelUrl: string, npyUrl: string): Promise<{ dims: number[]; data: number[]; loadMs: number; forwardMs: number }>;
  classify(modelUrl: string | null, clipUrls: string[]): Promise<{ label: string; score: number }[][]>;
  info(): { isolated: boolean; numThreads: number; pthreadWorkers: number };
}
// page.evaluate callbacks run in the page: they reach the page's API through `window`, typed by this cast only
type PageWindow = Window & { astPage: PageApi };

test('fixture models in Chromium (prebuilt module, WASM threads): logits = Node path = PyTorch within 1e-4', { skip, timeout: 180_000 }, async () => {
  for (const { model, case: caseName } of fixtureIndex.models) {
    const input = `models/${model}/${caseName}/input_values.npy`;
    const ref = readFixtureNpy(`models/${model}/${caseName}/logits.npy`);
    const web = await ctx.page.evaluate(([m, x]) => (window as unknown as PageWindow).astPage.forward(m!, x!), [ctx.fixture(`models/${model}/`), ctx.fixture(input)]);

    const x = readFixtureNpy(input);
    const nodeModel = await ASTForAudioClassification.fromPretrained(join(fixturesDir, 'models', model));
    const node = await nodeModel.forward({ inputValues: { dtype: 'float32', dims: x.shape, data: x.data as Float32Array } });
    await nodeModel.dispose();

    assert.deepEqual(web.dims, ref.shape, `${model}: logits shape`);
    const scale = maxAbs(ref.data as Float32Array);
    const vsNode = maxAbsDiff(web.data, node.logits.data);
    const vsTorch = maxAbsDiff(web.data, ref.data as Float32Array);
    console.log(
      `  ${`${model}/${caseName}`.padEnd(30)} |chromium - node| ${vsNode.toExponential(2)}  |chromium - torch| ${vsTorch.toExponential(2)}` +
        `  (max|ref| ${scale.toFixed(2)}; load ${web.loadMs.toFixed(0)} ms, forward ${web.forwardMs.toFixed(0)} ms)`,
    );
    assert.ok(vsNode <= REL_TOL * scale, `${model}: Chromium vs Node logits differ by ${vsNode}`);
    assert.ok(vsTorch <= REL_TOL * scale, `${model}: Chromium vs PyTorch logits differ by ${vsTorch}`);
  }
});

test('embedded model, found beside the module: the 10 example clips score as in Node (1e-4)', { skip, timeout: 180_000 }, async () => {
  const examples = join(REPO_ROOT, 'models/speech-commands/examples');
  const clips = readdirSync(examples).filter((f) => f.endsWith('.wav')).sort();
  assert.equal(clips.length, 10);
  const web = await ctx.page.evaluate((urls) => (window as unknown as PageWindow).astPage.classify(null, urls), clips.map((c) => ctx.pkg(`models/speech-commands/examples/${c}`)));

  const classify = await pipeline('audio-classification');
  try {
    let worst = 0;
    for (const [i, clip] of clips.entries()) {
      const node = await classify(new Uint8Array(readFileSync(join(examples, clip))), { topK: null });
      const webScores = new Map(web[i]!.map((r) => [r.label, r.score]));
      assert.equal(webScores.size, node.length, `${clip}: label count`);
      assert.equal(web[i]![0]!.label, node[0]!.label, `${clip}: top label`);
      for (const r of node) {
        const d = Math.abs(webScores.get(r.label)! - r.score);
        worst = Math.max(worst, d);
        assert.ok(d <= SCORE_TOL, `${clip}: ${r.label} scores ${webScores.get(r.label)} in Chromium, ${r.score} in Node`);
      }
    }
    console.log(`  10 clips, every label: max |chromium - node| score ${worst.toExponential(2)}; top labels ${web.map((r) => r[0]!.label).join(' ')}`);
  } finally {
    await classify.dispose();
  }
});

test('cross-origin isolated, WASM on more than one thread, no page error', { skip, timeout: 60_000 }, async () => {
  // a session makes onnxruntime-web start its WASM threads (the tests above have; alone, this one does too)
  const regression = ctx.fixture('models/regression/');
  await ctx.page.evaluate(([m, x]) => (window as unknown as PageWindow).astPage.forward(m!, x!), [regression, `${regression}case-regression/input_values.npy`]);
  const info = await ctx.page.evaluate(() => (window as unknown as PageWindow).astPage.info());
  console.log(`  crossOriginIsolated ${info.isolated}, env.wasm.numThreads ${info.numThreads}, onnxruntime-web thread workers ${info.pthreadWorkers}`);
  assert.equal(info.isolated, true);
  // onnxruntime-web drops numThreads to 1 when the page is not isolated; the workers are the threads it started
  assert.equal(info.numThreads, THREADS);
  assert.ok(info.pthreadWorkers >= THREADS - 1, `only ${info.pthreadWorkers} WASM thread workers started`);
  assert.deepEqual(ctx.errors, [], `page errors:\n${ctx.errors.join('\n')}`);
});
