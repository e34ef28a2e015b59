/**
 * Serving benchmark: `ast-audio serve` under a bounded, closed-loop HTTP load on loopback (serve-load.ts: C
 * clients on one undici Pool, each sending its next request when the last is answered), against the offline
 * `ast-audio classify --batch-size 8` on the same clips in the same run.
 *
 *   npm run bench -- --only serve                               # embedded model and AST-Base, 30 s soak
 *   npm run bench -- --only serve --serve-models embedded --soak-s 5
 *   npm run bench -- --only serve --serve-models embedded --serve-threads 2 --rounds 3 --level-s 5
 *
 * Both sides share the machine's cores with each other's absence only: offline runs alone, the served levels run
 * with the load generator beside the server. To make the comparison stable on a busy or noisy machine:
 * - offline clips/s is the steady state of the real CLI, (K - 1) clips / (time for K clips - time for 1 clip), with
 *   K large enough for seconds of work (a 160-clip run was a quarter of a second and swung 1.7x between two runs);
 * - offline runs and rounds of the served levels alternate (offline, round 1, offline, round 2, …, offline), and the
 *   ratios use the median offline run and the median round of each level, so drift in the machine's load hits
 *   both sides alike;
 * - each served level of the embedded model runs for a fixed time (--level-s), not a few hundred requests;
 * - CPU time per clip (immune to other jobs on the machine) is printed beside every rate: the CLI's, the server's,
 *   split by thread from the server's own /metrics (http, pipeline, model, other = ONNX Runtime's pool, GC), and
 *   the load generator's own per request (it runs on the same cores as the server).
 * The embedded model is served with the CLI's --threads and with ONNX Runtime on one thread fewer (the model's
 * thread then leaves a core to the HTTP and pipeline threads and the load generator). RSS of the server at the
 * start, at the soak's start (after the levels: a warmed server) and after the soak, from its own /metrics. The
 * AST-Base checkpoint is the engine bench's random one (.bench/engine/ast-base).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/helpers/fixtures.js';
import { pcm16Wav } from '../test/helpers/pcm16-wav.js';
import { startServer, type ServerProcess } from '../test/serve/server-process.js';
import { makeBaseCheckpoint } from './engine.js';
import { LoadGenerator, type LoadResult as ClientResult } from './serve-load.js';

export interface ServeBenchOptions {
  log?: (line: string) => void;
  /** Which checkpoints: 'embedded' (speech-commands, 1 s clips) and/or 'base' (AST-Base, 10 s clips). */
  models?: ('embedded' | 'base')[];
  concurrencies?: number[];
  /** Seconds of load at concurrency 8 between the two RSS readings. */
  soakSeconds?: number;
  /** ONNX Runtime threads of the offline CLI (and of the first served configuration). */
  threads?: number;
  /** ONNX Runtime threads of each served configuration of the embedded model; default [threads, threads - 1]. */
  serveThreads?: number[];
  /** Rounds of the served levels; offline runs once more than this, between and around them. Default 2 (AST-Base 1). */
  rounds?: number;
  /** Seconds per served level for the embedded model (AST-Base: a fixed 48 requests). Default 4. */
  levelSeconds?: number;
}

export interface LoadResult extends ClientResult {
  /** Server process CPU (all its threads) per clip, from its own /metrics: robust to a busy machine. */
  serverCpuMsPerClip: number;
  /** The same split by thread (Linux): http, pipeline, model, other. */
  threadCpuMsPerClip: Record<string, number>;
  /** Mean windows per forward at this level. */
  meanBatch: number;
}

export interface ServedConfig {
  /** --threads of the server. */
  threads: number;
  /** Per concurrency, the median of the rounds (each field its own median). */
  load: LoadResult[];
  /** Every round's levels, in order. */
  rounds: LoadResult[][];
}

export interface ServeBenchResult {
  model: string;
  /** The median offline run (the ratios use it). */
  offlineClipsPerSecond: number;
  offlineRuns: number[];
  /** CPU (user + sys, all threads) per clip of the offline CLI in steady state, median of the runs; undefined without /usr/bin/time. */
  offlineCpuMsPerClip?: number;
  served: ServedConfig[];
  /** The first served configuration's levels (the CLI's --threads). */
  load: LoadResult[];
  rssStartMB: number;
  /** After the levels, when the soak starts. */
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
  /** Clips in the offline run: seconds of steady-state work. */
  offlineClips: number;
  /** Requests per served level, when levels are not timed. */
  requests?: number;
  rounds: number;
  serveThreads: number[];
}

const CLI = join(REPO_ROOT, 'src/cli/main.ts');
const THREADS = ['http', 'pipeline', 'model', 'other'];

export async function benchServe(options: ServeBenchOptions = {}): Promise<ServeBenchResult[]> {
  const log = options.log ?? ((s: string) => console.log(s));
  const threads = options.threads ?? 2;
  const concurrencies = options.concurrencies ?? [1, 8, 32];
  const soakSeconds = options.soakSeconds ?? 30;
  const levelSeconds = options.levelSeconds ?? 4;
  const work = join(REPO_ROOT, '.bench/serve');
  log(`serve bench: offline --threads ${threads}, --max-batch 8; load average ${loadavg().map((v) => v.toFixed(1)).join(' / ')} on ${cpus().length} CPUs`);

  const cases: ModelCase[] = [];
  for (const name of options.models ?? ['embedded', 'base']) {
    if (name === 'embedded') {
      const dir = join(REPO_ROOT, 'models/speech-commands/examples');
      const clips = readdirSync(dir).filter((f) => f.endsWith('.wav')).sort().map((f) => join(dir, f));
      const serveThreads = options.serveThreads ?? (threads > 1 ? [threads, threads - 1] : [threads]);
      cases.push({ name, clips, offlineClips: 1200, rounds: options.rounds ?? 2, serveThreads });
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
      // a forward of ~2 s per clip: 24 clips are already a minute of work
      cases.push({ name, model, clips, offlineClips: 24, requests: 48, rounds: options.rounds ?? 1, serveThreads: options.serveThreads ?? [threads] });
    }
  }

  const results: ServeBenchResult[] = [];
  for (const c of cases) {
    log(`\n-- ${c.name}: ${c.model ?? 'models/speech-commands'}; ${c.clips.length} distinct clips; offline runs of ${c.offlineClips} clips`);
    const offline = prepareOffline(c, join(work, `offline-${c.name}`));
    const offlineRuns: { clipsPerSecond: number; cpuMsPerClip?: number }[] = [];
    const runOffline = (when: string) => {
      const r = offline(threads);
      offlineRuns.push(r);
      log(`offline  ${when}: ast-audio classify --batch-size 8 --threads ${threads}: ${r.clipsPerSecond.toFixed(1)} clips/s${r.cpuMsPerClip === undefined ? '' : `, ${r.cpuMsPerClip.toFixed(2)} ms CPU/clip`}`);
    };
    runOffline('run 1');

    const bodies = c.clips.map((p) => new Uint8Array(readFileSync(p)));
    // every configuration's server is started once and kept; an idle one takes no CPU
    const servers: { threads: number; server: ServerProcess; gen: LoadGenerator; rounds: LoadResult[][] }[] = [];
    try {
      for (const t of c.serveThreads) {
        const server = await startServer([...(c.model ? ['--model', c.model] : []), '--threads', String(t), '--max-batch', '8', '--max-queue', '1024'], {}, 120_000, [], true);
        const gen = new LoadGenerator(server.url, bodies, Math.max(8, ...concurrencies));
        servers.push({ threads: t, server, gen, rounds: [] });
        await gen.drive(2, 4); // warm the connections and the sessions' shapes
      }
      const first = servers[0]!;
      const rssStartMB = await rssMB(first.server);
      for (let round = 1; round <= c.rounds; round++) {
        for (const s of servers) {
          const levels: LoadResult[] = [];
          for (const conc of concurrencies) {
            const before = await serverCounters(s.server);
            const r = await s.gen.drive(conc, c.requests ?? Infinity, c.requests === undefined ? levelSeconds * 1000 : Infinity);
            const after = await serverCounters(s.server);
            const per = (k: string) => (((after[k] ?? NaN) - (before[k] ?? NaN)) * 1000) / r.requests;
            const level: LoadResult = {
              ...r,
              serverCpuMsPerClip: per('cpu'),
              threadCpuMsPerClip: Object.fromEntries(THREADS.filter((t) => `thread:${t}` in after).map((t) => [t, per(`thread:${t}`)])),
              meanBatch: (after.batchSum! - before.batchSum!) / (after.batchCount! - before.batchCount!),
            };
            levels.push(level);
            log(`served   round ${round}, --threads ${s.threads}, ${describe(level)}`);
          }
          s.rounds.push(levels);
        }
        runOffline(`run ${round + 1}`);
      }
      const rssSoakStartMB = await rssMB(first.server);
      const soak = await first.gen.drive(8, Infinity, soakSeconds * 1000);
      const rssAfterSoakMB = await rssMB(first.server);

      const offlineClipsPerSecond = median(offlineRuns.map((r) => r.clipsPerSecond));
      const cpuRuns = offlineRuns.map((r) => r.cpuMsPerClip).filter((x): x is number => x !== undefined);
      const offlineCpuMsPerClip = cpuRuns.length > 0 ? median(cpuRuns) : undefined;
      log(
        `offline  median of ${offlineRuns.length} runs: ${offlineClipsPerSecond.toFixed(1)} clips/s` +
          `${offlineCpuMsPerClip === undefined ? '' : `, ${offlineCpuMsPerClip.toFixed(2)} ms CPU/clip`} (runs ${offlineRuns.map((r) => r.clipsPerSecond.toFixed(0)).join(' / ')})`,
      );
      const served: ServedConfig[] = servers.map((s) => ({
        threads: s.threads,
        rounds: s.rounds,
        load: concurrencies.map((_, i) => medianLevel(s.rounds.map((levels) => levels[i]!))),
      }));
      for (const s of served) {
        for (const r of s.load) log(`served   --threads ${s.threads}, median of ${s.rounds.length}: ${describe(r)} = ${(r.clipsPerSecond / offlineClipsPerSecond).toFixed(2)}x offline`);
      }
      const pct = (from: number) => `${(((rssAfterSoakMB - from) / from) * 100).toFixed(1)} %`;
      log(
        `soak     --threads ${first.threads}, c=8 for ${soakSeconds} s: ${soak.requests} requests, ${soak.errors} errors; RSS ${rssStartMB.toFixed(0)} MB at start, ` +
          `${rssSoakStartMB.toFixed(0)} MB at the soak's start -> ${rssAfterSoakMB.toFixed(0)} MB (${pct(rssStartMB)} from start, ${pct(rssSoakStartMB)} over the soak)`,
      );
      results.push({
        model: c.name,
        offlineClipsPerSecond,
        offlineRuns: offlineRuns.map((r) => r.clipsPerSecond),
        offlineCpuMsPerClip,
        served,
        load: served[0]!.load,
        rssStartMB,
        rssSoakStartMB,
        rssAfterSoakMB,
        soakSeconds,
        soakRequests: soak.requests,
        soakErrors: soak.errors,
      });
    } finally {
      for (const s of servers) {
        await s.gen.close();
        await s.server.stop();
      }
    }
  }
  return results;
}

function describe(r: LoadResult): string {
  const split = Object.entries(r.threadCpuMsPerClip)
    .map(([t, ms]) => `${t} ${ms.toFixed(2)}`)
    .join(', ');
  return (
    `c=${String(r.concurrency).padStart(2)}: ${r.clipsPerSecond.toFixed(1)} clips/s, p50 ${r.p50Ms.toFixed(0)} ms, p99 ${r.p99Ms.toFixed(0)} ms, ` +
    `${r.errors} errors of ${r.requests}; server ${r.serverCpuMsPerClip.toFixed(2)} ms CPU/clip${split ? ` (${split})` : ''}, ` +
    `mean batch ${r.meanBatch.toFixed(1)}; load generator ${r.clientCpuMsPerRequest.toFixed(2)} ms CPU/request`
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Each field the median of the rounds' values (one round: that round). */
function medianLevel(rounds: LoadResult[]): LoadResult {
  const f = (get: (r: LoadResult) => number) => median(rounds.map(get));
  return {
    concurrency: rounds[0]!.concurrency,
    requests: f((r) => r.requests),
    clipsPerSecond: f((r) => r.clipsPerSecond),
    p50Ms: f((r) => r.p50Ms),
    p99Ms: f((r) => r.p99Ms),
    errors: rounds.reduce((s, r) => s + r.errors, 0),
    clientCpuMsPerRequest: f((r) => r.clientCpuMsPerRequest),
    serverCpuMsPerClip: f((r) => r.serverCpuMsPerClip),
    threadCpuMsPerClip: Object.fromEntries(Object.keys(rounds[0]!.threadCpuMsPerClip).map((t) => [t, f((r) => r.threadCpuMsPerClip[t] ?? NaN)])),
    meanBatch: f((r) => r.meanBatch),
  };
}

async function serverCounters(server: ServerProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const out: Record<string, number> = {
    cpu: value('ast_audio_process_cpu_seconds_total'),
    batchSum: value('ast_audio_batch_size_sum'),
    batchCount: value('ast_audio_batch_size_count'),
  };
  for (const m of text.matchAll(/^ast_audio_thread_cpu_seconds_total\{thread="(\w+)"\} (\S+)$/gm)) out[`thread:${m[1]}`] = Number(m[2]);
  return out;
}

async function rssMB(server: ServerProcess): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = /^ast_audio_process_resident_memory_bytes (\S+)$/m.exec(text);
  if (!m) throw new Error('the server has no process_resident_memory_bytes metric');
  return Number(m[1]) / 2 ** 20;
}

/**
 * Folders of 1 clip and of K clips (links to the case's clips, cycled), and a run of the real CLI on each:
 * the difference is steady-state work, with process start and model load cancelled out.
 */
function prepareOffline(c: ModelCase, dir: string): (threads: number) => { clipsPerSecond: number; cpuMsPerClip?: number } {
  const K = c.offlineClips;
  rmSync(dir, { recursive: true, force: true });
  const one = join(dir, 'one');
  const many = join(dir, 'many');
  mkdirSync(one, { recursive: true });
  mkdirSync(many, { recursive: true });
  const place = (from: string, to: string) => {
    try {
      linkSync(from, to); // same bytes, no copy
    } catch {
      copyFileSync(from, to);
    }
  };
  place(c.clips[0]!, join(one, 'clip-0.wav'));
  for (let k = 0; k < K; k++) place(c.clips[k % c.clips.length]!, join(many, `clip-${String(k).padStart(5, '0')}.wav`));
  const TIME = '/usr/bin/time';
  const withTime = existsSync(TIME);
  const run = (folder: string, threads: number) => {
    const args = ['--import', 'tsx', CLI, 'classify', folder, '--batch-size', '8', '--threads', String(threads), '--json', ...(c.model ? ['--model', c.model] : [])];
    const t = performance.now();
    // /usr/bin/time -f adds the child's user + sys CPU seconds as the last line of stderr
    const r = withTime
      ? spawnSync(TIME, ['-f', '%U %S', process.execPath, ...args], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 })
      : spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
    if (r.status !== 0) throw new Error(`ast-audio classify failed: ${r.stderr.slice(-2000)}`);
    const wall = (performance.now() - t) / 1000;
    const [user, sys] = withTime ? r.stderr.trim().split('\n').pop()!.split(' ').map(Number) : [NaN, NaN];
    return { wall, cpu: user! + sys! };
  };
  return (threads) => {
    const a = run(one, threads);
    const b = run(many, threads);
    return { clipsPerSecond: (K - 1) / (b.wall - a.wall), cpuMsPerClip: withTime ? ((b.cpu - a.cpu) * 1000) / (K - 1) : undefined };
  };
}
