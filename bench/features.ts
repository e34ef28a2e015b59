/**
 * Feature front end speed: Kaldi fbank and the whole ASTFeatureExtractor (fbank + pad +
 * normalise) per 10 s, 16 kHz clip, against torchaudio on the same audio in the same run
 * (`../shared/reference/oracle.py`'s fbank path, when /usr/bin/python3 has torch + torchaudio).
 *
 *   node --import tsx bench/features.ts [--repeats N]
 */
import { spawnSync } from 'node:child_process';
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

function timeIt(fn: () => void, repeats: number): number {
  for (let i = 0; i < 3; i++) fn(); // warm up the JIT
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

function findOracle(): string | null {
  for (const p of [process.env.AST_SHARED && join(process.env.AST_SHARED, 'reference/oracle.py'), join(REPO, '../shared/reference/oracle.py'), '/work/shared/reference/oracle.py']) {
    if (p && existsSync(p)) return p;
  }
  return null;
}

const PY_SNIPPET = `
import sys, time, json, importlib.util
import numpy as np, torch
spec = importlib.util.spec_from_file_location("oracle", sys.argv[1]); oracle = importlib.util.module_from_spec(spec); spec.loader.exec_module(oracle)
x = np.load(sys.argv[2]); repeats = int(sys.argv[3])
fe = dict(oracle.FE_DEFAULT)
out = {}
for threads in (1, torch.get_num_threads()):
    torch.set_num_threads(threads)
    for _ in range(3): oracle.fbank_features(x, fe)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); oracle.fbank_features(x, fe); ts.append((time.perf_counter() - t) * 1000)
    out[str(threads)] = sorted(ts)[len(ts) // 2]
print(json.dumps(out))
`;

function torchaudioTime(clip: Float32Array, repeats: number): { ms: number; threads: number } | { note: string } {
  const oracle = findOracle();
  if (!oracle) return { note: 'oracle.py not found (../shared/reference); torchaudio not timed' };
  if (!existsSync(PYTHON)) return { note: `${PYTHON} not found; torchaudio not timed` };
  const dir = mkdtempSync(join(tmpdir(), 'ast-bench-'));
  try {
    const npy = join(dir, 'clip.npy');
    writeFileSync(npy, formatNpy([clip.length], clip));
    const r = spawnSync(PYTHON, ['-c', PY_SNIPPET, oracle, npy, String(repeats)], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) return { note: `torchaudio not timed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` };
    const byThreads = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
    // Compare with torchaudio's best thread count (ours is single-threaded).
    const [threads, ms] = Object.entries(byThreads).sort((a, b) => a[1] - b[1])[0]!;
    return { ms, threads: Number(threads) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchFeatures(options: { repeats?: number; log?: (line: string) => void } = {}): Promise<FeaturesBenchResult> {
  const repeats = options.repeats ?? 20;
  const log = options.log ?? ((s: string) => console.log(s));
  const clip = benchClip();
  const fbankOptions = astFbankOptions(SAMPLE_RATE, 128);
  const extractor = ASTFeatureExtractor.fromConfig({}); // Hugging Face defaults: 128 bins, 1024 frames
  const oursFbankMs = timeIt(() => fbank(clip, fbankOptions), repeats);
  const oursExtractMs = timeIt(() => extractor.extract(clip, { samplingRate: SAMPLE_RATE }), repeats);
  const ta = torchaudioTime(clip, repeats);
  const result: FeaturesBenchResult = {
    clipSeconds: CLIP_SECONDS,
    repeats,
    oursFbankMs,
    oursExtractMs,
    torchaudioMs: 'ms' in ta ? ta.ms : null,
    torchaudioThreads: 'ms' in ta ? ta.threads : null,
    ratio: 'ms' in ta ? oursExtractMs / ta.ms : null,
    ...('note' in ta ? { note: ta.note } : {}),
  };
  log(`features, one ${CLIP_SECONDS} s 16 kHz clip, median of ${repeats}:`);
  log(`  ours fbank               ${oursFbankMs.toFixed(2)} ms`);
  log(`  ours ASTFeatureExtractor ${oursExtractMs.toFixed(2)} ms (fbank + pad to 1024 + normalise)`);
  if (result.torchaudioMs !== null) {
    log(`  torchaudio (oracle.py fbank_features, ${result.torchaudioThreads} thread(s)) ${result.torchaudioMs.toFixed(2)} ms`);
    log(`  ratio ours / torchaudio  ${result.ratio!.toFixed(2)}x`);
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
