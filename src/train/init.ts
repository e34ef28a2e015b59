/**
 * Fresh weights for training from a config, as HF's ASTPreTrainedModel._init_weights:
 * Linear / Conv2d weights ~ truncated normal(0, initializer_range) cut at ±2 (absolute, as
 * torch's trunc_normal_ defaults), biases 0, LayerNorm weight 1 and bias 0, and the [CLS],
 * distillation and position embeddings 0.
 */
import type { Float32Tensor } from '../tensor.js';
import type { ASTConfig } from '../model/config.js';
import { astParameterSpecs } from '../model/weights.js';
import { Rng } from '../rng.js';

export function initWeights(config: ASTConfig, seed: number): Map<string, Float32Tensor> {
  const rng = new Rng(seed);
  const out = new Map<string, Float32Tensor>();
  const std = config.initializer_range;
  for (const spec of astParameterSpecs(config, 'classification')) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const name = spec.name;
    if (/layernorm/.test(name) && name.endsWith('.weight')) data.fill(1);
    else if (name.endsWith('.weight')) {
      for (let i = 0; i < n; i++) {
        let v: number;
        do v = rng.normal() * std;
        while (v < -2 || v > 2);
        data[i] = v;
      }
    }
    out.set(name, { dtype: 'float32', dims: spec.shape, data });
  }
  return out;
}
