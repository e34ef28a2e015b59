/**
 * The Audio Spectrogram Transformer as a graph (Hugging Face's modeling_audio_spectrogram_transformer.py,
 * flat like nanoGPT's model.py): patch embedding, [CLS] + distillation tokens, position embeddings,
 * pre-LN encoder layers, final LayerNorm, pooler (mean of tokens 0 and 1) and the MLP head.
 *
 * `buildAST` emits the ops into a GraphBuilder with the parameters supplied by the caller (initializers
 * for inference, graph inputs for training), so the same description serves both. `ASTModel` and
 * `ASTForAudioClassification` compile it for ONNX Runtime and run it.
 */
import { GraphBuilder, encodeWithExternalData, type LinearDType, type Value } from '../graph/builder.js';
import { ASTConfig, type HiddenAct } from './config.js';
import { loadWeights, BASE_PREFIX, type HeadKind } from './weights.js';
import { readCheckpointTensors } from '../io/safetensors.js';
import { resolveSource, type FileSource } from '../io/files.js';
import { OrtSession, type GraphOptimizationLevel } from '../runtime/session.js';
import { getRuntime } from '../runtime/backend.js';
import { toFloat16 } from '../graph/float16.js';
import { encodeModel } from '../graph/onnx.js';
import { parseModelDtype, type ModelDtype } from './dtype.js';
import type { Float32Tensor } from '../tensor.js';

/** How attention is expressed: plain ONNX ops, or ORT's fused com.microsoft Attention kernel. */
export type AttentionImpl = 'plain' | 'fused';

export interface ASTGraphOptions {
  head: HeadKind;
  /**
   * Weights as graph inputs fed at every run (zero-copy views of the checkpoint; nothing for ORT to copy or
   * prepack at load) instead of initializers (ORT copies and prepacks them at session creation).
   */
  weightsAsInputs?: boolean;
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
  /** Default 'plain' (what autodiff differentiates); attention probabilities (outputAttentions) always use plain ops. */
  attention?: AttentionImpl;
  /**
   * How the encoder's Linears are emitted (default 'fp32'): 'q8' quantises their weights (which must then be
   * initializers) and runs them as DynamicQuantizeMatMul. 'fp16' is a pass over the finished model (toFloat16),
   * so buildAST emits fp32 for it.
   */
  dtype?: ModelDtype;
  /** q8 only: query, key and value as one int8 GEMM over their concatenated weights (default true). */
  fuseQkv?: boolean;
}

export interface ASTGraphValues {
  logits?: Value; // [B, num_labels]
  poolerOutput: Value; // [B, H]
  lastHiddenState: Value; // [B, T, H]
  hiddenStates: Value[]; // L+1 of [B, T, H]: embeddings, then each layer's output (only with outputHiddenStates)
  attentions: Value[]; // L of [B, heads, T, T]
}

/** A parameter by its HF state-dict name (with the `audio_spectrogram_transformer.` prefix for the classification head). */
export type ParamLookup = (name: string) => Value;

// ------------------------------------------------------------------ the model, op by op

/** HF's ACT2FN, from primitives (ORT's optimiser fuses the GELU patterns into its Gelu/FastGelu kernels). */
export function activation(g: GraphBuilder, x: Value, act: HiddenAct): Value {
  switch (act) {
    case 'gelu':
      // 0.5 x (1 + erf(x / sqrt 2)), exact as torch's gelu
      return g.mul(g.mul(x, g.add(g.erf(g.div(x, Math.SQRT2)), 1)), 0.5);
    case 'gelu_new':
    case 'gelu_pytorch_tanh': {
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      const x3 = g.mul(g.mul(x, x), x);
      const inner = g.mul(g.add(x, g.mul(x3, 0.044715)), Math.sqrt(2 / Math.PI));
      return g.mul(g.mul(x, 0.5), g.add(g.tanh(inner), 1));
    }
    case 'relu':
      return g.relu(x);
    case 'silu':
    case 'swish':
      return g.mul(x, g.sigmoid(x));
    case 'quick_gelu':
      return g.mul(x, g.sigmoid(g.mul(x, 1.702)));
  }
}

/** Conv2d patch embedding on the transposed spectrogram, then [CLS], distillation and position embeddings. */
function embeddings(g: GraphBuilder, config: ASTConfig, x: Value, p: ParamLookup): Value {
  const H = config.hidden_size;
  const f = config.frequencyOutDim;
  const t = config.timeOutDim;
  const img = g.transpose(g.unsqueeze(x, [1]), [0, 1, 3, 2]); // [B, 1, mel, T]
  const conv = g.conv(img, p('embeddings.patch_embeddings.projection.weight'), p('embeddings.patch_embeddings.projection.bias'), {
    kernelShape: [config.patch_size, config.patch_size],
    strides: [config.frequency_stride, config.time_stride],
  }); // [B, H, f, t]
  const patches = g.transpose(g.reshape(conv, [0, H, f * t]), [0, 2, 1]); // [B, f*t, H]
  const special = g.concat([p('embeddings.cls_token'), p('embeddings.distillation_token')], 1); // [1, 2, H]
  const batch = g.slice(g.shapeOf(x), [0], [1]); // [1] = B
  const special2 = g.expand(special, g.concat([batch, g.constI64([2, H])], 0)); // [B, 2, H]
  const tokens = g.concat([special2, patches], 1); // [B, f*t + 2, H]
  return g.add(tokens, p('embeddings.position_embeddings'));
}

/** How the encoder's Linears are emitted. */
interface EncoderLinears {
  dtype: LinearDType;
  fuseQkv: boolean;
}

function selfAttention(
  g: GraphBuilder,
  config: ASTConfig,
  x: Value,
  pre: string,
  p: ParamLookup,
  impl: AttentionImpl,
  wantProbs: boolean,
  lin: EncoderLinears,
): { out: Value; probs?: Value } {
  const H = config.hidden_size;
  const nh = config.num_attention_heads;
  const hd = config.headDim;
  const T = config.sequenceLength;
  const a = `${pre}attention.attention.`;
  const bias = (n: string) => (config.qkv_bias ? p(`${a}${n}.bias`) : null);
  const wq = p(`${a}query.weight`);
  const wk = p(`${a}key.weight`);
  const wv = p(`${a}value.weight`);
  // torch scales the scores by headDim^-0.5; scaling q first is the same product up to fp32 rounding
  // (exact when headDim is a power of 4, as in every AST config: 64 -> 1/8)
  const scale = hd ** -0.5;
  const seq = (v: Value) => g.reshape(v, [-1, T, H]); // [B, T, H]
  const fusedMha = impl === 'fused' && !wantProbs;
  // q unscaled for MultiHeadAttention (it applies the scale itself), scaled here for the plain ops
  const qkvParts = [
    { w: wq, b: bias('query'), alpha: fusedMha ? 1 : scale },
    { w: wk, b: bias('key') },
    { w: wv, b: bias('value') },
  ];
  // [B*T, H] each; q8 with fuseQkv: one int8 GEMM over the three weights, then a Split
  const [qRows, kRows, vRows] = lin.fuseQkv ? g.linears(x, qkvParts, { dtype: lin.dtype }) : qkvParts.map((pt) => g.linear(x, pt.w, pt.b, { dtype: lin.dtype, alpha: pt.alpha }));
  if (fusedMha) {
    // com.microsoft.MultiHeadAttention on unpacked Q, K, V [B, T, H]
    const q = seq(qRows!);
    const k = seq(kRows!);
    const v = seq(vRows!);
    const ctx = g.multiHeadAttention(q, k, v, { numHeads: nh, scale }); // [B, T, H]
    return { out: g.reshape(ctx, [-1, H]) };
  }
  const heads = (v: Value, perm: number[]) => g.transpose(g.reshape(v, [-1, T, nh, hd]), perm);
  const q = heads(qRows!, [0, 2, 1, 3]); // [B, nh, T, hd]
  const kT = heads(kRows!, [0, 2, 3, 1]); // [B, nh, hd, T]
  const v = heads(vRows!, [0, 2, 1, 3]); // [B, nh, T, hd]
  const probs = g.softmax(g.matMul(q, kT), -1); // [B, nh, T, T]
  const ctx = g.matMul(probs, v); // [B, nh, T, hd]
  const out = g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [-1, H]); // [B*T, H]
  return { out, probs: wantProbs ? probs : undefined };
}

function layer(
  g: GraphBuilder,
  config: ASTConfig,
  x: Value,
  i: number,
  p: ParamLookup,
  impl: AttentionImpl,
  wantProbs: boolean,
  lin: EncoderLinears,
): { out: Value; probs?: Value } {
  const pre = `encoder.layer.${i}.`;
  const epsilon = config.layer_norm_eps;
  // pre-LN: x + attention(LN(x)), then x1 + MLP(LN(x1)); x is [B*T, H]
  const h1 = g.layerNorm(x, p(`${pre}layernorm_before.weight`), p(`${pre}layernorm_before.bias`), { epsilon });
  const att = selfAttention(g, config, h1, pre, p, impl, wantProbs, lin);
  const o = { dtype: lin.dtype };
  const x1 = g.add(g.linear(att.out, p(`${pre}attention.output.dense.weight`), p(`${pre}attention.output.dense.bias`), o), x);
  const h2 = g.layerNorm(x1, p(`${pre}layernorm_after.weight`), p(`${pre}layernorm_after.bias`), { epsilon });
  const inter = activation(g, g.linear(h2, p(`${pre}intermediate.dense.weight`), p(`${pre}intermediate.dense.bias`), o), config.hidden_act); // [B*T, I]
  const out = g.add(g.linear(inter, p(`${pre}output.dense.weight`), p(`${pre}output.dense.bias`), o), x1); // [B*T, H]
  return { out, probs: att.probs };
}

/** Emits the whole model into `g` from `inputValues` [B, max_length, num_mel_bins]. */
export function buildAST(g: GraphBuilder, config: ASTConfig, inputValues: Value, param: ParamLookup, options: ASTGraphOptions): ASTGraphValues {
  const base = options.head === 'classification' ? BASE_PREFIX : '';
  const p: ParamLookup = (name) => param(base + name);
  const impl = options.attention ?? 'plain';
  const wantProbs = options.outputAttentions ?? false;
  // the encoder's Linears follow the dtype (fp16 is a pass over the finished model, so they stay fp32 here);
  // the classifier head stays fp32
  const lin: EncoderLinears = { dtype: options.dtype === 'q8' ? 'q8' : 'fp32', fuseQkv: options.fuseQkv ?? true };
  const H = config.hidden_size;
  const T = config.sequenceLength;
  const seq = (v: Value) => g.reshape(v, [-1, T, H]); // [B*T, H] -> [B, T, H]
  const emb = embeddings(g, config, inputValues, p); // [B, T, H]
  // the encoder works on tokens as rows, [B*T, H]: every Linear is then one 2-D Gemm
  let h = g.reshape(emb, [-1, H]); // [B*T, H]
  const hiddenStates = [emb];
  const attentions: Value[] = [];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const r = layer(g, config, h, i, p, impl, wantProbs, lin);
    h = r.out;
    if (options.outputHiddenStates) hiddenStates.push(seq(h));
    if (r.probs) attentions.push(r.probs);
  }
  const epsilon = config.layer_norm_eps;
  const lastHiddenState = seq(g.layerNorm(h, p('layernorm.weight'), p('layernorm.bias'), { epsilon })); // [B, T, H]
  const first2 = g.slice(lastHiddenState, [0], [2], [1]); // [B, 2, H]
  const poolerOutput = g.reduceMean(first2, [1], { keepdims: false }); // [B, H]
  let logits: Value | undefined;
  if (options.head === 'classification') {
    const ln = g.layerNorm(poolerOutput, param('classifier.layernorm.weight'), param('classifier.layernorm.bias'), { epsilon });
    logits = g.linear(ln, param('classifier.dense.weight'), param('classifier.dense.bias')); // [B, num_labels]
  }
  return { logits, poolerOutput, lastHiddenState, hiddenStates, attentions };
}

/** Stacks values of one shape along a new leading axis: L x [B, ...] -> [L, B, ...]. */
function stack(g: GraphBuilder, values: Value[]): Value {
  return g.concat(values.map((v) => g.unsqueeze(v, [0])), 0);
}

/** A parameter's dims, and its numbers when it is to be stored in the graph (an initializer). */
export interface ParamSource {
  readonly dims: readonly number[];
  readonly data?: Float32Array;
}

/**
 * THE forward graph, for inference and training alike: declares `input_values` [batch, max_length,
 * num_mel_bins] and each parameter the model asks for, by its HF name, as a graph input
 * (`weightsAsInputs`) or an initializer, then emits the model. Returns the model's values and the
 * parameter values (what training differentiates with respect to).
 */
export function emitForwardGraph(
  g: GraphBuilder,
  config: ASTConfig,
  weights: ReadonlyMap<string, ParamSource>,
  options: ASTGraphOptions,
): { values: ASTGraphValues; params: Map<string, Value> } {
  const x = g.input('input_values', 'float32', ['batch', config.max_length, config.num_mel_bins]);
  const params = new Map<string, Value>();
  const param: ParamLookup = (name) => {
    let v = params.get(name);
    if (!v) {
      const w = weights.get(name);
      if (!w) throw new Error(`weights: no tensor named ${name}`);
      if (options.weightsAsInputs) v = g.input(name, 'float32', w.dims);
      else if (w.data) v = g.initializer(name, w.dims, w.data);
      else throw new Error(`weights: ${name} has no data to store in the graph`);
      params.set(name, v);
    }
    return v;
  };
  return { values: buildAST(g, config, x, param, options), params };
}

/** The inference graph: input `input_values`, weights as initializers or inputs, outputs named as HF's. */
export function buildInferenceGraph(
  config: ASTConfig,
  weights: ReadonlyMap<string, ParamSource>,
  options: ASTGraphOptions,
): GraphBuilder {
  const g = new GraphBuilder(options.head === 'classification' ? 'ASTForAudioClassification' : 'ASTModel');
  const { values: r } = emitForwardGraph(g, config, weights, options);
  if (r.logits) g.output(r.logits, 'logits');
  g.output(r.poolerOutput, 'pooler_output');
  g.output(r.lastHiddenState, 'last_hidden_state');
  if (options.outputHiddenStates) g.output(stack(g, r.hiddenStates), 'hidden_states'); // [L+1, B, T, H]
  if (options.outputAttentions) g.output(stack(g, r.attentions), 'attentions'); // [L, B, heads, T, T]
  return g;
}

// ------------------------------------------------------------------ the public classes

export interface ASTOutput {
  logits?: Float32Tensor;
  poolerOutput: Float32Tensor;
  lastHiddenState: Float32Tensor;
  hiddenStates?: Float32Tensor; // [L+1, B, T, H]
  attentions?: Float32Tensor; // [L, B, heads, T, T]
}

export interface LoadOptions {
  /**
   * Compute precision (default 'fp32'; fp16/bf16 checkpoints are widened to float32 first): 'q8' quantises every
   * encoder Linear to int8 at load, 'fp16' runs the graph in float16 (slower than fp32 on x86 CPUs, whose ORT
   * kernels lack float16; meant for WebGPU/CUDA). See src/model/dtype.ts.
   */
  dtype?: ModelDtype;
  /** Intra-op threads; default ORT's (one per physical core). */
  threads?: number;
  executionProviders?: string[];
  revision?: string;
  /**
   * Default 'fused': ORT's com.microsoft.MultiHeadAttention kernel, ~12 % less CPU per AST-Base clip than
   * MatMul + Softmax + MatMul (docs/readme/engine.md); 'plain' uses standard ONNX ops only.
   */
  attention?: AttentionImpl;
  graphOptimizationLevel?: GraphOptimizationLevel;
  /**
   * 'inputs' (default with onnxruntime-node): weights are fed to ORT at each run as views of the checkpoint's own buffer, so loading
   * copies nothing (fast load, peak RSS about the file size); ORT packs each weight matrix per GEMM call.
   * 'initializers' (default with onnxruntime-web, which would copy inputs into its heap at every run): weights become session initializers that ORT copies and prepacks once at load (slower load,
   * ~3x the file size in RAM while loading).
   */
  weights?: 'inputs' | 'initializers';
}

export interface ForwardInput {
  inputValues: Float32Tensor; // [B, max_length, num_mel_bins]
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
}

abstract class ASTRunner {
  private readonly sessions = new Map<string, Promise<OrtSession>>();

  protected constructor(
    readonly config: ASTConfig,
    readonly weights: Map<string, Float32Tensor>,
    protected readonly head: HeadKind,
    protected readonly options: LoadOptions,
  ) {
    this.dtype = checkDtype(options);
  }

  readonly dtype: ModelDtype;

  /** The ONNX bytes of this model's graph (weights included), e.g. to save or to run elsewhere. */
  toOnnx(options: { outputHiddenStates?: boolean; outputAttentions?: boolean } = {}): Uint8Array {
    const g = buildInferenceGraph(this.config, this.weights, { head: this.head, attention: this.attention, dtype: this.dtype, ...options });
    return this.dtype === 'fp16' ? encodeModel(toFloat16(g.toModel())) : g.encode();
  }

  /** One session per set of optional outputs, built on first use so the default path stays lean. */
  protected session(hidden: boolean, attentions: boolean): Promise<OrtSession> {
    const key = `${hidden ? 'h' : ''}${attentions ? 'a' : ''}`;
    let s = this.sessions.get(key);
    if (!s) {
      const graph = buildInferenceGraph(this.config, this.weights, {
        head: this.head,
        attention: this.attention,
        outputHiddenStates: hidden,
        outputAttentions: attentions,
        weightsAsInputs: this.weightsAsInputs,
        dtype: this.dtype,
      });
      // weights stay where they are (the checkpoint's buffer; the int8 / float16 arrays made at load) as external data
      const { model, externalData } = encodeWithExternalData(this.dtype === 'fp16' ? toFloat16(graph.toModel()) : graph.toModel());
      s = OrtSession.create(model, {
        threads: this.options.threads,
        executionProviders: this.options.executionProviders,
        graphOptimizationLevel: this.options.graphOptimizationLevel,
        externalData,
      });
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  private get attention(): AttentionImpl {
    return this.options.attention ?? 'fused';
  }

  private get weightsAsInputs(): boolean {
    // quantised and float16 weights are made once at load and belong in the model
    if (this.dtype !== 'fp32') return false;
    // onnxruntime-web copies every input into the WASM heap at each run, so there weights are initializers
    const dflt = getRuntime().name === 'node' ? 'inputs' : 'initializers';
    return (this.options.weights ?? dflt) === 'inputs';
  }

  /** Builds the default session now (fromPretrained does this so load errors surface at load). */
  async warm(): Promise<void> {
    await this.session(false, false);
  }

  protected async run(input: ForwardInput): Promise<ASTOutput> {
    const x = input.inputValues;
    const c = this.config;
    if (
      x.dtype !== 'float32' ||
      x.dims.length !== 3 ||
      x.dims[1] !== c.max_length ||
      x.dims[2] !== c.num_mel_bins ||
      x.dims[0]! < 1 ||
      x.data.length !== x.dims[0]! * c.max_length * c.num_mel_bins
    ) {
      throw new Error(
        `inputValues: expected float32 [batch, ${c.max_length}, ${c.num_mel_bins}] (max_length, num_mel_bins from config), ` +
          `got ${x.dtype} [${x.dims.join(', ')}] with ${x.data.length} values`,
      );
    }
    const hidden = input.outputHiddenStates ?? false;
    const attn = input.outputAttentions ?? false;
    const session = await this.session(hidden, attn);
    const feeds: Record<string, Float32Tensor> = { input_values: x };
    if (this.weightsAsInputs) for (const [k, w] of this.weights) feeds[k] = w;
    const r = await session.run(feeds);
    const f = (k: string) => r[k] as Float32Tensor | undefined;
    const out: ASTOutput = { poolerOutput: f('pooler_output')!, lastHiddenState: f('last_hidden_state')! };
    if (f('logits')) out.logits = f('logits');
    if (hidden) out.hiddenStates = f('hidden_states');
    if (attn) out.attentions = f('attentions');
    return out;
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s.catch(() => undefined))?.release();
  }
}

/** The dtype, checked against the execution providers that must run it. */
function checkDtype(options: LoadOptions): ModelDtype {
  const dtype = options.dtype === undefined ? 'fp32' : parseModelDtype(options.dtype);
  const eps = options.executionProviders;
  if (dtype === 'q8' && eps && !eps.some((e) => e === 'cpu' || e === 'wasm')) {
    throw new Error(`dtype q8 runs on the cpu or wasm execution provider (com.microsoft.DynamicQuantizeMatMul); got ${eps.join(', ')}`);
  }
  return dtype;
}

async function loadPretrained(
  source: string | FileSource,
  head: HeadKind,
  options: LoadOptions,
): Promise<{ config: ASTConfig; weights: Map<string, Float32Tensor> }> {
  checkDtype(options); // before reading any file
  const files = await resolveSource(source, { revision: options.revision });
  const config = await ASTConfig.fromPretrained(files);
  const tensors = await readCheckpointTensors(files);
  const { weights } = loadWeights(config, tensors, head, files.description);
  return { config, weights };
}

/** The bare encoder: last hidden state, pooler output, optional hidden states and attentions. */
export class ASTModel extends ASTRunner {
  private constructor(config: ASTConfig, weights: Map<string, Float32Tensor>, options: LoadOptions) {
    super(config, weights, 'base', options);
  }

  static async fromPretrained(source: string | FileSource, options: LoadOptions = {}): Promise<ASTModel> {
    const { config, weights } = await loadPretrained(source, 'base', options);
    return ASTModel.fromWeights(config, weights, options);
  }

  /** From weights keyed by HF names without the `audio_spectrogram_transformer.` prefix (loadWeights(…, 'base')). */
  static async fromWeights(config: ASTConfig, weights: Map<string, Float32Tensor>, options: LoadOptions = {}): Promise<ASTModel> {
    const m = new ASTModel(config, weights, options);
    await m.warm();
    return m;
  }

  forward(input: ForwardInput): Promise<ASTOutput> {
    return this.run(input);
  }
}

/** The encoder plus HF's MLP head (LayerNorm + Linear on the pooled output): `logits` [B, num_labels]. */
export class ASTForAudioClassification extends ASTRunner {
  private constructor(config: ASTConfig, weights: Map<string, Float32Tensor>, options: LoadOptions) {
    super(config, weights, 'classification', options);
  }

  static async fromPretrained(source: string | FileSource, options: LoadOptions = {}): Promise<ASTForAudioClassification> {
    const { config, weights } = await loadPretrained(source, 'classification', options);
    return ASTForAudioClassification.fromWeights(config, weights, options);
  }

  /** From weights keyed by full HF names (loadWeights(…, 'classification')). */
  static async fromWeights(
    config: ASTConfig,
    weights: Map<string, Float32Tensor>,
    options: LoadOptions = {},
  ): Promise<ASTForAudioClassification> {
    const m = new ASTForAudioClassification(config, weights, options);
    await m.warm();
    return m;
  }

  async forward(input: ForwardInput): Promise<ASTOutput & { logits: Float32Tensor }> {
    const out = await this.run(input);
    return out as ASTOutput & { logits: Float32Tensor };
  }
}
