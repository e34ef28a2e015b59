import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expandInputs, glob } from '../../src/cli/expand-inputs.js';

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
  });

  it('regex characters in a pattern are literal', async () => {
    const dir = join(root, 'odd');
    mkdirSync(dir);
    try {
      for (const f of ['x.(1)+.wav', 'x1.wav', 'x.11.wav']) writeFileSync(join(dir, f), '');
      assert.deepEqual(await glob(`${dir}/x.(1)+.*`), [join(dir, 'x.(1)+.wav')]);
      assert.deepEqual(await glob(`${dir}/x.*.wav`), [join(dir, 'x.(1)+.wav'), join(dir, 'x.11.wav')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a relative pattern gives paths relative to the working folder', async () => {
    const cwd = process.cwd();
    process.chdir(root);
    try {
      assert.deepEqual(await glob('sub/**/*.{wav,mp3}'), ['sub/c.wav', 'sub/deep/d.mp3']);
    } finally {
      process.chdir(cwd);
    }
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
