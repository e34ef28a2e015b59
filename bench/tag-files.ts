/**
 * `ast-audio tag` throughput, one process, on generated 10 s clips: files/s and audio-hours/s as the
 * command itself reports them (the tagging loop's wall time: model load and process start excluded,
 * shard writing included), for the embedded speech-commands model and a random-weight AST-Base.
 *
 *   node --import tsx bench/tag-files.ts [--files N] [--base-files N] [--models embedded,base] [--batch-size B]
 *   npm run bench -- --only tag-files
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchClip } from './features.js';
import { cpuModel, makeBaseCheckpoint } from './engine.js';
import { pcm16Wav } from '../test/helpers/pcm16-wav.js';

const REPO = resolve(new URL('..', import.meta.url).pathname);
const CLIP_SECONDS = 10;

export interface TagBenchOptions {
  log?: (line: string) => void;
  /** Clips for the embedded model (default 200) and for AST-Base (default 20: about 2 s each on 2 cores). */
  files?: number;
  baseFiles?: number;
  models?: ('embedded' | 'base')[];
  batchSize?: number;
}

export interface TagBenchResult {
  model: 'embedded' | 'base';
  files: number;
  filesPerSecond: number;
  audioHoursPerSecond: number;
  /** Seconds of wall time of the tagging loop, as tag prints it. */
  seconds: number;
  cpu: string;
  loadAverage: number[];
}

function writeCorpus(dir: string, n: number): void {
  mkdirSync(dir, { recursive: true });
  const clip = pcm16Wav(benchClip(CLIP_SECONDS), 16000);
  // the same audio under different names: tag hashes and decodes each file, it keeps no cache by content
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `clip-${String(i).padStart(5, '0')}.wav`), clip);
}

export async function benchTagFiles(o: TagBenchOptions = {}): Promise<TagBenchResult[]> {
  const log = o.log ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const work = mkdtempSync(join(tmpdir(), 'ast-bench-tag-'));
  const results: TagBenchResult[] = [];
  try {
    for (const model of o.models ?? ['embedded', 'base']) {
      const n = model === 'embedded' ? (o.files ?? 200) : (o.baseFiles ?? 20);
      const corpus = join(work, `corpus-${model}`);
      writeCorpus(corpus, n);
      const modelArgs = model === 'base' ? ['--model', makeBaseCheckpoint(join(work, 'base'))] : [];
      const out = join(work, `out-${model}`);
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'tag', corpus, '--out', out, '--no-progress', '--batch-size', String(o.batchSize ?? 1), ...modelArgs],
        { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      if (r.status !== 0) throw new Error(`tag (${model}) failed with status ${r.status}:\n${r.stderr}`);
      const m = /(\d+) files? tagged, \d+ errors? this run in ([\d.]+) s \(([\d.]+) files\/s, ([\d.e+-]+) audio-hours\/s\)/.exec(r.stderr);
      if (!m) throw new Error(`tag (${model}): no timing line in\n${r.stderr}`);
      const result: TagBenchResult = {
        model,
        files: Number(m[1]),
        seconds: Number(m[2]),
        filesPerSecond: Number(m[3]),
        audioHoursPerSecond: Number(m[4]),
        cpu: cpuModel(),
        loadAverage: (await import('node:os')).loadavg(),
      };
      log(
        `tag ${model}: ${result.files} x ${CLIP_SECONDS} s clips in ${result.seconds.toFixed(1)} s: ${result.filesPerSecond.toFixed(2)} files/s, ` +
          `${result.audioHoursPerSecond.toPrecision(3)} audio-hours/s (${(result.audioHoursPerSecond * 86400).toFixed(0)} audio-hours/day), ` +
          `1 process, batch ${o.batchSize ?? 1}; load average ${result.loadAverage.map((x) => x.toFixed(2)).join(' ')}`,
      );
      results.push(result);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const flag = (name: string): string | undefined => (args.indexOf(name) >= 0 ? args[args.indexOf(name) + 1] : undefined);
  await benchTagFiles({
    files: flag('--files') ? Number(flag('--files')) : undefined,
    baseFiles: flag('--base-files') ? Number(flag('--base-files')) : undefined,
    models: flag('--models')?.split(',') as TagBenchOptions['models'],
    batchSize: flag('--batch-size') ? Number(flag('--batch-size')) : undefined,
  });
}
