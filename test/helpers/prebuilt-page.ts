/**
 * A test page that imports the prebuilt module exactly as the README tells a user to
 * (`<script type="module">import { pipeline } from './ast-audio.js'</script>`), served cross-origin isolated
 * in the package's own layout: `/pkg/dist/browser/ast-audio.js` (+ onnxruntime-web's files beside it),
 * `/pkg/models/speech-commands/` (the embedded model, found by the module relative to itself), and the
 * PyTorch fixtures under `/fixtures/`. Needs `npm run build` (or `npm run build:browser`) first.
 *
 * The page's functions, called with page.evaluate (results as plain arrays so they cross into Node):
 *   astPage.forward(modelUrl, npyUrl, options)  logits of ASTForAudioClassification on a fixture input
 *   astPage.classify(modelUrl|null, clipUrls, options)  the pipeline's scores (all labels) per clip
 *   astPage.info()  crossOriginIsolated, env.wasm.numThreads and the WASM thread workers started
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startStaticServer, type StaticServer } from './chromium.js';
import { REPO_ROOT, fixturesDir } from './fixtures.js';

export const PREBUILT = join(REPO_ROOT, 'dist/browser/ast-audio.js');

/** Undefined when the prebuilt module exists, else why a test cannot run. */
export function prebuiltMissing(): string | undefined {
  return existsSync(PREBUILT) ? undefined : `${PREBUILT} is missing: run npm run build`;
}

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>ast-audio prebuilt module check</title>
<link rel="icon" href="data:,">
<script type="module">
import { pipeline, env, ASTForAudioClassification, parseNpy } from './ast-audio.js';

async function bytesOf(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(url + ': HTTP ' + res.status);
  return new Uint8Array(await res.arrayBuffer());
}

window.astPage = {
  env,
  async forward(modelUrl, npyUrl, options = {}) {
    const t0 = performance.now();
    const model = await ASTForAudioClassification.fromPretrained(modelUrl, options);
    const loadMs = performance.now() - t0;
    try {
      const x = parseNpy(await bytesOf(npyUrl), npyUrl);
      const t1 = performance.now();
      const out = await model.forward({ inputValues: { dtype: 'float32', dims: x.shape, data: x.data } });
      return { dims: out.logits.dims, data: Array.from(out.logits.data), loadMs, forwardMs: performance.now() - t1 };
    } finally {
      await model.dispose();
    }
  },
  async classify(modelUrl, clipUrls, options = {}) {
    const classify = modelUrl ? await pipeline('audio-classification', modelUrl, options) : await pipeline('audio-classification', undefined, options);
    try {
      const out = [];
      for (const url of clipUrls) out.push(await classify(await bytesOf(url), { topK: null }));
      return out;
    } finally {
      await classify.dispose();
    }
  },
  info() {
    return { isolated: crossOriginIsolated, numThreads: env.wasm.numThreads, pthreadWorkers: window.__pthreadWorkers ?? 0 };
  },
};
window.astPageReady = true;
</script>`;

/** Counts the Emscripten thread workers onnxruntime-web starts (it names them 'em-pthread'). */
const COUNT_WORKERS = `(() => {
  const W = window.Worker;
  window.__pthreadWorkers = 0;
  window.Worker = class extends W {
    constructor(url, opts) { super(url, opts); if (opts && opts.name === 'em-pthread') window.__pthreadWorkers++; }
  };
})();`;

export interface PrebuiltPage {
  readonly page: Page;
  readonly server: StaticServer;
  /** Console errors and uncaught page errors seen so far. */
  readonly errors: string[];
  /** URL of a fixtures path (`models/tiny/`, `audio/speech_16k.wav`). */
  fixture(rel: string): string;
  /** URL of a file of the package (`models/speech-commands/examples/yes.wav`). */
  pkg(rel: string): string;
  close(): Promise<void>;
}

/** Serves and opens the page in a new tab of `browser`; resolves once the module has loaded. */
export async function openPrebuiltPage(browser: Browser, routes: Record<string, string> = {}): Promise<PrebuiltPage> {
  const server = await startStaticServer({
    routes: {
      '/pkg/dist/browser/check.html': { body: PAGE, type: 'text/html; charset=utf-8' },
      '/pkg/dist/': join(REPO_ROOT, 'dist'),
      '/pkg/models/': join(REPO_ROOT, 'models'),
      '/fixtures/': fixturesDir,
      ...routes,
    },
    isolated: true,
  });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  // the console's "Failed to load resource" does not say which; this does
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`);
  });
  await page.addInitScript(COUNT_WORKERS);
  await page.goto(`${server.url}/pkg/dist/browser/check.html`);
  await page.waitForFunction(() => (window as unknown as { astPageReady?: boolean }).astPageReady === true, undefined, { timeout: 30_000 });
  return {
    page,
    server,
    errors,
    fixture: (rel) => `${server.url}/fixtures/${rel}`,
    pkg: (rel) => `${server.url}/pkg/${rel}`,
    close: async () => {
      await page.close();
      await server.close();
    },
  };
}
