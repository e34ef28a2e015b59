#!/usr/bin/env node
/** The `ast-audio` command: one file per sub-command, registered here. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import '../node/index.js';
import { register as registerFeatures } from './features.js';
import { register as registerNormStats } from './norm-stats.js';
import { register as registerTrain } from './train.js';
import { register as registerEval } from './eval.js';
import { register as registerClassify } from './classify.js';
import { register as registerEmbed } from './embed.js';
import { register as registerExport } from './export.js';
import { register as registerServe } from './serve.js';
import { register as registerTag } from './tag.js';

/** package.json sits two folders up from both src/cli/main.ts and dist/cli/main.js. */
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command();
program
  .name('ast-audio')
  .description('Audio Spectrogram Transformer: features, inference, fine-tuning and classification')
  .version(version, '-V, --version', 'print the version');

// Sub-commands register themselves here, one line each.
registerFeatures(program);
registerNormStats(program);
registerTrain(program);
registerEval(program);
registerClassify(program);
registerEmbed(program);
registerExport(program);
registerServe(program);
registerTag(program);
program
  .command('version')
  .description('print the version')
  .action(() => {
    process.stdout.write(`${version}\n`);
  });

/**
 * A usage error (bad option value, unknown option, missing argument) is one line naming the command and
 * the problem, and where to read more: not the whole help, in which the error scrolls out of sight.
 */
function oneLineErrors(cmd: Command, path: string): void {
  cmd.configureOutput({ outputError: (text, write) => write(`${path}: ${text.replace(/^error: /, '').trimEnd()}`) });
  cmd.showHelpAfterError(` (see ${path} --help)`);
  for (const sub of cmd.commands) oneLineErrors(sub, `${path} ${sub.name()}`);
}
oneLineErrors(program, 'ast-audio');

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`ast-audio: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
