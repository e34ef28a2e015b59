/**
 * Feature front end speed: Kaldi fbank and the whole ASTFeatureExtractor (fbank + pad +
 * normalise) per 10 s, 16 kHz clip, against torchaudio on the same audio in the same run
 * (`../shared/reference/oracle.py`'s fbank path, when /usr/bin/python3 has torch + torchaudio).
 *
 *   node --import tsx bench/features.ts [--repeats N]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fbank, astFbankOptions } from '../src/audio/fbank.js';
import { ASTFeatureExtractor } from '../src/audio/feature-extractor.js';
import { formatNpy } from '../src/io/npy.js';
import { findReferenceDir, lineReader } from './python-peer.js';

const PYTHON = '/usr/bin/python3';
const SAMPLE_RATE = 16000;
const CLIP_SECONDS = 10;

/** Medians over the alternating runs, in milliseconds per clip. */
export interface Timing {
  wallMs: number;
  /** CPU time of the whole process (every thread), process.cpuUsage / time.process_time. */
  cpuMs: number;
  /** The fastest run's CPU time: the least disturbed by other load, nearest a quiet machine's figure. */
  bestCpuMs?: number;
}

export interface FeaturesBenchResult {
  clipSeconds: number;
  repeats: number;
  oursFbank: Timing;
  oursExtract: Timing;
  /** torchaudio's fbank + pad + normalise (oracle.fbank_features) with torch.set_num_threads(1); null when unavailable. */
  torchaudio1: Timing | null;
  /** The same with torch's default thread count (torchaudioThreads), for honesty: it may use every core. */
  torchaudioDefault: Timing | null;
  torchaudioThreads: number | null;
  /** ours (extractor) / torchaudio on 1 thread, by median CPU time and by median wall time; below 1 means we are faster. */
  cpuRatio: number | null;
  wallRatio: number | null;
  /** The same by each side's fastest run (CPU time). */
  bestCpuRatio: number | null;
  note?: string;
}

/** A deterministic speech-like test clip: voiced harmonics with vibrato plus noise. */
export function benchClip(seconds = CLIP_SECONDS, rate = SAMPLE_RATE): Float32Array {
  const n = seconds * rate;
  const x = new Float32Array(n);
  let seed = 12345;
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const f0 = 140 + 30 * Math.sin(2 * Math.PI * 3 * t);
    phase += (2 * Math.PI * f0) / rate;
    let v = 0;
    for (let h = 1; h <= 8; h++) v += Math.sin(h * phase) / h;
    seed = (seed * 1103515245 + 12345) % 2147483648;
    x[i] = 0.2 * v * (0.5 + 0.5 * Math.sin(2 * Math.PI * 0.7 * t)) + 0.02 * (seed / 2147483648 - 0.5);
  }
  return x;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeOnce(fn: () => void): Timing {
  const c = process.cpuUsage();
  const t = performance.now();
  fn();
  const wallMs = performance.now() - t;
  const d = process.cpuUsage(c);
  return { wallMs, cpuMs: (d.user + d.system) / 1000 };
}

function medianTiming(xs: Timing[]): Timing {
  return { wallMs: median(xs.map((x) => x.wallMs)), cpuMs: median(xs.map((x) => x.cpuMs)), bestCpuMs: Math.min(...xs.map((x) => x.cpuMs)) };
}

// A persistent torchaudio worker: each stdin line runs oracle.fbank_features once on the clip and
// answers its wall and CPU time (time.process_time: every thread of the process) in ms, so our
// runs and torchaudio's can alternate (fair under a changing load). threads 0: torch's default.
const PY_WORKER = `
import sys, time, importlib.util
import numpy as np, torch
spec = importlib.util.spec_from_file_location("oracle", sys.argv[1]); oracle = importlib.util.module_from_spec(spec); spec.loader.exec_module(oracle)
x = np.load(sys.argv[2]); threads = int(sys.argv[3])
if threads > 0: torch.set_num_threads(threads)
fe = dict(oracle.FE_DEFAULT)
print("ready", torch.get_num_threads(), flush=True)
for line in sys.stdin:
    t = time.perf_counter(); c = time.process_time(); oracle.fbank_features(x, fe)
    print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000, flush=True)
`;

interface TorchWorker {
  threads: number;
  run(): Promise<Timing>;
  close(): void;
}

async function startTorchWorker(clipNpy: string, threads: number): Promise<TorchWorker | { note: string }> {
  const reference = findReferenceDir();
  if (!reference) return { note: 'oracle.py not found (../shared/reference); torchaudio not timed' };
  const oracle = join(reference, 'oracle.py');
  if (!existsSync(PYTHON)) return { note: `${PYTHON} not found; torchaudio not timed` };
  const child = spawn(PYTHON, ['-c', PY_WORKER, oracle, clipNpy, String(threads)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const next = lineReader(child.stdout);
  const ready = await next();
  if (!ready?.startsWith('ready')) {
    child.kill();
    return { note: `torchaudio not timed: ${stderr.trim().split('\n').pop() ?? 'python exited'}` };
  }
  return {
    threads: Number(ready.split(' ')[1]),
    run: async () => {
      child.stdin.write('run\n');
      const line = await next();
      if (line === undefined) throw new Error(`torchaudio worker exited: ${stderr.trim().split('\n').pop()}`);
      const [wallMs, cpuMs] = line.split(' ').map(Number);
      return { wallMs: wallMs!, cpuMs: cpuMs! };
    },
    close: () => {
      child.stdin.end();
    },
  };
}

export async function benchFeatures(options: { repeats?: number; log?: (line: string) => void } = {}): Promise<FeaturesBenchResult> {
  const repeats = options.repeats ?? 20;
  const log = options.log ?? ((s: string) => console.log(s));
  const clip = benchClip();
  const fbankOptions = astFbankOptions(SAMPLE_RATE, 128);
  const extractor = ASTFeatureExtractor.fromConfig({}); // Hugging Face defaults: 128 bins, 1024 frames
  const runFbank = (): void => void fbank(clip, fbankOptions);
  const runExtract = (): void => void extractor.extract(clip, { samplingRate: SAMPLE_RATE });
  const dir = mkdtempSync(join(tmpdir(), 'ast-bench-'));
  const npy = join(dir, 'clip.npy');
  writeFileSync(npy, formatNpy([clip.length], clip));
  // torchaudio on 1 thread is the like-for-like peer (ours is single-threaded); its default
  // thread count is timed too, in its own worker.
  const workers = [await startTorchWorker(npy, 1), await startTorchWorker(npy, 0)];
  const ours: { fbank: Timing[]; extract: Timing[] } = { fbank: [], extract: [] };
  const theirs: Timing[][] = [[], []];
  try {
    for (let i = 0; i < 3; i++) {
      runFbank();
      runExtract();
      for (const w of workers) if ('run' in w) await w.run();
    }
    // Alternate ours and torchaudio's, run by run, so all see the same machine load; the order
    // rotates too, so none is always the one that runs right after another.
    const contenders: (() => Promise<void>)[] = [
      async () => {
        ours.fbank.push(timeOnce(runFbank));
        ours.extract.push(timeOnce(runExtract));
      },
      ...workers.map((w, k) => async () => {
        if ('run' in w) theirs[k]!.push(await w.run());
      }),
    ];
    for (let i = 0; i < repeats; i++) {
      for (let j = 0; j < contenders.length; j++) await contenders[(i + j) % contenders.length]!();
    }
  } finally {
    for (const w of workers) if ('close' in w) w.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const torchaudio1 = theirs[0]!.length ? medianTiming(theirs[0]!) : null;
  const torchaudioDefault = theirs[1]!.length ? medianTiming(theirs[1]!) : null;
  const oursExtract = medianTiming(ours.extract);
  const note = workers.map((w) => ('note' in w ? w.note : '')).find((n) => n);
  const result: FeaturesBenchResult = {
    clipSeconds: CLIP_SECONDS,
    repeats,
    oursFbank: medianTiming(ours.fbank),
    oursExtract,
    torchaudio1,
    torchaudioDefault,
    torchaudioThreads: 'threads' in workers[1]! ? workers[1].threads : null,
    cpuRatio: torchaudio1 ? oursExtract.cpuMs / torchaudio1.cpuMs : null,
    wallRatio: torchaudio1 ? oursExtract.wallMs / torchaudio1.wallMs : null,
    bestCpuRatio: torchaudio1 ? oursExtract.bestCpuMs! / torchaudio1.bestCpuMs! : null,
    ...(note ? { note } : {}),
  };
  const fmt = (t: Timing): string =>
    `${t.cpuMs.toFixed(2).padStart(7)} ms CPU  ${t.wallMs.toFixed(2).padStart(7)} ms wall  (fastest run ${t.bestCpuMs!.toFixed(2)} ms CPU)`;
  log(`features, one ${CLIP_SECONDS} s 16 kHz clip, medians of ${repeats} alternating runs (CPU = process CPU time, all threads):`);
  log(`  ours fbank                                 ${fmt(result.oursFbank)}`);
  log(`  ours ASTFeatureExtractor (fbank+pad+norm)  ${fmt(oursExtract)}`);
  if (torchaudio1) log(`  torchaudio fbank_features, 1 thread        ${fmt(torchaudio1)}`);
  if (torchaudioDefault) log(`  torchaudio fbank_features, ${result.torchaudioThreads} threads       ${fmt(torchaudioDefault)}`);
  if (torchaudio1 && torchaudioDefault) {
    log(`  ratio ours / torchaudio (1 thread):  ${result.cpuRatio!.toFixed(2)}x CPU time, ${result.wallRatio!.toFixed(2)}x wall (medians); fastest runs ${result.bestCpuRatio!.toFixed(2)}x CPU time`);
    log(`  ratio ours / torchaudio (${result.torchaudioThreads} threads): ${(oursExtract.cpuMs / torchaudioDefault.cpuMs).toFixed(2)}x CPU time, ${(oursExtract.wallMs / torchaudioDefault.wallMs).toFixed(2)}x wall`);
  }
  if (note) log(`  ${note}`);
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const i = process.argv.indexOf('--repeats');
  const repeats = i > 0 ? Number(process.argv[i + 1]) : undefined;
  benchFeatures({ repeats }).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
