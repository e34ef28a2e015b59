/**
 * `linear`: THE place a Linear layer (y = alpha (x W^T + b)) is emitted, so a lower-precision form has
 * exactly one switch: `dtype`.
 *   'fp32': one Gemm with transB.
 *   'q8':   the weight (a float32 initializer in [out, in]) is quantised when the graph is built (symmetric int8 per
 *           output channel, `quantizeInt8PerChannel`), and the product runs as ORT's com.microsoft.DynamicQuantizeMatMul:
 *           activations quantised per tensor to uint8 at run time, uint8 x int8 integer GEMM (MLAS's VNNI/AMX kernels),
 *           scaled back to float32, bias added. One node: measured (bench/quant-ops.ts, 1214x768 @ 768x3072, 2 threads)
 *           as fast as DynamicQuantizeLinear + MatMulIntegerToFloat (which ORT's optimiser fuses into it anyway) and
 *           faster than the QOperator MatMulInteger form.
 * (fp16 is not a Linear form but a pass over the whole finished model: graph/float16.ts.)
 * `linears` emits several Linears that read the same input (attention's query, key and value): in q8 as one GEMM
 * over their concatenated weights, then a Split (one activation quantisation, one larger GEMM).
 */
import type { Value } from '../value.js';
import type { OpEmitter } from './kit.js';
import { linalgBuilders } from './linalg.js';
import { quantizeInt8PerChannel } from '../../model/quant.js';

/** The precision a Linear layer computes in. */
export type LinearDType = 'fp32' | 'q8';

export interface LinearOptions {
  /** Default 'fp32'. */
  dtype?: LinearDType;
  /** Scales the whole output (bias included): alpha (x W^T + b). Default 1. */
  alpha?: number;
}

/** One of several Linears over the same input. */
export interface LinearPart {
  w: Value; // [out, in]
  b: Value | null;
  alpha?: number;
}

const MS_DOMAIN = 'com.microsoft';

function dataOf(g: OpEmitter, v: Value, what: string): Float32Array {
  const d = g.initializerData(v);
  if (!d) throw new Error(`linear q8: the ${what} ${v.name} must be a float32 initializer to be quantised when the graph is built`);
  return d;
}

/** [x W_1^T + b_1, x W_2^T + b_2, ...] (each scaled by its alpha) as one int8 GEMM; one value per part. */
function linearQ8(g: OpEmitter, x: Value, parts: readonly LinearPart[]): Value[] {
  const inF = g.shape(parts[0]!.w)[1] as number;
  const outs = parts.map((p) => {
    const [out, k] = g.shape(p.w) as number[];
    if (k !== inF) throw new Error(`linear q8: fused Linears read different input sizes (${k} vs ${inF})`);
    return out!;
  });
  const total = outs.reduce((a, b) => a + b, 0);
  // one [total, in] matrix: each channel's scale only reads its own row, so fusing changes no scale
  let w = dataOf(g, parts[0]!.w, 'weight');
  if (parts.length > 1) {
    w = new Float32Array(total * inF);
    let o = 0;
    for (const p of parts) {
      w.set(dataOf(g, p.w, 'weight'), o);
      o += g.shape(p.w)[0] as number * inF;
    }
  }
  const q = quantizeInt8PerChannel(w, total, inF);
  const bias = parts.some((p) => p.b) ? new Float32Array(total) : undefined;
  let o = 0;
  parts.forEach((p, i) => {
    const alpha = p.alpha ?? 1;
    if (alpha !== 1) for (let c = o; c < o + outs[i]!; c++) q.scales[c] = Math.fround(q.scales[c]! * alpha);
    if (p.b && bias) {
      const bd = dataOf(g, p.b, 'bias');
      for (let c = 0; c < outs[i]!; c++) bias[o + c] = bd[c]! * alpha;
    }
    o += outs[i]!;
  });
  const name = parts.length === 1 ? parts[0]!.w.name : `${parts[0]!.w.name}_qkv`;
  const B = g.typedInitializer(`${name}_q8`, 'int8', [inF, total], q.data); // [in, out]
  const S = g.typedInitializer(`${name}_q8_scale`, 'float32', [total], q.scales);
  const reuseBias = parts.length === 1 && (parts[0]!.alpha ?? 1) === 1;
  const bv = bias ? (reuseBias ? parts[0]!.b! : g.typedInitializer(`${name}_q8_bias`, 'float32', [total], bias)) : null;
  const y = g.op1('DynamicQuantizeMatMul', bv ? [x, B, S, null, bv] : [x, B, S], {}, MS_DOMAIN); // [rows, total]
  if (parts.length === 1) return [y];
  return g.op('Split', [y, g.constI64(outs, [outs.length])], { axis: -1 }, parts.length, ''); // each [rows, out_i]
}

export const linearBuilders = {
  /**
   * y = alpha (x W^T + b) for x [rows, in] and W in PyTorch's [out, in] layout -> [rows, out]. fp32: one Gemm
   * with transB, which ORT prepacks from that layout directly (a Transpose of the weight would be folded at
   * load, slowly). q8: see the file comment.
   */
  linear(this: OpEmitter, x: Value, w: Value, b: Value | null, o: LinearOptions = {}): Value {
    const dtype = o.dtype ?? 'fp32';
    switch (dtype) {
      case 'fp32': {
        const alpha = o.alpha ?? 1;
        return linalgBuilders.gemm.call(this, x, w, b, alpha === 1 ? { transB: true } : { transB: true, alpha, beta: alpha });
      }
      case 'q8':
        return linearQ8(this, x, [{ w, b, alpha: o.alpha }])[0]!;
      default:
        throw new Error(`linear: dtype ${String(dtype satisfies never)} is not supported`);
    }
  },

  /** Several Linears over the same x, in order; q8 fuses them into one GEMM (then Split). */
  linears(this: OpEmitter, x: Value, parts: readonly LinearPart[], o: { dtype?: LinearDType } = {}): Value[] {
    if ((o.dtype ?? 'fp32') === 'q8') return linearQ8(this, x, parts);
    return parts.map((p) => linearBuilders.linear.call(this, x, p.w, p.b, { dtype: o.dtype, alpha: p.alpha }));
  },
};
