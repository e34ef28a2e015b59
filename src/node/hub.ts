/**
 * Hugging Face Hub checkpoints as a FileSource (Node only), kept in the standard Hugging Face cache
 * so that Python's `huggingface_hub`, transformers and this package share downloads:
 *
 *   $HF_HUB_CACHE/models--owner--name/
 *     refs/<revision>                  the commit hash a branch or tag resolved to
 *     blobs/<etag>                     file contents (sha256 for LFS files, git oid otherwise)
 *     snapshots/<commit>/<file>        symlink -> ../../blobs/<etag>
 *     .no_exist/<commit>/<file>        empty marker: the Hub said this file does not exist
 *
 * Requests go through `@huggingface/hub` (`fileDownloadInfo`, `downloadFile`). A file already in the
 * cache for a known commit is used without any request, so a second load works offline; the price is
 * that a cached branch (e.g. `main`) is not re-checked: pass a newer `revision` or delete
 * `refs/<revision>` to move it forward.
 *
 * Environment, as in `huggingface_hub`: HF_HUB_CACHE (else HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub,
 * else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub), HF_ENDPOINT, HF_TOKEN,
 * HF_HUB_OFFLINE=1.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import {
  downloadFile,
  fileDownloadInfo,
  getRepoFolderName,
  REGEX_COMMIT_HASH as COMMIT_HASH,
  scanCachedRepo,
  type FileDownloadInfoOutput,
} from '@huggingface/hub';
import type { FileSource } from '../io/files.js';
import { openRangedFile, writeFileAtomic } from './files.js';
import { FormatError } from '../io/errors.js';
import { DEFAULT_HUB_ENDPOINT, validateRepoFileName, validateRepoId, validateRevision } from '../io/hub-names.js';

export { DEFAULT_HUB_ENDPOINT, isValidRepoId, validateRepoFileName, validateRepoId, validateRevision } from '../io/hub-names.js';

const MAX_REDIRECTS = 5;
/** A metadata request (the 1-byte probe) that takes this long has failed. */
const PROBE_TIMEOUT_MS = 30_000;
/** A download that receives no byte for this long has failed. */
const STALL_TIMEOUT_MS = 60_000;

export interface HubOptions {
  /** Branch, tag or commit hash. Default `main`. */
  revision?: string;
  /** Cache root; default from the environment (see the module comment). */
  cacheDir?: string;
  /** Hub base URL; default HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Access token (`hf_…`); default HF_TOKEN. */
  token?: string;
  /** Use only the cache; default HF_HUB_OFFLINE. */
  offline?: boolean;
  /** Called while a file downloads. */
  onProgress?: (event: { file: string; loaded: number; total: number }) => void;
  /** For tests and proxies; default global fetch. */
  fetch?: typeof fetch;
  /** Environment to read defaults from; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The Hugging Face hub cache folder that `huggingface_hub` would use with this environment. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE;
  if (explicit) return expandHome(explicit);
  const hfHome = env.HF_HOME ? expandHome(env.HF_HOME) : join(env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'huggingface');
  return join(hfHome, 'hub');
}

export function isHubOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  return ['1', 'ON', 'YES', 'TRUE'].includes((env.HF_HUB_OFFLINE ?? '').trim().toUpperCase());
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}

/** `models--owner--name`, as huggingface_hub names a model repo's cache folder. */
export function repoFolderName(repoId: string): string {
  return getRepoFolderName({ type: 'model', name: repoId });
}

interface ProbeResult {
  info: FileDownloadInfoOutput;
  commit: string | undefined;
  etag: string;
}

/** What the Hub's own responses said (the CDN a download is redirected to does not repeat these headers). */
interface HubHeaders {
  commit?: string;
  linkedEtag?: string;
  etag?: string;
}

export interface HubFileSource extends FileSource {
  readonly repoId: string;
  readonly revision: string;
  /** The file's path in the cache (downloaded first when needed), or null when the repo has no such file. */
  resolvePath(name: string): Promise<string | null>;
}

/**
 * The checkpoint `repoId` at `revision` as a FileSource backed by the Hugging Face cache.
 * Nothing is requested until a file is asked for.
 */
export function hubSource(repoId: string, options: HubOptions = {}): HubFileSource {
  validateRepoId(repoId);
  const env = options.env ?? process.env;
  const revision = options.revision ?? 'main';
  validateRevision(revision);
  const cacheDir = options.cacheDir ?? hubCacheDir(env);
  const endpoint = (options.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  const token = options.token ?? (env.HF_TOKEN || undefined);
  const offline = options.offline ?? isHubOffline(env);
  const baseFetch = options.fetch ?? fetch;
  const storage = join(cacheDir, repoFolderName(repoId));
  const description = `hub:${repoId}@${revision}`;
  const probes = new Map<string, ProbeResult | null>();

  const where = (name: string) => `${description}/${name}`;

  async function cachedCommit(): Promise<string | undefined> {
    if (COMMIT_HASH.test(revision)) return revision;
    try {
      const text = (await readFile(join(storage, 'refs', revision), 'utf8')).trim();
      return COMMIT_HASH.test(text) ? text : undefined;
    } catch {
      return undefined;
    }
  }

  /** The cached answer for `name`: its path, `null` when the Hub said it does not exist, undefined when unknown. */
  async function fromCache(name: string): Promise<string | null | undefined> {
    const commit = await cachedCommit();
    if (!commit) return undefined;
    const pointer = join(storage, 'snapshots', commit, name);
    if (await isFile(pointer)) return pointer;
    if (await isFile(join(storage, '.no_exist', commit, name))) return null;
    return undefined;
  }

  async function probe(name: string): Promise<ProbeResult | null> {
    if (probes.has(name)) return probes.get(name)!;
    const commit = await cachedCommit();
    const headers: HubHeaders = {};
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${PROBE_TIMEOUT_MS / 1000} s`)), PROBE_TIMEOUT_MS);
    let info: FileDownloadInfoOutput | null;
    try {
      info = await fileDownloadInfo({
        repo: { type: 'model', name: repoId },
        path: name,
        // Once a branch is pinned to a commit in the cache, later files come from that same commit.
        revision: commit ?? revision,
        hubUrl: endpoint,
        accessToken: token,
        fetch: hubFetch(baseFetch, endpoint, headers, controller.signal),
      });
    } catch (err) {
      throw hubError(where(name), err, endpoint, token);
    } finally {
      clearTimeout(timer);
    }
    if (!info) {
      const known = commit ?? headers.commit;
      if (known && COMMIT_HASH.test(known)) {
        await writeMarker(join(storage, '.no_exist', known, name));
        if (!commit && !COMMIT_HASH.test(revision)) await writeAtomically(join(storage, 'refs', revision), known);
      }
      probes.set(name, null);
      return null;
    }
    const etag = normalizeEtag(headers.linkedEtag ?? headers.etag ?? info.etag, where(name));
    const result: ProbeResult = { info, commit: commit ?? headers.commit, etag };
    probes.set(name, result);
    return result;
  }

  async function download(name: string, probed: ProbeResult): Promise<string> {
    const commit = probed.commit;
    if (!commit || !COMMIT_HASH.test(commit)) {
      throw new Error(`${where(name)}: the Hub's answer has no X-Repo-Commit header naming a commit; cannot place the file in the cache`);
    }
    const blobPath = join(storage, 'blobs', probed.etag);
    if (!(await isFile(blobPath))) await fetchBlob(name, probed, blobPath);
    const pointer = join(storage, 'snapshots', commit, name);
    await linkAtomically(blobPath, pointer);
    if (!COMMIT_HASH.test(revision)) await writeAtomically(join(storage, 'refs', revision), commit);
    return pointer;
  }

  async function fetchBlob(name: string, probed: ProbeResult, blobPath: string): Promise<void> {
    await mkdir(dirname(blobPath), { recursive: true });
    const temp = `${blobPath}.${process.pid}.${randomBytes(4).toString('hex')}.incomplete`;
    const controller = new AbortController();
    let stall: NodeJS.Timeout | undefined;
    const armStall = () => {
      clearTimeout(stall);
      stall = setTimeout(() => controller.abort(new Error(`no data for ${STALL_TIMEOUT_MS / 1000} s`)), STALL_TIMEOUT_MS);
    };
    const expected = probed.info.size;
    const hash = createHash('sha256');
    let loaded = 0;
    const file = await open(temp, 'wx');
    try {
      armStall();
      const blob = await downloadFile({
        repo: { type: 'model', name: repoId },
        path: name,
        revision: probed.commit,
        hubUrl: endpoint,
        accessToken: token,
        downloadInfo: probed.info,
        // Plain HTTP: the resolve endpoint redirects xet-backed files to a bridge that serves whole files.
        xet: false,
        fetch: hubFetch(baseFetch, endpoint, {}, controller.signal),
      });
      if (!blob) throw new Error('the Hub says the file does not exist');
      const reader = blob.stream().getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        armStall();
        loaded += value.byteLength;
        if (loaded > expected) throw new Error(`received more than the announced ${expected} bytes`);
        hash.update(value);
        await file.write(value);
        options.onProgress?.({ file: name, loaded, total: expected });
      }
      if (loaded !== expected) throw new Error(`download ended after ${loaded} of ${expected} bytes`);
      // LFS etags are the file's sha256: check it, so a corrupted transfer never lands in the cache.
      if (/^[0-9a-f]{64}$/.test(probed.etag)) {
        const digest = hash.digest('hex');
        if (digest !== probed.etag) throw new Error(`sha256 ${digest} does not match the Hub's ${probed.etag}`);
      }
      await file.sync();
      await file.close();
      await rename(temp, blobPath);
    } catch (err) {
      await file.close().catch(() => undefined);
      await rm(temp, { force: true });
      const reason = err instanceof Error ? err.message : String(err);
      throw new Error(
        `${where(name)}: download failed after ${loaded} of ${expected} bytes (${reason === 'terminated' ? 'connection closed' : reason}); nothing was written to the cache`,
        { cause: err },
      );
    } finally {
      clearTimeout(stall);
    }
  }

  async function resolvePath(name: string): Promise<string | null> {
    validateRepoFileName(name);
    const cached = await fromCache(name);
    if (cached !== undefined) return cached;
    if (offline) return await offlineMissing(name);
    const probed = await probe(name);
    return probed ? download(name, probed) : null;
  }

  async function offlineMissing(name: string): Promise<never> {
    throw new FormatError(
      where(name),
      `not in the Hugging Face cache (${join(storage, 'snapshots')}) and HF_HUB_OFFLINE is set; ` +
        `${await cachedRevisions()}load it once with a network connection, or unset HF_HUB_OFFLINE`,
    );
  }

  /** What the cache does hold of this repo ("the cache has main = 1a2b3c4 (3 files); "), to say in offline errors. */
  async function cachedRevisions(): Promise<string> {
    try {
      const repo = await scanCachedRepo(storage);
      const held = repo.revisions.map((r) => `${[...r.refs, r.commitOid.slice(0, 7)].join(' = ')} (${r.files.length} file${r.files.length === 1 ? '' : 's'})`);
      return held.length ? `the cache has ${held.join(', ')}; ` : '';
    } catch {
      return ''; // nothing cached for this repo (or a cache scanCachedRepo cannot read): nothing to add
    }
  }

  return {
    repoId,
    revision,
    description,
    describe: where,
    resolvePath,
    exists: async (name) => {
      validateRepoFileName(name);
      const cached = await fromCache(name);
      if (cached !== undefined) return cached !== null;
      if (offline) {
        // A repo never downloaded is an error worth saying; in a cached repo an unseen file counts as
        // absent, so optional files (sharded index, pytorch_model.bin) are skipped.
        if (!(await cachedCommit())) await offlineMissing(name);
        return false;
      }
      return (await probe(name)) !== null;
    },
    read: async (name) => {
      const path = await resolvePath(name);
      if (path === null) throw new FormatError(where(name), 'no such file in the repository');
      return new Uint8Array(await readFile(path));
    },
    // the cached file, for loaders that read parts of it (q8 reads each Linear as it quantises)
    openRanged: async (name) => {
      const path = await resolvePath(name);
      if (path === null) throw new FormatError(where(name), 'no such file in the repository');
      return openRangedFile(path);
    },
  };
}

/**
 * fetch that follows redirects itself (bounded), so the Hub's own headers — X-Repo-Commit and
 * X-Linked-Etag, which a CDN after the redirect does not send — are recorded, and the token never
 * travels to another origin.
 */
function hubFetch(base: typeof fetch, endpoint: string, record: HubHeaders, signal: AbortSignal): typeof fetch {
  const hubOrigin = new URL(endpoint).origin;
  return async (input, init) => {
    let url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers);
    // A download URL on a CDN (signed, no token needed) never gets the token either.
    if (url.origin !== hubOrigin) headers.delete('authorization');
    for (let hop = 0; ; hop++) {
      const res = await base(url, { ...init, headers, redirect: 'manual', signal });
      if (url.origin === hubOrigin) {
        record.commit ??= res.headers.get('x-repo-commit') ?? undefined;
        record.linkedEtag ??= res.headers.get('x-linked-etag') ?? undefined;
        record.etag ??= res.headers.get('etag') ?? undefined;
      }
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return res;
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects from ${String(input)}`);
      const next = new URL(location, url);
      if (next.origin !== url.origin) headers.delete('authorization');
      url = next;
    }
  };
}

function normalizeEtag(raw: string, where: string): string {
  const etag = raw.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  if (!/^[A-Za-z0-9_=+-]{1,128}$/.test(etag)) throw new Error(`${where}: the Hub sent an unusable ETag ${JSON.stringify(raw)}`);
  return etag;
}

function hubError(where: string, err: unknown, endpoint: string, token: string | undefined): Error {
  const status = (err as { statusCode?: unknown }).statusCode;
  const message = err instanceof Error ? err.message : String(err);
  if (status === 401 || status === 403 || status === 404) {
    const hint = token ? 'check the repo id and that HF_TOKEN can read it' : 'check the repo id; for a private or gated repo set HF_TOKEN';
    return new Error(`${where}: HTTP ${status} from ${endpoint}: repository or revision not found or not accessible (${hint})`, { cause: err });
  }
  if (err instanceof TypeError && /access token/.test(message)) {
    return new Error(`${where}: HF_TOKEN is not a Hugging Face access token (${message})`, { cause: err });
  }
  return new Error(
    `${where}: cannot get it from ${endpoint} (${message}); check the network or HF_ENDPOINT (with HF_HUB_OFFLINE=1 only cached files are used)`,
    { cause: err },
  );
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, text);
}

async function writeMarker(path: string): Promise<void> {
  await writeAtomically(path, '');
}

/** snapshots/<commit>/<file> -> relative link to the blob; a link made under a temp name and renamed into place. */
async function linkAtomically(blobPath: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  const temp = `${pointer}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await symlink(relative(dirname(pointer), blobPath), temp);
  } catch {
    // Filesystems without symlinks (some Windows setups): huggingface_hub copies the blob instead.
    const bytes = await readFile(blobPath);
    await writeFile(temp, bytes);
  }
  await rename(temp, pointer);
}
