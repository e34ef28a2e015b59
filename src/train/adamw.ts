/**
 * AdamW with torch.optim.AdamW's semantics (torch 1.13, single-tensor path):
 *   p *= 1 - lr * weight_decay                      (decoupled weight decay, before the moments)
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g * g
 *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * State (moments, step) lives in float32 like torch's, and is what a checkpoint saves for --resume.
 */
import type { Float32Tensor } from '../tensor.js';

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Names whose weight decay is 0 (HF Trainer exempts biases and LayerNorm weights). */
  noDecay?: (name: string) => boolean;
}

export interface AdamWState {
  step: number;
  expAvg: Map<string, Float32Array>;
  expAvgSq: Map<string, Float32Array>;
}

export class AdamW {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly noDecay: (name: string) => boolean;
  state: AdamWState = { step: 0, expAvg: new Map(), expAvgSq: new Map() };

  constructor(options: AdamWOptions = {}) {
    // torch defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2
    this.lr = options.lr ?? 1e-3;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 1e-2;
    this.noDecay = options.noDecay ?? (() => false);
    for (const [n, v] of [['lr', this.lr], ['eps', this.eps], ['weight decay', this.weightDecay]] as const) {
      if (!(v >= 0)) throw new Error(`AdamW: invalid ${n} ${v}`);
    }
    if (!(this.beta1 >= 0 && this.beta1 < 1 && this.beta2 >= 0 && this.beta2 < 1)) {
      throw new Error(`AdamW: betas must lie in [0, 1), got ${this.beta1}, ${this.beta2}`);
    }
  }

  /** One update of every parameter that has a gradient, in place. */
  step(params: Map<string, Float32Tensor>, grads: Map<string, Float32Tensor>, lr: number = this.lr): void {
    const st = this.state;
    st.step += 1;
    const t = st.step;
    const bc1 = 1 - Math.pow(this.beta1, t);
    const bc2Sqrt = Math.sqrt(1 - Math.pow(this.beta2, t));
    const stepSize = lr / bc1;
    const b1 = Math.fround(this.beta1);
    const b2 = Math.fround(this.beta2);
    const c1 = Math.fround(1 - this.beta1);
    const c2 = Math.fround(1 - this.beta2);
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      if (g.data.length !== p.data.length) {
        throw new Error(`AdamW: gradient of ${name} has ${g.data.length} values, parameter has ${p.data.length}`);
      }
      let m = st.expAvg.get(name);
      let v = st.expAvgSq.get(name);
      if (!m || !v) {
        m = new Float32Array(p.data.length);
        v = new Float32Array(p.data.length);
        st.expAvg.set(name, m);
        st.expAvgSq.set(name, v);
      }
      const wd = this.noDecay(name) ? 0 : this.weightDecay;
      const decay = Math.fround(1 - lr * wd);
      const pd = p.data;
      const gd = g.data;
      for (let i = 0; i < pd.length; i++) {
        const gi = gd[i]!;
        const pi = Math.fround(pd[i]! * decay);
        const mi = Math.fround(Math.fround(m[i]! * b1) + Math.fround(gi * c1));
        const vi = Math.fround(Math.fround(v[i]! * b2) + Math.fround(Math.fround(gi * gi) * c2));
        m[i] = mi;
        v[i] = vi;
        const denom = Math.fround(Math.fround(Math.sqrt(vi) / bc2Sqrt) + this.eps);
        pd[i] = pi - stepSize * (mi / denom);
      }
    }
  }
}

/** HF Trainer's rule: no weight decay on biases and LayerNorm weights. */
export function hfNoDecay(name: string): boolean {
  return name.endsWith('.bias') || /layernorm/i.test(name);
}
