/** `ast-audio eval`: scores a checkpoint on a labelled set (accuracy; mAP, AUC, d′ for multi-label). */
import { Option, type Command } from 'commander';
import { DTYPE_HELP, modelDtype, positiveInteger, threadsOption } from './options.js';
import type { RuntimeOptions } from '../runtime/options.js';
import { evalSource, runEval } from '../node/training.js';
import type { SplitName } from '../node/data-splits.js';
import { formatEval } from '../train/trainer.js';
import { MODEL_HELP, modelOrDefault, plural } from './common.js';

export function register(program: Command): void {
  program
    .command('eval')
    .description('Score a checkpoint on a labelled set: loss and accuracy, or mAP / AUC / d′ for multi-label')
    .argument('<data>', 'a folder with one sub-folder per label (or train/, validation/, test/ each with them), a .csv / .jsonl manifest, or Hugging Face datasets Parquet files (a file, a folder, or a quoted pattern)')
    .option('-m, --model <id|dir>', MODEL_HELP)
    .option('-b, --batch-size <n>', 'clips per forward', positiveInteger('--batch-size'), 8)
    .option('-t, --threads <n>', 'ONNX Runtime intra-op threads', threadsOption)
    .addOption(new Option('--split <name>', 'in the split layout, the split to score (default test, else validation)').choices(['train', 'validation', 'test']))
    .option('--dtype <dtype>', DTYPE_HELP, modelDtype)
    .option('--json', 'print the result as JSON', false)
    .option('--audio-column <name>', 'Parquet datasets: the audio column ({bytes, path} struct)', 'audio')
    .option('--label-column <name>', 'Parquet datasets: the label column (int ClassLabel, string, or a list of them)', 'label')
    .addHelpText(
      'after',
      `
Examples:
  ast-audio eval data/ --model runs/cmd            # data/test/ in the split layout (says so on stderr)
  ast-audio eval data/test --model runs/cmd
  ast-audio eval data/test                      # the embedded speech-commands model
  ast-audio eval test.csv --model runs/ml --json
  ast-audio eval data/test --dtype q8                # int8 Linears`,
    )
    .action(async (data: string, opts: { model?: string; batchSize: number; json: boolean; split?: SplitName; audioColumn: string; labelColumn: string } & Pick<RuntimeOptions, 'threads' | 'dtype'>) => {
      const { source, note } = evalSource(data, opts.split);
      if (note) process.stderr.write(`${note}\n`);
      const r = await runEval(modelOrDefault(opts.model).source, source, {
        batchSize: opts.batchSize,
        threads: opts.threads,
        dtype: opts.dtype,
        columns: { audioColumn: opts.audioColumn, labelColumn: opts.labelColumn },
      });
      process.stdout.write(opts.json ? JSON.stringify(r) + '\n' : `${plural(r.clips, 'clip')}: ${formatEval(r)}\n`);
    });
}
