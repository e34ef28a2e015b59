/**
 * Reverse-mode autodiff over the recorded ONNX graph (after tinygrad's gradient.py): every
 * derivative rule is the `vjp` of its op's entry in `ops/` (beside its shape rule); `gradients` walks the
 * recorded nodes once in reverse topological order, sums the cotangents of values used more
 * than once, and un-broadcasts — once, here, not in each rule — the cotangents of the
 * broadcasting element-wise ops back to their input's shape.
 *
 * The rules emit ordinary ONNX ops through `GradGraph`, so the gradient is part of the same
 * graph that ONNX Runtime runs: one session computes loss, logits and every weight's gradient.
 */

import type { GradGraph, NodeRecord } from './types.js';
import { Ops, unbroadcast, type Vjp } from './ops/kit.js';
import { ONNX_OPS, opSpec } from './ops/index.js';

export type { Dim, AttrValue, Attrs, NodeRecord, GradGraph } from './types.js';
export { Ops } from './ops/kit.js';
export type { Vjp } from './ops/kit.js';

/** The derivative rules by ONNX op type: a view of the `vjp` of each entry in `ops/` (kept there, beside the op). */
export const VJP: Readonly<Record<string, Vjp>> = Object.fromEntries(
  Object.entries(ONNX_OPS).flatMap(([type, spec]) => (spec.vjp ? [[type, spec.vjp] as const] : [])),
);

/**
 * Cotangents of `wrt` for the scalar `loss`, emitted into the same graph. `nodes` are the recorded
 * forward nodes in the order they were built (a topological order).
 */
export interface GradientOptions<V> {
  /**
   * Forward nodes to recompute in the backward pass instead of keeping their outputs alive from the
   * forward pass (rematerialisation): attention probabilities [B, heads, T, T] are the largest
   * activations of a transformer, and recomputing them costs one batched MatMul and a Softmax.
   */
  rematerialize?: (node: NodeRecord<V>) => boolean;
}

export function gradients<V>(
  g: GradGraph<V>,
  nodes: readonly NodeRecord<V>[],
  loss: V,
  wrt: readonly V[],
  options: GradientOptions<V> = {},
): Map<V, V> {
  const x = new Ops(g);
  // recomputed copies of rematerialised forward values, emitted once, on first use in the backward pass
  const producer = new Map<V, NodeRecord<V>>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const recomputed = new Map<V, V>();
  // The recomputation must wait for the backward pass: its inputs are tied to a cotangent by adding
  // 0·(one element of it). Without that tie ONNX Runtime's common-subexpression elimination merges the
  // copy with the forward node again and the activation stays alive after all.
  let anchor: V | undefined;
  const tied = new Map<V, V>();
  const tie = (v: V): V => {
    let t = tied.get(v);
    if (t === undefined) {
      const one = g.op('Slice', [x.reshape(anchor!, [-1]), g.constI64([0]), g.constI64([1])])[0]!; // [1]
      t = x.add(v, x.mul(one, x.scalar(0)));
      tied.set(v, t);
    }
    return t;
  };
  const fwd = (v: V | null, root = true): V | null => {
    if (v === null) return null;
    const p = producer.get(v);
    if (!p || !options.rematerialize?.(p)) return root ? v : tie(v);
    const done = recomputed.get(v);
    if (done !== undefined) return done;
    if (p.domain) throw new Error(`autodiff: cannot rematerialise ${p.domain}.${p.op}`);
    const outs = g.op(p.op, p.inputs.map((i) => (i === null || g.constValue(i) ? i : fwd(i, false))), p.attrs, p.outputs.length);
    p.outputs.forEach((o, i) => recomputed.set(o, outs[i]!));
    return recomputed.get(v)!;
  };
  // values that depend on a wrt value: only their producers need a rule
  const needs = new Set<V>(wrt);
  for (const n of nodes) if (n.inputs.some((v) => v !== null && needs.has(v))) for (const o of n.outputs) needs.add(o);
  if (!needs.has(loss)) throw new Error('autodiff: the loss does not depend on any value asked for');

  const cot = new Map<V, V>();
  cot.set(loss, g.constF32([1], [])); // d loss / d loss, a scalar
  const accumulate = (v: V, d: V): void => {
    const prev = cot.get(v);
    cot.set(v, prev === undefined ? d : x.add(prev, d));
  };
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k]!;
    const dOut = n.outputs.map((o) => cot.get(o));
    if (dOut.every((d) => d === undefined)) continue;
    if (!n.inputs.some((v) => v !== null && needs.has(v))) continue;
    const spec = opSpec(n.op, n.domain);
    const rule = spec?.vjp;
    if (!rule) {
      throw new Error(`autodiff: no derivative rule for ${n.domain ? n.domain + '.' : ''}${n.op}`);
    }
    const wants = n.inputs.map((v) => v !== null && needs.has(v));
    anchor = dOut.find((d) => d !== undefined);
    const view: NodeRecord<V> = options.rematerialize ? { ...n, inputs: n.inputs.map((v) => fwd(v)), outputs: n.outputs.map((o) => fwd(o)!) } : n;
    const dIn = rule(g, view, dOut, x, wants);
    n.inputs.forEach((v, i) => {
      const d = dIn[i];
      if (v === null || d === undefined || !needs.has(v)) return;
      accumulate(v, spec.unbroadcast ? unbroadcast(g, x, d, g.shape(n.outputs[0]!), v) : d);
    });
  }
  const out = new Map<V, V>();
  for (const w of wrt) {
    const d = cot.get(w);
    if (d === undefined) throw new Error('autodiff: a value asked for does not reach the loss');
    out.set(w, d);
  }
  return out;
}
