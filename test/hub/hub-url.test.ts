/** The browser's Hub access: a checkpoint read straight from the resolve endpoint, and the web entry's resolver. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hubUrlSource, looksLikeRepoId } from '../../src/io/hub-names.js';
import { resolveSource } from '../../src/io/files.js';
import '../../src/web/index.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { startFakeHub, type FakeHub } from './fake-hub.js';

describe('Hub in the browser: resolve URLs, no cache of our own (loopback server)', { timeout: 30_000 }, () => {
  let hub: FakeHub;
  before(async () => {
    hub = await startFakeHub(join(fixturesDir, 'models/tiny'), 'test-org/tiny-ast', { crossOriginCdn: true });
  });
  after(() => hub.close());

  it('reads small files and LFS files (through the CDN redirect), and reports absent files', async () => {
    const src = hubUrlSource(hub.repoId, { endpoint: hub.endpoint });
    assert.deepEqual(await src.read('config.json'), hub.files.get('config.json'));
    assert.deepEqual(await src.read('model.safetensors'), hub.files.get('model.safetensors'));
    assert.ok(hub.requests.some((r) => r.origin === 'cdn'));
    assert.equal(await src.exists('model.safetensors'), true);
    assert.equal(await src.exists('pytorch_model.bin'), false);
    await assert.rejects(src.read('nope.json'), /hub:test-org\/tiny-ast@main\/nope\.json: .*HTTP 404/);
    await assert.rejects(src.read('../secret'), /not a valid repo file name/);
    assert.throws(() => hubUrlSource('a/b', { revision: '../x' }), /not a valid revision/);
  });

  it('what counts as a repo id rather than a path or URL', () => {
    for (const id of ['MIT/ast-finetuned-audioset-10-10-0.4593', 'gpt2']) assert.ok(looksLikeRepoId(id), id);
    for (const ref of ['./models/x', '../x', '/models/x', '~/m', 'https://host/m', 'file:///m', 'C:/m', 'a/b/c']) assert.ok(!looksLikeRepoId(ref), ref);
  });

  it('the web entry resolves owner/name to the Hub and anything else to a URL', async () => {
    assert.equal((await resolveSource('MIT/ast-finetuned-audioset-10-10-0.4593', { revision: 'v1' })).description, 'hub:MIT/ast-finetuned-audioset-10-10-0.4593@v1');
    assert.equal((await resolveSource('https://example.org/models/x/')).description, 'https://example.org/models/x/');
    assert.equal((await resolveSource('./models/x')).description, './models/x');
  });
});
