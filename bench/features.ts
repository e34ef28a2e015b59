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
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fbank, astFbankOptions } from '../src/audio/fbank.js';
import { ASTFeatureExtractor } from '../src/audio/feature-extractor.js';
import { formatNpy } from '../src/io/npy.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';
const SAMPLE_RATE = 16000;
const CLIP_SECONDS = 10;

export interface FeaturesBenchResult {
  clipSeconds: number;
  repeats: number;
  /** Median milliseconds per clip. */
  oursFbankMs: number;
  oursExtractMs: number;
  /** torchaudio's fbank + pad + normalise (oracle.fbank_features), median ms per clip; null when unavailable. */
  torchaudioMs: number | null;
  torchaudioThreads: number | null;
  /** ours (extractor) / torchaudio; below 1 means we are faster. */
  ratio: number | null;
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

function timeOnce(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

function findOracle(): string | null {
  for (const p of [process.env.AST_SHARED && join(process.env.AST_SHARED, 'reference/oracle.py'), join(REPO, '../shared/reference/oracle.py'), '/work/shared/reference/oracle.py']) {
    if (p && existsSync(p)) return p;
  }
  return null;
}

// A persistent torchaudio worker: each stdin line runs oracle.fbank_features once on the clip and
// answers its time in ms, so our runs and torchaudio's can alternate (fair under a changing load).
const PY_WORKER = `
import sys, time, importlib.util
import numpy as np, torch
spec = importlib.util.spec_from_file_location("oracle", sys.argv[1]); oracle = importlib.util.module_from_spec(spec); spec.loader.exec_module(oracle)
x = np.load(sys.argv[2]); threads = int(sys.argv[3]); torch.set_num_threads(threads)
fe = dict(oracle.FE_DEFAULT)
print("ready", torch.get_num_threads(), flush=True)
for line in sys.stdin:
    t = time.perf_counter(); oracle.fbank_features(x, fe); print((time.perf_counter() - t) * 1000, flush=True)
`;

interface TorchWorker {
  run(): Promise<number>;
  close(): void;
}

async function startTorchWorker(clipNpy: string, threads: number): Promise<TorchWorker | { note: string }> {
  const oracle = findOracle();
  if (!oracle) return { note: 'oracle.py not found (../shared/reference); torchaudio not timed' };
  if (!existsSync(PYTHON)) return { note: `${PYTHON} not found; torchaudio not timed` };
  const child = spawn(PYTHON, ['-c', PY_WORKER, oracle, clipNpy, String(threads)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: ((line: string | null) => void)[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    let i;
    while ((i = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  child.on('close', () => waiters.splice(0).forEach((w) => w(null)));
  const next = (): Promise<string | null> => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((r) => waiters.push(r)));
  const ready = await next();
  if (!ready?.startsWith('ready')) {
    child.kill();
    return { note: `torchaudio not timed: ${stderr.trim().split('\n').pop() ?? 'python exited'}` };
  }
  return {
    run: async () => {
      child.stdin.write('run\n');
      const line = await next();
      if (line === null) throw new Error(`torchaudio worker exited: ${stderr.trim().split('\n').pop()}`);
      return Number(line);
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
  // torchaudio with 1 thread: ours is single-threaded, and the box is shared.
  const worker = await startTorchWorker(npy, 1);
  const ours: { fbank: number[]; extract: number[] } = { fbank: [], extract: [] };
  const theirs: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      runFbank();
      runExtract();
      if ('run' in worker) await worker.run();
    }
    // Alternate ours and torchaudio's, run by run, so both see the same machine load.
    for (let i = 0; i < repeats; i++) {
      ours.fbank.push(timeOnce(runFbank));
      ours.extract.push(timeOnce(runExtract));
      if ('run' in worker) theirs.push(await worker.run());
    }
  } finally {
    if ('close' in worker) worker.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const torchaudioMs = theirs.length ? median(theirs) : null;
  const oursExtractMs = median(ours.extract);
  const result: FeaturesBenchResult = {
    clipSeconds: CLIP_SECONDS,
    repeats,
    oursFbankMs: median(ours.fbank),
    oursExtractMs,
    torchaudioMs,
    torchaudioThreads: torchaudioMs === null ? null : 1,
    ratio: torchaudioMs === null ? null : oursExtractMs / torchaudioMs,
    ...('note' in worker ? { note: worker.note } : {}),
  };
  log(`features, one ${CLIP_SECONDS} s 16 kHz clip, median of ${repeats} alternating runs:`);
  log(`  ours fbank                ${result.oursFbankMs.toFixed(2)} ms`);
  log(`  ours ASTFeatureExtractor  ${oursExtractMs.toFixed(2)} ms (fbank + pad to 1024 + normalise)`);
  if (torchaudioMs !== null) {
    log(`  torchaudio (oracle.py fbank_features: kaldi.fbank + pad + normalise, 1 thread) ${torchaudioMs.toFixed(2)} ms`);
    log(`  ratio ours / torchaudio   ${result.ratio!.toFixed(2)}x`);
  } else {
    log(`  ${result.note}`);
  }
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
