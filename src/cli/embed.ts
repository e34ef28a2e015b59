/**
 * `ast-audio embed --model DIR AUDIO... --out OUTDIR`: feature extraction + one batched forward, written
 * as .npy (logits, pooler_output, last_hidden_state, and on request hidden_states / attentions) plus labels.json.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DTYPE_HELP, deviceOption, executionProvidersOf, modelDtype, threadsOption, type CliDevice } from './options.js';
import { frameCount, FRAME_SHIFT_MS } from '../pipeline/windows.js';
import { MODEL_HELP, modelOrDefault, plural, readCliAudio } from './common.js';
import { formatNpy } from '../io/npy.js';
import { loadPretrained } from '../model/pretrained.js';
import { Batcher } from '../pipeline/batcher.js';
import type { RuntimeOptions } from '../runtime/options.js';
import { ASTForAudioClassification, ASTModel, type ASTOutput } from '../model/ast.js';
import type { Float32Tensor } from '../tensor.js';
import { writeFileAtomic } from '../node/files.js';

const EXAMPLES = `
Examples:
  $ ast-audio embed --model MIT/ast-finetuned-audioset-10-10-0.4593 dog.wav rain.flac --out emb/
  $ ast-audio embed --model ./my-checkpoint clip.wav --out emb/ --hidden-states --attentions --threads 2
  $ ast-audio embed clip.wav --out emb/                 # the embedded speech-commands model
  $ sox long.wav -t wav - trim 0 5 | ast-audio embed - --out emb/   # - reads standard input

Audio longer than the model's window (max_length frames) is cut to its first window, as Hugging Face
does; a line on stderr says so for each such file.

Writes to OUTDIR: logits.npy [batch, num_labels] (checkpoints with a classification head),
pooler_output.npy [batch, hidden], last_hidden_state.npy [batch, tokens, hidden],
hidden_states.npy [layers+1, batch, tokens, hidden] (--hidden-states),
attentions.npy [layers, batch, heads, tokens, tokens] (--attentions), and labels.json
(the input files in batch order and the label of each logit).`;

export interface EmbedOptions extends Pick<RuntimeOptions, 'threads' | 'dtype'> {
  /** Default: the embedded speech-commands model. */
  model?: string;
  out: string;
  hiddenStates?: boolean;
  attentions?: boolean;
  /** --device: cpu (default) or webgpu. */
  device?: CliDevice;
}

export async function runEmbed(audio: string[], options: EmbedOptions, stderr: NodeJS.WritableStream = process.stderr): Promise<string[]> {
  if (audio.length === 0) throw new Error('no audio files given');
  // a checkpoint with a classifier head gives logits too; one without is the bare encoder
  const { config, extractor, weights, head, input, notices } = await loadPretrained(modelOrDefault(options.model).source, { head: 'auto' });
  for (const n of notices) stderr.write(`${n}\n`);

  // every file one row of one batch (the outputs are written as one [batch, ...] array each)
  const rate = input.samplingRate;
  const batcher = new Batcher<string>({ maxBatch: audio.length, maxLength: input.maxLength, numMelBins: input.numMelBins });
  for (const file of audio) {
    const decoded = await readCliAudio(file, { samplingRate: rate });
    if (decoded.originalSamplingRate !== rate) stderr.write(`${file}: resampled ${decoded.originalSamplingRate} Hz -> ${rate} Hz\n`);
    const frames = frameCount(decoded.waveform.length, rate);
    if (frames > input.maxLength) stderr.write(`${truncationNotice(file, decoded.waveform.length / rate, frames, input.maxLength)}\n`);
    void batcher.add(file, extractor.extract(decoded.waveform, { samplingRate: rate, source: file }).inputValues.data);
  }
  const { inputValues } = batcher.take()!;

  const runtime = { threads: options.threads, dtype: options.dtype, executionProviders: executionProvidersOf(options.device) };
  const model = head === 'classification' ? await ASTForAudioClassification.fromWeights(config, weights, runtime) : await ASTModel.fromWeights(config, weights, runtime);
  let out: ASTOutput;
  try {
    out = await model.forward({ inputValues, outputHiddenStates: options.hiddenStates, outputAttentions: options.attentions });
  } finally {
    await model.dispose();
  }

  await mkdir(options.out, { recursive: true });
  const written: string[] = [];
  const save = async (name: string, t: Float32Tensor | undefined) => {
    if (!t) return;
    const path = join(options.out, name);
    await writeFileAtomic(path, formatNpy(t.dims, t.data));
    written.push(`${path}: float32 [${t.dims.join(', ')}]`);
  };
  await save('logits.npy', out.logits);
  await save('pooler_output.npy', out.poolerOutput);
  await save('last_hidden_state.npy', out.lastHiddenState);
  await save('hidden_states.npy', out.hiddenStates);
  await save('attentions.npy', out.attentions);
  const labels = head === 'classification' ? config.labels : [];
  const labelsPath = join(options.out, 'labels.json');
  await writeFileAtomic(labelsPath, new TextEncoder().encode(`${JSON.stringify({ files: audio, labels }, null, 2)}\n`));
  written.push(`${labelsPath}: ${plural(audio.length, 'file')}, ${plural(labels.length, 'label')}`);
  return written;
}

export function register(program: Command): void {
  program
    .command('embed')
    .description('run feature extraction + the model on audio files; write logits, pooled and hidden states as .npy')
    .argument('<audio...>', 'audio files (WAV, FLAC, MP3, OGG, …) or - for standard input, one batch')
    .option('-m, --model <id|dir>', MODEL_HELP)
    .requiredOption('-o, --out <dir>', 'output folder')
    .option('--hidden-states', 'also write hidden_states.npy [layers+1, batch, tokens, hidden]')
    .option('--attentions', 'also write attentions.npy [layers, batch, heads, tokens, tokens]')
    .option('-t, --threads <n>', 'ONNX Runtime intra-op threads (default: one per core)', threadsOption)
    .option('--dtype <dtype>', DTYPE_HELP, modelDtype)
    .addOption(deviceOption())
    .addHelpText('after', EXAMPLES)
    .action(async (audio: string[], opts: EmbedOptions) => {
      for (const line of await runEmbed(audio, opts)) process.stdout.write(`${line}\n`);
    });
}

/** What a user needs to know when a file is longer than the model's window and only its start is used. */
export function truncationNotice(file: string, seconds: number, frames: number, maxLength: number): string {
  const kept = (maxLength * FRAME_SHIFT_MS) / 1000;
  return (
    `${file}: ${seconds.toFixed(2)} s (${frames} frames) is longer than the model's ${maxLength} frames: ` +
    `only the first ${kept.toFixed(2)} s are used (as Hugging Face truncates); \`ast-audio classify --timeline\` scores every window`
  );
}
