/** `ast-audio norm-stats DIR|MANIFEST`: dataset mean and std for preprocessor_config.json. */
import type { Command } from 'commander';
import { positiveInteger } from './options.js';
import { NormStatsAccumulator, type NormStats } from '../audio/norm-stats.js';
import { listAudioInput, readAudioFile } from '../node/audio.js';
import { loadExtractor, preprocessorOption } from './features.js';

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
  options: { preprocessor?: string; batchSize?: number; skipBad?: boolean },
  onFile?: (path: string, i: number, n: number) => void,
  onSkip?: (message: string) => void,
): Promise<NormStats & { files: number; skipped: number }> {
  const extractor = await loadExtractor(options.preprocessor);
  const rate = extractor.config.sampling_rate;
  const files = await listAudioInput(input);
  const acc = new NormStatsAccumulator(options.batchSize ?? 1000);
  let skipped = 0;
  for (let i = 0; i < files.length; i++) {
    const path = files[i]!;
    onFile?.(path, i, files.length);
    let features: Float32Array;
    try {
      const { waveform } = await readAudioFile(path, { samplingRate: rate });
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
    .argument('<dir-or-manifest>', 'folder of audio files, or a manifest listing them')
    .option('-p, --preprocessor <config>', 'preprocessor_config.json, a checkpoint folder, or a Hub id (sampling_rate, num_mel_bins, max_length)')
    .option('-m, --model <id|dir>', 'take preprocessor_config.json from this checkpoint (folder or Hub id); same as --preprocessor')
    .option('--batch-size <n>', 'clips per batch, as get_norm_stats.py', positiveInteger('--batch-size'), 1000)
    .option('--skip-bad', 'skip files that cannot be decoded or are shorter than one frame (each reported on stderr) instead of stopping')
    .option('--json', 'print JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (input: string, opts: { preprocessor?: string; model?: string; batchSize: number; json?: boolean; skipBad?: boolean }) => {
      const tty = process.stderr.isTTY;
      const stats = await runNormStats(
        input,
        { ...opts, preprocessor: preprocessorOption(opts) },
        tty ? (p, i, n) => process.stderr.write(`\r${i + 1}/${n} ${p.slice(-60).padEnd(60)}`) : undefined,
        (msg) => process.stderr.write(`${tty ? '\n' : ''}skipped: ${msg}\n`),
      );
      if (tty) process.stderr.write('\n');
      if (opts.json) process.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
      else process.stdout.write(`mean ${stats.mean.toPrecision(8)}\nstd ${stats.std.toPrecision(8)}\n(${stats.clips} clips${stats.skipped ? `, ${stats.skipped} skipped` : ''}, ${stats.batches} batch(es) of up to ${stats.batchSize})\n`);
    });
}
