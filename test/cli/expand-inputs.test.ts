import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expandInputs, glob, segmentRegExp } from '../../src/cli/expand-inputs.js';

describe('classify inputs: files, folders, globs', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'ast-inputs-'));
    for (const f of ['a.wav', 'b.flac', 'notes.txt', 'sub/c.wav', 'sub/deep/d.mp3', '.hidden/e.wav', 'sub/.f.wav']) {
      mkdirSync(join(root, f, '..'), { recursive: true });
      writeFileSync(join(root, f), '');
    }
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('a folder gives its audio files recursively, sorted, without dot-folders or other files', async () => {
    const { files, problems } = await expandInputs([root]);
    assert.deepEqual(files, ['a.wav', 'b.flac', 'sub/.f.wav', 'sub/c.wav', 'sub/deep/d.mp3'].map((f) => join(root, f)));
    assert.deepEqual(problems, []);
  });

  it('expands *, **, ?, [..] and {a,b} like a shell (no match on leading dots)', async () => {
    assert.deepEqual(await glob(`${root}/*.wav`), [join(root, 'a.wav')]);
    assert.deepEqual(await glob(`${root}/**/*.wav`), [join(root, 'a.wav'), join(root, 'sub/c.wav')]);
    assert.deepEqual(await glob(`${root}/{a,b}.*`), [join(root, 'a.wav'), join(root, 'b.flac')]);
    assert.deepEqual(await glob(`${root}/[ab].wav`), [join(root, 'a.wav')]);
    assert.deepEqual(await glob(`${root}/[!a].flac`), [join(root, 'b.flac')]);
    assert.deepEqual(await glob(`${root}/sub/deep/?.mp3`), [join(root, 'sub/deep/d.mp3')]);
    assert.ok(segmentRegExp('x.(1)+').test('x.(1)+'), 'regex characters are literal');
  });

  it('keeps the order of arguments, drops duplicates, and reports what named nothing', async () => {
    const { files, problems } = await expandInputs([join(root, 'b.flac'), `${root}/*.wav`, join(root, 'b.flac'), join(root, 'nope.wav'), `${root}/*.ogg`]);
    assert.deepEqual(files, [join(root, 'b.flac'), join(root, 'a.wav')]);
    assert.deepEqual(problems, [
      { input: join(root, 'nope.wav'), message: 'no such file or folder' },
      { input: `${root}/*.ogg`, message: 'pattern matched no files' },
    ]);
  });
});
