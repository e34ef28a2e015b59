/**
 * The training graph: the same AST description as inference (`buildAST`), with every weight a graph
 * input, followed by the HF loss and the reverse-mode gradients of the loss for every weight — one
 * ONNX Runtime session returns loss, logits and all gradients. The optimiser updates the weights in
 * TypeScript and feeds them again on the next step; nothing is rebuilt. Browser-safe.
 */
import { GraphBuilder, type Value, type NodeRecord } from '../graph/builder.js';
import { gradients } from '../graph/grad.js';
import { buildInferenceGraph, emitForwardGraph, type ParamSource } from '../model/ast.js';
import type { ASTConfig, ASTConfigJSON } from '../model/config.js';
import { astParameterSpecs } from '../model/weights.js';
import { lossGraph, lossTerms, toLabels, type LabelsInput, type ProblemType } from '../model/loss.js';
import { Runner } from '../runtime/runner.js';
import { checkInputValues, loadPretrained } from '../model/pretrained.js';
import { splitRuntimeOptions, type RuntimeOptions } from '../runtime/options.js';
import type { ASTFeatureExtractor } from '../audio/feature-extractor.js';
import type { FileSource } from '../io/files.js';
import type { Float32Tensor } from '../tensor.js';
import type { Trainable } from './trainer.js';
import { modelFiles } from './checkpoint.js';

/** How the training graph is built and runs: the runtime's options and the training graph's own. */
export interface TrainableOptions extends RuntimeOptions, TrainingGraphOptions {}

/** Choices in how the training graph is emitted (same gradients either way). */
export interface TrainingGraphOptions {
  /**
   * Recompute each layer's attention scores and probabilities [B, heads, T, T] in the backward pass instead of
   * keeping them from the forward pass (default true). Off trades memory for speed: AST-Base keeps 12 x
   * B x 12 x T x T float32 more (batch 8: ~0.4 GB at 256 frames, ~6.8 GB at 1024 frames) and saves one
   * batched MatMul and one Softmax per layer in the backward pass.
   */
  recomputeAttention?: boolean;
  /**
   * The LayerNorm derivative reads the forward pass's Mean and InvStdDev outputs instead of recomputing them
   * (default true; false is the older graph, kept to measure one against the other).
   */
  layerNormStats?: boolean;
}

/** `ASTTrainable.fromPretrained`'s options: the runtime's, the Hub revision, and a new head's labels. */
export interface TrainableLoadOptions extends TrainableOptions {
  /** Hub branch, tag or commit when the source is a Hub id. */
  revision?: string;
  /** A new label count (names LABEL_0… unless `id2label` gives them); a head of another size is re-initialised. */
  numLabels?: number;
  /** New label names by id ({ 0: 'dog', 1: 'cat' }); num_labels and label2id follow it, as in HF's config. */
  id2label?: Record<string | number, string>;
  label2id?: Record<string, number>;
  problemType?: ProblemType;
  /** Seed of the initialiser of a re-initialised head (HF's: trunc-normal weights, zero bias); default 0. */
  seed?: number;
}

export interface GradientsOutput {
  loss: number;
  logits: Float32Tensor;
  /** d loss / d weight, keyed by HF state-dict names. */
  grads: Map<string, Float32Tensor>;
}

export const GRAD_PREFIX = 'grad.';

/** Each classification parameter's dims by HF name: the training graphs feed every weight as an input. */
function parameterInputs(config: ASTConfig): Map<string, ParamSource> {
  return new Map(astParameterSpecs(config, 'classification').map((s) => [s.name, { dims: s.shape }]));
}

/** The training graph and where its backward part starts (node index: nodes before it are forward + loss). */
export interface TrainingGraph {
  graph: GraphBuilder;
  forwardNodeCount: number;
}

/** Builds forward + loss + gradients for one problem type, weights as inputs named by HF names. */
export function buildTrainingGraph(config: ASTConfig, problemType: ProblemType, options: TrainingGraphOptions = {}): GraphBuilder {
  return buildTrainingGraphParts(config, problemType, options).graph;
}

/** `buildTrainingGraph` with the forward/backward boundary (the training profile attributes kernels by it). */
export function buildTrainingGraphParts(config: ASTConfig, problemType: ProblemType, options: TrainingGraphOptions = {}): TrainingGraph {
  const g = new GraphBuilder('ASTForAudioClassification.train');
  const { values, params } = emitForwardGraph(g, config, parameterInputs(config), {
    head: 'classification',
    attention: 'plain',
    weightsAsInputs: true,
    geluKernel: true,
    layerNormStats: options.layerNormStats ?? true,
  });
  const logits = values.logits!;
  const targets = g.input('loss_targets', 'float32', ['batch', config.num_labels]);
  const weights = g.input('loss_weights', 'float32', ['batch', config.num_labels]);
  const loss = lossGraph(g, problemType, logits, targets, weights);
  const forwardNodes = [...g.nodes];
  const wrt = [...params.values()];
  // attention probabilities (and the scores they come from) are recomputed in the backward pass:
  // they are [B, heads, T, T], about half of what the forward pass would otherwise keep alive
  const softmaxInputs = new Set(forwardNodes.filter((n) => n.op === 'Softmax').map((n) => n.inputs[0]));
  const remat = (n: NodeRecord<Value>): boolean => n.op === 'Softmax' || (n.op === 'MatMul' && softmaxInputs.has(n.outputs[0]!));
  const grads = gradients(g, forwardNodes, loss, wrt, options.recomputeAttention === false ? {} : { rematerialize: remat });
  g.output(loss, 'loss');
  g.output(logits, 'logits');
  for (const [name, v] of params) g.output(grads.get(v)!, GRAD_PREFIX + name);
  return { graph: g, forwardNodeCount: forwardNodes.length };
}

/**
 * A model that computes gradients: `computeGradients({ inputValues, labels })` -> `{ loss, logits, grads }`,
 * grads keyed by HF state-dict names. `weights` is the live parameter map (the optimiser updates it in place).
 */
export class ASTTrainable implements Trainable {
  private readonly runner: Runner;
  private readonly graphOptions: TrainingGraphOptions;
  /** The checkpoint's feature extractor (fromPretrained), written back by `toFiles` as preprocessor_config.json. */
  featureExtractor?: ASTFeatureExtractor;
  /** What loading changed (a re-initialised head, resized position embeddings), for the user. */
  notices: readonly string[] = [];

  constructor(
    readonly config: ASTConfig,
    readonly weights: Map<string, Float32Tensor>,
    options: TrainableOptions = {},
  ) {
    for (const spec of astParameterSpecs(config, 'classification')) {
      const w = weights.get(spec.name);
      if (!w) throw new Error(`weights: missing ${spec.name} [${spec.shape.join(', ')}]`);
      if (w.data.length !== spec.shape.reduce((a, b) => a * b, 1)) {
        throw new Error(`weights: ${spec.name} has shape [${w.dims.join(', ')}], expected [${spec.shape.join(', ')}]`);
      }
    }
    const { recomputeAttention, layerNormStats } = options;
    for (const [name, v] of [['recomputeAttention', recomputeAttention], ['layerNormStats', layerNormStats]] as const) {
      if (v !== undefined && typeof v !== 'boolean') throw new Error(`ASTTrainable: ${name} must be true or false, got ${JSON.stringify(v)}`);
    }
    this.graphOptions = { recomputeAttention, ...(layerNormStats !== undefined ? { layerNormStats } : {}) };
    this.runner = new Runner(options, 'ASTTrainable');
  }

  /**
   * A checkpoint (folder, Hub id, URL or FileSource) ready to fine-tune, through the one loader
   * (`loadPretrained`), as `ASTForAudioClassification.fromPretrained`. `numLabels` / `id2label` make a new
   * label set: a head shaped for another count is re-initialised (HF's `ignore_mismatched_sizes`), with a notice.
   * The weights are this model's own copies (the optimiser updates them in place).
   */
  static async fromPretrained(source: string | FileSource, options: TrainableLoadOptions = {}): Promise<ASTTrainable> {
    const { runtime, rest } = splitRuntimeOptions(options);
    const { revision, numLabels, id2label, label2id, problemType, seed, recomputeAttention, layerNormStats } = rest;
    if (numLabels !== undefined && !(Number.isInteger(numLabels) && numLabels >= 1)) {
      throw new Error(`ASTTrainable.fromPretrained: numLabels must be a positive integer, got ${String(numLabels)}`);
    }
    const overrides: ASTConfigJSON = {
      ...(numLabels !== undefined ? { num_labels: numLabels } : {}),
      ...(id2label !== undefined ? { id2label: Object.fromEntries(Object.entries(id2label)) } : {}),
      ...(label2id !== undefined ? { label2id } : {}),
      ...(problemType !== undefined ? { problem_type: problemType } : {}),
    };
    const newLabels = numLabels !== undefined || id2label !== undefined;
    const loaded = await loadPretrained(source, {
      revision,
      head: 'classification',
      preprocessor: 'optional',
      adapt: Object.keys(overrides).length > 0 ? (c) => c.withOverrides(overrides, 'ASTTrainable.fromPretrained options') : undefined,
      weightOptions: { ignoreMismatchedHead: newLabels, seed },
    });
    // own copies: the optimiser writes into them, and the checkpoint's buffer may be the caller's bytes
    const weights = new Map([...loaded.weights].map(([k, t]) => [k, { ...t, data: Float32Array.from(t.data) }]));
    const model = new ASTTrainable(loaded.config, weights, { ...runtime, recomputeAttention, layerNormStats });
    model.featureExtractor = loaded.extractor;
    model.notices = loaded.notices;
    return model;
  }

  /**
   * config.json, model.safetensors and, when the model came with a feature extractor, preprocessor_config.json,
   * as bytes: a checkpoint that `fromPretrained` (this class's, ASTForAudioClassification's, the pipeline's) reads
   * back. In Node, `savePretrained(dir, model)` writes them.
   */
  toFiles(): Record<string, Uint8Array> {
    return modelFiles(this.config.toJSON(), this.featureExtractor?.toJSON(), this.weights);
  }

  /**
   * Loss (HF's, by problem_type), logits and the gradient of the loss for every weight. `labels` may be a
   * Tensor, `number[]` class ids, `number[][]` multi-hot rows or a typed array (see `LabelsInput`).
   */
  async computeGradients(i: { inputValues: Float32Tensor; labels: LabelsInput; problemType?: ProblemType }): Promise<GradientsOutput> {
    checkInputValues(i.inputValues, this.config);
    const B = i.inputValues.dims[0]!;
    const cfg = { num_labels: this.config.num_labels, problem_type: i.problemType ?? this.config.problem_type };
    const terms = lossTerms(cfg, toLabels(i.labels, this.config.num_labels), B);
    const r = await this.runner.run(
      `train:${terms.problemType}`,
      () => ({ model: buildTrainingGraph(this.config, terms.problemType, this.graphOptions).encode() }),
      { input_values: i.inputValues, loss_targets: terms.targets, loss_weights: terms.weights },
      this.weights,
    );
    const grads = new Map<string, Float32Tensor>();
    for (const name of this.weights.keys()) {
      const t = r[GRAD_PREFIX + name] as Float32Tensor;
      grads.set(name, { dtype: 'float32', dims: this.weights.get(name)!.dims, data: t.data });
    }
    return { loss: (r.loss as Float32Tensor).data[0]!, logits: r.logits as Float32Tensor, grads };
  }

  async predict(inputValues: Float32Tensor): Promise<Float32Tensor> {
    checkInputValues(inputValues, this.config);
    const build = () => ({
      model: buildInferenceGraph(this.config, parameterInputs(this.config), { head: 'classification', attention: 'plain', weightsAsInputs: true }).encode(),
    });
    const r = await this.runner.run('logits', build, { input_values: inputValues }, this.weights, ['logits']);
    return r.logits as Float32Tensor;
  }

  /** Releases the ONNX Runtime sessions once the runs in flight have finished; later calls are DisposedErrors. */
  dispose(): Promise<void> {
    return this.runner.dispose();
  }
}

export async function createTrainable(
  config: ASTConfig,
  weights: Map<string, Float32Tensor>,
  options: TrainableOptions = {},
): Promise<ASTTrainable> {
  return new ASTTrainable(config, weights, options);
}
