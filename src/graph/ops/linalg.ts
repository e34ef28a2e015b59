/** Matrix products: MatMul, Gemm (and ORT's FusedMatMul), with their shape and derivative rules and builders. */
import type { Attrs, Dim, GradGraph } from '../types.js';
import type { Value } from '../value.js';
import { attrNum, broadcast, unbroadcast, type OpEmitter, type OpTable } from './kit.js';

function matmulShape(a: readonly Dim[], b: readonly Dim[], tA: boolean, tB: boolean): Dim[] {
  const A = [...a];
  const B = [...b];
  if (tA) [A[A.length - 2], A[A.length - 1]] = [A[A.length - 1]!, A[A.length - 2]!];
  if (tB) [B[B.length - 2], B[B.length - 1]] = [B[B.length - 1]!, B[B.length - 2]!];
  const batch = broadcast([A.slice(0, -2), B.slice(0, -2)]) ?? A.slice(0, -2);
  return [...batch, A[A.length - 2]!, B[B.length - 1]!];
}

/** One Gemm node in a derivative rule (flags 0/1 as ONNX writes them; zeros left out). */
function gemm<V>(g: GradGraph<V>, a: V, b: V, flags: { transA?: number; transB?: number; alpha?: number }): V {
  const attrs: Record<string, number> = {};
  for (const [k, v] of Object.entries(flags)) if (v !== undefined && (k === 'alpha' ? v !== 1 : v !== 0)) attrs[k] = v;
  return g.op('Gemm', [a, b], attrs, 1)[0]!;
}

export const LINALG_OPS: OpTable = {
  MatMul: {
    shape: (c) => [matmulShape(c.x, c.dims[1]!, false, false)],
    vjp: (g, n, [dy], x, w) => {
      if (!dy) return [];
      const [a, b] = [n.inputs[0]!, n.inputs[1]!];
      const ra = g.shape(a).length;
      const rb = g.shape(b).length;
      const da = w[0] ? x.matmul(dy, x.mT(b)) : undefined;
      let db: ReturnType<typeof x.add> | undefined;
      if (!w[1]) db = undefined;
      else if (rb === 2 && ra > 2) {
        // a Linear layer: fold the batch axes into one GEMM, dW = a^T dy  // [K, N]; transA reads a in
        // place (a Transpose node would copy the whole activation first)
        const k = g.shape(a)[ra - 1] as number;
        const nOut = g.shape(b)[1] as number;
        db = gemm(g, x.reshape(a, [-1, k]), x.reshape(dy, [-1, nOut]), { transA: 1 });
      } else {
        if (ra !== rb) throw new Error(`autodiff: MatMul of ranks ${ra} and ${rb} is not supported`);
        db = x.matmul(x.mT(a), dy);
      }
      return [da, db];
    },
  },
  Gemm: {
    floatAttrs: ['alpha', 'beta'],
    shape: (c) => {
      const a = attrNum(c, 'transA', 0) ? [c.x[1]!, c.x[0]!] : c.x;
      const w = c.dims[1]!;
      const b = attrNum(c, 'transB', 0) ? [w[1]!, w[0]!] : w;
      return [[a[0]!, b[1]!]];
    },
    vjp: (g, n, [dy], x, w) => {
      if (!dy) return [];
      const [a, b, c] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2] ?? null];
      const alpha = attrNum(n, 'alpha', 1);
      const beta = attrNum(n, 'beta', 1);
      const tA = attrNum(n, 'transA', 0);
      const tB = attrNum(n, 'transB', 0);
      const scaled = alpha === 1 ? {} : { alpha };
      // Y = alpha op(A) op(B): d op(A) = alpha dY op(B)^T, d op(B) = alpha op(A)^T dY. Each is one Gemm whose
      // transA/transB flags read the operands in place and write the gradient in its input's own layout (a
      // Linear's dW straight into [out, in]); materialised Transposes would copy activations and gradients.
      const dA = !w[0] ? undefined : tA ? gemm(g, b, dy, { transA: tB, transB: 1, ...scaled }) : gemm(g, dy, b, { transB: 1 - tB, ...scaled });
      const dB = !w[1] ? undefined : tB ? gemm(g, dy, a, { transA: 1, transB: tA, ...scaled }) : gemm(g, a, dy, { transA: 1 - tA, ...scaled });
      const out: (typeof dA)[] = [dA, dB];
      if (c && w[2]) {
        const dc = beta === 1 ? dy : x.scale(dy, beta);
        out.push(unbroadcast(g, x, dc, g.shape(n.outputs[0]!), c));
      }
      return out;
    },
  },
};

/** com.microsoft ops of this family. */
export const LINALG_MS_OPS: OpTable = {
  FusedMatMul: {
    floatAttrs: ['alpha'],
    shape: (c) => [matmulShape(c.x, c.dims[1]!, attrNum(c, 'transA', 0) === 1, attrNum(c, 'transB', 0) === 1)],
  },
  /** y = dequant(dynamic uint8 x) @ (int8 B [K, N] * scale [N]) + bias: the q8 Linear (ops/linear.ts). */
  DynamicQuantizeMatMul: {
    shape: (c) => [matmulShape(c.x, c.dims[1]!, false, false)],
    dtype: () => 'float32',
  },
};

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  /** Y = alpha op(A) op(B) + beta C; both default 1. */
  alpha?: number;
  beta?: number;
}

export const linalgBuilders = {
  /** numpy matmul (batched, broadcasting). */
  matMul(this: OpEmitter, a: Value, b: Value): Value {
    return this.op1('MatMul', [a, b]);
  },
  /** ONNX Gemm on 2-D operands: alpha op(A) op(B) + beta C. */
  gemm(this: OpEmitter, a: Value, b: Value, c: Value | null = null, o: GemmOptions = {}): Value {
    const attrs: Record<string, number> = {};
    if (o.transA) attrs.transA = 1;
    if (o.transB) attrs.transB = 1;
    if (o.alpha !== undefined) attrs.alpha = o.alpha;
    if (o.beta !== undefined) attrs.beta = o.beta;
    return this.op1('Gemm', c ? [a, b, c] : [a, b], attrs as Attrs);
  },
};
