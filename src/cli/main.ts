#!/usr/bin/env node
/** The `ast-audio` command: one file per sub-command, registered here. */
import { Command } from 'commander';
import '../node/index.js';
import { register as registerFeatures } from './features.js';
import { register as registerNormStats } from './norm-stats.js';
import { register as registerTrain } from './train.js';
import { register as registerEval } from './eval.js';
import { register as registerClassify } from './classify.js';
import { register as registerEmbed } from './embed.js';
import { register as registerExport } from './export.js';

const program = new Command();
program
  .name('ast-audio')
  .description('Audio Spectrogram Transformer: features, inference, fine-tuning and classification')
  .showHelpAfterError();

// Sub-commands register themselves here, one line each.
registerFeatures(program);
registerNormStats(program);
registerTrain(program);
registerEval(program);
registerClassify(program);
registerEmbed(program);
registerExport(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`ast-audio: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
