/**
 * `norm-stats` draws its progress with cli-progress (as classify and train do) on a terminal, and nothing
 * but the result when stderr is not one. The terminal is util-linux `script`'s pseudo-terminal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixturesDir } from '../helpers/fixtures.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const hasScript = spawnSync('script', ['-qec', 'true', '/dev/null']).status === 0;
const command = ['node', '--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), 'norm-stats', join(fixturesDir, 'audio'), '--skip-bad'];

test('norm-stats: a cli-progress bar on a terminal, skipped files after it; no bar when piped', { skip: !hasScript && 'no util-linux script(1)', timeout: 60_000 }, () => {
  const quoted = command.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const tty = spawnSync('script', ['-qec', quoted, '/dev/null'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(tty.status, 0, tty.stdout);
  // cli-progress's shades_classic bar, redrawn in place: the last frame shows every file done.
  assert.match(tty.stdout, /norm-stats \[█+\] 9\/9 files \| 0s left \| tone_16k\.wav/);
  assert.doesNotMatch(tty.stdout, /\r\d+\/\d+ /, 'no hand-drawn \\r counter');
  const bar = tty.stdout.lastIndexOf('9/9 files');
  const skipped = tty.stdout.indexOf('skipped: ');
  assert.ok(skipped > bar, 'the skipped file is reported after the bar, not through it');
  assert.match(tty.stdout, /mean -1\.80059\d+\r?\nstd 4\.27865\d+/);

  const piped = spawnSync(command[0]!, command.slice(1), { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(piped.status, 0, piped.stderr);
  assert.doesNotMatch(piped.stderr, /norm-stats \[|files \|/);
  assert.match(piped.stderr, /^skipped: .*tiny_16k\.wav: audio too short/);
});
