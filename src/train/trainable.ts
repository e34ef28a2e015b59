/**
 * The training graph: the same AST description as inference (`buildAST`), with every weight a graph
 * input, followed by the HF loss and the reverse-mode gradients of the loss for every weight — one
 * ONNX Runtime session returns loss, logits and all gradients. The optimiser updates the weights in
 * TypeScript and feeds them again on the next step; nothing is rebuilt. Browser-safe.
 */
import { GraphBuilder, type Value, type NodeRecord } from '../graph/builder.js';
import { gradients } from '../graph/grad.js';
import { buildInferenceGraph, emitForwardGraph, type ParamSource } from '../model/ast.js';
import type { ASTConfig } from '../model/config.js';
import { astParameterSpecs } from '../model/weights.js';
import { lossGraph, lossTerms, type Labels, type ProblemType } from '../model/loss.js';
import { Runner } from '../runtime/runner.js';
import { checkInputValues } from '../model/pretrained.js';
import type { RuntimeOptions } from '../runtime/options.js';
import type { Float32Tensor } from '../tensor.js';
import type { Trainable } from './trainer.js';

/** How the training graph runs: the runtime's options, nothing training-specific. */
export type TrainableOptions = RuntimeOptions;

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

/** Builds forward + loss + gradients for one problem type, weights as inputs named by HF names. */
export function buildTrainingGraph(config: ASTConfig, problemType: ProblemType): GraphBuilder {
  const g = new GraphBuilder('ASTForAudioClassification.train');
  const { values, params } = emitForwardGraph(g, config, parameterInputs(config), { head: 'classification', attention: 'plain', weightsAsInputs: true });
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
  const grads = gradients(g, forwardNodes, loss, wrt, { rematerialize: remat });
  g.output(loss, 'loss');
  g.output(logits, 'logits');
  for (const [name, v] of params) g.output(grads.get(v)!, GRAD_PREFIX + name);
  return g;
}

/**
 * A model that computes gradients: `computeGradients({ inputValues, labels })` -> `{ loss, logits, grads }`,
 * grads keyed by HF state-dict names. `weights` is the live parameter map (the optimiser updates it in place).
 */
export class ASTTrainable implements Trainable {
  private readonly runner: Runner;

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
    this.runner = new Runner(options);
  }

  /** Loss (HF's, by problem_type), logits and the gradient of the loss for every weight. */
  async computeGradients(i: { inputValues: Float32Tensor; labels: Labels; problemType?: ProblemType }): Promise<GradientsOutput> {
    checkInputValues(i.inputValues, this.config);
    const B = i.inputValues.dims[0]!;
    const cfg = { num_labels: this.config.num_labels, problem_type: i.problemType ?? this.config.problem_type };
    const terms = lossTerms(cfg, i.labels, B);
    const r = await this.runner.run(
      `train:${terms.problemType}`,
      () => ({ model: buildTrainingGraph(this.config, terms.problemType).encode() }),
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
