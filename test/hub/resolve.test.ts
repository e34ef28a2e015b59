import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { resolveNodeSource } from '../../src/node/resolve.js';
import { fixturesDir } from '../helpers/fixtures.js';

const TINY = join(fixturesDir, 'models/tiny');

describe('Node source resolver', () => {
  it('reads an existing folder in place (also as a file: URL)', async () => {
    for (const ref of [TINY, pathToFileURL(TINY).href]) {
      const src = await resolveNodeSource(ref);
      assert.equal(src.description, TINY);
      assert.equal(await src.exists('config.json'), true);
    }
  });

  it('sends an owner/name that is not a folder to the Hub, with its revision, without a request yet', async () => {
    const src = await resolveNodeSource('MIT/ast-finetuned-audioset-10-10-0.4593', { revision: 'v1.0' });
    assert.equal(src.description, 'hub:MIT/ast-finetuned-audioset-10-10-0.4593@v1.0');
  });

  it('names the problem for a file, a missing relative path and an invalid id', async () => {
    await assert.rejects(resolveNodeSource(join(TINY, 'config.json')), /config\.json is a file; pass the folder/);
    await assert.rejects(resolveNodeSource('./no/such/dir'), /no such folder, and not a Hugging Face repo id/);
    await assert.rejects(resolveNodeSource('a/b/c'), /no such folder, and not a Hugging Face repo id/);
  });
});
