/**
 * The Audio Spectrogram Transformer as a graph (Hugging Face's modeling_audio_spectrogram_transformer.py,
 * flat like nanoGPT's model.py): patch embedding, [CLS] + distillation tokens, position embeddings,
 * pre-LN encoder layers, final LayerNorm, pooler (mean of tokens 0 and 1) and the MLP head.
 *
 * `buildAST` emits the ops into a GraphBuilder with the parameters supplied by the caller (initializers
 * for inference, graph inputs for training), so the same description serves both. `ASTModel` and
 * `ASTForAudioClassification` compile it for ONNX Runtime and run it.
 */
import { GraphBuilder, encodeWithExternalData, type Int8Weight, type Value } from '../graph/builder.js';
import { linearsBias, quantizeLinears, slabInt8Alloc, type Int8Alloc, type Int8PerChannel } from './quant.js';
import { startInt8Helper } from './quant-thread.js';
import { releaseQuantWasm } from './quant-wasm.js';
import { toFloat16 } from '../graph/float16.js';
import { encodeModel } from '../graph/onnx.js';
import type { ModelDtype } from '../runtime/dtype.js';
import { ASTConfig, type HiddenAct } from './config.js';
import { BASE_PREFIX, type HeadKind } from './weights.js';
import { checkInputValues, loadPretrained, type DeferredWeights } from './pretrained.js';
import type { FileSource } from '../io/files.js';
import { Runner, type GraphBytes } from '../runtime/runner.js';
import { checkRuntimeOptions, splitRuntimeOptions, type RuntimeOptions } from '../runtime/options.js';
import { getRuntime } from '../runtime/backend.js';
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
   * initializers) and runs them as DynamicQuantizeMatMul (g.linear's dtype switch). 'fp16' is a pass over the
   * finished model (graph/float16.ts), so the graph is built in fp32 for it.
   */
  dtype?: ModelDtype;
  /** Query, key and value as one GEMM over their concatenated weights (q8 only; default true). */
  fuseQkv?: boolean;
  /**
   * q8: int8 weights already prepared (by an earlier build with this same map), keyed by their Linears' names;
   * a Linear found here is not quantised again and needs no float32 data. Builds add what they quantise.
   */
  int8Prepared?: Int8Prepared;
  /**
   * Exact GELU as one com.microsoft.Gelu node rather than erf primitives (default false). ORT's optimiser fuses the
   * primitives into that kernel by itself, except in the training graph, where their intermediate values feed the
   * backward pass: there the kernel saves four passes over [B*T, intermediate] per layer and two such activations.
   */
  geluKernel?: boolean;
  /** LayerNormalization nodes also output their Mean and InvStdDev, which the LayerNorm derivative rule reads (training). */
  layerNormStats?: boolean;
}

/** q8 weights prepared at load, one entry per int8 GEMM, quantised with alpha 1 (see `int8Weights`), in slabs (quant.ts `slabInt8Alloc`). */
export interface Int8Prepared {
  readonly linears: Map<string, { weight: Int8PerChannel; bias?: Float32Array; partWidths: number[] }>;
  readonly alloc: Int8Alloc;
}

function newInt8Prepared(): Int8Prepared {
  return { linears: new Map(), alloc: slabInt8Alloc() };
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
export function activation(g: GraphBuilder, x: Value, act: HiddenAct, kernel = false): Value {
  switch (act) {
    case 'gelu':
      if (kernel) return g.geluKernel(x);
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

/** One nn.Linear by its parameter names (bias null when it has none), with y = alpha (x W^T + b). */
export interface LinearNames {
  weight: string;
  bias: string | null;
  alpha?: number;
}

/**
 * q8: Linears prepared at load as one int8 weight (model/quant.ts `quantizeLinears`) with its bias; several parts
 * reading the same input become one weight over their concatenated output channels.
 */
export type Int8Lookup = (parts: readonly LinearNames[]) => { w: Int8Weight; b: Value | null };

/** How the encoder's Linears are emitted (fp32 Gemm, or int8 from weights prepared at load), and its GELU. */
interface EncoderLinears {
  int8?: Int8Lookup;
  fuseQkv: boolean;
  geluKernel: boolean;
  layerNormStats: boolean;
}

/** One encoder Linear by name: q8 when the weights are prepared as int8, else fp32. */
function dense(g: GraphBuilder, lin: EncoderLinears, p: ParamLookup, x: Value, part: LinearNames): Value {
  if (!lin.int8) return g.linear(x, p(part.weight), part.bias ? p(part.bias) : null, { alpha: part.alpha });
  const { w, b } = lin.int8([part]);
  return g.linear(x, w, b, { dtype: 'q8' });
}

function selfAttention(
  g: GraphBuilder,
  config: ASTConfig,
  x: Value,
  names: readonly LinearNames[],
  p: ParamLookup,
  impl: AttentionImpl,
  wantProbs: boolean,
  lin: EncoderLinears,
): { out: Value; probs?: Value } {
  const H = config.hidden_size;
  const nh = config.num_attention_heads;
  const hd = config.headDim;
  const T = config.sequenceLength;
  // torch scales the scores by headDim^-0.5; scaling q first is the same product up to fp32 rounding
  // (exact when headDim is a power of 4, as in every AST config: 64 -> 1/8)
  const scale = hd ** -0.5;
  const seq = (v: Value) => g.reshape(v, [-1, T, H]); // [B, T, H]
  const fusedMha = impl === 'fused' && !wantProbs;
  // q unscaled for MultiHeadAttention (it applies the scale itself), scaled here for the plain ops
  const qkv = names.map((pt, i) => (i === 0 && !fusedMha ? { ...pt, alpha: scale } : pt));
  // [B*T, H] each; q8 with fuseQkv: one int8 GEMM over the three weights [H, 3H], then a Split
  const fused = lin.int8 && lin.fuseQkv ? lin.int8(qkv) : undefined;
  const [qRows, kRows, vRows] = fused ? g.split(g.linear(x, fused.w, fused.b, { dtype: 'q8' }), [H, H, H], -1) : qkv.map((pt) => dense(g, lin, p, x, pt));
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

/** Layer i's Linears by parameter name (without the base prefix), alpha 1: query, key, value, then the rest. */
function layerLinears(config: ASTConfig, i: number): { qkv: LinearNames[]; attentionOutput: LinearNames; intermediate: LinearNames; output: LinearNames } {
  const pre = `encoder.layer.${i}.`;
  const a = `${pre}attention.attention.`;
  const part = (n: string): LinearNames => ({ weight: `${a}${n}.weight`, bias: config.qkv_bias ? `${a}${n}.bias` : null });
  const named = (n: string): LinearNames => ({ weight: `${pre}${n}.weight`, bias: `${pre}${n}.bias` });
  return { qkv: [part('query'), part('key'), part('value')], attentionOutput: named('attention.output.dense'), intermediate: named('intermediate.dense'), output: named('output.dense') };
}

/** The weight names (without the base prefix) that q8 quantises: every encoder Linear's; what loadPretrained may defer for it. */
export function isQ8LinearWeight(name: string): boolean {
  return /^encoder\.layer\.\d+\.(attention\.attention\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)\.weight$/.test(name);
}

/**
 * q8's int8 GEMMs as the graph asks for them (fuseQkv: query, key and value as one), with their full parameter
 * names (base prefix for the classification head): what an Int8Prepared is keyed by (`int8Key`).
 */
function q8LinearGroups(config: ASTConfig, head: HeadKind, fuseQkv = true): LinearNames[][] {
  const base = head === 'classification' ? BASE_PREFIX : '';
  const full = (pt: LinearNames): LinearNames => ({ weight: base + pt.weight, bias: pt.bias === null ? null : base + pt.bias });
  const groups: LinearNames[][] = [];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const l = layerLinears(config, i);
    groups.push(...(fuseQkv ? [l.qkv.map(full)] : l.qkv.map((pt) => [full(pt)])), [full(l.attentionOutput)], [full(l.intermediate)], [full(l.output)]);
  }
  return groups;
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
  const names = layerLinears(config, i);
  const epsilon = config.layer_norm_eps;
  // pre-LN: x + attention(LN(x)), then x1 + MLP(LN(x1)); x is [B*T, H]
  const h1 = g.layerNorm(x, p(`${pre}layernorm_before.weight`), p(`${pre}layernorm_before.bias`), { epsilon, stats: lin.layerNormStats });
  const att = selfAttention(g, config, h1, names.qkv, p, impl, wantProbs, lin);
  const x1 = g.add(dense(g, lin, p, att.out, names.attentionOutput), x);
  const h2 = g.layerNorm(x1, p(`${pre}layernorm_after.weight`), p(`${pre}layernorm_after.bias`), { epsilon, stats: lin.layerNormStats });
  const inter = activation(g, dense(g, lin, p, h2, names.intermediate), config.hidden_act, lin.geluKernel); // [B*T, I]
  const out = g.add(dense(g, lin, p, inter, names.output), x1); // [B*T, H]
  return { out, probs: att.probs };
}

/** Emits the whole model into `g` from `inputValues` [B, max_length, num_mel_bins]. */
export function buildAST(
  g: GraphBuilder,
  config: ASTConfig,
  inputValues: Value,
  param: ParamLookup,
  options: ASTGraphOptions,
  int8?: Int8Lookup,
): ASTGraphValues {
  const base = options.head === 'classification' ? BASE_PREFIX : '';
  const p: ParamLookup = (name) => param(base + name);
  const impl = options.attention ?? 'plain';
  const wantProbs = options.outputAttentions ?? false;
  // q8: the encoder's Linears from int8 weights (fp16 is a pass over the finished model, so fp32 here); the head stays fp32
  if (options.dtype === 'q8' && !int8) throw new Error('buildAST: dtype q8 needs the int8 weight lookup (emitForwardGraph makes it)');
  const prefixed = (n: string | null) => (n === null ? null : base + n);
  const lin: EncoderLinears = {
    int8: options.dtype === 'q8' ? (parts) => int8!(parts.map((pt) => ({ ...pt, weight: base + pt.weight, bias: prefixed(pt.bias) }))) : undefined,
    fuseQkv: options.fuseQkv ?? true,
    geluKernel: options.geluKernel ?? false,
    layerNormStats: options.layerNormStats ?? false,
  };
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
  const lastHiddenState = seq(g.layerNorm(h, p('layernorm.weight'), p('layernorm.bias'), { epsilon, stats: lin.layerNormStats })); // [B, T, H]
  const first2 = g.slice(lastHiddenState, [0], [2], [1]); // [B, 2, H]
  const poolerOutput = g.reduceMean(first2, [1], { keepdims: false }); // [B, H]
  let logits: Value | undefined;
  if (options.head === 'classification') {
    const ln = g.layerNorm(poolerOutput, param('classifier.layernorm.weight'), param('classifier.layernorm.bias'), { epsilon, stats: lin.layerNormStats });
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
  const prepared = options.int8Prepared ?? newInt8Prepared();
  const int8: Int8Lookup | undefined = options.dtype === 'q8' ? (parts) => int8Weights(g, weights, parts, prepared) : undefined;
  return { values: buildAST(g, config, x, param, options, int8), params };
}

/** An Int8Prepared's key: the group's weight and bias names (alpha is applied at each use, not stored). */
function int8Key(parts: readonly LinearNames[]): string {
  return parts.map((pt) => `${pt.weight}|${pt.bias ?? ''}`).join(',');
}

type Int8Entry = Int8Prepared['linears'] extends Map<string, infer E> ? E : never;

/** One group of Linears (one int8 GEMM) quantised with alpha 1, each tensor's data from `data`. */
function quantizeGroup(
  parts: readonly LinearNames[],
  data: (name: string) => { dims: readonly number[]; data: Float32Array },
  alloc: Int8Alloc,
): Int8Entry {
  const ws = parts.map((pt) => data(pt.weight));
  const partWidths = ws.map((w) => w.dims[0]!);
  return {
    ...quantizeLinears(
      parts.map((pt, i) => ({ weight: ws[i]!.data, out: partWidths[i]!, bias: pt.bias ? data(pt.bias).data : null })),
      ws[0]!.dims[1]!,
      alloc,
    ),
    partWidths,
  };
}

/**
 * q8 from weights left in the checkpoint file (loadPretrained's `defer`): each int8 GEMM's float32 weights are read
 * into a scratch buffer and quantised there while the next groups are read into others (reads run on the platform's
 * I/O threads), so the float32 checkpoint is never held whole: nothing to page in but the scratch buffers, and no
 * second pass over 330 MB. Where the platform has a helper thread (Node: src/node/quant-thread.ts), groups are
 * shared between it and this thread, balanced by size, in SharedArrayBuffer scratch and slabs. Either way each
 * group's bytes are quantizeGroup's (one kernel). Closes `deferred` in all cases.
 */
export async function quantizeDeferred(config: ASTConfig, head: HeadKind, deferred: DeferredWeights, weights: ReadonlyMap<string, ParamSource>): Promise<Int8Prepared> {
  const helper = startInt8Helper();
  const shared = helper !== undefined;
  const int8: Int8Prepared = { linears: new Map(), alloc: slabInt8Alloc(undefined, shared) };
  const numel = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
  const groups = q8LinearGroups(config, head);
  const floats = groups.map((parts) => parts.reduce((n, pt) => n + (deferred.dims.has(pt.weight) ? numel(deferred.dims.get(pt.weight)!) : 0), 0));
  // which thread quantises each group: the one with less work so far (the helper on ties)
  const onHelper: boolean[] = [];
  let mine = 0;
  let theirs = 0;
  for (const f of floats) {
    const h = shared && theirs <= mine;
    onHelper.push(h);
    if (h) theirs += f;
    else mine += f;
  }
  // scratch buffers: two per thread, so each can quantise one group while the next is read
  const slots = shared ? 4 : 2;
  const most = Math.max(0, ...floats);
  const scratch = Array.from({ length: slots }, () => (shared ? new Float32Array(new SharedArrayBuffer(4 * most)) : new Float32Array(most)));
  const slotFree: Promise<unknown>[] = Array.from({ length: slots }, () => Promise.resolve());
  type Got = Map<string, { dims: readonly number[]; data: Float32Array }>;
  /** Reads group i's deferred weights into scratch[i % slots] once the group before it there is done; its other tensors come from `weights`. */
  const read = async (i: number): Promise<Got> => {
    await slotFree[i % slots];
    const got: Got = new Map();
    let at = 0;
    for (const pt of groups[i]!) {
      const dims = deferred.dims.get(pt.weight);
      if (!dims) continue;
      const view = scratch[i % slots]!.subarray(at, at + numel(dims));
      at += view.length;
      await deferred.read(pt.weight, view);
      got.set(pt.weight, { dims, data: view });
    }
    return got;
  };
  const handled = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => undefined); // awaited later; a rejection before then is not an unhandled one
    return p;
  };
  const reads = new Map<number, Promise<Got>>();
  const onThread: Promise<void>[] = [];
  try {
    for (let i = 0; i < Math.min(slots, groups.length); i++) reads.set(i, handled(read(i)));
    for (let i = 0; i < groups.length; i++) {
      const got = await reads.get(i)!;
      reads.delete(i);
      const parts = groups[i]!;
      const data = (name: string) => {
        const d = got.get(name);
        if (d) return d;
        const t = weights.get(name);
        if (!t?.data) throw new Error(`weights: no tensor named ${name}`);
        return { dims: t.dims, data: t.data };
      };
      if (onHelper[i]) {
        const ws = parts.map((pt) => data(pt.weight));
        const partWidths = ws.map((w) => w.dims[0]!);
        const inF = ws[0]!.dims[1]!;
        const cols = partWidths.reduce((a, b) => a + b, 0);
        const bias = linearsBias(parts.map((pt, j) => ({ weight: ws[j]!.data, out: partWidths[j]!, bias: pt.bias ? data(pt.bias).data : null })));
        const dst = int8.alloc(cols * inF);
        const key = int8Key(parts);
        const done = handled(
          helper!.quantize(ws.map((w, j) => ({ weight: w.data, out: partWidths[j]! })), inF, dst).then((scales) => {
            int8.linears.set(key, { weight: { rows: inF, cols, data: dst, scales }, bias, partWidths });
          }),
        );
        onThread.push(done);
        slotFree[i % slots] = done;
      } else {
        int8.linears.set(int8Key(parts), quantizeGroup(parts, data, int8.alloc));
      }
      if (i + slots < groups.length) reads.set(i + slots, handled(read(i + slots)));
    }
    await Promise.all(onThread);
  } finally {
    helper?.close();
    // reads in flight write into scratch: let them end before closing the file
    await Promise.allSettled([...reads.values(), ...onThread]);
    await deferred.close();
  }
  return int8;
}

/**
 * q8: Linears quantised from their float32 data as one int8 weight (model/quant.ts), stored as initializers.
 * The quantised weight is kept in `prepared` without alpha (a per-part factor, e.g. attention's 1/sqrt(headDim)
 * on the query in one variant and not in another), which is folded here into copies of the scales and bias:
 * the same float32 products quantizeLinears forms.
 */
function int8Weights(
  g: GraphBuilder,
  weights: ReadonlyMap<string, ParamSource>,
  parts: readonly LinearNames[],
  prepared: Int8Prepared,
): { w: Int8Weight; b: Value | null } {
  const key = int8Key(parts);
  let q = prepared.linears.get(key);
  if (!q) {
    const data = (name: string) => {
      const t = weights.get(name);
      if (!t) throw new Error(`weights: no tensor named ${name}`);
      if (!t.data) throw new Error(`weights: ${name} has no data to quantise (q8 needs the weights at graph build)`);
      return { dims: t.dims, data: t.data };
    };
    q = quantizeGroup(parts, data, prepared.alloc);
    prepared.linears.set(key, q);
  }
  const { weight } = q;
  let { scales } = weight;
  let bias = q.bias;
  if (parts.some((pt) => (pt.alpha ?? 1) !== 1)) {
    scales = Float32Array.from(scales);
    bias = bias && Float32Array.from(bias);
    let o = 0;
    for (const [i, pt] of parts.entries()) {
      const out = q.partWidths[i]!;
      const alpha = pt.alpha ?? 1;
      if (alpha !== 1) {
        for (let c = o; c < o + out; c++) scales[c] = scales[c]! * alpha;
        if (bias) for (let c = o; c < o + out; c++) bias[c] = bias[c]! * alpha;
      }
      o += out;
    }
  }
  const name = parts.length === 1 ? parts[0]!.weight : `${parts[0]!.weight}+${parts.length - 1}`;
  const w: Int8Weight = {
    data: g.typedInitializer(`${name}.int8`, 'int8', [weight.rows, weight.cols], weight.data), // [in, out]
    scale: g.typedInitializer(`${name}.scale`, 'float32', [weight.cols], scales),
  };
  return { w, b: bias ? g.typedInitializer(`${name}.bias_q8`, 'float32', [weight.cols], bias) : null };
}

/**
 * q8 at load: every encoder Linear quantised once (a throwaway build walks the model), and the names of the
 * float32 parameters the int8 graph still reads (embeddings, layer norms, the head).
 */
function prepareQ8(
  config: ASTConfig,
  weights: ReadonlyMap<string, ParamSource>,
  head: HeadKind,
  int8: Int8Prepared = newInt8Prepared(),
): { int8: Int8Prepared; params: string[] } {
  const { params } = emitForwardGraph(new GraphBuilder('q8-prepare'), config, weights, { head, dtype: 'q8', int8Prepared: int8 });
  releaseQuantWasm(); // the kernel's few MB of working memory are not needed after load
  return { int8, params: [...params.keys()] };
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

export interface LoadOptions extends RuntimeOptions {
  revision?: string;
  /**
   * Default 'fused': ORT's com.microsoft.MultiHeadAttention kernel, ~12 % less CPU per AST-Base clip than
   * MatMul + Softmax + MatMul (docs/readme/engine.md); 'plain' uses standard ONNX ops only (the default on the
   * WebGPU EP, whose fused kernel misses the parity tolerance).
   */
  attention?: AttentionImpl;
  /**
   * 'inputs' (default with onnxruntime-node): weights are fed to ORT at each run as views of the checkpoint's own buffer, so loading
   * copies nothing (fast load, peak RSS about the file size); ORT packs each weight matrix per GEMM call.
   * 'initializers' (default with onnxruntime-web, which would copy inputs into its heap at every run, and on the WebGPU EP): weights become session initializers that ORT copies and prepacks once at load (slower load,
   * ~3x the file size in RAM while loading).
   */
  weights?: 'inputs' | 'initializers';
  /**
   * q8: how to read the checkpoint's weights again (fromPretrained and the pipeline pass it). Given it, a q8
   * model drops its own int8 weights (~85 MB for AST-Base) and float32 ones once ONNX Runtime has them,
   * and a graph needed later (hidden states, attentions) re-reads and re-quantises the checkpoint for that one
   * build. Without it the int8 weights stay in memory for such builds and for `toOnnx`.
   */
  reloadWeights?: () => Promise<Map<string, Float32Tensor>>;
  /**
   * q8: encoder Linear weights still in the checkpoint file (`loadPretrained(source, { defer: isQ8LinearWeight })`,
   * as fromPretrained and the pipeline do): quantised at load as they are read, and absent from the weights map.
   * The model closes them. Only for dtype 'q8'.
   */
  deferred?: DeferredWeights;
}

export interface ForwardInput {
  inputValues: Float32Tensor; // [B, max_length, num_mel_bins]
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
  /**
   * Default true. False leaves last_hidden_state ([B, T, H]) in ONNX Runtime, for callers that want only the logits
   * and the pooled output (the server: no copy, no garbage per forward; on a GPU, no read-back); `lastHiddenState`
   * is then an empty [B, 0, H] tensor.
   */
  outputLastHiddenState?: boolean;
}

/** LoadOptions.deferred quantised (q8 only; any other dtype is an error, after closing the file). */
async function quantizeDeferredFor(config: ASTConfig, head: HeadKind, weights: ReadonlyMap<string, ParamSource>, options: LoadOptions): Promise<Int8Prepared | undefined> {
  const { deferred } = options;
  if (!deferred) return undefined;
  if ((options.dtype ?? 'fp32') !== 'q8') {
    await deferred.close();
    throw new Error(`LoadOptions.deferred: weights left in the checkpoint file are read only by dtype q8 (got dtype ${options.dtype ?? 'fp32'}); load the checkpoint without defer`);
  }
  return quantizeDeferred(config, head, deferred, weights);
}

/** Builds the inference graph of one variant and runs it on a Runner (which owns the sessions). */
abstract class ASTRunner {
  private readonly runner: Runner;
  private readonly attention: AttentionImpl;
  private readonly weightsAsInputs: boolean;
  /** The compute precision (options.dtype, default 'fp32'). */
  readonly dtype: ModelDtype;
  /**
   * The float32 parameters the graph reads. q8: only those that stay float32 (embeddings, layer norms, the
   * head; the encoder's Linears are in `int8Prepared`), and none once loaded when the model can re-read its
   * checkpoint (LoadOptions.reloadWeights: fromPretrained and the pipeline).
   */
  readonly weights: Map<string, Float32Tensor>;
  /** q8: every encoder Linear's int8 weight, quantised at load; undefined once dropped (see LoadOptions.reloadWeights). */
  private int8Prepared: Int8Prepared | undefined;
  private readonly reloadWeights: (() => Promise<Map<string, Float32Tensor>>) | undefined;
  /** q8 builds after the int8 weights were dropped, one at a time (each re-reads the checkpoint). */
  private q8Rebuild: Promise<void> = Promise.resolve();

  protected constructor(
    readonly config: ASTConfig,
    weights: Map<string, Float32Tensor>,
    protected readonly head: HeadKind,
    options: LoadOptions,
    /** q8: the encoder's Linears already quantised (from LoadOptions.deferred); the rest are quantised here. */
    int8?: Int8Prepared,
  ) {
    const { runtime } = splitRuntimeOptions(options);
    this.runner = new Runner(runtime, head === 'classification' ? 'ASTForAudioClassification' : 'ASTModel');
    this.dtype = this.runner.options.dtype ?? 'fp32';
    const onWebGpu = (this.runner.options.executionProviders ?? getRuntime().defaultExecutionProviders).includes('webgpu');
    // ORT 1.30's WebGPU MultiHeadAttention misses the parity tolerance past a few dozen tokens (test/runtime/webgpu.test.ts)
    this.attention = options.attention ?? (onWebGpu ? 'plain' : 'fused');
    // onnxruntime-web copies every input into the WASM heap at each run, and on a GPU inputs cross to the device at
    // every run, so there weights are initializers (uploaded once); int8 / float16 weights are made once at load and
    // belong in the model
    const dflt = getRuntime().name === 'node' && !onWebGpu ? 'inputs' : 'initializers';
    this.weightsAsInputs = this.dtype === 'fp32' && (options.weights ?? dflt) === 'inputs';
    if (this.dtype === 'q8') {
      // Quantise every encoder Linear now, once (a throwaway build walks the model), and keep only the float32
      // parameters the int8 graph still reads. With reloadWeights they are views, dropped with the int8 weights
      // once ORT has both (warm); without, copies, so nothing refers to the checkpoint's buffer or the float32
      // Linears: either way those are freed.
      const prepared = prepareQ8(config, weights, head, int8);
      this.int8Prepared = prepared.int8;
      const params = prepared.params;
      this.reloadWeights = options.reloadWeights;
      const keep = (t: Float32Tensor): Float32Tensor => (this.reloadWeights ? t : { ...t, data: t.data.slice() });
      this.weights = new Map(params.map((k) => [k, keep(weights.get(k)!)]));
    } else {
      this.weights = weights;
    }
  }

  /** The ONNX bytes of this model's graph (weights included, in this model's dtype), e.g. to save or to run elsewhere. */
  toOnnx(options: { outputHiddenStates?: boolean; outputAttentions?: boolean } = {}): Uint8Array {
    if (this.dtype === 'q8' && !this.int8Prepared) {
      throw new Error(
        'toOnnx: this q8 model dropped its int8 weights once ONNX Runtime had them (it was loaded with reloadWeights, as fromPretrained and the pipeline do); ' +
          'build it with fromWeights(config, weights, { dtype: "q8" }) to keep them, or use `ast-audio export --dtype q8`',
      );
    }
    const model = buildInferenceGraph(this.config, this.weights, {
      head: this.head,
      attention: this.attention,
      dtype: this.dtype,
      int8Prepared: this.int8Prepared,
      ...options,
    }).toModel();
    return encodeModel(this.dtype === 'fp16' ? toFloat16(model) : model);
  }

  /** One graph per set of optional outputs, built on first use so the default path stays lean. */
  private variant(hidden: boolean, attentions: boolean): { key: string; build: () => GraphBytes } {
    return {
      key: `${hidden ? 'h' : ''}${attentions ? 'a' : ''}`,
      // weights stay where they are (the checkpoint's own buffer; the int8 / float16 arrays made at load): the
      // model refers to them as external data
      build: () => {
        const model = buildInferenceGraph(this.config, this.weights, {
          head: this.head,
          attention: this.attention,
          outputHiddenStates: hidden,
          outputAttentions: attentions,
          weightsAsInputs: this.weightsAsInputs,
          dtype: this.dtype,
          int8Prepared: this.int8Prepared,
        }).toModel();
        return encodeWithExternalData(this.dtype === 'fp16' ? toFloat16(model) : model);
      },
    };
  }

  /** Builds the default session now (fromPretrained does this so load errors surface at load). */
  async warm(): Promise<void> {
    const v = this.variant(false, false);
    await this.runner.session(v.key, v.build);
    // ORT has copied and prepacked the int8 weights: the model's own copies would only serve later builds
    if (this.reloadWeights) this.dropQ8Weights();
  }

  private dropQ8Weights(): void {
    this.int8Prepared = undefined;
    this.weights.clear();
  }

  /** q8 after the int8 weights were dropped: re-reads and re-quantises the checkpoint to build `v`'s session, then drops them again. */
  private buildQ8Again(v: { key: string; build: () => GraphBytes }): Promise<void> {
    const next = this.q8Rebuild.then(async () => {
      if (this.runner.hasSession(v.key) || this.runner.disposed) return;
      try {
        const weights = await this.reloadWeights!();
        const { int8, params } = prepareQ8(this.config, weights, this.head);
        this.int8Prepared = int8;
        for (const k of params) this.weights.set(k, weights.get(k)!);
        await this.runner.session(v.key, v.build);
      } finally {
        this.dropQ8Weights();
      }
    });
    this.q8Rebuild = next.catch(() => undefined);
    return next;
  }

  protected async run(input: ForwardInput): Promise<ASTOutput> {
    const x = input.inputValues;
    checkInputValues(x, this.config);
    const hidden = input.outputHiddenStates ?? false;
    const attn = input.outputAttentions ?? false;
    const v = this.variant(hidden, attn);
    const last = input.outputLastHiddenState ?? true;
    const fetch = last ? undefined : ['pooler_output', ...(this.head === 'classification' ? ['logits'] : []), ...(hidden ? ['hidden_states'] : []), ...(attn ? ['attentions'] : [])];
    if (this.dtype === 'q8' && !this.int8Prepared && !this.runner.hasSession(v.key)) await this.buildQ8Again(v);
    const r = await this.runner.run(v.key, v.build, { input_values: x }, this.weightsAsInputs ? this.weights : undefined, fetch);
    const f = (k: string) => r[k] as Float32Tensor | undefined;
    const lastHiddenState = last ? f('last_hidden_state')! : ({ dtype: 'float32', dims: [x.dims[0]!, 0, this.config.hidden_size], data: new Float32Array(0) } satisfies Float32Tensor);
    const out: ASTOutput = { poolerOutput: f('pooler_output')!, lastHiddenState };
    if (f('logits')) out.logits = f('logits');
    if (hidden) out.hiddenStates = f('hidden_states');
    if (attn) out.attentions = f('attentions');
    return out;
  }

  /** How this model was loaded (runtime options, attention, weights as inputs or initializers), e.g. to load its weights again another way. */
  get loadOptions(): Readonly<LoadOptions> {
    return { ...this.runner.options, attention: this.attention, weights: this.weightsAsInputs ? 'inputs' : 'initializers' };
  }

  /** True once `dispose()` has been called; any later `forward` is a DisposedError. */
  get disposed(): boolean {
    return this.runner.disposed;
  }

  /** Releases the ONNX Runtime sessions once the runs in flight have finished; idempotent. */
  dispose(): Promise<void> {
    return this.runner.dispose();
  }
}

/** The bare encoder: last hidden state, pooler output, optional hidden states and attentions. */
export class ASTModel extends ASTRunner {
  private constructor(config: ASTConfig, weights: Map<string, Float32Tensor>, options: LoadOptions, int8?: Int8Prepared) {
    super(config, weights, 'base', options, int8);
  }

  /** config.json and the weights (see loadPretrained); preprocessor_config.json, when present, must agree. */
  static async fromPretrained(source: string | FileSource, options: LoadOptions = {}): Promise<ASTModel> {
    checkRuntimeOptions(splitRuntimeOptions(options).runtime); // a bad dtype or thread count before any file is read
    const load = (defer?: typeof isQ8LinearWeight) => loadPretrained(source, { revision: options.revision, head: 'base', preprocessor: 'optional', defer });
    const { config, weights, deferred } = await load(options.dtype === 'q8' ? isQ8LinearWeight : undefined);
    return ASTModel.fromWeights(config, weights, { reloadWeights: async () => (await load()).weights, deferred, ...options });
  }

  /** From weights keyed by HF names without the `audio_spectrogram_transformer.` prefix (loadWeights(…, 'base')). */
  static async fromWeights(config: ASTConfig, weights: Map<string, Float32Tensor>, options: LoadOptions = {}): Promise<ASTModel> {
    const m = new ASTModel(config, weights, options, await quantizeDeferredFor(config, 'base', weights, options));
    await m.warm();
    return m;
  }

  forward(input: ForwardInput): Promise<ASTOutput> {
    return this.run(input);
  }
}

/** The encoder plus HF's MLP head (LayerNorm + Linear on the pooled output): `logits` [B, num_labels]. */
export class ASTForAudioClassification extends ASTRunner {
  private constructor(config: ASTConfig, weights: Map<string, Float32Tensor>, options: LoadOptions, int8?: Int8Prepared) {
    super(config, weights, 'classification', options, int8);
  }

  /** config.json and the weights (see loadPretrained); preprocessor_config.json, when present, must agree. */
  static async fromPretrained(source: string | FileSource, options: LoadOptions = {}): Promise<ASTForAudioClassification> {
    checkRuntimeOptions(splitRuntimeOptions(options).runtime); // a bad dtype or thread count before any file is read
    const load = (defer?: typeof isQ8LinearWeight) => loadPretrained(source, { revision: options.revision, head: 'classification', preprocessor: 'optional', defer });
    const { config, weights, deferred } = await load(options.dtype === 'q8' ? isQ8LinearWeight : undefined);
    return ASTForAudioClassification.fromWeights(config, weights, { reloadWeights: async () => (await load()).weights, deferred, ...options });
  }

  /** From weights keyed by full HF names (loadWeights(…, 'classification')). */
  static async fromWeights(
    config: ASTConfig,
    weights: Map<string, Float32Tensor>,
    options: LoadOptions = {},
  ): Promise<ASTForAudioClassification> {
    const m = new ASTForAudioClassification(config, weights, options, await quantizeDeferredFor(config, 'classification', weights, options));
    await m.warm();
    return m;
  }

  async forward(input: ForwardInput): Promise<ASTOutput & { logits: Float32Tensor }> {
    const out = await this.run(input);
    return out as ASTOutput & { logits: Float32Tensor };
  }
}
