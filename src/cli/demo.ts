/**
 * `ast-audio demo`: serves the demo page (web/, built into dist/web-demo/ by `npm run build`) and a model
 * for it on a local HTTP server. Every response carries COOP `same-origin` and COEP `require-corp`, which
 * make the page cross-origin isolated: only then may it use SharedArrayBuffer, which ONNX Runtime's WASM
 * threads need (without them it runs on one thread).
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_MODEL_DIR, DEFAULT_MODEL_URL } from '../pipeline/audio-classification.js';
import { looksLikeRepoId } from '../io/hub-names.js';

/** dist/web-demo/, two folders up from both src/cli/demo.ts and dist/cli/demo.js. */
export const DEMO_PAGE_DIR = fileURLToPath(new URL('../../dist/web-demo/', import.meta.url));

/**
 * onnxruntime-web's runtime (28 MB of WASM) is served from the prebuilt module's copy in dist/browser/, so
 * the package carries it once; the page's worker loads it from its own folder (ort.env.wasm.wasmPaths).
 */
export const ORT_RUNTIME_DIR = fileURLToPath(new URL('../../dist/browser/', import.meta.url));
const ORT_RUNTIME_FILES = new Set(['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm']);

/** Headers that make the page cross-origin isolated (and let it load its own files under COEP). */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.wav': 'audio/wav',
  '.flac': 'audio/flac',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.md': 'text/markdown; charset=utf-8',
};

export interface DemoOptions {
  host: string;
  port: number;
  /** A checkpoint folder (served at /model/), an http(s) URL or a Hub id (the page fetches it itself). */
  model?: string;
}

export interface DemoServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** The model part of the page's config: where the page loads it from, and the folder served at /model/. */
async function modelPlan(model: string | undefined): Promise<{ ref: string; name: string; dir?: string; examples: string[] }> {
  if (model !== undefined && /^https?:\/\//i.test(model)) return { ref: model, name: model, examples: [] };
  const dir = model === undefined ? fileURLToPath(DEFAULT_MODEL_URL) : resolve(model);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    if (model !== undefined && looksLikeRepoId(model)) return { ref: model, name: model, examples: [] };
    throw new Error(
      model === undefined
        ? `the embedded model is missing (${dir})`
        : `--model ${model}: not a checkpoint folder, an http(s) URL or a Hub id (owner/name)`,
    );
  }
  const examples = (await readdir(join(dir, 'examples')).catch(() => [] as string[]))
    .filter((f) => /\.(wav|flac|mp3|ogg)$/i.test(f))
    .sort()
    .map((f) => `model/examples/${encodeURIComponent(f)}`);
  return { ref: 'model/', name: model ?? DEFAULT_MODEL_DIR, dir, examples };
}

/** Starts the server; resolves once it listens. */
export async function startDemoServer(options: DemoOptions): Promise<DemoServer> {
  const pageInfo = await stat(join(DEMO_PAGE_DIR, 'index.html')).catch(() => undefined);
  if (!pageInfo) throw new Error(`the demo page is not built (${DEMO_PAGE_DIR}index.html is missing): run npm run build`);
  for (const f of ORT_RUNTIME_FILES) {
    if (!(await stat(join(ORT_RUNTIME_DIR, f)).catch(() => undefined))) throw new Error(`onnxruntime-web's ${f} is missing from ${ORT_RUNTIME_DIR}: run npm run build`);
  }
  const plan = await modelPlan(options.model);
  const config = JSON.stringify({ model: plan.ref, name: plan.name, examples: plan.examples });

  const server = createServer((req, res) => {
    void handle(req, res, plan.dir, config).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, `${err instanceof Error ? err.message : String(err)}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port, options.host, () => ok());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    server,
    url: `http://${host}:${port}/`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { ...ISOLATION_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache' });
  res.end(body);
}

async function handle(req: IncomingMessage, res: ServerResponse, modelDir: string | undefined, config: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, `${req.method} is not allowed\n`);
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return send(res, 400, 'bad URL\n');
  }
  if (path === '/demo-config.json') return send(res, 200, config, TYPES['.json']);
  let root = DEMO_PAGE_DIR;
  let rel = path === '/' ? 'index.html' : path.slice(1);
  if (ORT_RUNTIME_FILES.has(rel)) {
    root = ORT_RUNTIME_DIR;
  } else if (path.startsWith('/model/')) {
    if (!modelDir) return send(res, 404, `no model folder is served (the page loads its model from elsewhere)\n`);
    root = modelDir;
    rel = path.slice('/model/'.length);
  }
  const file = resolve(root, rel);
  // nothing outside the served folder, whatever the URL says
  if (!file.startsWith(resolve(root) + sep)) return send(res, 404, `${path}: not found\n`);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return send(res, 404, `${path}: not found\n`);
  res.writeHead(200, {
    ...ISOLATION_HEADERS,
    'Content-Type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': info.size,
    'Cache-Control': 'no-cache',
  });
  if (req.method === 'HEAD') return void res.end();
  await new Promise<void>((ok, fail) => {
    createReadStream(file).on('error', fail).pipe(res).on('finish', ok).on('close', ok);
  });
}

const EXAMPLES = `
Examples:
  $ ast-audio demo                                   # the embedded speech-commands model on http://127.0.0.1:8080/
  $ ast-audio demo --port 0                          # any free port; the URL is printed
  $ ast-audio demo --model ./my-finetuned-checkpoint # a local checkpoint folder
  $ ast-audio demo --model MIT/ast-finetuned-audioset-10-10-0.4593   # the browser fetches it from the Hub

The page classifies files (drop or pick), the microphone (live timeline) and exposes window.astDemo.
Responses carry COOP same-origin + COEP require-corp, so ONNX Runtime's WASM runs multi-threaded.
Ctrl-C stops the server.`;

export function register(program: Command): void {
  program
    .command('demo')
    .description('serve the in-browser demo page (files, microphone, live timeline) with a model')
    .option('-m, --model <dir|url|id>', `checkpoint folder, http(s) URL of one, or Hub id (default: the embedded ${DEFAULT_MODEL_DIR})`)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free port)', parsePort, 8080)
    .addHelpText('after', EXAMPLES)
    .action(async (opts: DemoOptions) => {
      const demo = await startDemoServer(opts);
      const modelName = opts.model ?? DEFAULT_MODEL_DIR;
      process.stdout.write(`ast-audio demo: serving ${modelName} on ${demo.url} (cross-origin isolated: COOP same-origin, COEP require-corp)\n`);
      process.stdout.write(`open ${demo.url} in a browser; Ctrl-C stops\n`);
      await new Promise<void>((ok) => {
        for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => void demo.close().then(ok));
      });
    });
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--port must be an integer from 0 to 65535, got "${value}"`);
  return n;
}
