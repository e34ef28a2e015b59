/**
 * Real-browser test kit: headless Debian Chromium driven by playwright-core, and a static file server that
 * can make its pages cross-origin isolated (COOP `same-origin` + COEP `require-corp`), which is what gives a
 * page `SharedArrayBuffer` and so onnxruntime-web its WASM threads.
 *
 *   const server = await startStaticServer({ routes: { '/': distDir, '/fixtures/': fixturesDir }, isolated: true });
 *   const browser = await launchChromium();
 *   const page = await browser.newPage();
 *   await page.goto(`${server.url}/index.html`);
 *   ...
 *   await browser.close(); await server.close();
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** Where Chromium lives: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium` (`.ci/run` installs it). */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || '/usr/bin/chromium';
}

/** Undefined when Chromium is there to launch, else why not (for `test(..., { skip })`). */
export function chromiumMissing(): string | undefined {
  const p = chromiumPath();
  return existsSync(p) ? undefined : `no Chromium at ${p} (apt-get install chromium, or set CHROMIUM_PATH)`;
}

export interface LaunchOptions {
  /** Extra command-line switches (e.g. WebGPU or fake-microphone flags), after the defaults. */
  readonly args?: readonly string[];
  /** Extra environment for the browser process (e.g. VK_ICD_FILENAMES for a software Vulkan driver). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Launches headless Chromium. `--no-sandbox` because CI runs as root, where Chromium refuses its sandbox;
 * `--disable-dev-shm-usage` because containers give /dev/shm 64 MB, too little for renderer shared memory.
 */
export async function launchChromium(opts: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', ...(opts.args ?? [])],
    env: { ...process.env, ...opts.env } as Record<string, string>,
  });
}

/** A body served as is, for pages written inside a test. */
export interface InlineFile {
  readonly body: string | Uint8Array;
  readonly type?: string;
}

export interface StaticServerOptions {
  /** A folder served at `/` (same as `routes: { '/': root }`). */
  readonly root?: string;
  /**
   * URL path → what to serve. A key ending in `/` maps a URL prefix onto a folder (or its files); any other key
   * is one exact path, served from a file path or an inline body. The longest matching prefix wins.
   */
  readonly routes?: Readonly<Record<string, string | InlineFile>>;
  /** Send COOP `same-origin` + COEP `require-corp` so pages are cross-origin isolated. */
  readonly isolated?: boolean;
}

export interface StaticServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm', // needed for WebAssembly.instantiateStreaming
  '.wav': 'audio/wav',
  '.flac': 'audio/flac',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.onnx': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
};

/** Serves files on a free 127.0.0.1 port (GET and HEAD; 404 outside the routes, 403 on `..` escapes). */
export async function startStaticServer(opts: StaticServerOptions): Promise<StaticServer> {
  const routes: [string, string | InlineFile][] = Object.entries({ ...(opts.root ? { '/': opts.root } : {}), ...opts.routes });
  routes.sort((a, b) => b[0].length - a[0].length);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
    if (opts.isolated) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      headers['Cross-Origin-Resource-Policy'] = 'same-origin';
    }
    const fail = (status: number, msg: string) => {
      res.writeHead(status, { ...headers, 'Content-Type': 'text/plain' }).end(msg);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'method not allowed');
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return fail(400, 'bad path');
    }
    for (const [key, target] of routes) {
      const exact = !key.endsWith('/');
      if (exact ? path !== key : !path.startsWith(key)) continue;
      if (typeof target !== 'string') {
        const body = typeof target.body === 'string' ? Buffer.from(target.body) : target.body;
        res.writeHead(200, { ...headers, 'Content-Type': target.type ?? TYPES[extname(path)] ?? 'application/octet-stream', 'Content-Length': String(body.byteLength) });
        return void res.end(req.method === 'HEAD' ? undefined : body);
      }
      let file = target;
      if (!exact) {
        const base = resolve(target);
        file = resolve(join(base, normalize(path.slice(key.length) || 'index.html')));
        if (file !== base && !file.startsWith(base + sep)) return fail(403, 'outside the served folder');
        if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
      }
      if (!existsSync(file) || !statSync(file).isFile()) continue;
      const size = statSync(file).size;
      res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': String(size) });
      if (req.method === 'HEAD') return void res.end();
      return void createReadStream(file).pipe(res);
    }
    fail(404, `not found: ${path}`);
  };

  const server = createServer(handle);
  await new Promise<void>((ok, ko) => {
    server.once('error', ko);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
