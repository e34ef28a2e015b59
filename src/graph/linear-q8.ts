/**
 * A Linear in int8 (dtype 'q8'): the weight, an initializer in HF's [out, in] layout, is quantised when the
 * graph is built (symmetric int8 per output channel, `quantizeInt8PerChannel`), and the product runs as ORT's
 * com.microsoft.DynamicQuantizeMatMul: activations quantised per tensor to uint8 at run time, uint8 x int8
 * integer GEMM (MLAS's VNNI/AMX kernels), scaled back to float32, bias added. One node: measured here
 * (bench/quant-ops.ts, 1214x768 @ 768x3072, 2 threads) as fast as DynamicQuantizeLinear + MatMulIntegerToFloat,
 * which ORT's optimiser fuses into it anyway, and faster than the QOperator MatMulInteger form.
 *
 * Several Linears that read the same input (query, key and value) can be emitted as one GEMM over their
 * concatenated weights (`parts`), then split: one activation quantisation and one larger, better-packed GEMM.
 */
import { MS_DOMAIN, type GraphBuilder, type Value } from './builder.js';
import { quantizeInt8PerChannel } from '../model/quant.js';

export interface LinearPart {
  /** Weight initializer, [out, in] (nn.Linear's layout). */
  w: Value;
  b: Value | null;
  /** y = alpha (x W^T + b), folded into the scales and the bias. */
  alpha?: number;
}

function dataOf(g: GraphBuilder, v: Value, what: string): Float32Array {
  const d = g.initializerData(v);
  if (!d) throw new Error(`q8: ${what} ${v.name} must be a float32 initializer to be quantised at load`);
  return d;
}

/** y = [x W_1^T + b_1, x W_2^T + b_2, ...] (each scaled by its alpha) in int8; returns one value per part. */
export function linearQ8(g: GraphBuilder, x: Value, parts: readonly LinearPart[]): Value[] {
  const inF = g.shape(parts[0]!.w)[1] as number;
  const outs = parts.map((p) => {
    const [out, k] = g.shape(p.w) as number[];
    if (k !== inF) throw new Error(`q8: fused Linears read different input sizes (${k} vs ${inF})`);
    return out!;
  });
  const total = outs.reduce((a, b) => a + b, 0);
  // one [total, in] float matrix: quantising each channel only reads its own row, so per-part scales are unchanged
  const w = parts.length === 1 ? dataOf(g, parts[0]!.w, 'weight') : new Float32Array(total * inF);
  if (parts.length > 1) {
    let o = 0;
    for (const p of parts) {
      const d = dataOf(g, p.w, 'weight');
      w.set(d, o * inF);
      o += d.length / inF;
    }
  }
  const q = quantizeInt8PerChannel(w, total, inF);
  const hasBias = parts.some((p) => p.b);
  const bias = hasBias ? new Float32Array(total) : undefined;
  let o = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const alpha = p.alpha ?? 1;
    const n = outs[i]!;
    if (alpha !== 1) for (let c = o; c < o + n; c++) q.scales[c] = Math.fround(q.scales[c]! * alpha);
    if (p.b && bias) {
      const bd = dataOf(g, p.b, 'bias');
      for (let c = 0; c < n; c++) bias[o + c] = bd[c]! * alpha;
    }
    o += n;
  }
  const name = parts.length === 1 ? parts[0]!.w.name : `${parts[0]!.w.name}_fused${parts.length}`;
  const B = g.typedInitializer(`${name}_q8`, 'int8', [inF, total], q.data); // [in, out]
  const S = g.typedInitializer(`${name}_q8_scale`, 'float32', [total], q.scales);
  const bv = bias
    ? parts.length === 1 && (parts[0]!.alpha ?? 1) === 1
      ? parts[0]!.b!
      : g.typedInitializer(`${name}_q8_bias`, 'float32', [total], bias)
    : null;
  const y = g.op1('DynamicQuantizeMatMul', bv ? [x, B, S, null, bv] : [x, B, S], {}, MS_DOMAIN); // [rows, total]
  if (parts.length === 1) return [y];
  return g.op('Split', [y, g.constI64(outs)], { axis: -1 }, parts.length); // each [rows, out_i]
}
