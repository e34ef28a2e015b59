/**
 * Gradient-norm clipping as torch.nn.utils.clip_grad_norm_ (norm_type 2): the total norm is the
 * norm of the per-tensor norms; every gradient is scaled by min(1, maxNorm / (total + 1e-6)).
 * Returns the total norm before clipping (what HF Trainer logs as grad_norm).
 */
import type { Float32Tensor } from '../tensor.js';

export function clipGradNorm(grads: Map<string, Float32Tensor>, maxNorm: number): number {
  let sq = 0;
  for (const g of grads.values()) {
    let s = 0;
    const d = g.data;
    for (let i = 0; i < d.length; i++) s += d[i]! * d[i]!;
    sq += s;
  }
  const total = Math.sqrt(sq);
  if (!Number.isFinite(total)) return total;
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) {
    const c = Math.fround(coef);
    for (const g of grads.values()) {
      const d = g.data;
      for (let i = 0; i < d.length; i++) d[i] = d[i]! * c;
    }
  }
  return total;
}
