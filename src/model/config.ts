/**
 * ASTConfig: Hugging Face's `config.json` for the Audio Spectrogram Transformer, with HF's
 * defaults (configuration_audio_spectrogram_transformer.py) and PretrainedConfig's label
 * handling (id2label / label2id / num_labels / problem_type). Fields keep HF's snake_case
 * names; fields we do not model (architectures, transformers_version, …) pass through
 * untouched so `toJSON()` writes back what was read.
 */
import { FormatError } from '../io/errors.js';
import { parseJson, resolveSource, type FileSource } from '../io/files.js';

export type HiddenAct = 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'relu' | 'silu' | 'swish' | 'quick_gelu';
export type ProblemType = 'regression' | 'single_label_classification' | 'multi_label_classification';

export const HIDDEN_ACTS: readonly HiddenAct[] = [
  'gelu',
  'gelu_new',
  'gelu_pytorch_tanh',
  'relu',
  'silu',
  'swish',
  'quick_gelu',
];
export const PROBLEM_TYPES: readonly ProblemType[] = [
  'regression',
  'single_label_classification',
  'multi_label_classification',
];

export const AST_MODEL_TYPE = 'audio-spectrogram-transformer';

/** The architecture fields and HF's defaults (those of MIT/ast-finetuned-audioset-10-10-0.4593). */
export const AST_DEFAULTS = {
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu' as HiddenAct,
  hidden_dropout_prob: 0.0,
  attention_probs_dropout_prob: 0.0,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  patch_size: 16,
  qkv_bias: true,
  frequency_stride: 10,
  time_stride: 10,
  max_length: 1024,
  num_mel_bins: 128,
} as const;

/** PretrainedConfig's default label count when a config has neither num_labels nor id2label. */
const DEFAULT_NUM_LABELS = 2;

/**
 * The most labels `num_labels` may ask for: without id2label each gets a LABEL_i name, so a 20-byte
 * config saying 10^12 would otherwise hang building names (100,000 took 1.5 s on a busy machine: the
 * fuzzer's hang limit). Real heads are far smaller (AudioSet: 527, ImageNet-21k: 21,841).
 */
export const MAX_NUM_LABELS = 50_000;

/** The JSON shape of a config.json as far as we model it; anything else passes through. */
export interface ASTConfigJSON {
  hidden_size?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  intermediate_size?: number;
  hidden_act?: HiddenAct;
  hidden_dropout_prob?: number;
  attention_probs_dropout_prob?: number;
  initializer_range?: number;
  layer_norm_eps?: number;
  patch_size?: number;
  qkv_bias?: boolean;
  frequency_stride?: number;
  time_stride?: number;
  max_length?: number;
  num_mel_bins?: number;
  num_labels?: number;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  problem_type?: ProblemType | null;
  torch_dtype?: string | null;
  model_type?: string;
  [extra: string]: unknown;
}

type IntField =
  | 'hidden_size'
  | 'num_hidden_layers'
  | 'num_attention_heads'
  | 'intermediate_size'
  | 'patch_size'
  | 'frequency_stride'
  | 'time_stride'
  | 'max_length'
  | 'num_mel_bins';
const INT_FIELDS: readonly IntField[] = [
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'intermediate_size',
  'patch_size',
  'frequency_stride',
  'time_stride',
  'max_length',
  'num_mel_bins',
];

/** Keys this class owns; everything else in a config.json is kept verbatim in `extra`. */
const OWN_KEYS = new Set<string>([
  ...Object.keys(AST_DEFAULTS),
  'num_labels',
  'id2label',
  'label2id',
  'problem_type',
  'torch_dtype',
  'model_type',
]);

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export class ASTConfig {
  hidden_size: number = AST_DEFAULTS.hidden_size;
  num_hidden_layers: number = AST_DEFAULTS.num_hidden_layers;
  num_attention_heads: number = AST_DEFAULTS.num_attention_heads;
  intermediate_size: number = AST_DEFAULTS.intermediate_size;
  hidden_act: HiddenAct = AST_DEFAULTS.hidden_act;
  hidden_dropout_prob: number = AST_DEFAULTS.hidden_dropout_prob;
  attention_probs_dropout_prob: number = AST_DEFAULTS.attention_probs_dropout_prob;
  initializer_range: number = AST_DEFAULTS.initializer_range;
  layer_norm_eps: number = AST_DEFAULTS.layer_norm_eps;
  patch_size: number = AST_DEFAULTS.patch_size;
  qkv_bias: boolean = AST_DEFAULTS.qkv_bias;
  frequency_stride: number = AST_DEFAULTS.frequency_stride;
  time_stride: number = AST_DEFAULTS.time_stride;
  max_length: number = AST_DEFAULTS.max_length;
  num_mel_bins: number = AST_DEFAULTS.num_mel_bins;
  num_labels: number = DEFAULT_NUM_LABELS;
  id2label: Record<string, string> = {};
  label2id: Record<string, number> = {};
  problem_type: ProblemType | null = null;
  torch_dtype: string | null = null;
  /** Fields of the file that we do not model (architectures, transformers_version, …), in file order. */
  readonly extra: Record<string, unknown> = {};
  /** Which optional keys the file had, so toJSON writes the same set back. */
  private readonly written = new Set<string>();

  private constructor() {}

  /**
   * Builds and validates a config from parsed config.json content. `source` names the file in errors.
   * Missing fields take HF's defaults; `num_labels` follows `id2label` when that is present, as HF does.
   */
  static fromJSON(json: unknown, source = 'config.json'): ASTConfig {
    const where = source;
    if (!isRecord(json)) {
      throw new FormatError(where, `a config must be a JSON object, got ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`);
    }
    const c = new ASTConfig();
    for (const [k, v] of Object.entries(json)) {
      if (!OWN_KEYS.has(k)) c.extra[k] = v;
      else c.written.add(k);
    }

    if (json.model_type !== undefined && json.model_type !== AST_MODEL_TYPE) {
      throw new FormatError(
        where, `model_type is ${JSON.stringify(json.model_type)}, not "${AST_MODEL_TYPE}"; this is not an Audio Spectrogram Transformer checkpoint`,
      );
    }

    for (const f of INT_FIELDS) {
      const v = json[f];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
        throw new FormatError(where, `${f} must be a positive integer, got ${JSON.stringify(v)}`);
      }
      c[f] = v;
    }
    for (const f of ['hidden_dropout_prob', 'attention_probs_dropout_prob'] as const) {
      const v = json[f];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
        throw new FormatError(where, `${f} must be a number in [0, 1], got ${JSON.stringify(v)}`);
      }
      c[f] = v;
    }
    if (json.initializer_range !== undefined) {
      const v = json.initializer_range;
      if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) {
        throw new FormatError(where, `initializer_range must be a finite number >= 0, got ${JSON.stringify(v)}`);
      }
      c.initializer_range = v;
    }
    if (json.layer_norm_eps !== undefined) {
      const v = json.layer_norm_eps;
      if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
        throw new FormatError(where, `layer_norm_eps must be a finite number > 0, got ${JSON.stringify(v)}`);
      }
      c.layer_norm_eps = v;
    }
    if (json.hidden_act !== undefined) {
      const v = json.hidden_act;
      if (typeof v !== 'string' || !(HIDDEN_ACTS as readonly string[]).includes(v)) {
        throw new FormatError(where, `unknown hidden_act ${JSON.stringify(v)}; known: ${HIDDEN_ACTS.join(', ')}`);
      }
      c.hidden_act = v as HiddenAct;
    }
    if (json.qkv_bias !== undefined) {
      if (typeof json.qkv_bias !== 'boolean') {
        throw new FormatError(where, `qkv_bias must be true or false, got ${JSON.stringify(json.qkv_bias)}`);
      }
      c.qkv_bias = json.qkv_bias;
    }
    if (json.problem_type !== undefined && json.problem_type !== null) {
      const v = json.problem_type;
      if (typeof v !== 'string' || !(PROBLEM_TYPES as readonly string[]).includes(v)) {
        throw new FormatError(where, `problem_type ${JSON.stringify(v)} is not one of ${PROBLEM_TYPES.join(', ')} (or null)`);
      }
      c.problem_type = v as ProblemType;
    }
    // Newer transformers write `dtype`, older `torch_dtype`; either names the stored precision.
    const dtype = json.torch_dtype ?? json.dtype;
    if (dtype !== undefined && dtype !== null) {
      if (typeof dtype !== 'string') throw new FormatError(where, `torch_dtype must be a string, got ${JSON.stringify(dtype)}`);
      c.torch_dtype = dtype;
    }

    readLabels(c, json, where);
    c.validateArchitecture(where);
    return c;
  }

  /** Reads `config.json` from a folder, URL, Hub id (when the platform registers a resolver) or FileSource. */
  static async fromPretrained(source: string | FileSource, options?: { revision?: string }): Promise<ASTConfig> {
    const files = await resolveSource(source, options);
    const name = 'config.json';
    const where = files.describe(name);
    return ASTConfig.fromJSON(parseJson(await files.read(name), where), where);
  }

  /**
   * A copy with some fields replaced, validated again. Replacing id2label without label2id (or
   * num_labels alone) rebuilds the label maps, so a new label set needs only one field.
   */
  withOverrides(overrides: ASTConfigJSON, source = 'config overrides'): ASTConfig {
    const base = this.toJSON();
    if ('id2label' in overrides || 'num_labels' in overrides) {
      if (!('label2id' in overrides)) delete base.label2id;
      if (!('id2label' in overrides)) delete base.id2label;
      if (!('num_labels' in overrides)) delete base.num_labels;
    }
    return ASTConfig.fromJSON({ ...base, ...overrides }, source);
  }

  /** config.json content: the file's own fields back (unknown ones verbatim), plus every AST field. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(AST_DEFAULTS) as (keyof typeof AST_DEFAULTS)[]) out[k] = this[k];
    out.id2label = { ...this.id2label };
    out.label2id = { ...this.label2id };
    // HF keeps num_labels implicit (len(id2label)); write it only when the file had it.
    if (this.written.has('num_labels')) out.num_labels = this.num_labels;
    if (this.problem_type !== null || this.written.has('problem_type')) out.problem_type = this.problem_type;
    if (this.torch_dtype !== null && !('dtype' in this.extra)) out.torch_dtype = this.torch_dtype;
    else if (this.written.has('torch_dtype')) out.torch_dtype = this.torch_dtype;
    out.model_type = AST_MODEL_TYPE;
    for (const [k, v] of Object.entries(this.extra)) out[k] = v;
    return out;
  }

  /** Patches along frequency: (num_mel_bins - patch_size) // frequency_stride + 1, as HF's get_shape. */
  get frequencyOutDim(): number {
    return Math.floor((this.num_mel_bins - this.patch_size) / this.frequency_stride) + 1;
  }

  /** Patches along time: (max_length - patch_size) // time_stride + 1. */
  get timeOutDim(): number {
    return Math.floor((this.max_length - this.patch_size) / this.time_stride) + 1;
  }

  get numPatches(): number {
    return this.frequencyOutDim * this.timeOutDim;
  }

  /** Tokens the encoder sees: patches plus the [CLS] and distillation tokens. */
  get sequenceLength(): number {
    return this.numPatches + 2;
  }

  get headDim(): number {
    return this.hidden_size / this.num_attention_heads;
  }

  /** Labels in index order (id2label[0], id2label[1], …); HF's LABEL_i for an id the map lacks. */
  get labels(): string[] {
    return Array.from({ length: this.num_labels }, (_, i) => this.id2label[String(i)] ?? `LABEL_${i}`);
  }

  private validateArchitecture(where: string): void {
    if (this.hidden_size % this.num_attention_heads !== 0) {
      throw new FormatError(
        where, `hidden_size (${this.hidden_size}) is not a multiple of num_attention_heads (${this.num_attention_heads})`,
      );
    }
    if (this.patch_size > this.num_mel_bins) {
      throw new FormatError(where, `patch_size (${this.patch_size}) is larger than num_mel_bins (${this.num_mel_bins})`);
    }
    if (this.patch_size > this.max_length) {
      throw new FormatError(where, `patch_size (${this.patch_size}) is larger than max_length (${this.max_length})`);
    }
  }
}

/** PretrainedConfig's rules: id2label wins and sets num_labels; otherwise num_labels (default 2) makes LABEL_i names. */
function readLabels(c: ASTConfig, json: Record<string, unknown>, where: string): void {
  const n = json.num_labels;
  if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n <= 0)) {
    throw new FormatError(where, `num_labels must be a positive integer, got ${JSON.stringify(n)}`);
  }
  if (typeof n === 'number' && n > MAX_NUM_LABELS) {
    throw new FormatError(where, `num_labels is ${n}, more than the ${MAX_NUM_LABELS} labels supported`);
  }
  const id2labelRaw = json.id2label;
  if (id2labelRaw !== undefined && id2labelRaw !== null) {
    if (!isRecord(id2labelRaw)) throw new FormatError(where, `id2label must be an object {"0": "label", …}`);
    const entries = Object.entries(id2labelRaw);
    if (entries.length === 0) throw new FormatError(where, `id2label is empty`);
    const id2label: Record<string, string> = {};
    for (const [k, v] of entries) {
      if (!/^(0|[1-9]\d*)$/.test(k)) throw new FormatError(where, `id2label key ${JSON.stringify(k)} is not a non-negative integer`);
      if (typeof v !== 'string') throw new FormatError(where, `id2label[${k}] must be a string, got ${JSON.stringify(v)}`);
      id2label[k] = v;
    }
    for (let i = 0; i < entries.length; i++) {
      if (!(String(i) in id2label)) {
        throw new FormatError(where, `id2label has ${entries.length} entries but no id ${i}; ids must be 0..${entries.length - 1}`);
      }
    }
    if (typeof n === 'number' && n !== entries.length) {
      throw new FormatError(
        where, `num_labels is ${n} but id2label has ${entries.length} labels; they must agree (remove one of them)`,
      );
    }
    c.id2label = id2label;
    c.num_labels = entries.length;
  } else {
    c.num_labels = typeof n === 'number' ? n : DEFAULT_NUM_LABELS;
    c.id2label = {};
    for (let i = 0; i < c.num_labels; i++) c.id2label[String(i)] = `LABEL_${i}`;
  }

  const label2idRaw = json.label2id;
  if (label2idRaw !== undefined && label2idRaw !== null) {
    if (!isRecord(label2idRaw)) throw new FormatError(where, `label2id must be an object {"label": 0, …}`);
    const label2id: Record<string, number> = {};
    for (const [k, v] of Object.entries(label2idRaw)) {
      // Some hand-written configs store ids as strings ("0"); HF keeps them, we read them as numbers.
      const id = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= c.num_labels) {
        throw new FormatError(where, `label2id[${JSON.stringify(k)}] must be an id in 0..${c.num_labels - 1}, got ${JSON.stringify(v)}`);
      }
      label2id[k] = id;
    }
    c.label2id = label2id;
  } else {
    c.label2id = {};
    for (const [id, label] of Object.entries(c.id2label)) c.label2id[label] = Number(id);
  }
}
