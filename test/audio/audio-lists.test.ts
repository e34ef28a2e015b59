/** Audio file lists for norm-stats: folders (tinyglobby) and manifests (csv-parse for CSV/TSV). */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listAudioFiles, readManifestPaths } from '../../src/node/audio.js';

describe('audio lists: folders and manifests', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'ast-lists-'));
    for (const f of ['b.wav', 'a.FLAC', 'notes.txt', 'sub/c.mp3', '.git/x.wav', 'sub/.d.wav']) {
      mkdirSync(join(root, f, '..'), { recursive: true });
      writeFileSync(join(root, f), '');
    }
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('a folder: audio files by extension, recursively, sorted, without dot-folders', async () => {
    assert.deepEqual(await listAudioFiles(root), ['a.FLAC', 'b.wav', 'sub/.d.wav', 'sub/c.mp3'].map((f) => join(root, f)));
  });

  it('CSV with quoted fields, TSV, and a plain list whose names hold commas and quotes', async () => {
    const csv = join(root, 'm.csv');
    writeFileSync(csv, '\ufefflabel,path\r\nyes,"clips/a, b.wav"\r\nno,"say ""hi"".wav"\r\n');
    assert.deepEqual(await readManifestPaths(csv), [join(root, 'clips/a, b.wav'), join(root, 'say "hi".wav')]);
    const tsv = join(root, 'm.tsv');
    writeFileSync(tsv, 'file\tlabel\na, b.wav\tyes\n/abs/c.wav\tno\n');
    assert.deepEqual(await readManifestPaths(tsv), [join(root, 'a, b.wav'), '/abs/c.wav']);
    const list = join(root, 'list.txt');
    writeFileSync(list, 'a, b.wav\n\n"quoted.wav\n');
    assert.deepEqual(await readManifestPaths(list), [join(root, 'a, b.wav'), join(root, '"quoted.wav')]);
    const broken = join(root, 'broken.csv');
    writeFileSync(broken, 'path,label\n"open.wav,yes\n');
    await assert.rejects(readManifestPaths(broken), /broken\.csv: .*[Qq]uote/);
  });
});
