/**
 * Training-time augmentation as the AST recipe uses it:
 * - SpecAugment masks as torchaudio's FrequencyMasking / TimeMasking (iid per clip): width
 *   w = ⌊u·F⌋ drawn in [0, F), start ⌊v·(size − w)⌋, the band set to the mask value;
 * - waveform mixup: x = λ·x₁ + (1−λ)·x₂ (x₂ padded/cut to x₁'s length), y = λ·y₁ + (1−λ)·y₂, λ ~ Beta(α, α).
 */
import type { Rng } from '../rng.js';

export interface SpecAugmentOptions {
  /** Max frequency-mask width in mel bins (AST AudioSet: 48); 0 disables. */
  freqMask: number;
  /** Max time-mask width in frames (AST AudioSet: 192); 0 disables. */
  timeMask: number;
  /** Value written into masked cells (in the model's normalised input space). */
  maskValue: number;
}

/** Masks one clip's features [frames, bins] in place. */
export function specAugment(
  features: Float32Array,
  frames: number,
  bins: number,
  o: SpecAugmentOptions,
  rng: Rng,
): void {
  if (features.length !== frames * bins) throw new Error(`specAugment: ${features.length} values for ${frames} x ${bins}`);
  if (o.freqMask > 0) {
    const [start, end] = maskRange(o.freqMask, bins, rng);
    for (let t = 0; t < frames; t++) features.fill(o.maskValue, t * bins + start, t * bins + end);
  }
  if (o.timeMask > 0) {
    const [start, end] = maskRange(o.timeMask, frames, rng);
    features.fill(o.maskValue, start * bins, end * bins);
  }
}

/** torchaudio.functional.mask_along_axis: value = u·param, min = v·(size − value), [⌊min⌋, ⌊min + value⌋). */
function maskRange(param: number, size: number, rng: Rng): [number, number] {
  const p = Math.min(param, size);
  const value = rng.uniform() * p;
  const min = rng.uniform() * (size - value);
  return [Math.floor(min), Math.min(size, Math.floor(min + value))];
}

/** λ·a + (1−λ)·b, b zero-padded or cut to a's length (as the AST repo's mixup). */
export function mixWaveforms(a: Float32Array, b: Float32Array, lambda: number): Float32Array {
  const out = new Float32Array(a.length);
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) out[i] = lambda * a[i]! + (1 - lambda) * b[i]!;
  for (let i = n; i < a.length; i++) out[i] = lambda * a[i]!;
  return out;
}

export function mixTargets(a: Float32Array, b: Float32Array, lambda: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = lambda * a[i]! + (1 - lambda) * b[i]!;
  return out;
}
