/**
 * THE pretrained loader: a checkpoint (folder, Hub id, URL or any FileSource) becomes its config, its
 * feature extractor's config, its weights and the input it expects, with the two configs checked
 * against each other here and nowhere else. The pipeline, `embed`, `eval`, `train` and `--resume`
 * all load through `loadPretrained`. Browser-safe: files come through `resolveSource`.
 */
import { ASTConfig } from './config.js';
import { loadWeights, BASE_PREFIX, HEAD_PREFIX, type HeadKind, type LoadWeightsOptions } from './weights.js';
import { CHECKPOINT_FILES, readCheckpoint } from '../io/checkpoint.js';
import { parseJson, resolveSource, type FileSource, type RangedFile } from '../io/files.js';
import { parseSafetensors, safetensorsLayout } from '../io/safetensors.js';
import { ASTFeatureExtractor, type ASTFeatureExtractorConfig } from '../audio/feature-extractor.js';
import type { Float32Tensor, Tensor } from '../tensor.js';

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
  /** The tensors left in the file (PretrainedOptions.defer), absent from `weights`; read them, then close. */
  deferred?: DeferredWeights;
}

/**
 * float32 weights still in the checkpoint file, by the names `weights` would have had: each is read into a buffer
 * the caller chooses (`read`), e.g. one scratch buffer reused for every weight. `close` when done (idempotent).
 */
export interface DeferredWeights {
  readonly dims: ReadonlyMap<string, readonly number[]>;
  read(name: string, into: Float32Array): Promise<void>;
  close(): Promise<void>;
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
  /**
   * Tensors (by name without the `audio_spectrogram_transformer.` prefix) to leave in the file rather than read:
   * when the checkpoint is one model.safetensors, the source has ranged reads (local folders) and the tensor is
   * float32, it is checked like the others but returned in `deferred` instead of `weights`. Elsewhere (Hub, URL,
   * pytorch_model.bin, fp16 / bf16 tensors) everything is read as usual. q8 uses this to quantise each Linear from
   * one scratch buffer while the next is read, instead of first holding the whole float32 checkpoint.
   */
  defer?: (name: string) => boolean;
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
  const sparse = options.defer ? await readSparse(files, options.defer) : undefined;
  const { tensors, files: weightFiles } = sparse ?? (await readCheckpoint(files));
  try {
    const wanted = options.head ?? 'classification';
    const head: HeadKind = wanted === 'auto' ? ([...tensors.keys()].some(isHeadTensor) ? 'classification' : 'base') : wanted;
    const { weights, notices } = loadWeights(config, tensors, head, files.describe(weightFiles[0]!), {
      ...options.weightOptions,
      ...(config !== checkpointConfig ? { checkpointGrid: checkpointConfig } : {}),
    });
    const input = { samplingRate: extractor.config.sampling_rate, maxLength: config.max_length, numMelBins: config.num_mel_bins };
    const deferred = sparse && sparse.deferred.size > 0 ? deferredWeights(sparse, weights) : undefined;
    if (sparse && !deferred) await sparse.file.close();
    return { config, extractor, extractorConfig: extractor.config, weights, head, input, notices, source: files, ...(deferred ? { deferred } : {}) };
  } catch (err) {
    await sparse?.file.close(); // a checkpoint that does not fit the config: no file left open
    throw err;
  }
}

interface SparseCheckpoint {
  tensors: Map<string, Tensor>;
  files: string[];
  file: RangedFile;
  /** Checkpoint name -> byte range in the file, for the tensors not read. */
  deferred: Map<string, { start: number; bytes: number; bare: string }>;
}

/**
 * model.safetensors with the deferred tensors unread: a buffer of the file's length (its pages cost no memory until
 * written) gets the header and every other tensor, so parsing and loadWeights check all of it as usual; the
 * deferred tensors' views stay untouched zero pages and are dropped. Undefined when it cannot apply.
 */
async function readSparse(files: FileSource, defer: (name: string) => boolean): Promise<SparseCheckpoint | undefined> {
  const name = CHECKPOINT_FILES.safetensors;
  if (!files.openRanged || !(await files.exists(name))) return undefined;
  const file = await files.openRanged(name);
  try {
    const where = files.describe(name);
    const bytes = new Uint8Array(file.size);
    if (file.size >= 8) {
      await file.readInto(0, bytes.subarray(0, 8));
      const headerEnd = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
      if (headerEnd <= file.size) await file.readInto(8, bytes.subarray(8, headerEnd));
    }
    const layout = safetensorsLayout(bytes, where); // the header's own checks (lengths, overlaps, the file's size)
    const deferred = new Map<string, { start: number; bytes: number; bare: string }>();
    const read: { start: number; end: number }[] = [];
    for (const t of [...layout.tensors].sort((a, b) => a.begin - b.begin)) {
      const start = layout.dataStart + t.begin;
      const end = layout.dataStart + t.end;
      const bare = t.name.startsWith(BASE_PREFIX) ? t.name.slice(BASE_PREFIX.length) : t.name;
      if (t.dtype === 'F32' && start % 4 === 0 && defer(bare)) deferred.set(t.name, { start, bytes: end - start, bare });
      else if (read.length > 0 && read[read.length - 1]!.end === start) read[read.length - 1]!.end = end;
      else if (end > start) read.push({ start, end });
    }
    if (deferred.size === 0) {
      await file.close();
      return undefined; // nothing to leave out: the plain read (one pass) is as cheap
    }
    for (const r of read) await file.readInto(r.start, bytes.subarray(r.start, r.end));
    return { tensors: parseSafetensors(bytes, where).tensors, files: [name], file, deferred };
  } catch (err) {
    await file.close();
    throw err;
  }
}

/** The deferred tensors under the names loadWeights gave them (removed from `weights`), read on demand. */
function deferredWeights(sparse: SparseCheckpoint, weights: Map<string, Float32Tensor>): DeferredWeights | undefined {
  const ranges = new Map<string, { start: number; bytes: number }>();
  const dims = new Map<string, readonly number[]>();
  for (const r of sparse.deferred.values()) {
    // loadWeights keyed it with or without the base prefix, as its head asks
    const key = weights.has(r.bare) ? r.bare : BASE_PREFIX + r.bare;
    const t = weights.get(key);
    if (!t) continue; // not a parameter of this head (e.g. a head ignored by an ASTModel): never read
    ranges.set(key, r);
    dims.set(key, t.dims);
    weights.delete(key);
  }
  if (ranges.size === 0) return undefined;
  let closed: Promise<void> | undefined;
  return {
    dims,
    read: async (name, into) => {
      const r = ranges.get(name);
      if (!r) throw new Error(`deferred weights: no tensor named ${name}`);
      if (into.byteLength !== r.bytes) throw new Error(`deferred weights: ${name} has ${r.bytes / 4} values, the buffer ${into.length}`);
      if (closed) throw new Error(`deferred weights: ${name} asked for after close()`);
      await sparse.file.readInto(r.start, new Uint8Array(into.buffer, into.byteOffset, into.byteLength));
    },
    close: () => (closed ??= sparse.file.close()),
  };
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
