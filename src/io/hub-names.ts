/**
 * Hugging Face Hub names, browser-safe: repo ids, revisions and repo file names are checked before they
 * become URLs or cache paths, and a Hub checkpoint as a plain URL source (browsers read the Hub's
 * resolve endpoint directly, as transformers.js does; Node uses the cached source in node/hub.ts).
 */
import { urlSource, type FileSource } from './files.js';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** huggingface_hub's `validate_repo_id`: `name` or `owner/name`, each part [\w.-]{1,96}, no `--` or `..`. */
export function isValidRepoId(id: string): boolean {
  const parts = id.split('/');
  if (parts.length > 2 || id.includes('--') || id.includes('..') || id.endsWith('.git')) return false;
  return parts.every((p) => /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$/.test(p));
}

export function validateRepoId(id: string): void {
  if (!isValidRepoId(id)) {
    throw new Error(
      `"${id}" is not a valid Hugging Face repo id: expected "name" or "owner/name" made of letters, digits, "_", "-", "." ` +
        '(at most 96 each, no "--" or "..", not starting or ending with "-" or ".")',
    );
  }
}

/** A repo file name: relative POSIX path that cannot leave the snapshot folder. */
export function validateRepoFileName(name: string): void {
  const segments = name.split('/');
  const bad =
    name.length === 0 ||
    name.length > 1024 ||
    name.includes('\\') ||
    name.includes('\0') ||
    /^[A-Za-z]:/.test(name) ||
    segments.some((s) => s === '' || s === '.' || s === '..');
  if (bad) {
    throw new Error(`"${name}" is not a valid repo file name: expected a relative path like "config.json" (no "..", "\\", absolute or empty parts)`);
  }
}

/** Branch, tag or commit: used both in URLs (encoded) and as refs/<revision> in the cache. */
export function validateRevision(revision: string): void {
  const segments = revision.split('/');
  if (!/^[A-Za-z0-9_.\-/]{1,255}$/.test(revision) || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`"${revision}" is not a valid revision: expected a branch, tag or commit hash such as "main" or "refs/pr/1"`);
  }
}

/** A string that names a Hub repo rather than a path or URL: `owner/name` (or `name`), nothing path-like. */
export function looksLikeRepoId(ref: string): boolean {
  return !/^[.~/\\]/.test(ref) && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(ref) && isValidRepoId(ref);
}

/**
 * A Hub checkpoint read over HTTP from `{endpoint}/{repo}/resolve/{revision}/{file}` with no cache of its
 * own (a browser's HTTP cache applies). For Node, `hubSource` keeps the Hugging Face cache instead.
 */
export function hubUrlSource(repoId: string, options: { revision?: string; endpoint?: string; fetch?: typeof fetch } = {}): FileSource {
  validateRepoId(repoId);
  const revision = options.revision ?? 'main';
  validateRevision(revision);
  const endpoint = (options.endpoint ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  const inner = urlSource(`${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/`, options.fetch);
  const description = `hub:${repoId}@${revision}`;
  return {
    description,
    describe: (name) => `${description}/${name}`,
    exists: async (name) => {
      validateRepoFileName(name);
      return inner.exists(name);
    },
    read: async (name) => {
      validateRepoFileName(name);
      try {
        return await inner.read(name);
      } catch (err) {
        throw new Error(`${description}/${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    },
  };
}
