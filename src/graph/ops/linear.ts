/**
 * `linear`: THE place a Linear layer (y = alpha (x W^T + b)) is emitted, so a lower-precision form has
 * exactly one switch: `dtype`.
 *   'fp32': one Gemm with transB over the float32 weight [out, in].
 *   'q8':   ORT's com.microsoft.DynamicQuantizeMatMul over a weight prepared at load (`Int8Weight`: symmetric int8
 *           per output channel, from model/quant.ts): activations quantised per tensor to uint8 at run time,
 *           uint8 x int8 integer GEMM (MLAS's VNNI/AMX kernels), scaled back to float32, bias added. One node:
 *           measured (bench/quant-ops.ts, 1214x768 @ 768x3072, 2 threads) as fast as DynamicQuantizeLinear +
 *           MatMulIntegerToFloat (which ORT's optimiser fuses into it anyway), faster than the QOperator
 *           MatMulInteger form.
 * (fp16 is not a Linear form but a pass over the whole finished model: graph/float16.ts.)
 */
import { Value } from '../value.js';
import type { OpEmitter } from './kit.js';
import { linalgBuilders } from './linalg.js';

/** The precision a Linear layer computes in. */
export type LinearDType = 'fp32' | 'q8';

export interface LinearOptions {
  /** Default 'fp32'. */
  dtype?: LinearDType;
  /** Scales the whole output (bias included): alpha (x W^T + b). Default 1 (q8: fold it into the weight's scales at load). */
  alpha?: number;
}

/** A q8 Linear's weight: int8 data in the integer GEMM's layout and one float32 scale per output channel. */
export interface Int8Weight {
  readonly data: Value; // int8 [in, out]
  readonly scale: Value; // float32 [out]
}

const MS_DOMAIN = 'com.microsoft';

export const linearBuilders = {
  /**
   * y = alpha (x W^T + b) for x [rows, in] -> [rows, out]. fp32: W in PyTorch's [out, in] layout, one Gemm with
   * transB, which ORT prepacks from that layout directly (a Transpose of the weight would be folded at load,
   * slowly). q8: W prepared as an `Int8Weight`.
   */
  linear(this: OpEmitter, x: Value, w: Value | Int8Weight, b: Value | null, o: LinearOptions = {}): Value {
    const dtype = o.dtype ?? 'fp32';
    const alpha = o.alpha ?? 1;
    switch (dtype) {
      case 'fp32': {
        if (!(w instanceof Value)) throw new Error('linear fp32: the weight must be a float32 value [out, in]');
        return linalgBuilders.gemm.call(this, x, w, b, alpha === 1 ? { transB: true } : { transB: true, alpha, beta: alpha });
      }
      case 'q8': {
        if (w instanceof Value) throw new Error(`linear q8: the weight ${w.name} must be prepared as int8 at load (model/quant.ts)`);
        if (alpha !== 1) throw new Error('linear q8: fold alpha into the weight scales and the bias when quantising');
        return this.op1('DynamicQuantizeMatMul', b ? [x, w.data, w.scale, null, b] : [x, w.data, w.scale], {}, MS_DOMAIN); // [rows, out]
      }
      default:
        throw new Error(`linear: dtype ${String(dtype satisfies never)} is not supported`);
    }
  },
};
