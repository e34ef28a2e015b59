/**
 * `ast-audio export MODEL --out DIR [--dtype fp32,fp16,q8]`: a checkpoint (folder or Hub id) as a folder that
 * transformers.js 4.x loads unchanged (src/model/export.ts). Each file is written atomically (temp + rename), so
 * a failure leaves no half-written file.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { exportForTransformersJs, parseDtypeList } from '../model/export.js';
import type { ModelDtype } from '../runtime/dtype.js';
import { writeFileAtomic } from '../node/files.js';

const EXAMPLES = `
Examples:
  $ ast-audio export MIT/ast-finetuned-audioset-10-10-0.4593 --out ast-onnx
  $ ast-audio export ./my-checkpoint --out my-onnx --dtype q8

Writes DIR/config.json, DIR/preprocessor_config.json and, per dtype, DIR/onnx/model.onnx (fp32),
DIR/onnx/model_fp16.onnx (fp16), DIR/onnx/model_quantized.onnx (q8, int8 Linears). In transformers.js:
  const model = await AutoModelForAudioClassification.from_pretrained('ast-onnx', { dtype: 'q8' });`;

export interface ExportCommandOptions {
  out: string;
  dtype: ModelDtype[];
  revision?: string;
}

export async function runExport(model: string, options: ExportCommandOptions): Promise<string[]> {
  const written: string[] = [];
  for await (const f of exportForTransformersJs(model, { dtypes: options.dtype, revision: options.revision })) {
    const path = join(options.out, ...f.path.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, f.bytes);
    const n = f.bytes.length;
    written.push(`${path}: ${n < 2 ** 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 2 ** 20).toFixed(1)} MiB`}`);
  }
  return written;
}

export function register(program: Command): void {
  program
    .command('export')
    .description('write a checkpoint as ONNX files that transformers.js loads (fp32, fp16, q8)')
    .argument('<model>', 'checkpoint folder or Hub id (config.json, preprocessor_config.json, weights)')
    .requiredOption('-o, --out <dir>', 'output folder (created; files of the same name are replaced)')
    .option('--dtype <list>', 'comma-separated: fp32 (onnx/model.onnx), fp16 (onnx/model_fp16.onnx), q8 (onnx/model_quantized.onnx)', (v: string) => {
      try {
        return parseDtypeList(v);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
    }, ['fp32', 'fp16', 'q8'] as ModelDtype[])
    .option('--revision <rev>', 'Hub branch, tag or commit')
    .addHelpText('after', EXAMPLES)
    .action(async (model: string, opts: ExportCommandOptions) => {
      for (const line of await runExport(model, opts)) process.stdout.write(`${line}\n`);
    });
}
