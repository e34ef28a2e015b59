/** `ast-audio features AUDIO --out F.npy`: the model's input features of one file, as float32 .npy. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ASTFeatureExtractor } from '../audio/feature-extractor.js';
import { readCliAudio } from './common.js';
import { truncationNotice } from './embed.js';
import { frameCount } from '../pipeline/windows.js';
import { writeFileAtomic } from '../node/files.js';
import { formatNpy } from '../io/npy.js';
import { parseJson } from '../io/files.js';

const EXAMPLES = `
Examples:
  $ ast-audio features clip.wav --out clip.npy                       # Hugging Face defaults: [1024, 128], normalised
  $ ast-audio features clip.flac --preprocessor model/preprocessor_config.json --out clip.npy
  $ ast-audio features clip.mp3 --preprocessor MIT/ast-finetuned-audioset-10-10-0.4593 --out clip.npy
  $ ast-audio features clip.wav --no-pad --out clip.npy              # [frames, 128]: no padding or truncation
  $ ast-audio features clip.wav -m models/speech-commands --out c.npy  # a checkpoint's preprocessor_config.json
  $ cat clip.flac | ast-audio features - --out clip.npy               # - reads standard input

Audio at another rate than the preprocessor's sampling_rate is resampled (torchaudio's sinc
interpolation) and a note says so on stderr. Multi-channel audio is averaged to mono. Audio longer
than max_length frames is cut to its first max_length frames (as Hugging Face does) and a note says so.`;

/** A preprocessor_config.json path, a folder that holds one, or a Hub id; defaults when omitted. */
export async function loadExtractor(preprocessor: string | undefined): Promise<ASTFeatureExtractor> {
  if (!preprocessor) return ASTFeatureExtractor.fromConfig({}, 'Hugging Face defaults');
  if (preprocessor.endsWith('.json')) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(preprocessor);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(`${preprocessor}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    return ASTFeatureExtractor.fromConfig(parseJson(bytes, preprocessor) as Record<string, unknown>, preprocessor);
  }
  return ASTFeatureExtractor.fromPretrained(preprocessor);
}

export async function runFeatures(audio: string, options: { preprocessor?: string; out: string; pad: boolean }, stderr: NodeJS.WritableStream = process.stderr): Promise<{ shape: number[] }> {
  const extractor = await loadExtractor(options.preprocessor);
  const rate = extractor.config.sampling_rate;
  const decoded = await readCliAudio(audio, { samplingRate: rate });
  if (decoded.originalSamplingRate !== rate) {
    stderr.write(`${audio}: resampled ${decoded.originalSamplingRate} Hz -> ${rate} Hz (torchaudio sinc interpolation)\n`);
  }
  const frames = frameCount(decoded.waveform.length, rate);
  if (options.pad && frames > extractor.config.max_length) {
    stderr.write(`${truncationNotice(audio, decoded.waveform.length / rate, frames, extractor.config.max_length).replace(/; `.*$/, '; --no-pad keeps every frame')}\n`);
  }
  const { inputValues } = extractor.extract(decoded.waveform, { samplingRate: rate, pad: options.pad, source: audio });
  const shape = inputValues.dims.slice(1); // [frames, num_mel_bins]
  await writeFileAtomic(options.out, formatNpy(shape, inputValues.data));
  return { shape };
}

export function register(program: Command): void {
  program
    .command('features')
    .description('write the log-mel input features of one audio file (WAV, FLAC, MP3, OGG) as float32 .npy')
    .argument('<audio>', 'audio file, or - for standard input')
    .requiredOption('-o, --out <file.npy>', 'output .npy file (float32 [max_length, num_mel_bins])')
    .option('-p, --preprocessor <config>', 'preprocessor_config.json, a checkpoint folder, or a Hub id (default: Hugging Face defaults)')
    .option('-m, --model <id|dir>', 'take preprocessor_config.json from this checkpoint (folder or Hub id); same as --preprocessor')
    .option('--no-pad', 'keep the clip\'s own frame count instead of padding/truncating to max_length')
    .addHelpText('after', EXAMPLES)
    .action(async (audio: string, opts: { out: string; preprocessor?: string; model?: string; pad: boolean }) => {
      const { shape } = await runFeatures(audio, { ...opts, preprocessor: preprocessorOption(opts) });
      process.stdout.write(`${opts.out}: float32 [${shape.join(', ')}]\n`);
    });
}

/** `--preprocessor` or `--model` (one of them): where preprocessor_config.json comes from. */
export function preprocessorOption(opts: { preprocessor?: string; model?: string }): string | undefined {
  if (opts.preprocessor !== undefined && opts.model !== undefined && opts.preprocessor !== opts.model) {
    throw new Error('give --preprocessor or --model, not both');
  }
  return opts.preprocessor ?? opts.model;
}
