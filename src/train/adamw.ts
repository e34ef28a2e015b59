/**
 * AdamW with torch.optim.AdamW's semantics (torch 1.13, single-tensor path), in torch's float32 operations:
 *   p = p * (1 - lr * weight_decay)                          (decoupled weight decay, before the moments)
 *   m = m * beta1 + g * (1 - beta1)
 *   v = v * beta2 + ((1 - beta2) * g) * g                    (addcmul: value * t1 * t2)
 *   p = p + (-step_size * m) / (sqrt(v) / sqrt(1 - beta2^t) + eps)   (addcdiv: self + value * t1 / t2)
 * with step_size = lr / (1 - beta1^t) and every scalar cast to float32 as torch casts a Python float for a
 * float32 tensor; each operation is one correctly rounded float32 operation (torch's `add_(g, alpha)` is a
 * fused multiply-add on AVX CPUs, which neither WebAssembly nor JavaScript has: it may differ by one rounding).
 * The loop runs in WebAssembly SIMD (adamw-wasm.ts), or in JavaScript with Math.fround where WebAssembly is
 * unavailable: the same bits either way.
 * State (moments, step) lives in float32 like torch's, and is what a checkpoint saves for --resume.
 */
import type { Float32Tensor } from '../tensor.js';
import { adamwWasm, type AdamWScalars } from './adamw-wasm.js';

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
    const f = Math.fround;
    const base: Omit<AdamWScalars, 'decay'> = {
      b1: f(this.beta1),
      b2: f(this.beta2),
      c1: f(1 - this.beta1),
      c2: f(1 - this.beta2),
      bc2: f(Math.sqrt(1 - Math.pow(this.beta2, t))),
      eps: f(this.eps),
      negStep: f(-lr / bc1),
    };
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
      const s: AdamWScalars = { ...base, decay: f(1 - lr * wd) };
      if (!adamwWasm(p.data, g.data, m, v, s)) adamwLoop(p.data, g.data, m, v, s);
    }
  }
}

/** The update in JavaScript: each float32 operation of the WebAssembly kernel as Math.fround of the float64 one (the same bits). */
function adamwLoop(pd: Float32Array, gd: Float32Array, m: Float32Array, v: Float32Array, s: AdamWScalars): void {
  const f = Math.fround;
  const { decay, b1, b2, c1, c2, bc2, eps, negStep } = s;
  for (let i = 0; i < pd.length; i++) {
    const gi = gd[i]!;
    const pi = f(pd[i]! * decay);
    const mi = f(f(m[i]! * b1) + f(gi * c1));
    const vi = f(f(v[i]! * b2) + f(f(c2 * gi) * gi));
    m[i] = mi;
    v[i] = vi;
    const denom = f(f(f(Math.sqrt(vi)) / bc2) + eps);
    pd[i] = f(pi + f(f(negStep * mi) / denom));
  }
}

/** HF Trainer's rule: no weight decay on biases and LayerNorm weights. */
export function hfNoDecay(name: string): boolean {
  return name.endsWith('.bias') || /layernorm/i.test(name);
}
