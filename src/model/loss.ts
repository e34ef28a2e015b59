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
