/**
 * Serving benchmark: `ast-audio serve` under a bounded, closed-loop HTTP load on loopback (undici, Node's
 * fetch: C clients, each sending its next request when the last is answered, N requests in all), against
 * the offline `ast-audio classify --batch-size 8` on the same clips in the same run.
 *
 *   npm run bench -- --only serve                               # embedded model and AST-Base, 30 s soak
 *   npm run bench -- --only serve --serve-models embedded --soak-s 5
 *
 * Per model and concurrency (1, 8, 32): clips/s, p50/p99 latency, errors. Offline clips/s is the
 * steady state of the real CLI: (K - 1) clips / (time for K clips - time for 1 clip), so model load and
 * process start cancel out; it is measured before and after the served levels and the ratios use their
 * mean, so a machine whose load drifts hits both sides alike. RSS of the server process at the start, at
 * the soak's start (after the levels: a warmed server) and after the soak (from its own /metrics). The
 * AST-Base checkpoint is the engine bench's random one (.bench/engine/ast-base).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/helpers/fixtures.js';
import { pcm16Wav } from '../test/helpers/pcm16-wav.js';
import { startServer, type ServerProcess } from '../test/serve/server-process.js';
import { makeBaseCheckpoint } from './engine.js';

export interface ServeBenchOptions {
  log?: (line: string) => void;
  /** Which checkpoints: 'embedded' (speech-commands, 1 s clips) and/or 'base' (AST-Base, 10 s clips). */
  models?: ('embedded' | 'base')[];
  concurrencies?: number[];
  /** Seconds of load at concurrency 8 between the two RSS readings. */
  soakSeconds?: number;
  threads?: number;
}

export interface LoadResult {
  concurrency: number;
  requests: number;
  clipsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Server process CPU (all its threads) per clip, from its own /metrics: robust to a busy machine. */
  serverCpuMsPerClip?: number;
  /** Mean windows per forward at this level. */
  meanBatch?: number;
}

export interface ServeBenchResult {
  model: string;
  /** Mean of the two offline runs (before and after the served levels). */
  offlineClipsPerSecond: number;
  offlineRuns: [number, number];
  /** CPU (user + sys, all threads) per clip of the offline CLI in steady state; undefined without /usr/bin/time. */
  offlineCpuMsPerClip?: number;
  load: LoadResult[];
  rssStartMB: number;
  /** After the concurrency levels, when the soak starts. */
  rssSoakStartMB: number;
  rssAfterSoakMB: number;
  soakSeconds: number;
  soakRequests: number;
  soakErrors: number;
}

interface ModelCase {
  name: 'embedded' | 'base';
  /** --model for the CLI; undefined = the embedded model. */
  model?: string;
  clips: string[];
  /** Requests per concurrency level (bounded). */
  requests: number;
}

const CLI = join(REPO_ROOT, 'src/cli/main.ts');

export async function benchServe(options: ServeBenchOptions = {}): Promise<ServeBenchResult[]> {
  const log = options.log ?? ((s: string) => console.log(s));
  const threads = options.threads ?? 2;
  const concurrencies = options.concurrencies ?? [1, 8, 32];
  const soakSeconds = options.soakSeconds ?? 30;
  const work = join(REPO_ROOT, '.bench/serve');
  log(`serve bench: ${threads} ORT threads, --max-batch 8; load average ${loadavg().map((v) => v.toFixed(1)).join(' / ')} on ${cpus().length} CPUs`);

  const cases: ModelCase[] = [];
  for (const name of options.models ?? ['embedded', 'base']) {
    if (name === 'embedded') {
      const dir = join(REPO_ROOT, 'models/speech-commands/examples');
      cases.push({ name, clips: readdirSync(dir).filter((f) => f.endsWith('.wav')).sort().map((f) => join(dir, f)), requests: 320 });
    } else {
      const model = makeBaseCheckpoint(join(REPO_ROOT, '.bench/engine/ast-base'));
      const dir = join(work, 'clips-10s');
      mkdirSync(dir, { recursive: true });
      const clips = Array.from({ length: 8 }, (_, k) => {
        const path = join(dir, `tone-${k}.wav`);
        const x = new Float32Array(160_000).map((_, i) => 0.2 * Math.sin((2 * Math.PI * (220 + 55 * k) * i) / 16000) + 0.05 * Math.sin(i * 0.37 * (k + 1)));
        writeFileSync(path, pcm16Wav(x, 16000));
        return path;
      });
      cases.push({ name, model, clips, requests: 48 });
    }
  }

  const results: ServeBenchResult[] = [];
  for (const c of cases) {
    log(`\n-- ${c.name}: ${c.model ?? 'models/speech-commands'}; ${c.clips.length} distinct clips`);
    const before = offlineRate(c, threads, join(work, `offline-${c.name}`));
    const offlineCpu = before.cpuMsPerClip;
    log(`offline  ast-audio classify --batch-size 8: ${before.clipsPerSecond.toFixed(1)} clips/s (steady state)${offlineCpu === undefined ? '' : `, ${offlineCpu.toFixed(1)} ms CPU/clip`}`);
    const server = await startServer([...(c.model ? ['--model', c.model] : []), '--threads', String(threads), '--max-batch', '8', '--max-queue', '1024']);
    try {
      const bodies = c.clips.map((p) => new Uint8Array(readFileSync(p)));
      await drive(server.url, bodies, 2, 4); // warm the connection pool and the sessions' shapes
      const rssStartMB = await rssMB(server);
      const load: LoadResult[] = [];
      // the servers' levels first, then offline again: the ratios use the mean of the two offline runs
      for (const conc of concurrencies) {
        const before = await serverCounters(server);
        const r = await drive(server.url, bodies, conc, c.requests);
        const after = await serverCounters(server);
        r.serverCpuMsPerClip = ((after.cpuSeconds - before.cpuSeconds) * 1000) / r.requests;
        r.meanBatch = (after.batchSum - before.batchSum) / (after.batchCount - before.batchCount);
        load.push(r);
      }
      const rssSoakStartMB = await rssMB(server);
      const soak = await drive(server.url, bodies, 8, Infinity, soakSeconds * 1000);
      const rssAfterSoakMB = await rssMB(server);
      await server.stop(); // offline again on a machine without the server
      const after = offlineRate(c, threads, join(work, `offline-${c.name}`));
      const offline = (before.clipsPerSecond + after.clipsPerSecond) / 2;
      log(`offline  again, after the served levels: ${after.clipsPerSecond.toFixed(1)} clips/s; mean ${offline.toFixed(1)} clips/s (the ratios below)`);
      for (const r of load) {
        log(
          `served   c=${String(r.concurrency).padStart(2)}: ${r.clipsPerSecond.toFixed(1)} clips/s (${(r.clipsPerSecond / offline).toFixed(2)}x offline), ` +
            `p50 ${r.p50Ms.toFixed(0)} ms, p99 ${r.p99Ms.toFixed(0)} ms, ${r.errors} errors of ${r.requests}; ` +
            `server ${r.serverCpuMsPerClip!.toFixed(1)} ms CPU/clip, mean batch ${r.meanBatch!.toFixed(1)}`,
        );
      }
      const pct = (from: number) => `${(((rssAfterSoakMB - from) / from) * 100).toFixed(1)} %`;
      log(
        `soak     c=8 for ${soakSeconds} s: ${soak.requests} requests, ${soak.errors} errors; RSS ${rssStartMB.toFixed(0)} MB at start, ` +
          `${rssSoakStartMB.toFixed(0)} MB at the soak's start -> ${rssAfterSoakMB.toFixed(0)} MB (${pct(rssStartMB)} from start, ${pct(rssSoakStartMB)} over the soak)`,
      );
      results.push({
        model: c.name,
        offlineClipsPerSecond: offline,
        offlineRuns: [before.clipsPerSecond, after.clipsPerSecond],
        offlineCpuMsPerClip: offlineCpu,
        load,
        rssStartMB,
        rssSoakStartMB,
        rssAfterSoakMB,
        soakSeconds,
        soakRequests: soak.requests,
        soakErrors: soak.errors,
      });
    } finally {
      await server.stop();
    }
  }
  return results;
}

/** Closed loop: `concurrency` clients share `total` requests (or run until `forMs` passes). */
async function drive(url: string, bodies: Uint8Array<ArrayBuffer>[], concurrency: number, total: number, forMs = Infinity): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  const client = async () => {
    while (next < total && performance.now() - t0 < forMs) {
      const body = bodies[next++ % bodies.length]!;
      const t = performance.now();
      try {
        const res = await fetch(`${url}/classify`, { method: 'POST', body, headers: { 'content-type': 'audio/wav' } });
        await res.arrayBuffer();
        if (res.status !== 200) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const wall = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { concurrency, requests: latencies.length, clipsPerSecond: latencies.length / wall, p50Ms: q(0.5), p99Ms: q(0.99), errors };
}

async function serverCounters(server: ServerProcess): Promise<{ cpuSeconds: number; batchSum: number; batchCount: number }> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { cpuSeconds: value('ast_audio_process_cpu_seconds_total'), batchSum: value('ast_audio_batch_size_sum'), batchCount: value('ast_audio_batch_size_count') };
}

async function rssMB(server: ServerProcess): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = /^ast_audio_process_resident_memory_bytes (\S+)$/m.exec(text);
  if (!m) throw new Error('the server has no process_resident_memory_bytes metric');
  return Number(m[1]) / 2 ** 20;
}

/** The real CLI on 1 clip and on K clips (copies of the case's clips); the difference is steady-state work. */
function offlineRate(c: ModelCase, threads: number, dir: string): { clipsPerSecond: number; cpuMsPerClip?: number } {
  const K = c.name === 'base' ? 24 : 160;
  rmSync(dir, { recursive: true, force: true });
  const one = join(dir, 'one');
  const many = join(dir, 'many');
  mkdirSync(one, { recursive: true });
  mkdirSync(many, { recursive: true });
  copyFileSync(c.clips[0]!, join(one, 'clip-0.wav'));
  for (let k = 0; k < K; k++) copyFileSync(c.clips[k % c.clips.length]!, join(many, `clip-${String(k).padStart(4, '0')}.wav`));
  const TIME = '/usr/bin/time';
  const withTime = existsSync(TIME);
  const run = (folder: string) => {
    const args = ['--import', 'tsx', CLI, 'classify', folder, '--batch-size', '8', '--threads', String(threads), '--json', ...(c.model ? ['--model', c.model] : [])];
    const t = performance.now();
    // /usr/bin/time -f adds the child's user + sys CPU seconds as the last line of stderr
    const r = withTime
      ? spawnSync(TIME, ['-f', '%U %S', process.execPath, ...args], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 })
      : spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
    if (r.status !== 0) throw new Error(`ast-audio classify failed: ${r.stderr.slice(-2000)}`);
    const wall = (performance.now() - t) / 1000;
    const [user, sys] = withTime ? r.stderr.trim().split('\n').pop()!.split(' ').map(Number) : [NaN, NaN];
    return { wall, cpu: user! + sys! };
  };
  const a = run(one);
  const b = run(many);
  return { clipsPerSecond: (K - 1) / (b.wall - a.wall), cpuMsPerClip: withTime ? ((b.cpu - a.cpu) * 1000) / (K - 1) : undefined };
}
