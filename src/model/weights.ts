/**
 * THE table of Hugging Face state-dict names for ASTModel / ASTForAudioClassification, and the
 * loader that copies a checkpoint into it key by key, asserting the key count and every shape
 * (nanoGPT's from_pretrained). Name templates live here only, as whisper.cpp keeps its
 * "encoder.blocks.%d.attn.query.weight" table in one header.
 */
import { numel, toFloat32, type Float32Tensor, type Tensor } from '../tensor.js';
import type { FileSource } from '../io/files.js';
import { readCheckpoint } from '../io/checkpoint.js';
import { Rng } from '../rng.js';
import type { ASTConfig } from './config.js';

export type HeadKind = 'classification' | 'base';

export interface ParamSpec {
  name: string;
  shape: number[];
}

/** ASTForAudioClassification keeps the encoder under this attribute name. */
export const BASE_PREFIX = 'audio_spectrogram_transformer.';
export const HEAD_PREFIX = 'classifier.';

/** Per-layer names (HF's ASTLayer), in state_dict order. `{i}` is the layer index. */
const LAYER_TEMPLATES = [
  ['encoder.layer.{i}.attention.attention.query.weight', 'HxH'],
  ['encoder.layer.{i}.attention.attention.query.bias', 'H', 'qkv_bias'],
  ['encoder.layer.{i}.attention.attention.key.weight', 'HxH'],
  ['encoder.layer.{i}.attention.attention.key.bias', 'H', 'qkv_bias'],
  ['encoder.layer.{i}.attention.attention.value.weight', 'HxH'],
  ['encoder.layer.{i}.attention.attention.value.bias', 'H', 'qkv_bias'],
  ['encoder.layer.{i}.attention.output.dense.weight', 'HxH'],
  ['encoder.layer.{i}.attention.output.dense.bias', 'H'],
  ['encoder.layer.{i}.intermediate.dense.weight', 'IxH'],
  ['encoder.layer.{i}.intermediate.dense.bias', 'I'],
  ['encoder.layer.{i}.output.dense.weight', 'HxI'],
  ['encoder.layer.{i}.output.dense.bias', 'H'],
  ['encoder.layer.{i}.layernorm_before.weight', 'H'],
  ['encoder.layer.{i}.layernorm_before.bias', 'H'],
  ['encoder.layer.{i}.layernorm_after.weight', 'H'],
  ['encoder.layer.{i}.layernorm_after.bias', 'H'],
] as const;

/** Every parameter of the model with its HF name and shape, in HF's state_dict order. */
export function astParameterSpecs(config: ASTConfig, head: HeadKind): ParamSpec[] {
  const H = config.hidden_size;
  const I = config.intermediate_size;
  const P = config.patch_size;
  const dims = { H: [H], I: [I], HxH: [H, H], IxH: [I, H], HxI: [H, I] } as const;
  const base: ParamSpec[] = [
    { name: 'embeddings.cls_token', shape: [1, 1, H] },
    { name: 'embeddings.distillation_token', shape: [1, 1, H] },
    { name: 'embeddings.position_embeddings', shape: [1, config.numPatches + 2, H] }, // [1, f*t + 2, H]
    { name: 'embeddings.patch_embeddings.projection.weight', shape: [H, 1, P, P] }, // Conv2d(1, H, P, stride (fs, ts))
    { name: 'embeddings.patch_embeddings.projection.bias', shape: [H] },
  ];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    for (const [template, shape, flag] of LAYER_TEMPLATES as readonly (readonly [string, keyof typeof dims, string?])[]) {
      if (flag === 'qkv_bias' && !config.qkv_bias) continue;
      base.push({ name: template.replace('{i}', String(i)), shape: [...dims[shape]] });
    }
  }
  base.push({ name: 'layernorm.weight', shape: [H] }, { name: 'layernorm.bias', shape: [H] });
  if (head === 'base') return base;
  return [
    ...base.map((s) => ({ name: BASE_PREFIX + s.name, shape: s.shape })),
    { name: 'classifier.layernorm.weight', shape: [H] },
    { name: 'classifier.layernorm.bias', shape: [H] },
    { name: 'classifier.dense.weight', shape: [config.num_labels, H] },
    { name: 'classifier.dense.bias', shape: [config.num_labels] },
  ];
}

/** True for the classification head's parameters (re-initialised for a new label set). */
export function isHeadParameter(name: string): boolean {
  return name.startsWith(HEAD_PREFIX);
}

export interface PatchGrid {
  /** Patches along frequency (config.frequencyOutDim). */
  frequency: number;
  /** Patches along time (config.timeOutDim). */
  time: number;
}

export interface LoadWeightsOptions {
  /**
   * A new label set: classification-head tensors that are missing or shaped for another
   * num_labels are re-initialised (as HF's `ignore_mismatched_sizes`), each with a notice.
   */
  ignoreMismatchedHead?: boolean;
  /**
   * The patch grid the checkpoint was trained with (its config's frequencyOutDim x timeOutDim, or
   * that config itself). When it differs from `config`'s, position embeddings are cut from the
   * middle or bilinearly interpolated as the original AST repo does, with a notice.
   */
  checkpointGrid?: PatchGrid | Pick<ASTConfig, 'frequencyOutDim' | 'timeOutDim'>;
  /** Initialiser for re-initialised head tensors; default: HF's (trunc-normal weights, std initializer_range; zero bias; LayerNorm 1/0). */
  initHead?: (spec: ParamSpec, config: ASTConfig) => Float32Array;
  /** Seed of the default head initialiser (default 0). */
  seed?: number;
}

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Maps checkpoint tensors onto the parameter table of `config`: names are matched with or without the
 * `audio_spectrogram_transformer.` prefix, fp16/bf16 are widened to fp32 exactly (fp32 tensors are used
 * as they are, without a copy). Any missing, unexpected or mis-shaped tensor is an error that names the
 * tensor and both shapes; all problems are listed at once. `source` names the checkpoint in messages.
 */
export function loadWeights(
  config: ASTConfig,
  tensors: Map<string, Tensor>,
  head: HeadKind,
  source: string,
  options: LoadWeightsOptions = {},
): { weights: Map<string, Float32Tensor>; notices: string[] } {
  const specs = astParameterSpecs(config, head);
  const notices: string[] = [];
  const problems: string[] = [];

  // Normalise checkpoint names to this head's naming; remember the original for messages.
  const byName = new Map<string, { original: string; tensor: Tensor }>();
  const ignored: string[] = [];
  for (const [original, tensor] of tensors) {
    const bare = original.startsWith(BASE_PREFIX) ? original.slice(BASE_PREFIX.length) : original;
    const isHead = bare.startsWith(HEAD_PREFIX);
    if (head === 'base' && isHead) {
      ignored.push(original);
      continue;
    }
    const name = head === 'base' || isHead ? bare : BASE_PREFIX + bare;
    const prev = byName.get(name);
    if (prev) {
      problems.push(`"${prev.original}" and "${original}" are the same parameter (${name})`);
      continue;
    }
    byName.set(name, { original, tensor });
  }
  if (ignored.length > 0) {
    notices.push(`${source}: ignored the classification head (${ignored.join(', ')}); ASTModel has none`);
  }

  const rng = new Rng(options.seed ?? 0);
  const weights = new Map<string, Float32Tensor>();
  for (const spec of specs) {
    const found = byName.get(spec.name);
    byName.delete(spec.name);
    const headParam = isHeadParameter(spec.name);
    if (!found) {
      if (headParam && options.ignoreMismatchedHead) {
        weights.set(spec.name, initTensor(spec, config, options, rng));
        notices.push(`${spec.name}: not in the checkpoint, newly initialised ${shapeText(spec.shape)}`);
      } else {
        problems.push(
          `missing ${spec.name} ${shapeText(spec.shape)}` +
            (headParam ? ' (pass ignoreMismatchedHead to initialise a new head)' : ''),
        );
      }
      continue;
    }
    const { original, tensor } = found;
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'float16' && tensor.dtype !== 'bfloat16') {
      problems.push(`${original}: dtype ${tensor.dtype}, expected a floating-point tensor`);
      continue;
    }
    if (numel(tensor.dims) !== tensor.data.length) {
      problems.push(`${original}: ${tensor.data.length} values for shape ${shapeText(tensor.dims)}`);
      continue;
    }
    if (spec.name.endsWith('embeddings.position_embeddings') && options.checkpointGrid) {
      const from = gridOf(options.checkpointGrid);
      const to = { frequency: config.frequencyOutDim, time: config.timeOutDim };
      if (from.frequency !== to.frequency || from.time !== to.time) {
        const expected = [1, from.frequency * from.time + 2, config.hidden_size];
        if (!sameShape(tensor.dims, expected)) {
          problems.push(
            `${original}: checkpoint ${shapeText(tensor.dims)} does not fit the checkpoint grid ` +
              `${from.frequency}x${from.time} (${shapeText(expected)})`,
          );
          continue;
        }
        const adapted = adaptPositionEmbeddings(toFloat32(tensor), from, to);
        weights.set(spec.name, adapted.tensor);
        notices.push(`${spec.name}: ${adapted.description}`);
        continue;
      }
    }
    if (!sameShape(tensor.dims, spec.shape)) {
      if (headParam && options.ignoreMismatchedHead) {
        weights.set(spec.name, initTensor(spec, config, options, rng));
        notices.push(
          `${spec.name}: checkpoint ${shapeText(tensor.dims)} vs config ${shapeText(spec.shape)}, newly initialised (new label set)`,
        );
        continue;
      }
      problems.push(
        `${original}: checkpoint ${shapeText(tensor.dims)} vs config ${shapeText(spec.shape)}` +
          (headParam ? ' (a new label set? pass ignoreMismatchedHead)' : '') +
          (spec.name.endsWith('position_embeddings')
            ? ' (another max_length or stride? pass checkpointGrid to cut or interpolate position embeddings)'
            : ''),
      );
      continue;
    }
    const f32 = toFloat32(tensor);
    weights.set(spec.name, { dtype: 'float32', dims: [...spec.shape], data: f32.data });
  }
  for (const { original, tensor } of byName.values()) {
    problems.push(`unexpected ${original} ${shapeText(tensor.dims)}`);
  }

  if (problems.length > 0) {
    const shown = problems.slice(0, 30);
    const more = problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : '';
    throw new Error(
      `${source}: checkpoint does not match the config (${config.num_hidden_layers} layers, hidden ${config.hidden_size}, ` +
        `${config.num_labels} labels, qkv_bias ${config.qkv_bias}):\n  ${shown.join('\n  ')}${more}`,
    );
  }
  if (weights.size !== specs.length) {
    throw new Error(`${source}: loaded ${weights.size} tensors but the model has ${specs.length} parameters`);
  }
  return { weights, notices };
}

/**
 * Reads the checkpoint in `source` (model.safetensors, its sharded index, or pytorch_model.bin)
 * and maps it onto `config` with loadWeights.
 */
export async function loadPretrainedWeights(
  source: FileSource,
  config: ASTConfig,
  head: HeadKind,
  options?: LoadWeightsOptions,
): Promise<{ weights: Map<string, Float32Tensor>; notices: string[] }> {
  const { tensors, files } = await readCheckpoint(source);
  return loadWeights(config, tensors, head, source.describe(files[0]!), options);
}

function gridOf(g: PatchGrid | Pick<ASTConfig, 'frequencyOutDim' | 'timeOutDim'>): PatchGrid {
  return 'frequency' in g ? g : { frequency: g.frequencyOutDim, time: g.timeOutDim };
}

/**
 * The original AST repo's position-embedding transfer (src/models/ast_models.py): the patch part of
 * [1, f*t + 2, H] is viewed as an H-channel f x t image; time is cut from the middle when it shrinks
 * (start = t0//2 - t//2) or bilinearly interpolated when it grows, then frequency likewise; the
 * [CLS] and distillation rows are kept. Interpolation is torch's bilinear with align_corners=False.
 */
export function adaptPositionEmbeddings(
  pos: Float32Tensor,
  from: PatchGrid,
  to: PatchGrid,
): { tensor: Float32Tensor; description: string } {
  const H = pos.dims[2]!;
  if (pos.dims.length !== 3 || pos.dims[0] !== 1 || pos.dims[1] !== from.frequency * from.time + 2) {
    throw new Error(
      `position_embeddings ${shapeText(pos.dims)} do not fit a ${from.frequency}x${from.time} patch grid ([1, ${from.frequency * from.time + 2}, H])`,
    );
  }
  // Grid as [f][t][H] (HF flattens the conv output [H, f, t] to tokens f-major: token = f*t_dim + t).
  let grid = pos.data.subarray(2 * H);
  let f = from.frequency;
  let t = from.time;
  const steps: string[] = [];
  if (to.time !== t) {
    const axis = to.time < t ? cutAxis(t, to.time) : linearAxis(t, to.time);
    steps.push(`time ${t}->${to.time} ${to.time < t ? 'cut from the middle' : 'bilinear interpolation'}`);
    grid = resampleTime(grid, f, t, to.time, H, axis);
    t = to.time;
  }
  if (to.frequency !== f) {
    const axis = to.frequency < f ? cutAxis(f, to.frequency) : linearAxis(f, to.frequency);
    steps.push(`frequency ${f}->${to.frequency} ${to.frequency < f ? 'cut from the middle' : 'bilinear interpolation'}`);
    grid = resampleFrequency(grid, to.frequency, t, H, axis);
    f = to.frequency;
  }
  const out = new Float32Array((f * t + 2) * H);
  out.set(pos.data.subarray(0, 2 * H), 0); // [CLS], distillation
  out.set(grid, 2 * H);
  const description =
    `patch grid ${from.frequency}x${from.time} -> ${to.frequency}x${to.time}` +
    (steps.length ? ` (${steps.join(', ')}, as the AST repo)` : ' (unchanged)');
  return { tensor: { dtype: 'float32', dims: [1, f * t + 2, H], data: out }, description };
}

/** For each output index: two source indices and the weight of the second. */
interface Axis {
  i0: Int32Array;
  i1: Int32Array;
  w1: Float64Array;
}

/** Keep `n` entries of `n0` from the middle: start = n0//2 - n//2, as ast_models.py slices. */
function cutAxis(n0: number, n: number): Axis {
  const start = Math.floor(n0 / 2) - Math.floor(n / 2);
  const i0 = new Int32Array(n).map((_, i) => start + i);
  return { i0, i1: i0, w1: new Float64Array(n) };
}

/**
 * torch's linear source index with align_corners=False, as its CPU kernel computes it (checked
 * bit-exact against torch 1.13's F.interpolate): scale = float32(n0 / n), src = max(scale * (i + 0.5) - 0.5, 0)
 * in double, lambda = float32(src - floor(src)).
 */
function linearAxis(n0: number, n: number): Axis {
  const scale = Math.fround(n0 / n);
  const i0 = new Int32Array(n);
  const i1 = new Int32Array(n);
  const w1 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const src = Math.max(scale * (i + 0.5) - 0.5, 0);
    const lo = Math.min(Math.floor(src), n0 - 1);
    i0[i] = lo;
    i1[i] = Math.min(lo + 1, n0 - 1);
    w1[i] = Math.min(Math.max(Math.fround(src - lo), 0), 1);
  }
  return { i0, i1, w1 };
}

/** a * (1 - w) + b * w with float32 weights, rounded once to float32 (as torch's kernel). */
function lerp(a: number, b: number, w: number): number {
  return Math.fround(a * Math.fround(1 - w) + b * w);
}

// [f, t0, H] -> [f, t, H]
function resampleTime(g: Float32Array, f: number, t0: number, t: number, H: number, a: Axis): Float32Array {
  const out = new Float32Array(f * t * H);
  for (let fi = 0; fi < f; fi++) {
    for (let ti = 0; ti < t; ti++) {
      const p = (fi * t0 + a.i0[ti]!) * H;
      const q = (fi * t0 + a.i1[ti]!) * H;
      const w = a.w1[ti]!;
      const o = (fi * t + ti) * H;
      for (let h = 0; h < H; h++) out[o + h] = lerp(g[p + h]!, g[q + h]!, w);
    }
  }
  return out;
}

// [f0, t, H] -> [f, t, H]
function resampleFrequency(g: Float32Array, f: number, t: number, H: number, a: Axis): Float32Array {
  const out = new Float32Array(f * t * H);
  for (let fi = 0; fi < f; fi++) {
    const w = a.w1[fi]!;
    for (let ti = 0; ti < t; ti++) {
      const p = (a.i0[fi]! * t + ti) * H;
      const q = (a.i1[fi]! * t + ti) * H;
      const o = (fi * t + ti) * H;
      for (let h = 0; h < H; h++) out[o + h] = lerp(g[p + h]!, g[q + h]!, w);
    }
  }
  return out;
}

/** HF ASTPreTrainedModel._init_weights for the head: Linear trunc_normal(0, initializer_range) and zero bias; LayerNorm 1 and 0. */
function initTensor(spec: ParamSpec, config: ASTConfig, options: LoadWeightsOptions, rng: Rng): Float32Tensor {
  const n = numel(spec.shape);
  let data: Float32Array;
  if (options.initHead) {
    data = options.initHead(spec, config);
    if (data.length !== n) throw new Error(`initHead returned ${data.length} values for ${spec.name} ${shapeText(spec.shape)}`);
  } else if (spec.name.endsWith('layernorm.weight')) {
    data = new Float32Array(n).fill(1);
  } else if (spec.name.endsWith('.bias')) {
    data = new Float32Array(n);
  } else {
    data = new Float32Array(n);
    const std = config.initializer_range;
    // torch.nn.init.trunc_normal_ bounds are absolute (a=-2, b=2), far beyond 0.02-std draws; rejection keeps it exact.
    for (let i = 0; i < n; i++) {
      let x: number;
      do x = std * rng.normal();
      while (x < -2 || x > 2);
      data[i] = x;
    }
  }
  return { dtype: 'float32', dims: [...spec.shape], data };
}
