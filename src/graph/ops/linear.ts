/**
 * `linear`: THE place a Linear layer (y = alpha (x W^T + b)) is emitted, so a lower-precision form has
 * exactly one switch: `dtype`. Today only 'fp32' exists; a new dtype adds a member to `LinearDType` and
 * a branch below, and every Linear of every model follows.
 */
import type { Value } from '../value.js';
import type { OpEmitter } from './kit.js';
import { linalgBuilders } from './linalg.js';

/** The precision a Linear layer computes in. */
export type LinearDType = 'fp32';

export interface LinearOptions {
  /** Default 'fp32'. */
  dtype?: LinearDType;
  /** Scales the whole output (bias included): alpha (x W^T + b). Default 1. */
  alpha?: number;
}

export const linearBuilders = {
  /**
   * y = alpha (x W^T + b) for x [rows, in] and W in PyTorch's [out, in] layout -> [rows, out]. fp32: one Gemm
   * with transB, which ORT prepacks from that layout directly (a Transpose of the weight would be folded at
   * load, slowly).
   */
  linear(this: OpEmitter, x: Value, w: Value, b: Value | null, o: LinearOptions = {}): Value {
    const dtype = o.dtype ?? 'fp32';
    switch (dtype) {
      case 'fp32': {
        const alpha = o.alpha ?? 1;
        return linalgBuilders.gemm.call(this, x, w, b, alpha === 1 ? { transB: true } : { transB: true, alpha, beta: alpha });
      }
      default:
        throw new Error(`linear: dtype ${String(dtype satisfies never)} is not supported`);
    }
  },
};
