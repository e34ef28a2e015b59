/**
 * Hugging Face's ASTFeatureExtractor (torchaudio path): Kaldi fbank, zero-pad or truncate to
 * `max_length` frames in the log domain, then `(x - mean) / (2 * std)`.
 */
import { stackRows, type Float32Tensor } from '../tensor.js';
import { parseJson, resolveSource, type FileSource } from '../io/files.js';
import { fbankInto, astFbankOptions, type Normalization } from './fbank.js';
import { resample } from './resample.js';

export interface ASTFeatureExtractorConfig {
  feature_size: number;
  sampling_rate: number;
  num_mel_bins: number;
  max_length: number;
  /** Read for round trip; like Hugging Face, padding frames are zeros in the log domain. */
  padding_value: number;
  do_normalize: boolean;
  mean: number;
  std: number;
  return_attention_mask: boolean;
}

/** Hugging Face's defaults (AudioSet statistics from the AST paper). */
export const AST_FEATURE_EXTRACTOR_DEFAULTS: Readonly<ASTFeatureExtractorConfig> = Object.freeze({
  feature_size: 1,
  sampling_rate: 16000,
  num_mel_bins: 128,
  max_length: 1024,
  padding_value: 0.0,
  do_normalize: true,
  mean: -4.2677393,
  std: 4.5689974,
  return_attention_mask: false,
});

export interface ExtractOptions {
  /** Rate of the given waveforms; must equal `config.sampling_rate` unless `resample` is true. */
  samplingRate: number;
  /** Resample (torchaudio sinc) to `config.sampling_rate` instead of refusing a different rate. */
  resample?: boolean;
  /** Pad/truncate to `max_length` (default). False keeps each clip's own frame count (equal lengths only in a batch). */
  pad?: boolean;
  /** Names the clips in errors (one per waveform, or one for all). */
  source?: string | string[];
}

const INT_FIELDS = ['feature_size', 'sampling_rate', 'num_mel_bins', 'max_length'] as const;
const NUM_FIELDS = ['padding_value', 'mean', 'std'] as const;
const BOOL_FIELDS = ['do_normalize', 'return_attention_mask'] as const;

function validate(json: Record<string, unknown>, source: string): ASTFeatureExtractorConfig {
  const c: Record<string, unknown> = { ...AST_FEATURE_EXTRACTOR_DEFAULTS };
  for (const [k, v] of Object.entries(json)) if (v !== undefined && v !== null && k in c) c[k] = v;
  for (const k of INT_FIELDS) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`${source}: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  for (const k of NUM_FIELDS) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${source}: ${k} must be a finite number, got ${JSON.stringify(v)}`);
  }
  for (const k of BOOL_FIELDS) {
    if (typeof c[k] !== 'boolean') throw new Error(`${source}: ${k} must be true or false, got ${JSON.stringify(c[k])}`);
  }
  if (c.do_normalize && !((c.std as number) > 0)) throw new Error(`${source}: std must be positive to normalise, got ${String(c.std)}`);
  if ((c.num_mel_bins as number) <= 3) throw new Error(`${source}: num_mel_bins must be at least 4 (Kaldi's mel bank), got ${String(c.num_mel_bins)}`);
  return c as unknown as ASTFeatureExtractorConfig;
}

export class ASTFeatureExtractor {
  readonly config: ASTFeatureExtractorConfig;
  /** Fields of preprocessor_config.json we do not use (kept for round trip). */
  readonly extra: Record<string, unknown>;

  private constructor(config: ASTFeatureExtractorConfig, extra: Record<string, unknown>) {
    this.config = config;
    this.extra = extra;
  }

  static fromConfig(json: Partial<ASTFeatureExtractorConfig> | Record<string, unknown> = {}, source = 'preprocessor config'): ASTFeatureExtractor {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${source}: expected a JSON object`);
    const obj = json as Record<string, unknown>;
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) if (!(k in AST_FEATURE_EXTRACTOR_DEFAULTS)) extra[k] = v;
    return new ASTFeatureExtractor(validate(obj, source), extra);
  }

  /**
   * Reads `preprocessor_config.json` from a folder, Hub id or FileSource; a string that ends in
   * `.json` and is a file is read as the config itself (Node).
   */
  static async fromPretrained(source: string | FileSource): Promise<ASTFeatureExtractor> {
    let name = 'preprocessor_config.json';
    let location: string | FileSource = source;
    if (typeof source === 'string' && source.endsWith('.json')) {
      // A config file named directly: open its folder, read that file.
      const cut = source.lastIndexOf('/');
      location = cut < 0 ? '.' : cut === 0 ? '/' : source.slice(0, cut);
      name = source.slice(cut + 1);
    }
    const src = await resolveSource(location);
    const where = src.describe(name);
    if (!(await src.exists(name))) {
      throw new Error(`${where}: no such file (a checkpoint needs preprocessor_config.json for its feature extractor)`);
    }
    const json = parseJson(await src.read(name), where);
    return ASTFeatureExtractor.fromConfig(json as Record<string, unknown>, where);
  }

  toJSON(): Record<string, unknown> {
    return { ...this.extra, ...this.config, feature_extractor_type: 'ASTFeatureExtractor' };
  }

  /** Log-mel frames of one clip, padded/truncated unless `pad` is false: [frames, num_mel_bins], not normalised. */
  fbank(waveform: Float32Array, samplingRate: number, options: { pad?: boolean; source?: string; resample?: boolean } = {}): { data: Float32Array; frames: number } {
    return this.features(waveform, samplingRate, options, undefined);
  }

  /** fbank(), normalised on the way out when `normalize` is given (padding rows too). */
  private features(
    waveform: Float32Array,
    samplingRate: number,
    options: { pad?: boolean; source?: string; resample?: boolean },
    normalize: Normalization | undefined,
  ): { data: Float32Array; frames: number } {
    const c = this.config;
    const source = options.source ?? 'waveform';
    let wave = waveform;
    if (samplingRate !== c.sampling_rate) {
      if (!options.resample) {
        throw new Error(
          `${source}: sampled at ${samplingRate} Hz but the feature extractor expects ${c.sampling_rate} Hz; ` +
            `resample it first (e.g. decodeAudio(bytes, { samplingRate: ${c.sampling_rate} })) or pass resample: true`,
        );
      }
      wave = resample(waveform, samplingRate, c.sampling_rate);
    }
    const opts = astFbankOptions(c.sampling_rate, c.num_mel_bins);
    if (options.pad === false) {
      const fb = fbankInto(wave, opts, source, Infinity, undefined, normalize); // [n, bins]
      return { data: fb.data, frames: fb.frames };
    }
    // [max_length, bins]: frames past max_length are never computed (truncation); the rest are
    // zeros, Hugging Face's padding in the log-mel domain (normalised like every other value).
    const out = new Float32Array(c.max_length * c.num_mel_bins);
    const { frames } = fbankInto(wave, opts, source, c.max_length, out, normalize);
    if (normalize) out.fill((0 - normalize.mean) / normalize.scale, frames * c.num_mel_bins);
    return { data: out, frames: c.max_length };
  }

  /** `inputValues` [batch, max_length, num_mel_bins] (or [batch, frames, bins] with pad: false). */
  extract(waveforms: Float32Array | Float32Array[], options: ExtractOptions): { inputValues: Float32Tensor } {
    if (!options || typeof options.samplingRate !== 'number') {
      throw new Error('ASTFeatureExtractor.extract: pass { samplingRate } (the rate of the waveforms), as Hugging Face recommends, so a wrong rate cannot pass silently');
    }
    const list = Array.isArray(waveforms) ? waveforms : [waveforms];
    if (list.length === 0) throw new Error('ASTFeatureExtractor.extract: no waveforms given');
    const names = list.map((_, i) =>
      Array.isArray(options.source) ? (options.source[i] ?? `waveform ${i}`) : (options.source ?? (list.length > 1 ? `waveform ${i}` : 'waveform')),
    );
    const c = this.config;
    const normalize = c.do_normalize ? { mean: c.mean, scale: 2 * c.std } : undefined; // (x - mean) / (2 std), taken with the logs
    const rows = list.map((w, i) => this.features(w, options.samplingRate, { pad: options.pad, source: names[i], resample: options.resample }, normalize));
    const frames = rows[0]!.frames;
    const bad = rows.findIndex((r) => r.frames !== frames);
    if (bad >= 0) {
      throw new Error(`${names[bad]}: ${rows[bad]!.frames} frames but ${names[0]} has ${frames}; with pad: false every clip in a batch must have the same length`);
    }
    // [batch, frames, bins]; one clip's rows are already a fresh array of exactly that size
    return { inputValues: stackRows(rows.map((r) => r.data), [frames, c.num_mel_bins]) };
  }
}
