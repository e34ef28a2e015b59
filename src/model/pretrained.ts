/**
 * THE pretrained loader: a checkpoint (folder, Hub id, URL or any FileSource) becomes its config, its
 * feature extractor's config, its weights and the input it expects, with the two configs checked
 * against each other here and nowhere else. The pipeline, `embed`, `eval`, `train` and `--resume`
 * all load through `loadPretrained`. Browser-safe: files come through `resolveSource`.
 */
import { ASTConfig } from './config.js';
import { loadWeights, BASE_PREFIX, HEAD_PREFIX, type HeadKind, type LoadWeightsOptions } from './weights.js';
import { readCheckpoint } from '../io/checkpoint.js';
import { parseJson, resolveSource, type FileSource } from '../io/files.js';
import { ASTFeatureExtractor, type ASTFeatureExtractorConfig } from '../audio/feature-extractor.js';
import type { Float32Tensor } from '../tensor.js';

export const CONFIG_FILE = 'config.json';
export const PREPROCESSOR_FILE = 'preprocessor_config.json';

/** What the model takes in: mono audio at `samplingRate`, as `inputValues` [B, maxLength, numMelBins]. */
export interface InputSpec {
  samplingRate: number;
  maxLength: number;
  numMelBins: number;
}

export interface Pretrained {
  config: ASTConfig;
  /** The feature extractor of preprocessor_config.json (its config is `extractorConfig`). */
  extractor: ASTFeatureExtractor;
  extractorConfig: ASTFeatureExtractorConfig;
  /** Keyed as `head` names them: full HF names for 'classification', without the base prefix for 'base'. */
  weights: Map<string, Float32Tensor>;
  head: HeadKind;
  input: InputSpec;
  /** Things the caller may want to tell the user (an ignored head, a newly initialised one, resized positions). */
  notices: string[];
  source: FileSource;
}

export interface PretrainedOptions {
  /** Hub branch, tag or commit when the source is a Hub id. */
  revision?: string;
  /** Which parameters to load; 'auto' (default 'classification'): a head when the checkpoint has one. */
  head?: HeadKind | 'auto';
  /**
   * 'required' (default): a checkpoint without preprocessor_config.json is an error; 'optional': Hugging
   * Face's defaults with the config's max_length and num_mel_bins.
   */
  preprocessor?: 'required' | 'optional';
  /**
   * Fine-tuning: a changed config (new labels, another max_length or stride) that the weights are
   * loaded into. The checkpoint's own config is still checked against its preprocessor config; the
   * returned extractor then follows the adapted config's max_length and num_mel_bins, and position
   * embeddings are resized from the checkpoint's patch grid.
   */
  adapt?: (checkpointConfig: ASTConfig) => ASTConfig;
  /** Passed to loadWeights (e.g. ignoreMismatchedHead and seed for a new head). */
  weightOptions?: Omit<LoadWeightsOptions, 'checkpointGrid'>;
}

/** Loads config, preprocessor config and weights of a checkpoint, checked against each other. */
export async function loadPretrained(source: string | FileSource, options: PretrainedOptions = {}): Promise<Pretrained> {
  const files = await resolveSource(source, { revision: options.revision });
  const checkpointConfig = await ASTConfig.fromPretrained(files);
  let extractor = await readExtractor(files, options.preprocessor ?? 'required', checkpointConfig);
  checkAgreement(checkpointConfig, extractor.config, { config: files.describe(CONFIG_FILE), preprocessor: files.describe(PREPROCESSOR_FILE) });

  const config = options.adapt ? options.adapt(checkpointConfig) : checkpointConfig;
  if (config !== checkpointConfig) {
    extractor = ASTFeatureExtractor.fromConfig(
      { ...extractor.toJSON(), max_length: config.max_length, num_mel_bins: config.num_mel_bins },
      files.describe(PREPROCESSOR_FILE),
    );
  }
  const { tensors, files: weightFiles } = await readCheckpoint(files);
  const wanted = options.head ?? 'classification';
  const head: HeadKind = wanted === 'auto' ? ([...tensors.keys()].some(isHeadTensor) ? 'classification' : 'base') : wanted;
  const { weights, notices } = loadWeights(config, tensors, head, files.describe(weightFiles[0]!), {
    ...options.weightOptions,
    ...(config !== checkpointConfig ? { checkpointGrid: checkpointConfig } : {}),
  });
  const input = { samplingRate: extractor.config.sampling_rate, maxLength: config.max_length, numMelBins: config.num_mel_bins };
  return { config, extractor, extractorConfig: extractor.config, weights, head, input, notices, source: files };
}

/**
 * The one agreement check between config.json and preprocessor_config.json: the features the
 * extractor makes must be the shape the model reads. The error names both files and the field.
 */
export function checkAgreement(
  config: Pick<ASTConfig, 'max_length' | 'num_mel_bins'>,
  extractor: Pick<ASTFeatureExtractorConfig, 'max_length' | 'num_mel_bins'>,
  where: { config: string; preprocessor: string },
): void {
  for (const field of ['max_length', 'num_mel_bins'] as const) {
    if (config[field] !== extractor[field]) {
      throw new Error(
        `${where.preprocessor} and ${where.config} disagree on ${field}: the feature extractor makes ${extractor[field]}, ` +
          `the model expects ${config[field]}`,
      );
    }
  }
}

/** The one check of a model input: float32 [batch >= 1, max_length, num_mel_bins] (the config's), whole. */
export function checkInputValues(x: Float32Tensor, config: Pick<ASTConfig, 'max_length' | 'num_mel_bins'>): void {
  const T = config.max_length;
  const M = config.num_mel_bins;
  if (x.dtype !== 'float32' || x.dims.length !== 3 || x.dims[1] !== T || x.dims[2] !== M || !(x.dims[0]! >= 1) || x.data.length !== x.dims[0]! * T * M) {
    throw new Error(
      `inputValues: expected float32 [batch, ${T}, ${M}] (max_length, num_mel_bins from config), ` +
        `got ${x.dtype} [${x.dims.join(', ')}] with ${x.data.length} values`,
    );
  }
}

/** preprocessor_config.json; when absent and optional, Hugging Face's defaults in the config's input shape. */
async function readExtractor(files: FileSource, need: 'required' | 'optional', config: ASTConfig): Promise<ASTFeatureExtractor> {
  const where = files.describe(PREPROCESSOR_FILE);
  if (!(await files.exists(PREPROCESSOR_FILE))) {
    if (need === 'optional') {
      return ASTFeatureExtractor.fromConfig({ max_length: config.max_length, num_mel_bins: config.num_mel_bins }, `${where} (absent: defaults)`);
    }
    throw new Error(`${where}: no such file (a checkpoint needs preprocessor_config.json for its feature extractor)`);
  }
  return ASTFeatureExtractor.fromConfig(parseJson(await files.read(PREPROCESSOR_FILE), where) as Record<string, unknown>, where);
}

function isHeadTensor(name: string): boolean {
  return (name.startsWith(BASE_PREFIX) ? name.slice(BASE_PREFIX.length) : name).startsWith(HEAD_PREFIX);
}
