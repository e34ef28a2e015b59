/**
 * The live stretch of a sample stream: `length` valid samples in `data`, the first at absolute index `start`.
 * Samples are appended at the end and released from the front, so a stream holds only what it will still read
 * (the streaming resampler's taps, the window stream's next window).
 */
export class SampleRun {
  data = new Float32Array(0);
  start = 0;
  length = 0;

  append(x: Float32Array): void {
    const needed = this.length + x.length;
    if (needed > this.data.length) {
      const grown = new Float32Array(Math.max(needed, 2 * this.data.length, 4096));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(x, this.length);
    this.length = needed;
  }

  /** Drops the samples before absolute index `keep` (nothing later reads them). */
  discardBefore(keep: number): void {
    const drop = Math.min(this.length, keep - this.start);
    if (drop <= 0) return;
    this.data.copyWithin(0, drop, this.length);
    this.start += drop;
    this.length -= drop;
  }

  /** Frees the storage once the stream is over. */
  release(): void {
    this.data = new Float32Array(0);
  }
}
