import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hubCacheDir, hubSource, isValidRepoId, validateRepoFileName, validateRevision, type HubOptions } from '../../src/node/hub.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { startFakeHub, type FakeHub } from './fake-hub.js';

const TINY = join(fixturesDir, 'models/tiny');
const TOKEN = 'hf_loopbacktesttoken';

/** Every file under `dir`, relative, with symlinks reported as such. */
function listTree(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listTree(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

describe('Hub download into the Hugging Face cache (loopback server)', { timeout: 30_000 }, () => {
  let hub: FakeHub;
  let root: string;
  const env = (cache: string, extra: NodeJS.ProcessEnv = {}): HubOptions => ({
    env: { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.endpoint, HF_TOKEN: TOKEN, ...extra },
  });

  before(async () => {
    hub = await startFakeHub(TINY);
    root = mkdtempSync(join(tmpdir(), 'ast-hub-'));
  });
  after(async () => {
    await hub.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('downloads into models--owner--name/{blobs,snapshots,refs} and returns the same bytes', async () => {
    const cache = join(root, 'download');
    const src = hubSource(hub.repoId, env(cache));
    for (const name of ['config.json', 'preprocessor_config.json', 'model.safetensors']) {
      const bytes = await src.read(name);
      assert.deepEqual(createHash('sha256').update(bytes).digest('hex'), hub.sha256(name), name);
    }
    const repoDir = join(cache, 'models--test-org--tiny-ast');
    assert.equal(readFileSync(join(repoDir, 'refs/main'), 'utf8'), hub.commit);
    const pointer = join(repoDir, 'snapshots', hub.commit, 'model.safetensors');
    assert.ok(lstatSync(pointer).isSymbolicLink());
    // LFS files are stored under their sha256, as huggingface_hub does.
    assert.equal(readlinkSync(pointer), join('..', '..', 'blobs', hub.sha256('model.safetensors')));
    assert.ok(!listTree(repoDir).some((f) => f.includes('incomplete') || f.endsWith('.tmp')));
    // The token goes to the Hub (HF_TOKEN) ...
    assert.ok(hub.requests.every((r) => r.authorization === `Bearer ${TOKEN}`));
    // ... and the LFS file went through the redirect to the CDN path.
    assert.ok(hub.requests.some((r) => r.url.startsWith('/cdn/')));
  });

  it('reuses the cache: a second load makes no request, also for a file known to be absent', async () => {
    const cache = join(root, 'reuse');
    const first = hubSource(hub.repoId, env(cache));
    await first.read('config.json');
    await first.read('model.safetensors');
    assert.equal(await first.exists('pytorch_model.bin'), false);
    assert.ok(existsSync(join(cache, 'models--test-org--tiny-ast/.no_exist', hub.commit, 'pytorch_model.bin')));

    const before = hub.requests.length;
    const second = hubSource(hub.repoId, env(cache));
    assert.equal(await second.exists('model.safetensors'), true);
    assert.equal(await second.exists('pytorch_model.bin'), false);
    assert.deepEqual(await second.read('model.safetensors'), hub.files.get('model.safetensors'));
    assert.equal(hub.requests.length, before, 'no request on the second load');
  });

  it('HF_HUB_OFFLINE=1 reads the cache without requests and says clearly when a file is missing', async () => {
    const cache = join(root, 'offline');
    await hubSource(hub.repoId, env(cache)).read('config.json');
    const before = hub.requests.length;
    const offline = hubSource(hub.repoId, env(cache, { HF_HUB_OFFLINE: '1' }));
    assert.deepEqual(await offline.read('config.json'), hub.files.get('config.json'));
    await assert.rejects(offline.read('model.safetensors'), /model\.safetensors: not in the Hugging Face cache .*HF_HUB_OFFLINE/);
    const empty = hubSource(hub.repoId, env(join(root, 'offline-empty'), { HF_HUB_OFFLINE: 'true' }));
    await assert.rejects(empty.exists('model.safetensors'), /HF_HUB_OFFLINE/);
    await assert.rejects(empty.read('config.json'), /HF_HUB_OFFLINE/);
    assert.equal(hub.requests.length, before, 'offline mode makes no request');
  });

  it('HF_HUB_OFFLINE=1 with another revision cached: the error says which revisions the cache holds', async () => {
    const cache = join(root, 'offline-other');
    await hubSource(hub.repoId, env(cache)).read('config.json');
    const before = hub.requests.length;
    const pinned = hubSource(hub.repoId, { ...env(cache, { HF_HUB_OFFLINE: '1' }), revision: 'v2' });
    await assert.rejects(pinned.read('config.json'), new RegExp(`@v2/config\\.json: not in the Hugging Face cache .*the cache has main = ${hub.commit.slice(0, 7)} \\(1 file\\)`));
    assert.equal(hub.requests.length, before, 'offline mode makes no request');
  });

  it('404s: an unknown repo, revision or file give errors that name it', async () => {
    const cache = join(root, 'missing');
    await assert.rejects(
      hubSource('test-org/nope', env(cache)).read('config.json'),
      /hub:test-org\/nope@main\/config\.json: HTTP 401 .*not found or not accessible/,
    );
    await assert.rejects(
      hubSource(hub.repoId, { ...env(cache), revision: 'v9' }).read('config.json'),
      /hub:test-org\/tiny-ast@v9\/config\.json: HTTP 404/,
    );
    await assert.rejects(hubSource(hub.repoId, env(cache)).read('missing.json'), /missing\.json: no such file in the repository/);
    await assert.rejects(hubSource(hub.repoId, env(cache, { HF_TOKEN: 'not-a-token' })).read('config.json'), /HF_TOKEN is not a Hugging Face access token/);
    await assert.rejects(
      hubSource(hub.repoId, env(cache, { HF_ENDPOINT: 'http://127.0.0.1:9' })).read('config.json'),
      /config\.json: cannot get it from http:\/\/127\.0\.0\.1:9 .*check the network or HF_ENDPOINT/,
    );
    assert.deepEqual(listTree(join(cache, 'models--test-org--tiny-ast/blobs')), []);
  });

  it('a truncated download (Content-Length larger than the body) fails and leaves no file behind', async () => {
    const cache = join(root, 'truncated');
    hub.faults.set('model.safetensors', 'truncate');
    try {
      await assert.rejects(hubSource(hub.repoId, env(cache)).read('model.safetensors'), /model\.safetensors: download failed .*nothing was written/);
    } finally {
      hub.faults.delete('model.safetensors');
    }
    const repoDir = join(cache, 'models--test-org--tiny-ast');
    assert.deepEqual(listTree(join(repoDir, 'blobs')), []);
    assert.deepEqual(listTree(join(repoDir, 'snapshots')), []);
    // The next attempt, with the server healthy again, succeeds.
    assert.deepEqual(await hubSource(hub.repoId, env(cache)).read('model.safetensors'), hub.files.get('model.safetensors'));
  });

  it('bytes that do not match the sha256 ETag are refused', async () => {
    const cache = join(root, 'corrupt');
    hub.faults.set('model.safetensors', 'corrupt');
    try {
      await assert.rejects(hubSource(hub.repoId, env(cache)).read('model.safetensors'), /sha256 [0-9a-f]{64} does not match/);
    } finally {
      hub.faults.delete('model.safetensors');
    }
    assert.deepEqual(listTree(join(cache, 'models--test-org--tiny-ast/blobs')), []);
  });

  it('an ETag that would name a path outside the cache is refused', async () => {
    const cache = join(root, 'evil');
    hub.faults.set('model.safetensors', 'evil-etag');
    try {
      await assert.rejects(hubSource(hub.repoId, env(cache)).read('model.safetensors'), /unusable ETag/);
    } finally {
      hub.faults.delete('model.safetensors');
    }
    assert.ok(!existsSync(join(cache, 'evil')));
  });
});

describe('the token stays with the Hub', { timeout: 30_000 }, () => {
  it('HF_TOKEN goes to the Hub origin but not to a CDN on another origin', async () => {
    const hub = await startFakeHub(TINY, 'test-org/tiny-ast', { crossOriginCdn: true });
    const cache = mkdtempSync(join(tmpdir(), 'ast-hub-cdn-'));
    try {
      const src = hubSource(hub.repoId, { env: { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.endpoint, HF_TOKEN: TOKEN } });
      assert.deepEqual(await src.read('model.safetensors'), hub.files.get('model.safetensors'));
      const cdn = hub.requests.filter((r) => r.origin === 'cdn');
      assert.ok(cdn.length > 0, 'the download went through the other origin');
      assert.ok(cdn.every((r) => r.authorization === undefined), 'no token sent to the CDN');
      assert.ok(hub.requests.filter((r) => r.origin === 'hub').every((r) => r.authorization === `Bearer ${TOKEN}`));
    } finally {
      await hub.close();
      rmSync(cache, { recursive: true, force: true });
    }
  });
});

describe('Hub names and cache location', () => {
  it('validates repo ids like huggingface_hub', () => {
    for (const ok of ['MIT/ast-finetuned-audioset-10-10-0.4593', 'gpt2', 'a_b/c.d-e']) assert.ok(isValidRepoId(ok), ok);
    for (const bad of ['../etc', 'a/b/c', 'a--b/c', 'a/..b', '/abs', 'a/', '-a/b', 'a/b.git', 'a b/c', 'x'.repeat(97)]) {
      assert.ok(!isValidRepoId(bad), bad);
    }
    assert.throws(() => hubSource('../../etc'), /not a valid Hugging Face repo id/);
  });

  it('refuses file names and revisions that could leave the cache folder', () => {
    for (const bad of ['../config.json', 'a/../../b', '/etc/passwd', 'C:/x', 'a\\..\\b', '', 'a//b', './a']) {
      assert.throws(() => validateRepoFileName(bad), /not a valid repo file name/, JSON.stringify(bad));
    }
    validateRepoFileName('onnx/model.onnx');
    for (const bad of ['../../x', '/main', 'a b', 'x/../y']) assert.throws(() => validateRevision(bad), /not a valid revision/, bad);
    validateRevision('refs/pr/1');
    assert.throws(() => hubSource('a/b', { revision: '../../x' }), /not a valid revision/);
  });

  it('finds the cache folder from HF_HUB_CACHE, HF_HOME or XDG_CACHE_HOME', () => {
    assert.equal(hubCacheDir({ HF_HUB_CACHE: '/c/hub', HF_HOME: '/h' }), '/c/hub');
    assert.equal(hubCacheDir({ HF_HOME: '/h' }), '/h/hub');
    assert.equal(hubCacheDir({ XDG_CACHE_HOME: '/x' }), '/x/huggingface/hub');
    assert.match(hubCacheDir({}), /\.cache\/huggingface\/hub$/);
  });
});
