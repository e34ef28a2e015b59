/**
 * Hugging Face ASTForAudioClassification's loss, chosen by problem_type:
 *   config.problem_type if set; else num_labels == 1 -> regression; integer labels ->
 *   single_label_classification; otherwise multi_label_classification.
 *   regression:  MSE (logits and labels squeezed when num_labels == 1)
 *   single_label: cross-entropy over integer labels (ignore_index -100), mean over the rest
 *   multi_label: BCE with logits, mean over every element
 *
 * The training graph expresses every one of them as loss = Σ W ⊙ ℓ(logits, T), with a dense target
 * T [B, L] and weights W [B, L] built here; `lossTerms` makes T and W, `referenceLoss` evaluates the
 * same formula in plain TypeScript (evaluation, tests).
 */
import type { Tensor, Float32Tensor } from '../tensor.js';

import type { ProblemType } from './config.js';
import type { GraphBuilder, Value } from '../graph/builder.js';
export type { ProblemType } from './config.js';

/** Labels as HF takes them: integer class ids [B] (int32/int64), or float targets [B] / [B, L]. */
export type Labels = Tensor<'int32'> | Tensor<'int64'> | Float32Tensor;

export const IGNORE_INDEX = -100;

/**
 * Labels as a caller may hand them to `ASTTrainable.computeGradients`: a Tensor (`Labels`); class ids as
 * `number[]` or an integer typed array ([batch]; a BigInt64Array is torch's int64); multi-hot (or soft)
 * rows as `number[][]` ([batch][num_labels]); or float targets as a Float32Array / Float64Array
 * ([batch] or [batch * num_labels], row-major). `toLabels` turns each into a Tensor.
 */
export type LabelsInput =
  | Labels
  | readonly number[]
  | readonly (readonly number[])[]
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

const EXPECTED_LABELS =
  'expected class ids as number[] or an integer typed array (Int32Array, BigInt64Array) [batch], ' +
  'multi-hot rows as number[][] [batch][num_labels], float targets as Float32Array [batch] or [batch * num_labels], ' +
  'or a Tensor (int32 / int64 [batch], float32 [batch] or [batch, num_labels])';

/** What a bad labels value was, for the error. */
function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'object') return `an object with keys ${JSON.stringify(Object.keys(v as object).slice(0, 5))}`;
  return `${typeof v} ${String(v).slice(0, 40)}`;
}

/**
 * Any `LabelsInput` as a Tensor, checked: plain numbers are typed as torch.tensor would type them
 * (all integers: int64 class ids; otherwise float32), except that `number[][]` is always float32
 * rows (multi-hot targets, which HF's BCE wants as floats). Anything else is an error naming the
 * accepted shapes and types (`where` prefixes it). Values that are not finite numbers are errors too.
 */
export function toLabels(labels: LabelsInput, numLabels: number, where = 'labels'): Labels {
  const fail = (what: string): never => {
    throw new Error(`${where}: ${EXPECTED_LABELS}; got ${what}`);
  };
  const v = labels as unknown;
  if (Array.isArray(v)) {
    if (v.length === 0) fail('an empty array');
    if (v.every((x) => typeof x === 'number')) {
      const bad = v.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) fail(`${String(v[bad])} at index ${bad}`);
      const ints = v.every((x) => Number.isInteger(x));
      return ints
        ? { dtype: 'int64', dims: [v.length], data: BigInt64Array.from(v as number[], (x) => BigInt(x)) }
        : { dtype: 'float32', dims: [v.length], data: Float32Array.from(v as number[]) };
    }
    if (v.every((row) => Array.isArray(row))) {
      const rows = v as number[][];
      const data = new Float32Array(rows.length * numLabels);
      rows.forEach((row, b) => {
        if (row.length !== numLabels) fail(`row ${b} with ${row.length} values (the model has ${numLabels} labels)`);
        row.forEach((x, c) => {
          if (typeof x !== 'number' || !Number.isFinite(x)) fail(`${describeValue(x)} at row ${b}, label ${c}`);
          data[b * numLabels + c] = x;
        });
      });
      return { dtype: 'float32', dims: [rows.length, numLabels], data };
    }
    const odd = v.findIndex((x) => typeof x !== 'number' && !Array.isArray(x));
    return fail(odd >= 0 ? `${describeValue(v[odd])} at index ${odd}` : 'an array mixing numbers and rows');
  }
  if (v instanceof BigInt64Array) return { dtype: 'int64', dims: [v.length], data: v };
  if (v instanceof BigUint64Array) return { dtype: 'int64', dims: [v.length], data: BigInt64Array.from(v, (x) => BigInt.asIntN(64, x)) };
  if (v instanceof Int32Array) return { dtype: 'int32', dims: [v.length], data: v };
  if (v instanceof Int8Array || v instanceof Uint8Array || v instanceof Int16Array || v instanceof Uint16Array || v instanceof Uint32Array) {
    return { dtype: 'int64', dims: [v.length], data: BigInt64Array.from(v as ArrayLike<number>, (x) => BigInt(x)) };
  }
  if (v instanceof Float32Array || v instanceof Float64Array) {
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) fail(`${v[bad]} at index ${bad}`);
    const data = v instanceof Float32Array ? v : Float32Array.from(v);
    const dims = numLabels > 1 && v.length % numLabels === 0 ? [v.length / numLabels, numLabels] : [v.length];
    return { dtype: 'float32', dims, data };
  }
  if (typeof v === 'object' && v !== null && 'dtype' in v && 'dims' in v && 'data' in v) {
    const t = v as { dtype: unknown; dims: unknown; data: unknown };
    const holds: Record<string, (d: unknown) => boolean> = {
      int32: (d) => d instanceof Int32Array,
      int64: (d) => d instanceof BigInt64Array,
      float32: (d) => d instanceof Float32Array,
    };
    const check = typeof t.dtype === 'string' ? holds[t.dtype] : undefined;
    if (!check) return fail(`a Tensor of dtype ${String(t.dtype)}`);
    if (!check(t.data)) return fail(`a ${String(t.dtype)} Tensor whose data is ${describeValue(t.data)}`);
    const dims = t.dims;
    if (!Array.isArray(dims) || (dims.length !== 1 && dims.length !== 2) || !dims.every((d) => Number.isInteger(d) && d >= 0)) {
      return fail(`a Tensor with dims ${JSON.stringify(dims)}`);
    }
    const n = (dims as number[]).reduce((a, b) => a * b, 1);
    if ((t.data as ArrayLike<unknown>).length !== n) return fail(`a Tensor [${dims.join(', ')}] holding ${(t.data as ArrayLike<unknown>).length} values`);
    return v as Labels;
  }
  return fail(describeValue(v));
}

export function isIntegerLabels(labels: Labels): labels is Tensor<'int32'> | Tensor<'int64'> {
  return labels.dtype === 'int32' || labels.dtype === 'int64';
}

/** problem_type exactly as HF infers it on the first forward with labels. */
export function inferProblemType(
  config: { problem_type?: ProblemType | null; num_labels: number },
  labels: Labels,
): ProblemType {
  if (config.problem_type) return config.problem_type;
  if (config.num_labels === 1) return 'regression';
  if (config.num_labels > 1 && isIntegerLabels(labels)) return 'single_label_classification';
  return 'multi_label_classification';
}

export interface LossTerms {
  problemType: ProblemType;
  /** Dense targets [B, L]: one-hot (or soft) rows for cross-entropy, the float labels otherwise. */
  targets: Float32Tensor;
  /** Per-element weights [B, L] whose weighted sum is the mean torch takes. */
  weights: Float32Tensor;
}

/**
 * Turns HF-style labels into (T, W) for a batch of `batch` rows and `numLabels` logits.
 * Soft targets for cross-entropy (mixup) may be passed as float [B, L] with an explicit problemType.
 */
export function lossTerms(
  config: { problem_type?: ProblemType | null; num_labels: number },
  labels: Labels,
  batch: number,
): LossTerms {
  const L = config.num_labels;
  const problemType = inferProblemType(config, labels);
  const targets = new Float32Array(batch * L);
  const weights = new Float32Array(batch * L);
  const values = labelValues(labels);
  const where = `labels [${labels.dims.join(', ')}]`;
  if (problemType === 'single_label_classification' && isIntegerLabels(labels)) {
    if (values.length !== batch) throw new Error(`${where}: expected ${batch} class ids for a batch of ${batch}`);
    let valid = 0;
    for (let b = 0; b < batch; b++) {
      const c = values[b]!;
      if (c === IGNORE_INDEX) continue;
      if (!Number.isInteger(c) || c < 0 || c >= L) throw new Error(`${where}: class id ${c} at row ${b} is outside [0, ${L})`);
      targets[b * L + c] = 1;
      valid++;
    }
    // torch's mean over non-ignored rows; all ignored gives nan, as torch
    weights.fill(valid === 0 ? NaN : 1 / valid);
    return { problemType, targets: f32([batch, L], targets), weights: f32([batch, L], weights) };
  }
  if (values.length !== batch * L) {
    throw new Error(`${where}: expected ${batch * L} values (${batch} x ${L} labels) for ${problemType}`);
  }
  for (let i = 0; i < targets.length; i++) targets[i] = values[i]!;
  // MSE, BCE and soft-target cross-entropy: torch divides by the element count, except soft CE divides by B
  weights.fill(problemType === 'single_label_classification' ? 1 / batch : 1 / (batch * L));
  return { problemType, targets: f32([batch, L], targets), weights: f32([batch, L], weights) };
}

function labelValues(labels: Labels): number[] {
  if (labels.dtype === 'int64') return Array.from(labels.data as BigInt64Array, (v) => Number(v));
  return Array.from(labels.data as Float32Array | Int32Array);
}

function f32(dims: number[], data: Float32Array): Float32Tensor {
  return { dtype: 'float32', dims, data };
}

/** The loss in plain float64 TypeScript, the same formulas the training graph builds. */
export function referenceLoss(logits: Float32Tensor, terms: LossTerms): number {
  const [B, L] = terms.targets.dims as [number, number];
  const x = logits.data;
  const t = terms.targets.data;
  const w = terms.weights.data;
  if (x.length !== B * L) throw new Error(`logits have ${x.length} values, expected ${B} x ${L}`);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    if (terms.problemType === 'single_label_classification') {
      let max = -Infinity;
      for (let c = 0; c < L; c++) max = Math.max(max, x[b * L + c]!);
      let s = 0;
      for (let c = 0; c < L; c++) s += Math.exp(x[b * L + c]! - max);
      const lse = max + Math.log(s);
      for (let c = 0; c < L; c++) {
        const i = b * L + c;
        if (t[i] !== 0) loss += w[i]! * -t[i]! * (x[i]! - lse);
      }
    } else {
      for (let c = 0; c < L; c++) {
        const i = b * L + c;
        const xi = x[i]!;
        const yi = t[i]!;
        const l =
          terms.problemType === 'regression'
            ? (xi - yi) * (xi - yi)
            : Math.max(xi, 0) - xi * yi + Math.log1p(Math.exp(-Math.abs(xi)));
        loss += w[i]! * l;
      }
    }
  }
  return loss;
}

/**
 * The loss as graph ops (so autodiff differentiates it with the model): Σ W ⊙ ℓ(logits, T), a scalar.
 *   cross-entropy ℓ = −T ⊙ log_softmax(x); MSE ℓ = (x − T)²; BCE ℓ = max(x, 0) − x·T + log(1 + e^{−|x|}).
 */
export function lossGraph(g: GraphBuilder, problemType: ProblemType, logits: Value, targets: Value, weights: Value): Value {
  let elementwise: Value;
  if (problemType === 'single_label_classification') {
    elementwise = g.neg(g.mul(targets, g.logSoftmax(logits, -1)));
  } else if (problemType === 'regression') {
    const d = g.sub(logits, targets);
    elementwise = g.mul(d, d);
  } else {
    const softplusNegAbs = g.log(g.add(1, g.exp(g.neg(g.abs(logits)))));
    elementwise = g.add(g.sub(g.relu(logits), g.mul(logits, targets)), softplusNegAbs);
  }
  return g.reduceSum(g.mul(weights, elementwise), undefined, { keepdims: false });
}
