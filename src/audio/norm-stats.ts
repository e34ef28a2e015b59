/**
 * Dataset statistics for `preprocessor_config.json`'s `mean` and `std`, as the AST repository's
 * `get_norm_stats.py` computes them: fbank WITHOUT normalisation, zero-padded or truncated to
 * `max_length` frames (as its dataloader does), grouped in batches of `batchSize` clips (1000 in
 * the script); per batch the mean and the unbiased std (torch.std) over every value of every
 * clip in it; the result is the mean over batches of those means and of those stds.
 *
 * With at most `batchSize` clips there is one batch, so the result is exactly the pooled mean and
 * pooled std of all values. Sums run in float64 (torch sums float32 tensors with float64
 * accumulators on CPU too, to within rounding).
 */

export interface NormStats {
  mean: number;
  std: number;
  clips: number;
  batches: number;
  batchSize: number;
  /** Values per clip: max_length * num_mel_bins. */
  valuesPerClip: number;
}

export class NormStatsAccumulator {
  readonly batchSize: number;
  private clips = 0;
  private inBatch = 0;
  private sum = 0;
  private sumSq = 0;
  private count = 0;
  private shift: number | undefined; // first value: sums about it keep the variance exact-ish
  private valuesPerClip = 0;
  private readonly batchMeans: number[] = [];
  private readonly batchStds: number[] = [];

  constructor(batchSize = 1000) {
    if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Error(`norm-stats: batch size must be a positive integer, got ${batchSize}`);
    this.batchSize = batchSize;
  }

  /** One clip's padded, un-normalised fbank ([max_length, num_mel_bins], row-major). */
  add(features: Float32Array, source = `clip ${this.clips}`): void {
    if (this.valuesPerClip === 0) this.valuesPerClip = features.length;
    else if (features.length !== this.valuesPerClip) {
      throw new Error(`${source}: ${features.length} feature values, other clips have ${this.valuesPerClip} (pad every clip to max_length)`);
    }
    this.shift ??= features[0]!;
    const c = this.shift;
    let s = 0, s2 = 0;
    for (let i = 0; i < features.length; i++) {
      const d = features[i]! - c;
      s += d;
      s2 += d * d;
    }
    this.sum += s;
    this.sumSq += s2;
    this.count += features.length;
    this.clips++;
    if (++this.inBatch === this.batchSize) this.closeBatch();
  }

  private closeBatch(): void {
    if (this.inBatch === 0) return;
    const n = this.count;
    const m = this.sum / n;
    const variance = n > 1 ? (this.sumSq - n * m * m) / (n - 1) : NaN;
    this.batchMeans.push(m + (this.shift ?? 0));
    this.batchStds.push(Math.sqrt(Math.max(variance, 0)));
    this.sum = this.sumSq = this.count = this.inBatch = 0;
  }

  result(): NormStats {
    this.closeBatch();
    if (this.clips === 0) throw new Error('norm-stats: no clips');
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      mean: avg(this.batchMeans),
      std: avg(this.batchStds),
      clips: this.clips,
      batches: this.batchMeans.length,
      batchSize: this.batchSize,
      valuesPerClip: this.valuesPerClip,
    };
  }
}
