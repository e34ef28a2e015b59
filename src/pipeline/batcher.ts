/**
 * THE batcher: feature rows [T, M] from any number of callers (the windows of long files, the clips of
 * a CLI batch, evaluation clips; later server requests and a worker's files) become `inputValues`
 * [B, T, M] batches of at most `maxBatch` rows, first come first served. Each row carries its owner, and
 * each `add` gets a promise of that row's own output row, so every caller receives exactly its rows,
 * in the order it added them, whoever shared the batch. Edges only decide when to run a batch.
 * No model inside: `runNext` takes the forward function, so the batcher is testable on its own.
 */
import { stackRows, type Float32Tensor } from '../tensor.js';

/** Why a row's promise rejected when its owner cancelled it before it ran. */
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

/** One assembled batch: `inputValues` [B, T, M] and the owner of each row, in row order. */
export interface Batch<O> {
  readonly inputValues: Float32Tensor;
  readonly owners: readonly O[];
  /** Hands row b of `output` ([B, ...]) to the promise of row b. */
  resolve(output: Float32Tensor): void;
  /** Fails every row of this batch (each owner sees the error). */
  reject(err: unknown): void;
}

export interface BatcherOptions {
  /** Most rows in one batch (a positive integer). */
  maxBatch: number;
  /** T and M of each row: the model's max_length and num_mel_bins. */
  maxLength: number;
  numMelBins: number;
}

export class Batcher<O> {
  readonly maxBatch: number;
  readonly maxLength: number;
  readonly numMelBins: number;
  private queue: Row<O>[] = [];

  constructor(options: BatcherOptions) {
    for (const k of ['maxBatch', 'maxLength', 'numMelBins'] as const) {
      const v = options[k];
      if (!(Number.isInteger(v) && v > 0)) throw new Error(`Batcher: ${k} must be a positive integer, got ${v}`);
    }
    ({ maxBatch: this.maxBatch, maxLength: this.maxLength, numMelBins: this.numMelBins } = options);
  }

  /** Rows waiting for a batch. */
  get pending(): number {
    return this.queue.length;
  }

  /** Whether a whole batch of `maxBatch` rows is waiting. */
  get full(): boolean {
    return this.queue.length >= this.maxBatch;
  }

  /**
   * Queues one row of `owner` (maxLength x numMelBins values, kept by reference until its batch is
   * assembled) and returns the promise of its output row.
   */
  add(owner: O, features: Float32Array): Promise<Float32Array> {
    const size = this.maxLength * this.numMelBins;
    if (!(features instanceof Float32Array) || features.length !== size) {
      return Promise.reject(new Error(`Batcher: a row must be ${size} float32 values (${this.maxLength} x ${this.numMelBins}), got ${features?.length}`));
    }
    const row = new Promise<Float32Array>((resolve, reject) => this.queue.push({ owner, features, resolve, reject }));
    row.catch(() => {}); // a caller that cancels need not listen: no unhandled rejection; awaiting callers still see it
    return row;
  }

  /**
   * Drops every queued row of `owner` (rows already in a taken batch still run); their promises
   * reject with BatchCancelledError. Returns how many rows were dropped.
   */
  cancel(owner: O, reason?: string): number {
    const kept: Row<O>[] = [];
    let dropped = 0;
    for (const row of this.queue) {
      if (row.owner === owner) {
        dropped++;
        row.reject(new BatchCancelledError(reason));
      } else kept.push(row);
    }
    this.queue = kept;
    return dropped;
  }

  /** The next batch of up to maxBatch rows, in arrival order; undefined when nothing waits. */
  take(): Batch<O> | undefined {
    if (this.queue.length === 0) return undefined;
    const rows = this.queue.slice(0, this.maxBatch);
    this.queue = this.queue.slice(this.maxBatch);
    return {
      inputValues: stackRows(rows.map((r) => r.features), [this.maxLength, this.numMelBins]), // [B, T, M]
      owners: rows.map((r) => r.owner),
      resolve(output) {
        const B = rows.length;
        if (output.dims[0] !== B || output.data.length % B !== 0) {
          this.reject(new Error(`Batcher: the forward returned [${output.dims.join(', ')}] for a batch of ${B} rows`));
          return;
        }
        const n = output.data.length / B;
        rows.forEach((r, b) => r.resolve(output.data.slice(b * n, (b + 1) * n)));
      },
      reject(err) {
        const e = err instanceof Error ? err : new Error(String(err));
        for (const r of rows) r.reject(e);
      },
    };
  }

  /**
   * Takes the next batch and runs `forward` on it ([B, T, M] -> [B, ...]), settling each row's promise.
   * Returns the number of rows run (0 when nothing waited). A failed forward fails that batch's rows only.
   */
  async runNext(forward: (inputValues: Float32Tensor) => Promise<Float32Tensor>): Promise<number> {
    const batch = this.take();
    if (!batch) return 0;
    try {
      batch.resolve(await forward(batch.inputValues));
    } catch (err) {
      batch.reject(err);
    }
    return batch.owners.length;
  }
}
