/** Generated labelled audio for training tests: tones per class with a little seeded noise, as 16-bit WAV. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../src/rng.js';
import { pcm16Wav } from '../helpers/pcm16-wav.js';

/** root/<class>/<k>.wav: a 0.5 s tone near each class's frequency plus noise. */
export function makeToneDataset(root: string, perClass: number, seed = 1): Record<string, number> {
  const classes: Record<string, number> = { high: 4000, low: 300, mid: 1200 };
  const rng = new Rng(seed);
  for (const [c, f] of Object.entries(classes)) {
    mkdirSync(join(root, c), { recursive: true });
    for (let k = 0; k < perClass; k++) {
      const ff = f * (0.9 + 0.2 * rng.uniform());
      const s = new Float32Array(8000);
      for (let i = 0; i < s.length; i++) s[i] = 0.5 * Math.sin((2 * Math.PI * ff * i) / 16000) + 0.05 * (2 * rng.uniform() - 1);
      writeFileSync(join(root, c, `${k}.wav`), pcm16Wav(s));
    }
  }
  return classes;
}

/** A tiny AST config (1 layer, hidden 32) on 64 frames x 32 mel bins: a training step takes milliseconds. */
export const TINY_CONFIG = {
  hidden_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_length: 64,
  num_mel_bins: 32,
};
