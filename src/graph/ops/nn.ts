/**
 * Neural-network ops: Softmax, LogSoftmax, LayerNormalization, Conv, and ORT's com.microsoft attention
 * kernels — rules and typed builders together.
 */
import type { Dim } from '../types.js';
import type { Value } from '../value.js';
import { attrInts, attrNum, normAxis, sameShape, staticDims, type OpEmitter, type Ops, type OpTable, type Vjp } from './kit.js';

export const MS_DOMAIN = 'com.microsoft';

/** The rule of a Softmax-like op over its `axis` attribute, from its output y and cotangent dy. */
const alongAxis =
  (rule: <V>(x: Ops<V>, y: V, dy: V, axis: number) => V): Vjp =>
  (g, n, [dy], x) => {
    if (!dy) return [];
    const y = n.outputs[0]!;
    return [rule(x, y, dy, normAxis(attrNum(n, 'axis', -1), g.shape(y).length))];
  };

export const NN_OPS: OpTable = {
  // dx = y ⊙ (dy − Σ_axis dy ⊙ y)
  Softmax: { shape: sameShape, vjp: alongAxis((x, y, dy, axis) => x.mul(y, x.sub(dy, x.sum(x.mul(dy, y), [axis], true)))) },
  // dx = dy − softmax ⊙ Σ_axis dy
  LogSoftmax: { shape: sameShape, vjp: alongAxis((x, y, dy, axis) => x.sub(dy, x.mul(x.exp(y), x.sum(dy, [axis], true)))) },
  /**
   * LayerNormalization over the last axes from `axis`: the usual three-term rule. With the optional Mean and
   * InvStdDev outputs (`layerNorm(…, { stats: true })`, as the training graph emits it) the rule reads the
   * forward pass's statistics, [outer…, 1…]; without them it recomputes them (four passes over x more).
   */
  LayerNormalization: {
    shape: (c) => {
      const axis = normAxis(attrNum(c, 'axis', -1), c.x.length);
      const stats = c.x.map((d, i) => (i < axis ? d : 1));
      return [[...c.x], ...Array.from({ length: c.numOutputs - 1 }, () => [...stats])];
    },
    floatAttrs: ['epsilon'],
    vjp: (g, n, [dy], x, w) => {
      if (!dy) return [];
      const [a, gamma, beta] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2] ?? null];
      const rank = g.shape(a).length;
      const axis = normAxis(attrNum(n, 'axis', -1), rank);
      const eps = attrNum(n, 'epsilon', 1e-5);
      const normAxes = Array.from({ length: rank - axis }, (_, i) => axis + i);
      const outerAxes = Array.from({ length: axis }, (_, i) => i);
      let xhat: ReturnType<typeof x.mul>;
      let rstd: ReturnType<typeof x.mul>;
      if (n.outputs.length >= 3) {
        rstd = n.outputs[2]!;
        xhat = x.mul(x.sub(a, n.outputs[1]!), rstd);
      } else {
        const xc = x.sub(a, x.mean(a, normAxes, true));
        rstd = x.div(x.scalar(1), x.sqrt(x.add(x.mean(x.mul(xc, xc), normAxes, true), x.scalar(eps))));
        xhat = x.mul(xc, rstd);
      }
      const dxhat = x.mul(dy, gamma);
      // dx = rstd ⊙ (dxhat − mean(dxhat) − xhat ⊙ mean(dxhat ⊙ xhat))
      const dx = !w[0] ? undefined : x.mul(rstd, x.sub(x.sub(dxhat, x.mean(dxhat, normAxes, true)), x.mul(xhat, x.mean(x.mul(dxhat, xhat), normAxes, true))));
      const dGamma = w[1] ? x.reshapeLike(x.sum(x.mul(dy, xhat), outerAxes, false), gamma) : undefined;
      const dBeta = beta && w[2] ? x.reshapeLike(x.sum(dy, outerAxes, false), beta) : undefined;
      return [dx, dGamma, dBeta];
    },
  },
  /**
   * Conv (2-D, group 1, no padding — the patch embedding). dW[o,c,i,j] = Σ_{b,p,q} dY[b,o,p,q] X[b,c,p·s+i,q·s+j]
   * is itself a convolution of X (batch and channel swapped) with dY as the kernel, dilated by the stride.
   */
  Conv: {
    shape: (c) => {
      const w = c.dims[1]!;
      const strides = attrInts(c, 'strides') ?? [1, 1];
      const pads = attrInts(c, 'pads') ?? [0, 0, 0, 0];
      const dil = attrInts(c, 'dilations') ?? [1, 1];
      const out: Dim[] = [c.x[0]!, w[0]!];
      for (let i = 0; i < 2; i++) {
        const size = c.x[2 + i]!;
        const k = ((w[2 + i] as number) - 1) * dil[i]! + 1;
        out.push(typeof size === 'number' ? Math.floor((size + pads[i]! + pads[i + 2]! - k) / strides[i]!) + 1 : `conv`);
      }
      return [out];
    },
    vjp: (g, n, [dy], x) => {
      if (!dy) return [];
      const [input, w, b] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2] ?? null];
      const wDims = staticDims(g.shape(w), 'Conv weight');
      const strides = attrInts(n, 'strides') ?? [1, 1];
      const pads = attrInts(n, 'pads') ?? [0, 0, 0, 0];
      const dil = attrInts(n, 'dilations') ?? [1, 1];
      if (wDims.length !== 4 || attrNum(n, 'group', 1) !== 1 || pads.some((p) => p !== 0) || dil.some((d) => d !== 1)) {
        throw new Error('autodiff: only 2-D Conv with group 1, no padding and no dilation is supported');
      }
      const xT = x.transpose(input, [1, 0, 2, 3]); // [C, B, H, W]
      const dyT = x.transpose(dy, [1, 0, 2, 3]); // [O, B, P, Q]
      const full = g.op('Conv', [xT, dyT], { dilations: strides, strides: [1, 1] })[0]!; // [C, O, >=kh, >=kw]
      const cut = g.op('Slice', [full, g.constI64([0, 0], [2]), g.constI64([wDims[2]!, wDims[3]!], [2]), g.constI64([2, 3], [2])])[0]!;
      const dW = x.transpose(cut, [1, 0, 2, 3]); // [O, C, kh, kw]
      const dB = b ? x.sum(dy, [0, 2, 3], false) : undefined;
      return [undefined, dW, dB];
    },
  },
};

/** com.microsoft ops of this family (only Gelu has a derivative rule: training uses the plain ONNX form of the others). */
export const NN_MS_OPS: OpTable = {
  MultiHeadAttention: {
    floatAttrs: ['scale', 'mask_filter_value'],
    shape: (c) => [[c.x[0]!, c.x[1]!, c.x[2]!]],
  },
  Attention: {
    floatAttrs: ['scale', 'mask_filter_value'],
    shape: (c) => [[c.x[0]!, c.x[1]!, (c.dims[1]![1] as number) / 3]],
  },
  /**
   * y = x Φ(x), exact (erf). dx = dy (Φ(x) + x φ(x)) = dy · ½ (1 + erf(u) + x · 2φ(x)) with u = x/√2, 2φ(x) = e^{ln(2/√(2π)) − u²}:
   * constants folded into the exponent, ten passes over x's size (the rule the primitives' autodiff gives takes twelve,
   * and the forward pass then keeps three of x's size alive instead of one).
   */
  Gelu: {
    shape: sameShape,
    vjp: (_g, n, [dy], x) => {
      if (!dy) return [];
      const a = n.inputs[0]!;
      const u = x.scale(a, Math.SQRT1_2);
      const twoPdf = x.exp(x.sub(x.scalar(Math.log(2 / Math.sqrt(2 * Math.PI))), x.mul(u, u)));
      const twice = x.add(x.add(x.erf(u), x.mul(a, twoPdf)), x.scalar(1)); // 2 (Φ(x) + x φ(x))
      return [x.mul(dy, x.scale(twice, 0.5))];
    },
  },
  FastGelu: { shape: sameShape },
  QuickGelu: { shape: sameShape, floatAttrs: ['alpha'] },
  BiasGelu: { shape: sameShape },
};

export interface LayerNormOptions {
  /** First normalised axis (default -1: the last). */
  axis?: number;
  epsilon: number;
  /**
   * Also emit the node's Mean and InvStdDev outputs, which the derivative rule then reads instead of
   * recomputing them (the training graph); inference leaves them off.
   */
  stats?: boolean;
}

export interface ConvOptions {
  kernelShape: readonly number[];
  strides?: readonly number[];
}

export interface MultiHeadAttentionOptions {
  numHeads: number;
  /** Score scale; the kernel's default is headDim^-0.5. */
  scale?: number;
}

export const nnBuilders = {
  softmax(this: OpEmitter, x: Value, axis = -1): Value {
    return this.op1('Softmax', [x], { axis });
  },
  logSoftmax(this: OpEmitter, x: Value, axis = -1): Value {
    return this.op1('LogSoftmax', [x], { axis });
  },
  /** (x − mean) / sqrt(var + epsilon) · weight + bias over the axes from `axis`. */
  layerNorm(this: OpEmitter, x: Value, weight: Value, bias: Value | null, o: LayerNormOptions): Value {
    return this.op('LayerNormalization', bias ? [x, weight, bias] : [x, weight], { axis: o.axis ?? -1, epsilon: o.epsilon }, o.stats ? 3 : 1)[0]!;
  },
  /** 2-D convolution, no padding, group 1. */
  conv(this: OpEmitter, x: Value, weight: Value, bias: Value | null, o: ConvOptions): Value {
    const attrs: Record<string, number[]> = { kernel_shape: [...o.kernelShape] };
    if (o.strides) attrs.strides = [...o.strides];
    return this.op1('Conv', bias ? [x, weight, bias] : [x, weight], attrs);
  },
  /** ORT's com.microsoft.Gelu kernel: x Φ(x), exact (erf), in one pass. */
  geluKernel(this: OpEmitter, x: Value): Value {
    return this.op1('Gelu', [x], {}, MS_DOMAIN);
  },
  /** ORT's com.microsoft.MultiHeadAttention on unpacked Q, K, V [B, T, H] -> [B, T, H]. */
  multiHeadAttention(this: OpEmitter, q: Value, k: Value, v: Value, o: MultiHeadAttentionOptions): Value {
    const attrs: Record<string, number> = { num_heads: o.numHeads };
    if (o.scale !== undefined) attrs.scale = o.scale;
    return this.op1('MultiHeadAttention', [q, k, v], attrs, MS_DOMAIN);
  },
};
