/**
 * `ast-audio/web` from an app's bundler, as the README tells a user to set it up: a tiny app
 * (`import { pipeline, env } from 'ast-audio/web'`, resolved through package.json "exports" from a
 * node_modules/ast-audio link to this checkout) built with vite and with esbuild, each run in headless Chromium
 * from a cross-origin isolated server: the tiny fixture model scores a clip as the Node pipeline does (1e-4), on
 * 2 WASM threads, with no page error. Needs `npm run build` (the exports point into dist/) and Chromium.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as esbuild from 'esbuild';
import { build as viteBuild } from 'vite';
import type { Browser } from 'playwright-core';
import '../../src/node/index.js';
import { pipeline } from '../../src/pipeline/audio-classification.js';
import { chromiumMissing, launchChromium, startStaticServer } from '../helpers/chromium.js';
import { REPO_ROOT, fixturesDir } from '../helpers/fixtures.js';

const skip = chromiumMissing() ?? (existsSync(join(REPO_ROOT, 'dist/web/index.js')) ? false : 'dist/web/index.js is missing: run npm run build');
const THREADS = 2;
const SCORE_TOL = 1e-4;
const CLIP = 'audio/chirp_16k.wav';

// The app, set up as the README says: onnxruntime-web's loader and binary (.mjs, .wasm) copied to a static folder
// and env.wasm.wasmPaths pointing there. It touches the DOM at its top level, as real apps do: without wasmPaths,
// onnxruntime-web's bundled build starts its WASM threads as workers of the bundle that contains it, i.e. of the
// app (here: "document is not defined" in each thread with esbuild; with vite the page hung).
const APP_JS = `import { pipeline, env } from 'ast-audio/web';
env.wasm.wasmPaths = new URL('ort/', document.baseURI).href;
document.title = 'app loaded';
window.app = {
  env,
  async classify(model, clip) {
    const classify = await pipeline('audio-classification', model);
    try {
      return await classify(new Uint8Array(await (await fetch(clip)).arrayBuffer()), { topK: null });
    } finally {
      await classify.dispose();
    }
  },
};
`;
const INDEX_HTML = (script: string) =>
  `<!doctype html><meta charset="utf-8"><title>app</title><link rel="icon" href="data:,"><script type="module" src="${script}"></script>\n`;

const ORT_FILES = ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'];

/** The README's step: onnxruntime-web's two files (the same as beside dist/browser/ast-audio.js) into a static folder. */
function copyOrtFiles(to: string): void {
  const ortDist = dirname(createRequire(join(REPO_ROOT, 'package.json')).resolve('onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm'));
  mkdirSync(to, { recursive: true });
  for (const f of ORT_FILES) copyFileSync(join(ortDist, f), join(to, f));
}

let tmp: string;
let browser: Browser;
let expected: { label: string; score: number }[];

before(async () => {
  if (skip) return;
  tmp = mkdtempSync(join(tmpdir(), 'ast-app-'));
  mkdirSync(join(tmp, 'node_modules'));
  symlinkSync(REPO_ROOT, join(tmp, 'node_modules', 'ast-audio'));
  writeFileSync(join(tmp, 'main.js'), APP_JS);
  writeFileSync(join(tmp, 'index.html'), INDEX_HTML('./main.js'));
  browser = await launchChromium();
  const classify = await pipeline('audio-classification', join(fixturesDir, 'models/tiny'));
  expected = await classify(new Uint8Array(readFileSync(join(fixturesDir, CLIP))), { topK: null });
  await classify.dispose();
});

after(async () => {
  await browser?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

type AppWindow = Window & {
  app: { env: { wasm: { numThreads: number } }; classify(model: string, clip: string): Promise<{ label: string; score: number }[]> };
};

/** Serves `dir` isolated (plus the fixtures), classifies CLIP with the tiny model in Chromium, checks against Node. */
async function runApp(dir: string, name: string): Promise<void> {
  const server = await startStaticServer({ routes: { '/': dir, '/fixtures/': fixturesDir }, isolated: true });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => 'app' in window, undefined, { timeout: 30_000 });
    const got = await page.evaluate(
      async ([model, clip, threads]) => {
        const w = window as unknown as AppWindow;
        w.app.env.wasm.numThreads = threads as number;
        const scores = await w.app.classify(model as string, clip as string);
        return { scores, isolated: crossOriginIsolated, numThreads: w.app.env.wasm.numThreads, title: document.title };
      },
      [`${server.url}/fixtures/models/tiny/`, `${server.url}/fixtures/${CLIP}`, THREADS] as const,
    );
    const byLabel = new Map(got.scores.map((r) => [r.label, r.score]));
    const d = Math.max(...expected.map((r) => Math.abs(byLabel.get(r.label)! - r.score)));
    console.log(`  ${name}: ${got.scores.length} labels, max |chromium - node| score ${d.toExponential(2)}, isolated ${got.isolated}, threads ${got.numThreads}`);
    assert.equal(got.title, 'app loaded');
    assert.equal(got.scores.length, expected.length);
    assert.equal(got.scores[0]!.label, expected[0]!.label);
    assert.ok(d <= SCORE_TOL, `${name}: scores differ from Node by ${d}`);
    assert.equal(got.isolated, true);
    assert.equal(got.numThreads, THREADS);
    assert.deepEqual(errors, [], `${name} page errors:\n${errors.join('\n')}`);
  } finally {
    await page.close();
    await server.close();
  }
}

test('vite: an app importing ast-audio/web builds and classifies in Chromium as Node does', { skip, timeout: 180_000 }, async () => {
  const outDir = join(tmp, 'dist-vite');
  copyOrtFiles(join(tmp, 'public', 'ort')); // vite copies public/ into the build as is
  await viteBuild({
    root: tmp,
    configFile: false,
    logLevel: 'error',
    // the README's one line of config: audio-decode names an APE decoder package that is not published
    build: { outDir, emptyOutDir: true, chunkSizeWarningLimit: 10_000, rolldownOptions: { external: ['@audio/decode-ape'] } },
  });
  assert.deepEqual(readdirSync(join(outDir, 'ort')).sort(), ORT_FILES);
  await runApp(outDir, 'vite');
});

test('esbuild: an app importing ast-audio/web bundles and classifies in Chromium as Node does', { skip, timeout: 180_000 }, async () => {
  const outDir = join(tmp, 'dist-esbuild');
  mkdirSync(outDir);
  await esbuild.build({
    absWorkingDir: tmp,
    entryPoints: ['main.js'],
    outfile: join(outDir, 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    minify: true,
    logLevel: 'error',
    external: ['@audio/decode-ape'],
  });
  copyOrtFiles(join(outDir, 'ort'));
  writeFileSync(join(outDir, 'index.html'), INDEX_HTML('./main.js'));
  await runApp(outDir, 'esbuild');
});
