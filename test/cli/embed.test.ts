/**
 * `ast-audio embed`: audio files -> .npy outputs that match the reference dump of the same clips
 * (5e-4 of the reference's max |value|: our features, not the reference's, go in), and clear failures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNpy } from '../../src/io/npy.js';
import { REPO_ROOT, fixturesDir, maxAbs, maxAbsDiff, readFixtureNpy } from '../helpers/fixtures.js';

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: REPO_ROOT });

test('embed writes logits, pooled, hidden states and attentions that match the reference', () => {
  const out = mkdtempSync(join(tmpdir(), 'embed-'));
  try {
    const audio = ['speech_16k.wav', 'chirp_16k.wav'].map((a) => join(fixturesDir, 'audio', a));
    const r = cli(['embed', '--model', join(fixturesDir, 'models/tiny'), ...audio, '--out', out, '--hidden-states', '--attentions', '--threads', '1']);
    assert.equal(r.status, 0, r.stderr);
    const caseDir = 'models/tiny/case-single_label';
    for (const name of ['logits', 'pooler_output', 'last_hidden_state', 'hidden_states', 'attentions']) {
      const ours = parseNpy(readFileSync(join(out, `${name}.npy`)));
      const ref = readFixtureNpy(`${caseDir}/${name}.npy`);
      assert.deepEqual(ours.shape, ref.shape, name);
      const rel = maxAbsDiff(ours.data as Float32Array, ref.data as Float32Array) / maxAbs(ref.data as Float32Array);
      assert.ok(rel <= 5e-4, `${name}: ${rel} of the reference's max`); // measured <= 5e-5
    }
    const labels = JSON.parse(readFileSync(join(out, 'labels.json'), 'utf8'));
    assert.deepEqual(labels.files, audio);
    assert.deepEqual(labels.labels, ['class_0', 'class_1', 'class_2', 'class_3', 'class_4']);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('embed fails with a message naming the missing file and writes nothing', () => {
  const out = mkdtempSync(join(tmpdir(), 'embed-'));
  try {
    const r = cli(['embed', '--model', join(fixturesDir, 'models/tiny'), '/nonexistent/clip.wav', '--out', join(out, 'o')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /\/nonexistent\/clip\.wav/);
    assert.equal(existsSync(join(out, 'o', 'logits.npy')), false);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
