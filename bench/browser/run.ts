/**
 * Browser bench: AST-Base forward per 10 s clip (batch 1) in headless Chromium, WASM with threads, the page cross-origin
 * isolated (COOP/COEP from the local static server), ours (the prebuilt `dist/browser/ast-audio.js`) vs transformers.js
 * 4.x (its browser build from node_modules) on the ONNX export of the same weights; fp32 and q8 (ours `dtype: 'q8'`;
 * transformers.js `dtype: 'q8'` on the QOperator model_quantized.onnx that the engine bench makes); ours in Chromium
 * vs ours in Node (onnxruntime-node, this process); model load time from the local server; WebGPU where Chromium
 * gives a hardware adapter (SwiftShader, a CPU emulation, only with --browser-webgpu: minutes per forward).
 *
 * Same conditions: the same WASM thread count on both sides (env.wasm.numThreads, read back after load), no spinning
 * of idle threads (session config) on every session, each side in its own tab, runs alternating one by one (ours,
 * transformers.js, ours in Node); medians; load average printed at start and end.
 *   npm run bench -- --only browser [--runs 5] [--threads 2] [--dtype fp32,q8] [--browser-webgpu]
 * The checkpoint and exports live in .bench/engine/ (made here when missing, as the engine bench makes them).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import '../../src/node/index.js';
import { ASTForAudioClassification } from '../../src/model/ast.js';
import type { ModelDtype } from '../../src/runtime/dtype.js';
import { NO_SPINNING, cpuModel, exportForTransformersJs, hasTorch, makeBaseCheckpoint } from '../engine.js';
import { prepareTransformersJsQ8 } from '../engine-dtypes.js';
import { findReferenceDir } from '../python-peer.js';
import { chromiumMissing, launchChromium, startStaticServer, type StaticServer } from '../../test/helpers/chromium.js';
import { OURS_PAGE, TJS_PAGE } from './page.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader'];

export interface BrowserBenchOptions {
  runs?: number;
  warmup?: number;
  threads?: number;
  dtypes?: readonly ('fp32' | 'q8')[];
  /** Also time WebGPU on a software (SwiftShader) adapter; a hardware adapter is always timed. */
  forceWebgpu?: boolean;
  workDir?: string;
  log?: (line: string) => void;
}

export interface SideFigures {
  msPerClip: number;
  loadMs: number;
  threads: number;
}

export interface BrowserBenchResult {
  cpu: string;
  chromium: string;
  transformersJs: string;
  /** per `${device} ${dtype}`: ours in Chromium, transformers.js in Chromium (or why not), ours in Node (wasm rows) */
  rows: { key: string; ours?: SideFigures | string; tjs?: SideFigures | string; node?: { msPerClip: number } }[];
  webgpu: string;
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};

type BenchWindow = Window & {
  bench: { version?: string; load(o: object): Promise<{ loadMs: number; threads: number }>; run(): Promise<number>; dispose(): Promise<void> };
};

async function openSide(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`  page error (${url}): ${String(e)}`));
  page.on('console', (m) => m.type() === 'error' && console.error(`  console (${url}): ${m.text()}`));
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true, undefined, { timeout: 60_000 });
  return page;
}

const load = (page: Page, o: { dtype: string; device: string; threads: number }) =>
  page.evaluate((opts) => (window as unknown as BenchWindow).bench.load(opts), o);
const runOnce = (page: Page) => page.evaluate(() => (window as unknown as BenchWindow).bench.run());
const dispose = (page: Page) => page.evaluate(() => (window as unknown as BenchWindow).bench.dispose());

/** The checkpoint, its torch.onnx export and the q8 export, made once in `work` (as the engine bench makes them). */
async function prepareModels(work: string, log: (s: string) => void): Promise<{ ckpt: string; tjsModels?: string; tjsSkip?: string }> {
  const ckpt = makeBaseCheckpoint(join(work, 'ast-base'));
  const ref = findReferenceDir();
  if (!existsSync(join(work, 'tjs-models/ast-base/onnx/model.onnx')) && (!ref || !hasTorch())) {
    return { ckpt, tjsSkip: 'skipped: the ONNX export needs /usr/bin/python3 with torch and the oracle (shared/reference)' };
  }
  const tjsModels = exportForTransformersJs(ref ?? '', ckpt, work, log);
  if (!existsSync(join(tjsModels, 'ast-base/onnx/model_quantized.onnx'))) {
    log('writing transformers.js q8 export (QOperator model_quantized.onnx) ...');
    const m = await ASTForAudioClassification.fromPretrained(ckpt, { threads: 1 });
    prepareTransformersJsQ8(tjsModels, m);
    await m.dispose();
  }
  return { ckpt, tjsModels };
}

export async function benchBrowser(options: BrowserBenchOptions = {}): Promise<BrowserBenchResult> {
  const runs = options.runs ?? 5;
  const warmup = options.warmup ?? 1;
  const threads = options.threads ?? 2;
  const dtypes = options.dtypes ?? ['fp32', 'q8'];
  const log = options.log ?? ((s: string) => console.log(s));
  const work = options.workDir ?? join(REPO, '.bench/engine');
  const missing = chromiumMissing();
  if (missing) throw new Error(`browser bench: ${missing}`);
  if (!existsSync(join(REPO, 'dist/browser/ast-audio.js'))) {
    log('building dist/browser/ast-audio.js (npm run build:browser) ...');
    const r = spawnSync(process.execPath, [join(REPO, 'scripts/build-browser.mjs')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build:browser failed: ${r.stderr}`);
  }
  const { ckpt, tjsModels, tjsSkip } = await prepareModels(work, log);
  // neither package exports ./package.json: from a file each exports (dist/…) up one folder
  const tjsPkg = dirname(dirname(createRequire(join(REPO, 'package.json')).resolve('@huggingface/transformers')));
  const tjsVersion = (JSON.parse(readFileSync(join(tjsPkg, 'package.json'), 'utf8')) as { version: string }).version;
  // transformers.js's own onnxruntime-web (it pins its version); nested under it or hoisted
  const tjsOrt = dirname(dirname(createRequire(join(tjsPkg, 'package.json')).resolve('onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm')));
  const tjsOrtVersion = (JSON.parse(readFileSync(join(tjsOrt, 'package.json'), 'utf8')) as { version: string }).version;
  const cpu = cpuModel();
  log(`browser bench: AST-Base (12 layers, 768, 527 labels) random fp32 checkpoint ${ckpt} (${(statSync(join(ckpt, 'model.safetensors')).size / 2 ** 20).toFixed(0)} MB); batch 1, ${threads} WASM threads each side, median of ${runs} runs after ${warmup} warm-up`);
  log(`CPU: ${cpu}, ${cpus().length} logical CPUs; machine load average (1/5/15 min) at start: ${loadavg().map((v) => v.toFixed(1)).join(' / ')}`);

  const server: StaticServer = await startStaticServer({
    isolated: true,
    routes: {
      '/ours.html': { body: OURS_PAGE, type: 'text/html; charset=utf-8' },
      '/tjs.html': { body: TJS_PAGE, type: 'text/html; charset=utf-8' },
      '/ours/': join(REPO, 'dist/browser'),
      '/ckpt/': ckpt,
      '/tjs/': join(tjsPkg, 'dist'),
      '/tjs-ort/': join(tjsOrt, 'dist'),
      ...(tjsModels ? { '/tjs-models/': tjsModels } : {}),
    },
  });
  const browser = await launchChromium({ args: WEBGPU_ARGS });
  const result: BrowserBenchResult = { cpu, chromium: browser.version(), transformersJs: `${tjsVersion} (onnxruntime-web ${tjsOrtVersion})`, rows: [], webgpu: '' };
  try {
    const ours = await openSide(browser, `${server.url}/ours.html`);
    const tjs = tjsModels ? await openSide(browser, `${server.url}/tjs.html`) : undefined;
    const adapter = await ours.evaluate(async () => {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info: { vendor: string; architecture: string } } | null> } }).gpu;
      const a = await gpu?.requestAdapter();
      return a ? `${a.info.vendor} ${a.info.architecture}` : null;
    });
    const software = adapter !== null && /swiftshader/i.test(adapter);
    result.webgpu = adapter === null ? 'no WebGPU adapter' : software && !options.forceWebgpu ? `adapter ${adapter} is a CPU emulation: not timed (--browser-webgpu to force)` : `adapter ${adapter}`;
    log(`Chromium ${result.chromium}; transformers.js ${result.transformersJs}; ours: onnxruntime-web ${JSON.parse(readFileSync(join(REPO, 'node_modules/onnxruntime-web/package.json'), 'utf8')).version}; WebGPU: ${result.webgpu}`);
    if (tjsSkip) log(`transformers.js ${tjsSkip}`);

    const plan: { device: 'wasm' | 'webgpu'; dtype: ModelDtype }[] = dtypes.map((dtype) => ({ device: 'wasm' as const, dtype }));
    if (adapter !== null && (!software || options.forceWebgpu)) plan.push({ device: 'webgpu', dtype: 'fp32' });

    for (const { device, dtype } of plan) {
      const key = `${device} ${dtype}`;
      const row: BrowserBenchResult['rows'][number] = { key };
      result.rows.push(row);
      log(`${key}: loading (ours in Chromium, transformers.js in Chromium${device === 'wasm' ? ', ours in Node' : ''}) ...`);
      const o = await load(ours, { dtype, device, threads });
      const t = tjs ? await load(tjs, { dtype, device, threads }) : undefined;
      const node = device === 'wasm' ? await ASTForAudioClassification.fromPretrained(ckpt, { dtype, threads, sessionConfig: NO_SPINNING }) : undefined;
      if (t && t.threads !== o.threads) throw new Error(`thread counts differ: ours ${o.threads}, transformers.js ${t.threads}`);
      const x = { dtype: 'float32' as const, dims: [1, 1024, 128], data: Float32Array.from({ length: 1024 * 128 }, (_, i) => Math.sin(i * 0.37) * 0.5) };
      const nodeRun = async () => {
        const t0 = performance.now();
        await node!.forward({ inputValues: x });
        return performance.now() - t0;
      };
      for (let i = 0; i < warmup; i++) {
        await runOnce(ours);
        if (tjs) await runOnce(tjs);
        if (node) await nodeRun();
      }
      const [a, b, c]: number[][] = [[], [], []];
      for (let i = 0; i < runs; i++) {
        a.push(await runOnce(ours));
        if (tjs) b.push(await runOnce(tjs));
        if (node) c.push(await nodeRun());
        log(`  run ${i + 1}/${runs}: ours ${a[i]!.toFixed(0)} ms, transformers.js ${b[i]?.toFixed(0) ?? 'n/a'} ms, ours in Node ${c[i]?.toFixed(0) ?? 'n/a'} ms`);
      }
      row.ours = { msPerClip: median(a), loadMs: o.loadMs, threads: o.threads };
      row.tjs = t ? { msPerClip: median(b), loadMs: t.loadMs, threads: t.threads } : (tjsSkip ?? 'n/a');
      if (node) row.node = { msPerClip: median(c) };
      const tj = typeof row.tjs === 'object' ? row.tjs : undefined;
      log(
        `${key.padEnd(12)} ours ${row.ours.msPerClip.toFixed(0)} ms/clip (load ${o.loadMs.toFixed(0)} ms, ${o.threads} threads)` +
          `  transformers.js ${tj ? `${tj.msPerClip.toFixed(0)} ms/clip (load ${tj.loadMs.toFixed(0)} ms, ${tj.threads} threads); ours/transformers.js ${(row.ours.msPerClip / tj.msPerClip).toFixed(2)}x` : 'n/a'}` +
          (row.node ? `  ours in Node ${row.node.msPerClip.toFixed(0)} ms/clip (Chromium/Node ${(row.ours.msPerClip / row.node.msPerClip).toFixed(2)}x)` : ''),
      );
      await dispose(ours);
      if (tjs) await dispose(tjs);
      await node?.dispose();
    }
  } finally {
    await browser.close();
    await server.close();
  }
  log(`machine load average (1/5/15 min) at end: ${loadavg().map((v) => v.toFixed(1)).join(' / ')}`);
  return result;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  const at = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  await benchBrowser({
    runs: at('--runs') ? Number(at('--runs')) : undefined,
    threads: at('--threads') ? Number(at('--threads')) : undefined,
    dtypes: at('--dtype')?.split(',') as ('fp32' | 'q8')[] | undefined,
    forceWebgpu: args.includes('--browser-webgpu'),
  });
}
