/**
 * Every op the graph layer knows, one entry per op (shape/dtype rule, attribute types, derivative rule),
 * gathered from the family files, and the typed builder methods GraphBuilder gets from them.
 */
import type { OpSpec, OpTable } from './kit.js';
import { ELEMENTWISE_OPS, elementwiseBuilders } from './elementwise.js';
import { LINALG_MS_OPS, LINALG_OPS, linalgBuilders } from './linalg.js';
import { linearBuilders } from './linear.js';
import { MOVEMENT_OPS, movementBuilders } from './movement.js';
import { MS_DOMAIN, NN_MS_OPS, NN_OPS, nnBuilders } from './nn.js';
import { REDUCE_OPS, reduceBuilders } from './reduce.js';

export { MS_DOMAIN } from './nn.js';
export { describedShape } from './movement.js';
export type { OpSpec, OpTable, Vjp, ShapeContext, OpEmitter, Operand } from './kit.js';
export type { GemmOptions } from './linalg.js';
export type { LinearDType, LinearOptions, Int8Weight } from './linear.js';
export type { ReduceOptions } from './reduce.js';
export type { LayerNormOptions, ConvOptions, MultiHeadAttentionOptions } from './nn.js';

/** The standard (ai.onnx) ops. */
export const ONNX_OPS: OpTable = { ...ELEMENTWISE_OPS, ...LINALG_OPS, ...MOVEMENT_OPS, ...REDUCE_OPS, ...NN_OPS };
/** ORT's com.microsoft contrib ops. */
export const MS_OPS: OpTable = { ...LINALG_MS_OPS, ...NN_MS_OPS };

/** The entry for an op type in a domain ('' or 'ai.onnx' = standard), undefined when unknown. */
export function opSpec(type: string, domain?: string): OpSpec | undefined {
  const table = !domain || domain === 'ai.onnx' ? ONNX_OPS : domain === MS_DOMAIN ? MS_OPS : undefined;
  return table && Object.hasOwn(table, type) ? table[type] : undefined;
}

/** The typed builder methods (g.add, g.gemm, g.layerNorm, g.linear, …), mixed into GraphBuilder. */
export const OP_BUILDERS = {
  ...elementwiseBuilders,
  ...linalgBuilders,
  ...linearBuilders,
  ...movementBuilders,
  ...reduceBuilders,
  ...nnBuilders,
};
export type OpBuilders = typeof OP_BUILDERS;
