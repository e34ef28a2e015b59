/** The training benchmark's cases and random weights, shared by bench/train.ts and bench/train-profile.ts. */
import type { ASTConfig } from '../src/model/config.js';
import { Rng } from '../src/rng.js';
import { astParameterSpecs } from '../src/model/weights.js';
import type { Float32Tensor } from '../src/tensor.js';

export interface TrainBenchCase {
  name: string;
  config: Record<string, unknown>;
  batch: number;
}

const TINY = { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_length: 128, num_mel_bins: 32, num_labels: 5 };
/**
 * AST-Base's layer shapes. The clip is 2.56 s (256 frames, 302 tokens) rather than 10 s by default: a
 * training step on 8 ten-second clips keeps ~20 GB of activations alive in our graph (~10 GB in
 * PyTorch), more than the 23 GB machine these figures come from can spare; `--max-length 1024` runs it.
 */
const BASE = { hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, max_length: 256, num_mel_bins: 128, num_labels: 527 };

export const DEFAULT_CASES: TrainBenchCase[] = [
  { name: 'tiny (fixture config: 2 layers, hidden 64, 128 frames)', config: TINY, batch: 8 },
  { name: 'AST-Base shape (12 layers, hidden 768, 527 labels; 256 frames)', config: BASE, batch: 8 },
];

export function randomWeights(config: ASTConfig, rng: Rng): Map<string, Float32Tensor> {
  const out = new Map<string, Float32Tensor>();
  for (const s of astParameterSpecs(config, 'classification')) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const isLnWeight = /layernorm/.test(s.name) && s.name.endsWith('weight');
    const fanIn = s.shape.length > 1 ? n / s.shape[0]! : 1;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = isLnWeight ? 1 : s.shape.length > 1 ? rng.normal() / Math.sqrt(fanIn) : 0.02 * rng.normal();
    out.set(s.name, { dtype: 'float32', dims: s.shape, data });
  }
  return out;
}

