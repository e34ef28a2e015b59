/**
 * INTERIM stand-in for the pipeline's batcher (src/pipeline/batcher.ts, being added by `arch`), with the
 * same API: rows [T, M] from many owners -> [B, T, M] batches -> each owner's output rows back. It exists
 * only until main carries that batcher; then this file is deleted and dynamic-batcher.ts imports the real one.
 */
import { float32Tensor, type Float32Tensor } from '../tensor.js';

export class BatchCancelledError extends Error {
  constructor(message = 'cancelled before its batch ran') {
    super(message);
    this.name = 'BatchCancelledError';
  }
}

interface Row<O> {
  owner: O;
  features: Float32Array;
  resolve: (output: Float32Array) => void;
  reject: (err: Error) => void;
}

export interface Batch<O> {
  readonly inputValues: Float32Tensor;
  readonly owners: readonly O[];
  resolve(output: Float32Tensor): void;
  reject(err: unknown): void;
}

export class Batcher<O> {
  private queue: Row<O>[] = [];
  constructor(readonly options: { maxBatch: number; maxLength: number; numMelBins: number }) {}

  get maxBatch(): number {
    return this.options.maxBatch;
  }
  get pending(): number {
    return this.queue.length;
  }
  get full(): boolean {
    return this.queue.length >= this.options.maxBatch;
  }

  add(owner: O, features: Float32Array): Promise<Float32Array> {
    const row = new Promise<Float32Array>((resolve, reject) => this.queue.push({ owner, features, resolve, reject }));
    row.catch(() => {});
    return row;
  }

  cancel(owner: O, reason?: string): number {
    const before = this.queue.length;
    this.queue = this.queue.filter((r) => {
      if (r.owner !== owner) return true;
      r.reject(new BatchCancelledError(reason));
      return false;
    });
    return before - this.queue.length;
  }

  take(): Batch<O> | undefined {
    if (this.queue.length === 0) return undefined;
    const rows = this.queue.slice(0, this.options.maxBatch);
    this.queue = this.queue.slice(this.options.maxBatch);
    const per = this.options.maxLength * this.options.numMelBins;
    const data = new Float32Array(rows.length * per); // [B, T, M]
    rows.forEach((r, b) => data.set(r.features, b * per));
    return {
      inputValues: float32Tensor([rows.length, this.options.maxLength, this.options.numMelBins], data),
      owners: rows.map((r) => r.owner),
      resolve(output) {
        const n = output.data.length / rows.length;
        rows.forEach((r, b) => r.resolve(output.data.slice(b * n, (b + 1) * n)));
      },
      reject(err) {
        const e = err instanceof Error ? err : new Error(String(err));
        for (const r of rows) r.reject(e);
      },
    };
  }
}
