/** `ast-audio train`: fine-tune a pretrained AST (new label set) or train one from a config. */
import { Command, Option, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { runTraining, type TrainCommand } from '../node/training.js';
import { threadsOption } from './options.js';
import type { ProgressSink } from '../train/trainer.js';
import type { ScheduleKind } from '../train/schedule.js';

const num = (name: string, integer = false) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new InvalidArgumentError(`${name} must be ${integer ? 'an integer' : 'a number'}, got "${v}"`);
  return n;
};

const nonNegativeInteger = (name: string) => (v: string): number => {
  const n = num(name, true)(v);
  if (n < 0) throw new InvalidArgumentError(`${name} must be 0 or more, got "${v}"`);
  return n;
};

const saveStepsOption = (v: string): number => {
  const n = num('--save-steps', true)(v);
  if (n < 0) throw new InvalidArgumentError(`--save-steps must be 0 (off) or a positive integer, got "${v}"`);
  return n;
};

/** A progress bar on stderr: clips done, running loss, clips per second. */
export function barProgress(): ProgressSink {
  let bar: cliProgress.SingleBar | undefined;
  let epoch = 0;
  return {
    start(e, total) {
      epoch = e;
      bar = new cliProgress.SingleBar(
        {
          format: `epoch ${epoch} [{bar}] {value}/{total} clips | loss {loss} | {cps} clips/s | lr {lr} | {duration_formatted}`,
          stream: process.stderr,
          hideCursor: false,
          noTTYOutput: !process.stderr.isTTY,
          notTTYSchedule: 10000,
        },
        cliProgress.Presets.legacy,
      );
      bar.start(total, 0, { loss: '-', cps: '-', lr: '-' });
    },
    update(done, info) {
      bar?.update(done, { loss: info.loss.toFixed(4), cps: info.clipsPerSecond.toFixed(2), lr: info.lr.toExponential(2) });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
    log(m) {
      // a line while the bar is drawn (a step checkpoint saved mid-epoch): clear the bar's line first; it is drawn again below
      if (bar && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      process.stderr.write(`${m}\n`);
    },
  };
}

export function register(program: Command): void {
  program
    .command('train')
    .description('Fine-tune an AST on labelled clips (folder per class, or CSV/JSONL manifest), or train one from a config')
    .argument('<data>', 'a folder with one sub-folder per label (or train/, validation/, test/ each with them), a .csv / .jsonl manifest (path + label or labels), or Hugging Face datasets Parquet files (a file, a folder, or a quoted pattern)')
    .requiredOption('--out <dir>', 'output folder: checkpoint-epoch-N/ per epoch, the final model at the top')
    .option('-m, --model <id|dir>', 'pretrained checkpoint to start from (its head is replaced for the new labels)')
    .option('--config <file>', 'config.json for a model trained from scratch (any ASTConfig fields)')
    .option('--resume [dir]', 'continue from the newest checkpoint-epoch-N or checkpoint-step-N in --out (or the given folder), exactly')
    .option('--validation <data>', 'labelled validation set (instead of a split)')
    .option('--validation-split <fraction>', 'fraction of the data held out for validation (seeded)', num('--validation-split'), 0.1)
    .option('--epochs <n>', 'epochs', num('--epochs', true), 5)
    .option('--batch-size <n>', 'clips per batch', num('--batch-size', true), 8)
    .option('--lr <rate>', 'peak learning rate (AST fine-tuning wants a small one)', num('--lr'), 5e-5)
    .option('--weight-decay <wd>', 'AdamW decoupled weight decay (not on biases and LayerNorm)', num('--weight-decay'), 0)
    .addOption(new Option('--schedule <kind>', 'learning-rate schedule after warm-up').choices(['linear', 'cosine', 'constant', 'constant_with_warmup']).default('linear'))
    .option('--warmup-steps <n>', 'linear warm-up steps', num('--warmup-steps', true))
    .option('--warmup-ratio <r>', 'warm-up as a fraction of all steps', num('--warmup-ratio'))
    .option('--grad-accum <n>', 'gradient accumulation steps', num('--grad-accum', true), 1)
    .option('--max-grad-norm <x>', 'clip the global gradient norm (0: off)', num('--max-grad-norm'), 1)
    .option('--seed <n>', 'seed for split, order, augmentation and new weights', num('--seed', true), 42)
    .option('--freq-mask <bins>', 'SpecAugment: max frequency-mask width (0: off)', num('--freq-mask', true), 0)
    .option('--time-mask <frames>', 'SpecAugment: max time-mask width (0: off)', num('--time-mask', true), 0)
    .option('--mixup <alpha>', 'waveform mixup with λ ~ Beta(α, α) (0: off)', num('--mixup'), 0)
    .option('--mixup-prob <p>', 'fraction of batches mixed', num('--mixup-prob'), 0.5)
    .option('--balanced', 'class-balanced sampling (weights 1/count per label)', false)
    .option('--average-last <n>', 'final model = average of the last n epoch checkpoints', num('--average-last', true), 0)
    .option('--save-total-limit <n>', 'keep at most n epoch checkpoints: the best (lowest validation loss) and the newest; 0 keeps all', nonNegativeInteger('--save-total-limit'), 2)
    .option('--save-steps <n>', 'also a resumable checkpoint-step-N every n optimiser steps inside an epoch (the newest is kept); 0: per epoch only', saveStepsOption, 500)
    .option('--norm-stats <how>', '"compute" (dataset mean/std), "checkpoint" (keep the pretrained ones), or MEAN,STD', 'compute')
    .option('--max-length <frames>', 'input frames (position embeddings are cut or interpolated)', num('--max-length', true))
    .option('--frequency-stride <n>', 'patch stride along frequency', num('--frequency-stride', true))
    .option('--time-stride <n>', 'patch stride along time', num('--time-stride', true))
    .option('--audio-column <name>', 'Parquet datasets: the audio column ({bytes, path} struct)', 'audio')
    .option('--label-column <name>', 'Parquet datasets: the label column (int ClassLabel, string, or a list of them)', 'label')
    .option('--threads <n>', 'ONNX Runtime intra-op threads', threadsOption)
    .option('--low-memory', 'ONNX Runtime without its memory arena: a third less peak memory, about 2x slower', false)
    .addHelpText(
      'after',
      `
Examples:
  # fine-tune a pretrained AST on a folder per class (data/yes/*.wav, data/no/*.wav, …), or on the
  # split layout data/train/<label>/, data/validation/<label>/ (data/test/ is never read)
  ast-audio train data/ --model MIT/ast-finetuned-audioset-10-10-0.4593 --out runs/cmd --epochs 5 --lr 1e-5
  # train a small AST from scratch from a config
  ast-audio train data/ --config small.json --out runs/small --epochs 30 --lr 5e-4 --freq-mask 8 --time-mask 20
  # multi-label from a manifest (columns path,labels with labels separated by ;), with mixup
  ast-audio train clips.csv --model ./ckpt --out runs/ml --mixup 10 --balanced
  # continue a killed run exactly where its newest checkpoint left it (the same options as the first run)
  ast-audio train data/ --model MIT/ast-finetuned-audioset-10-10-0.4593 --out runs/cmd --epochs 5 --lr 1e-5 --resume`,
    )
    .action(async (data: string, opts: Record<string, unknown>) => {
      let normStats: TrainCommand['normStats'] = 'compute';
      const ns = String(opts.normStats);
      if (ns === 'checkpoint') normStats = 'checkpoint';
      else if (ns !== 'compute') {
        const [m, s] = ns.split(',').map(Number);
        if (!Number.isFinite(m) || !Number.isFinite(s) || !(s! > 0)) throw new Error(`--norm-stats: expected compute, checkpoint or MEAN,STD, got "${ns}"`);
        normStats = { mean: m!, std: s! };
      }
      const cmd: TrainCommand = {
        data,
        columns: { audioColumn: opts.audioColumn as string, labelColumn: opts.labelColumn as string },
        out: String(opts.out),
        model: opts.model as string | undefined,
        config: opts.config as string | undefined,
        resume: opts.resume as string | boolean | undefined,
        validationData: opts.validation as string | undefined,
        validationSplit: opts.validationSplit as number,
        epochs: opts.epochs as number,
        batchSize: opts.batchSize as number,
        lr: opts.lr as number,
        weightDecay: opts.weightDecay as number,
        schedule: opts.schedule as ScheduleKind,
        warmupSteps: opts.warmupSteps as number | undefined,
        warmupRatio: opts.warmupRatio as number | undefined,
        gradientAccumulationSteps: opts.gradAccum as number,
        maxGradNorm: opts.maxGradNorm as number,
        seed: opts.seed as number,
        freqMask: opts.freqMask as number,
        timeMask: opts.timeMask as number,
        mixupAlpha: opts.mixup as number,
        mixupProb: opts.mixupProb as number,
        balanced: Boolean(opts.balanced),
        averageLast: opts.averageLast as number,
        saveTotalLimit: opts.saveTotalLimit as number,
        saveSteps: opts.saveSteps as number,
        normStats,
        maxLength: opts.maxLength as number | undefined,
        frequencyStride: opts.frequencyStride as number | undefined,
        timeStride: opts.timeStride as number | undefined,
        threads: opts.threads as number | undefined,
        lowMemory: Boolean(opts.lowMemory),
        progress: barProgress(),
      };
      const r = await runTraining(cmd);
      process.stderr.write(`done: model in ${r.outDir}\n`);
    });
}
