/** `ast-audio norm-stats DIR|MANIFEST`: dataset mean and std for preprocessor_config.json. */
import { basename } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { positiveInteger } from './options.js';
import { NormStatsAccumulator, type NormStats } from '../audio/norm-stats.js';
import { listAudioInput, readAudioFile } from '../node/audio.js';
import { decodeAudio } from '../audio/decode.js';
import { isParquetInput, listParquetFiles, openParquetDataset, ParquetRowReader } from '../node/parquet-dataset.js';

/** The rows of Parquet files as clips to read (ids `FILE.parquet#ROW`), without reading their audio yet. */
async function readLabelledClipsAudioOnly(input: string, audioColumn = 'audio'): Promise<{ path: string; read: () => Promise<Uint8Array> }[]> {
  const reader = new ParquetRowReader({ audioColumn });
  const out: { path: string; read: () => Promise<Uint8Array> }[] = [];
  for (const file of await listParquetFiles(input)) {
    const ds = await openParquetDataset(file, { audioColumn }, false);
    for (let i = 0; i < ds.numRows; i++) {
      const id = `${file}#${i}`;
      out.push({ path: id, read: () => reader.read(id) });
    }
  }
  return out;
}
import { loadExtractor, preprocessorOption } from './features.js';
import { progressWanted } from './common.js';

const EXAMPLES = `
Examples:
  $ ast-audio norm-stats data/train/                       # every audio file under the folder
  $ ast-audio norm-stats train.json --json                 # AST datafile {"data":[{"wav": ...}]}, CSV, JSONL or a list
  $ ast-audio norm-stats data/ --preprocessor model/preprocessor_config.json

As the AST repository's get_norm_stats.py: fbank without normalisation, zero-padded or truncated
to max_length frames, then the mean over batches of --batch-size clips (1000, as the script) of each
batch's mean and unbiased std over all its values. With at most --batch-size clips this is the
pooled mean and std. Put the numbers in preprocessor_config.json as "mean" and "std".`;

export async function runNormStats(
  input: string,
  options: { preprocessor?: string; batchSize?: number; skipBad?: boolean; audioColumn?: string },
  onFile?: (path: string, i: number, n: number) => void,
  onSkip?: (message: string) => void,
): Promise<NormStats & { files: number; skipped: number }> {
  const extractor = await loadExtractor(options.preprocessor);
  const rate = extractor.config.sampling_rate;
  // Parquet datasets: rows, their audio read a row group at a time; otherwise audio files.
  const parquet = await isParquetInput(input);
  const clips = parquet
    ? await readLabelledClipsAudioOnly(input, options.audioColumn)
    : (await listAudioInput(input)).map((path) => ({ path, read: undefined }));
  const files = clips.map((c) => c.path);
  const acc = new NormStatsAccumulator(options.batchSize ?? 1000);
  let skipped = 0;
  for (let i = 0; i < files.length; i++) {
    const path = files[i]!;
    const read = clips[i]!.read;
    onFile?.(path, i, files.length);
    let features: Float32Array;
    try {
      const { waveform } = read ? await decodeAudio(await read(), { samplingRate: rate, source: path }) : await readAudioFile(path, { samplingRate: rate });
      features = extractor.fbank(waveform, rate, { source: path }).data;
    } catch (err) {
      if (!options.skipBad) throw err;
      skipped++;
      onSkip?.((err as Error).message);
      continue;
    }
    acc.add(features, path);
  }
  if (skipped === files.length) throw new Error(`${input}: none of the ${files.length} files could be read`);
  return { ...acc.result(), files: files.length, skipped };
}

export function register(program: Command): void {
  program
    .command('norm-stats')
    .description('mean and std of the un-normalised log-mel features of a dataset (for preprocessor_config.json)')
    .argument('<dir-or-manifest>', 'folder of audio files, a manifest listing them, or Hugging Face datasets Parquet files (a file, a folder, or a quoted pattern)')
    .option('-p, --preprocessor <config>', 'preprocessor_config.json, a checkpoint folder, or a Hub id (sampling_rate, num_mel_bins, max_length)')
    .option('-m, --model <id|dir>', 'take preprocessor_config.json from this checkpoint (folder or Hub id); same as --preprocessor')
    .option('--batch-size <n>', 'clips per batch, as get_norm_stats.py', positiveInteger('--batch-size'), 1000)
    .option('--audio-column <name>', 'Parquet datasets: the audio column ({bytes, path} struct)', 'audio')
    .option('--skip-bad', 'skip files that cannot be decoded or are shorter than one frame (each reported on stderr) instead of stopping')
    .option('--json', 'print JSON')
    .option('--progress', 'show progress on stderr even when it is not a terminal')
    .option('--no-progress', 'never show progress')
    .addHelpText('after', EXAMPLES)
    .action(async (input: string, opts: { preprocessor?: string; model?: string; batchSize: number; json?: boolean; skipBad?: boolean; progress?: boolean; audioColumn?: string }) => {
      // A cli-progress bar, as classify's and train's (on a terminal, or with --progress); skipped files
      // are reported after it, so the bar is not torn by the messages.
      const stderr = process.stderr;
      const bar = progressWanted(opts.progress, stderr)
        ? new cliProgress.SingleBar(
            {
              stream: stderr,
              format: 'norm-stats [{bar}] {value}/{total} files | {eta_formatted} left | {file}',
              hideCursor: stderr.isTTY === true,
              noTTYOutput: stderr.isTTY !== true,
              notTTYSchedule: 2000,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      const skipped: string[] = [];
      let stats: Awaited<ReturnType<typeof runNormStats>>;
      try {
        stats = await runNormStats(
          input,
          { ...opts, preprocessor: preprocessorOption(opts) },
          bar
            ? (p, i, n) => {
                if (i === 0) bar.start(n, 0, { file: '' });
                bar.update(i, { file: basename(p) });
              }
            : undefined,
          (msg) => (bar ? skipped.push(msg) : stderr.write(`skipped: ${msg}\n`)),
        );
        bar?.update(stats.files);
      } finally {
        bar?.stop();
        for (const msg of skipped) stderr.write(`skipped: ${msg}\n`);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
      else process.stdout.write(`mean ${stats.mean.toPrecision(8)}\nstd ${stats.std.toPrecision(8)}\n(${stats.clips} clips${stats.skipped ? `, ${stats.skipped} skipped` : ''}, ${stats.batches} batch(es) of up to ${stats.batchSize})\n`);
    });
}
