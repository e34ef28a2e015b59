/**
 * `ast-audio embed --model DIR AUDIO... --out OUTDIR`: feature extraction + one batched forward, written
 * as .npy (logits, pooler_output, last_hidden_state, and on request hidden_states / attentions) plus labels.json.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DTYPE_HELP, modelDtype, positiveInteger } from './options.js';
import type { ModelDtype } from '../model/dtype.js';
import { ASTFeatureExtractor } from '../audio/feature-extractor.js';
import { readAudioFile } from '../node/audio.js';
import { formatNpy } from '../io/npy.js';
import { resolveSource } from '../io/files.js';
import { readCheckpointTensors } from '../io/safetensors.js';
import { ASTConfig } from '../model/config.js';
import { loadWeights, BASE_PREFIX } from '../model/weights.js';
import { ASTForAudioClassification, ASTModel, type ASTOutput } from '../model/ast.js';
import type { Float32Tensor } from '../tensor.js';
import { writeFileAtomic } from '../node/files.js';

const EXAMPLES = `
Examples:
  $ ast-audio embed --model MIT/ast-finetuned-audioset-10-10-0.4593 dog.wav rain.flac --out emb/
  $ ast-audio embed --model ./my-checkpoint clip.wav --out emb/ --hidden-states --attentions --threads 2

Writes to OUTDIR: logits.npy [batch, num_labels] (checkpoints with a classification head),
pooler_output.npy [batch, hidden], last_hidden_state.npy [batch, tokens, hidden],
hidden_states.npy [layers+1, batch, tokens, hidden] (--hidden-states),
attentions.npy [layers, batch, heads, tokens, tokens] (--attentions), and labels.json
(the input files in batch order and the label of each logit).`;

export interface EmbedOptions {
  model: string;
  out: string;
  hiddenStates?: boolean;
  attentions?: boolean;
  threads?: number;
  dtype?: ModelDtype;
}

export async function runEmbed(audio: string[], options: EmbedOptions, stderr: NodeJS.WritableStream = process.stderr): Promise<string[]> {
  if (audio.length === 0) throw new Error('no audio files given');
  const source = await resolveSource(options.model);
  const extractor = await ASTFeatureExtractor.fromPretrained(source);
  const config = await ASTConfig.fromPretrained(source);
  const tensors = await readCheckpointTensors(source);
  const hasHead = [...tensors.keys()].some((k) => k.startsWith('classifier.'));
  const { weights, notices } = loadWeights(config, tensors, hasHead ? 'classification' : 'base', source.description);
  for (const n of notices) stderr.write(`${n}\n`);
  if (extractor.config.max_length !== config.max_length || extractor.config.num_mel_bins !== config.num_mel_bins) {
    throw new Error(
      `${source.description}: preprocessor_config.json makes [${extractor.config.max_length}, ${extractor.config.num_mel_bins}] features ` +
        `but config.json expects [${config.max_length}, ${config.num_mel_bins}]`,
    );
  }

  const rate = extractor.config.sampling_rate;
  const waves: Float32Array[] = [];
  for (const file of audio) {
    const decoded = await readAudioFile(file, { samplingRate: rate });
    if (decoded.originalSamplingRate !== rate) stderr.write(`${file}: resampled ${decoded.originalSamplingRate} Hz -> ${rate} Hz\n`);
    waves.push(decoded.waveform);
  }
  const { inputValues } = extractor.extract(waves, { samplingRate: rate, source: audio });

  const loadOptions = { threads: options.threads, dtype: options.dtype };
  const model = hasHead
    ? await ASTForAudioClassification.fromWeights(config, weights, loadOptions)
    : await ASTModel.fromWeights(config, new Map([...weights].map(([k, v]) => [k.startsWith(BASE_PREFIX) ? k.slice(BASE_PREFIX.length) : k, v])), loadOptions);
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
  const labels = hasHead ? config.labels : [];
  const labelsPath = join(options.out, 'labels.json');
  await writeFileAtomic(labelsPath, new TextEncoder().encode(`${JSON.stringify({ files: audio, labels }, null, 2)}\n`));
  written.push(`${labelsPath}: ${audio.length} files, ${labels.length} labels`);
  return written;
}

export function register(program: Command): void {
  program
    .command('embed')
    .description('run feature extraction + the model on audio files; write logits, pooled and hidden states as .npy')
    .argument('<audio...>', 'audio files (WAV, FLAC, MP3, OGG), one batch')
    .requiredOption('-m, --model <dir>', 'checkpoint folder or Hub id (config.json, preprocessor_config.json, model.safetensors)')
    .requiredOption('-o, --out <dir>', 'output folder')
    .option('--hidden-states', 'also write hidden_states.npy [layers+1, batch, tokens, hidden]')
    .option('--attentions', 'also write attentions.npy [layers, batch, heads, tokens, tokens]')
    .option('-t, --threads <n>', 'ONNX Runtime intra-op threads (default: one per core)', positiveInteger('--threads'))
    .option('--dtype <dtype>', DTYPE_HELP, modelDtype)
    .addHelpText('after', EXAMPLES)
    .action(async (audio: string[], opts: EmbedOptions) => {
      for (const line of await runEmbed(audio, opts)) process.stdout.write(`${line}\n`);
    });
}
