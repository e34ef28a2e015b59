/**
 * `tag --queue`, `worker` and `queue status` as users run them: real `ast-audio` processes on a real
 * redis-server (its own, on a free loopback port, no persistence, stopped after). 60 files (6 broken)
 * in jobs of 2; three workers into one folder, one SIGKILLed once it has written a shard; the others
 * drain the queue (the dead worker's job is re-delivered once its 2 s lock lapses); `tag --merge` then
 * holds every good file exactly once and every broken one in errors.jsonl.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { pcm16Wav } from '../helpers/pcm16-wav.js';
import { haveRedisServer, startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const MAIN = join(REPO_ROOT, 'src/cli/main.ts');

function cli(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
}

interface Running {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[]): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout!.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => err, exit };
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function jsonlRows(dir: string): { path: string }[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.jsonl') && n.startsWith('part-'))
    .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { path: string }));
}

describe('ast-audio tag --queue / worker / queue status on a real redis-server', { skip: !haveRedisServer() && 'redis-server is not installed', timeout: 240_000 }, () => {
  let dir: string;
  let redis: RedisServer;
  const good: string[] = [];
  const broken: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ast-queue-'));
    const clips = join(dir, 'clips');
    mkdirSync(clips);
    // 54 good clips: 1 s tones of distinct pitch (the embedded 1 s speech-commands model: one window each).
    for (let i = 0; i < 54; i++) {
      const f = 200 + 37 * i;
      const p = join(clips, `tone-${String(i).padStart(2, '0')}.wav`);
      writeFileSync(p, pcm16Wav(Float32Array.from({ length: 16000 }, (_, n) => 0.4 * Math.sin((2 * Math.PI * f * n) / 16000)), 16000));
      good.push(p);
    }
    // 6 broken ones, each failing in its own way.
    const bad: [string, Uint8Array | string][] = [
      ['bad-garbage.wav', 'RIFF not really a wav file'],
      ['bad-empty.wav', ''],
      ['bad-header-only.wav', pcm16Wav(new Float32Array(16000)).subarray(0, 30)],
      ['bad-no-samples.wav', pcm16Wav(new Float32Array(0))],
      ['bad-noise.mp3', Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)],
      ['bad-text.flac', 'this is not FLAC'],
    ];
    for (const [name, bytes] of bad) {
      writeFileSync(join(clips, name), bytes);
      broken.push(join(clips, name));
    }
    redis = await startRedisServer();
  });
  after(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('3 workers, one SIGKILLed mid-run: after merge every good file once, every broken one in errors.jsonl', async (t) => {
    const url = redis.url('clips');
    const before = redis.usedMemory();
    const enq = cli(['tag', join(dir, 'clips'), '--queue', url, '--job-files', '2', '--attempts', '2', '--backoff', '100', '--format', 'jsonl', '--top-k', '2']);
    assert.equal(enq.status, 0, enq.stderr);
    assert.match(enq.stderr, /queued 60 files in 30 jobs on redis:\/\/127\.0\.0\.1:\d+\/clips/);
    const perJob = (redis.usedMemory() - before) / 30;
    t.diagnostic(`Redis memory per waiting job of 2 files: ${perJob.toFixed(0)} bytes`);

    // The same command again adds nothing: job ids come from the files' keys.
    const again = cli(['tag', join(dir, 'clips'), '--queue', url, '--job-files', '2', '--format', 'jsonl', '--top-k', '2']);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /queued 0 files in 0 jobs .*; 60 files in 30 jobs already queued/);

    const out = join(dir, 'out');
    const workerArgs = (id: string) => ['worker', '--queue', url, '--out', out, '--worker-id', id, '--lock-duration', '2000', '--stalled-interval', '500', '--exit-when-drained'];
    const w1 = start(workerArgs('w1'));
    const w2 = start(workerArgs('w2'));
    const w3 = start(workerArgs('w3'));
    try {
      await until('worker w1 to write a shard', () => existsSync(out) && readdirSync(out).some((n) => n.startsWith('part-w1-')), 90_000);
      w1.child.kill('SIGKILL');
      assert.equal((await w1.exit).signal, 'SIGKILL');
      const [e2, e3] = await Promise.all([w2.exit, w3.exit]);
      assert.equal(e2.code, 0, w2.stderr());
      assert.equal(e3.code, 0, w3.stderr());
    } finally {
      for (const w of [w1, w2, w3]) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    }
    const logs = w2.stderr() + w3.stderr();
    t.diagnostic(logs.split('\n').filter((l) => /stalled|re-delivered|drained/.test(l)).join('\n'));
    assert.match(logs, /re-delivered/, 'the killed worker\'s job was re-delivered to a live one');
    assert.match(logs, /attempt 1 of 2 failed: .*retrying/, 'broken files were retried once');
    const names = readdirSync(out);
    for (const id of ['w1', 'w2', 'w3']) assert.ok(names.some((n) => n.startsWith(`part-${id}-`)), `worker ${id} wrote shards under its own prefix: ${names}`);

    const merged = join(dir, 'merged');
    const m = cli(['tag', '--merge', out, '--out', merged, '--format', 'jsonl']);
    assert.equal(m.status, 0, m.stderr);
    const rows = jsonlRows(merged);
    assert.deepEqual(rows.map((r) => r.path).sort(), [...good].sort(), 'every good file exactly once');
    const errors = readFileSync(join(merged, 'errors.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { path: string; error: string });
    assert.deepEqual(errors.map((e) => e.path).sort(), [...broken].sort(), 'every broken file in errors.jsonl');
    for (const e of errors) assert.ok(e.error.includes(e.path), `the error names its file: ${e.error}`);

    const status = cli(['queue', 'status', url]);
    assert.equal(status.status, 0, status.stderr);
    t.diagnostic(status.stdout);
    assert.match(status.stdout, /^queue redis:\/\/127\.0\.0\.1:\d+\/clips\n/);
    assert.match(status.stdout, /jobs {3}waiting 0 {2}active 0 {2}delayed 0 {2}completed 30 {2}failed 0\n/);
    assert.match(status.stdout, /files {2}enqueued 60 {2}tagged \d+ {2}errors 6 /);
    assert.match(status.stdout, /rate {3}\d+\.\d\d files\/s {2}\d+\.\d{4} audio-hours\/s/);
    const json = JSON.parse(cli(['queue', 'status', url, '--json']).stdout) as { files: { taggedFiles: number; skippedFiles: number } };
    // A re-delivered job whose shard the killed worker had already written skips those files (their rows are in
    // out/), so they count as skipped, not tagged again; re-tagged ones count twice.
    const { taggedFiles, skippedFiles } = json.files;
    assert.ok(taggedFiles + skippedFiles >= 54, `every good file tagged, or skipped as already written: ${taggedFiles} tagged + ${skippedFiles} skipped`);
  });

  it('a bad queue URL or an unreachable Redis is a clear one-line error', () => {
    const bad = cli(['queue', 'status', 'http://127.0.0.1:1/x']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /must start with redis:\/\//);
    const down = cli(['queue', 'status', 'redis://127.0.0.1:1/x']);
    assert.equal(down.status, 1);
    assert.match(down.stderr, /ast-audio queue status: redis:\/\/127\.0\.0\.1:1\/x: .*ECONNREFUSED/);
  });
});
