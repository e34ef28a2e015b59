import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { readLocalFile, resolveNodeSource } from '../../src/node/resolve.js';
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

  it('reads local audio files for the pipeline, naming the file in every error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ast-read-'));
    try {
      writeFileSync(join(dir, 'a.wav'), 'abc');
      writeFileSync(join(dir, 'empty.wav'), '');
      assert.deepEqual(await readLocalFile(pathToFileURL(join(dir, 'a.wav')).href), new TextEncoder().encode('abc'));
      await assert.rejects(readLocalFile(join(dir, 'empty.wav')), /empty\.wav: empty file/);
      await assert.rejects(readLocalFile(join(dir, 'nope.wav')), /nope\.wav: no such file/);
      await assert.rejects(readLocalFile(dir), /is a folder, not an audio file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
