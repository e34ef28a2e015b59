/**
 * `ast-audio train --save-steps N`, killed with SIGKILL at a random moment and continued with `--resume`,
 * ends with exactly (sha256) the weights of a run that was never interrupted, at three kill points
 * (issue 17 item 4). Everything goes through the real process: a SIGKILL leaves no chance to clean up,
 * so what is on disk at that moment is all that --resume has.
 *
 * The run (a tiny config, 14 generated training clips, batch 2 with 2 accumulation steps, 3 epochs =
 * 12 optimiser steps) draws from the RNG for everything it can: balanced sampling (the order), SpecAugment,
 * mixup. A step checkpoint every 3 steps falls inside an epoch (4 steps each), so a resume there must
 * restore the position in the epoch, the order, the RNG state, Adam's moments and the schedule's step.
 * The reference run uses --save-steps 0, so the checkpoints themselves are shown not to perturb the run.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rng } from '../../src/rng.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { makeToneDataset, TINY_CONFIG } from '../train/helpers.js';

const CLI = ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts')];
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Runs `ast-audio` to the end. */
function cli(args: string[]) {
  return spawnSync(process.execPath, [...CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
}

/**
 * Runs `ast-audio` and SIGKILLs it `delayMs` after its stderr first says `trigger` (a "saved …" line).
 * Resolves with its stderr and the last checkpoint it reported saved before it died.
 */
function cliKilled(args: string[], trigger: RegExp, delayMs: number): Promise<{ stderr: string; signal: NodeJS.Signals | null; lastSaved?: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let armed = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (!armed && trigger.test(stderr)) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      const saved = [...stderr.matchAll(/^saved (.*checkpoint-(?:epoch|step)-\d+)$/gm)].map((m) => m[1]!);
      resolve({ stderr, signal, lastSaved: saved[saved.length - 1] });
    });
  });
}

describe('ast-audio train --save-steps: SIGKILL, then --resume, ends with the uninterrupted weights', { timeout: 300_000 }, () => {
  let dir: string;
  let common: string[];
  let reference: { weights: string; history: unknown };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ast-resume-'));
    makeToneDataset(join(dir, 'data'), 6, 4);
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify(TINY_CONFIG));
    common = [
      'train', join(dir, 'data'), '--config', join(dir, 'tiny.json'), '--epochs', '3', '--batch-size', '2', '--grad-accum', '2',
      '--lr', '1e-3', '--seed', '9', '--validation-split', '0.2', '--balanced', '--freq-mask', '4', '--time-mask', '8',
      '--mixup', '2', '--mixup-prob', '0.5', '--schedule', 'cosine', '--warmup-steps', '2', '--threads', '1',
    ];
    const r = cli([...common, '--out', join(dir, 'reference'), '--save-steps', '0']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /14 training clips, 4 validation clips, 3 labels/);
    const ref = join(dir, 'reference');
    reference = {
      weights: sha256(join(ref, 'model.safetensors')),
      history: JSON.parse(readFileSync(join(ref, 'checkpoint-epoch-3', 'trainer_state.json'), 'utf8')).log_history,
    };
    assert.deepEqual(readdirSync(ref).filter((n) => n.startsWith('checkpoint-step-')), [], '--save-steps 0 writes no step checkpoint');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Kill points: a few ms after step checkpoint 3 (epoch 1 of 3), just as epoch 1's checkpoint is written,
  // and a few ms after step checkpoint 9 (epoch 3). The delays are random (seeded; the machine's timing adds its own).
  const rng = new Rng(Date.now());
  const points = [
    { name: 'inside epoch 1', trigger: /saved .*checkpoint-step-3\n/, delay: Math.floor(rng.uniform() * 8) },
    { name: 'at the end of epoch 1', trigger: /saved .*checkpoint-epoch-1\n/, delay: 0 },
    { name: 'inside epoch 3', trigger: /saved .*checkpoint-step-9\n/, delay: Math.floor(rng.uniform() * 8) },
  ];
  for (const [i, p] of points.entries()) {
    it(`killed ${p.name} (${p.delay} ms after "${p.trigger.source.replace(/\\n|saved \.\*/g, '')}")`, async (t) => {
      const out = join(dir, `killed-${i}`);
      const args = [...common, '--out', out, '--save-steps', '3'];
      const killed = await cliKilled(args, p.trigger, p.delay);
      assert.equal(killed.signal, 'SIGKILL', `the run ended before the kill:\n${killed.stderr}`);
      assert.ok(!existsSync(join(out, 'model.safetensors')), 'a killed run has no final model');
      assert.ok(killed.lastSaved, killed.stderr);
      // what a killed writer may leave: a half-written checkpoint folder under its temporary name (never read)
      mkdirSync(join(out, `.checkpoint-step-99.tmp-${process.pid + 1_000_000}`));
      writeFileSync(join(out, `.checkpoint-step-99.tmp-${process.pid + 1_000_000}`, 'model.safetensors'), 'half');

      const resumed = cli([...args, '--resume']);
      assert.equal(resumed.status, 0, resumed.stderr);
      // it went on from the newest checkpoint the killed run had finished: at most --save-steps steps were lost
      const from = /resuming from (\S+) \(epoch (\d+), step (\d+)/.exec(resumed.stderr);
      assert.ok(from, resumed.stderr);
      assert.equal(from[1], killed.lastSaved);
      t.diagnostic(`killed after ${killed.lastSaved!.replace(/.*\//, '')}; resumed at epoch ${from[2]}, step ${from[3]}`);

      assert.equal(sha256(join(out, 'model.safetensors')), reference.weights, 'final weights differ from the uninterrupted run');
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'checkpoint-epoch-3', 'trainer_state.json'), 'utf8')).log_history, reference.history);
      // nothing half-done is left, and the finished run keeps no step checkpoint (the epoch ones supersede them)
      assert.deepEqual(readdirSync(out).filter((n) => n.startsWith('.') || n.startsWith('checkpoint-step-')), []);
    });
  }

  it('--resume with options that would change the run is an error listing them', () => {
    const args = [...common.map((a) => (a === '1e-3' ? '5e-4' : a)), '--out', join(dir, 'killed-0'), '--save-steps', '3', '--seed', '10', '--resume'];
    const r = cli(args);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--resume \S+checkpoint-epoch-3: these options differ from the run being resumed, which would not continue it exactly: lr 0\.0005 \(the checkpoint's run: 0\.001\); seed 10 \(the checkpoint's run: 9\)\. Give the options of the original run\./);
  });
});
