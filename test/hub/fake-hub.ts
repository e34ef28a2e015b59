/**
 * A loopback stand-in for the Hugging Face Hub's resolve endpoint, serving one checkpoint folder the
 * way huggingface.co does for a model repo:
 *   GET /{owner}/{name}/resolve/{revision}/{file}
 *     small (git) files: 200, or 206 for `Range`, with ETag "<git blob sha1>" and X-Repo-Commit
 *     LFS files (*.safetensors, *.bin): 302 to /cdn/<sha256> with X-Repo-Commit, X-Linked-Etag "<sha256>",
 *       X-Linked-Size; the CDN answers Range requests and repeats none of the Hub headers
 *     missing file: 404 with X-Error-Code: EntryNotFound; unknown repo: 401 RepoNotFound; unknown
 *       revision: 404 RevisionNotFound
 * It listens on 127.0.0.1 with an ephemeral port and records every request.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface FakeHubRequest {
  /** 'hub' or 'cdn' (the second origin, when the hub redirects across origins). */
  origin: 'hub' | 'cdn';
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

export interface FakeHub {
  endpoint: string;
  /** Where LFS downloads are redirected: the hub itself, or a second server (another origin). */
  cdnEndpoint: string;
  repoId: string;
  commit: string;
  files: Map<string, Uint8Array>;
  requests: FakeHubRequest[];
  /** Misbehaviours for one file: announce the full length but send half, or send a forged ETag. */
  faults: Map<string, 'truncate' | 'evil-etag' | 'corrupt'>;
  sha256(file: string): string;
  close(): Promise<void>;
}

const LFS = /\.(safetensors|bin)$/;

export async function startFakeHub(
  folder: string,
  repoId = 'test-org/tiny-ast',
  options: { crossOriginCdn?: boolean } = {},
): Promise<FakeHub> {
  const files = new Map<string, Uint8Array>();
  for (const name of readdirSync(folder, { withFileTypes: true })) {
    if (name.isFile()) files.set(name.name, new Uint8Array(readFileSync(join(folder, name.name))));
  }
  const commit = createHash('sha1').update(`commit of ${repoId}`).digest('hex');
  const sha256 = (f: string) => createHash('sha256').update(files.get(f)!).digest('hex');
  const gitOid = (f: string) => {
    const b = files.get(f)!;
    return createHash('sha1').update(`blob ${b.byteLength}\0`).update(b).digest('hex');
  };
  const byDigest = new Map([...files.keys()].map((f) => [sha256(f), f]));
  const requests: FakeHubRequest[] = [];
  const faults = new Map<string, 'truncate' | 'evil-etag' | 'corrupt'>();

  let cdnBase = '';
  const handler = (origin: 'hub' | 'cdn') => (req: IncomingMessage, res: ServerResponse) => {
    requests.push({ origin, method: req.method ?? '', url: req.url ?? '', range: req.headers.range, authorization: req.headers.authorization });
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn) {
      const file = byDigest.get(cdn[1]!);
      if (!file) return json(res, 404, { error: 'not found' });
      // huggingface.co's CDN is CloudFront; @huggingface/hub then downloads from the CDN URL directly.
      return sendBytes(req, res, files.get(file)!, { ETag: `"cdn-${cdn[1]!.slice(0, 8)}"`, 'X-Cache': 'Hit from cloudfront' }, faults.get(file));
    }
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) return json(res, 404, { error: 'no such route' });
    const [, repo, revision, file] = m as unknown as [string, string, string, string];
    if (repo !== repoId) return json(res, 401, { error: 'Repository Not Found' }, { 'X-Error-Code': 'RepoNotFound' });
    if (decodeURIComponent(revision) !== 'main' && revision !== commit) {
      return json(res, 404, { error: 'Revision Not Found' }, { 'X-Error-Code': 'RevisionNotFound' });
    }
    const name = decodeURIComponent(file);
    const bytes = files.get(name);
    if (!bytes) return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': commit });
    if (LFS.test(name)) {
      const etag = faults.get(name) === 'evil-etag' ? '"../../../evil"' : `"${sha256(name)}"`;
      res.writeHead(302, {
        Location: `${cdnBase}/cdn/${sha256(name)}`,
        'X-Repo-Commit': commit,
        'X-Linked-Etag': etag,
        'X-Linked-Size': String(bytes.byteLength),
        ETag: `"${gitOid(name)}"`,
        'Content-Length': '0',
      });
      return res.end();
    }
    return sendBytes(req, res, bytes, { ETag: `"${gitOid(name)}"`, 'X-Repo-Commit': commit }, faults.get(name));
  };
  const listen = async (server: Server) => {
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const server: Server = createServer(handler('hub'));
  const endpoint = await listen(server);
  const cdnServer = options.crossOriginCdn ? createServer(handler('cdn')) : undefined;
  if (cdnServer) cdnBase = await listen(cdnServer);
  const stop = (s: Server) =>
    new Promise<void>((ok) => {
      s.closeAllConnections();
      s.close(() => ok());
    });
  return {
    endpoint,
    cdnEndpoint: cdnBase || endpoint,
    repoId,
    commit,
    files,
    requests,
    faults,
    sha256,
    close: async () => {
      await stop(server);
      if (cdnServer) await stop(cdnServer);
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function sendBytes(
  req: IncomingMessage,
  res: ServerResponse,
  bytes: Uint8Array,
  headers: Record<string, string>,
  fault: 'truncate' | 'evil-etag' | 'corrupt' | undefined,
): void {
  const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  if (range) {
    const start = Number(range[1]);
    const end = Math.min(Number(range[2]), bytes.byteLength - 1);
    res.writeHead(206, {
      ...headers,
      'Content-Range': `bytes ${start}-${end}/${bytes.byteLength}`,
      'Content-Length': String(end - start + 1),
      'Accept-Ranges': 'bytes',
    });
    return void res.end(bytes.subarray(start, end + 1));
  }
  res.writeHead(200, { ...headers, 'Content-Length': String(bytes.byteLength), 'Accept-Ranges': 'bytes' });
  if (fault === 'truncate') {
    // Announce the whole file, send half, then drop the connection.
    res.write(bytes.subarray(0, bytes.byteLength >> 1));
    setTimeout(() => res.destroy(), 20);
    return;
  }
  if (fault === 'corrupt') {
    const copy = bytes.slice();
    copy[copy.length >> 1] ^= 0xff;
    return void res.end(copy);
  }
  res.end(bytes);
}
