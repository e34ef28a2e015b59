/**
 * `npm run bench -- --only tag-stream`: classify over long 16 kHz recordings in bounded memory (issue 13).
 * Each run is a child `ast-audio classify FILE --timeline --json` process (the real CLI, streaming the
 * WAV), timed, reporting its own peak RSS (getrusage ru_maxrss) as it exits. A 10 s clip first gives the
 * process's peak with the model loaded, the "model" of the goal:
 *
 *   10 h peak RSS <= 1.05 x the 1 h peak, and <= model + 300 MB.
 *
 * Default model: a small one with AudioSet's 10.24 s windows (test/helpers/long-audio.ts), so 10 h is
 * 3,516 windows (minutes, not the hours AST-Base would take on 2 cores); `--stream-model embedded` or a
 * checkpoint folder runs another. The WAV files are written to a temp folder (1 h: 115 MB, 10 h: 1.15 GB)
 * and removed afterwards.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../test/helpers/fixtures.js';
import { writeLongWav, writeLongWindowModel } from '../test/helpers/long-audio.js';
import { cpuModel } from './engine.js';

export interface TagStreamBenchOptions {
  log: (line: string) => void;
  /** Recording lengths in hours; default [1, 10]. */
  hours?: number[];
  /** 'long-window' (default), 'embedded', or a checkpoint folder. */
  model?: string;
  /** classify --batch-size; default 8. */
  batchSize?: number;
}

export interface TagStreamRun {
  hours: number;
  wallS: number;
  peakRssMB: number;
  windows: number;
  /** Hours of audio classified per second of wall time. */
  audioHoursPerS: number;
}

export interface TagStreamBenchResult {
  model: string;
  /** Peak RSS of classifying a 10 s clip: the process with the model loaded. */
  modelRssMB: number;
  runs: TagStreamRun[];
  /** Longest run's peak over the shortest's; goal <= 1.05. */
  ratio: number | null;
  /** Longest run's peak minus the model's; goal <= 300 MB. */
  overModelMB: number | null;
  goalMet: boolean | null;
}

const load = (): string => loadavg().map((v) => v.toFixed(1)).join(' / ');

export async function benchTagStream(options: TagStreamBenchOptions): Promise<TagStreamBenchResult> {
  const { log } = options;
  const hours = options.hours ?? [1, 10];
  const batchSize = options.batchSize ?? 8;
  const dir = mkdtempSync(join(tmpdir(), 'ast-tag-stream-'));
  try {
    const which = options.model ?? 'long-window';
    const modelArgs = which === 'embedded' ? [] : ['-m', which === 'long-window' ? writeLongWindowModel(join(dir, 'model')) : which];
    const hook = join(dir, 'report-rss.mjs');
    writeFileSync(hook, "process.on('exit', () => process.stderr.write(`# maxRSS ${process.resourceUsage().maxRSS} KiB\\n`));\n");
    log(`CPU: ${cpuModel()}, ${cpus().length} logical CPUs; Node ${process.version}`);
    log(`machine load average (1/5/15 min) at start: ${load()}`);
    log(`model: ${which}; ast-audio classify FILE --timeline --json --batch-size ${batchSize}, one child process per file`);

    const classify = (file: string, seconds: number): Omit<TagStreamRun, 'hours'> => {
      const t0 = performance.now();
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--import', pathToFileURL(hook).href, join(REPO_ROOT, 'src/cli/main.ts'), 'classify', file, ...modelArgs,
          '--timeline', '--json', '--top-k', '1', '--batch-size', String(batchSize), '--no-progress'],
        { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 256 << 20 },
      );
      const wallS = (performance.now() - t0) / 1000;
      if (r.status !== 0) throw new Error(`ast-audio classify ${file} exited ${r.status}: ${r.stderr}`);
      const kib = /# maxRSS (\d+) KiB/.exec(r.stderr);
      if (!kib) throw new Error(`no RSS report from the child: ${r.stderr}`);
      const doc = JSON.parse(r.stdout) as { results: { duration: number; windows: unknown[] }[] };
      const result = doc.results[0]!;
      if (result.duration !== seconds) throw new Error(`${file}: classified ${result.duration} s of ${seconds} s`);
      return { wallS, peakRssMB: Number(kib[1]) / 1024, windows: result.windows.length, audioHoursPerS: seconds / 3600 / wallS };
    };

    const clip = join(dir, 'clip-10s.wav');
    writeLongWav(clip, 10);
    const modelRssMB = classify(clip, 10).peakRssMB;
    log(`10 s clip (model loaded): peak RSS ${modelRssMB.toFixed(0)} MB`);
    const runs: TagStreamRun[] = [];
    for (const h of hours) {
      const file = join(dir, `${h}h.wav`);
      const seconds = Math.round(h * 3600);
      writeLongWav(file, seconds);
      try {
        const r = { hours: h, ...classify(file, seconds) };
        runs.push(r);
        log(
          `${h} h of 16 kHz audio: ${r.windows} windows in ${r.wallS.toFixed(1)} s wall (${r.audioHoursPerS.toFixed(2)} audio h/s); ` +
            `peak RSS ${r.peakRssMB.toFixed(0)} MB (model + ${(r.peakRssMB - modelRssMB).toFixed(0)} MB); load average ${load()}`,
        );
      } finally {
        rmSync(file, { force: true });
      }
    }
    const first = runs[0];
    const last = runs.at(-1);
    const ratio = first && last && runs.length > 1 ? last.peakRssMB / first.peakRssMB : null;
    const overModelMB = last ? last.peakRssMB - modelRssMB : null;
    const goalMet = ratio === null || overModelMB === null ? null : ratio <= 1.05 && overModelMB <= 300;
    if (ratio !== null) {
      log(
        `goal: ${last!.hours} h peak <= 1.05 x the ${first!.hours} h peak (${ratio.toFixed(3)}x) and <= model + 300 MB ` +
          `(+${overModelMB!.toFixed(0)} MB): ${goalMet ? 'met' : 'NOT met'}`,
      );
    }
    log(`machine load average at the end: ${load()}`);
    return { model: which, modelRssMB, runs, ratio, overModelMB, goalMet };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
