/**
 * When to run a batch (Triton's dynamic batcher): rows from concurrent requests wait in the pipeline's
 * batcher until `maxBatch` rows are there or the oldest has waited `maxDelayMs` since it arrived; one
 * forward runs at a time, and rows that arrive meanwhile form the next batch (their wait counts from
 * their arrival, so a row that waited out a whole forward goes at once). While no forward runs and `moreComing` says
 * no other rows are on their way (no request still being decoded or still arriving), waiting could not fill the batch, so it runs
 * at once: a lone request does not sit out the delay. Assembling [B, T, M] and handing each row's
 * output back to its owner is the batcher's job, not this file's (batching has one owner).
 */
import type { Float32Tensor } from '../tensor.js';
import { Batcher } from '../pipeline/batcher.js';

export interface DynamicBatcherOptions {
  maxBatch: number;
  maxDelayMs: number;
  /** T and M of each row: the model's max_length and num_mel_bins. */
  maxLength: number;
  numMelBins: number;
  /** Whether rows not yet submitted are on their way (e.g. requests being decoded); default: always (wait out the delay). */
  moreComing?: () => boolean;
}

/** What one forward did, for the metrics. */
export interface BatchReport {
  size: number;
  /** Seconds each row of the batch waited between its submission and the start of the forward. */
  waitSeconds: number[];
  computeSeconds: number;
  /** The forward's error message when it failed (its rows were rejected with it). */
  error?: string;
}

/** One `submit` call's rows: the batcher's owner, so their queue wait is known when their batch runs. */
interface Submission<O> {
  owner: O;
  at: number;
}

export class DynamicBatcher<O> {
  private readonly batcher: Batcher<Submission<O>>;
  private readonly live = new Map<O, Set<Submission<O>>>();
  /** Rows not yet taken per submission, in arrival order (a Map keeps insertion order): the first is the oldest. */
  private readonly untaken = new Map<Submission<O>, number>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    readonly options: DynamicBatcherOptions,
    private readonly forward: (inputValues: Float32Tensor) => Promise<Float32Tensor>,
    private readonly onBatch: (report: BatchReport) => void = () => {},
  ) {
    this.batcher = new Batcher({ maxBatch: options.maxBatch, maxLength: options.maxLength, numMelBins: options.numMelBins });
  }

  /** Rows waiting for a forward. */
  get pending(): number {
    return this.batcher.pending;
  }

  /** Queues `rows` (each [T, M]) of `owner`; resolves with their output rows, in order. */
  submit(owner: O, rows: readonly Float32Array[]): Promise<Float32Array[]> {
    const s: Submission<O> = { owner, at: performance.now() };
    let set = this.live.get(owner);
    if (!set) this.live.set(owner, (set = new Set()));
    set.add(s);
    const out = Promise.all(rows.map((r) => this.batcher.add(s, r)));
    if (rows.length > 0) this.untaken.set(s, rows.length);
    const done = () => {
      set.delete(s);
      if (set.size === 0 && this.live.get(owner) === set) this.live.delete(owner);
    };
    out.then(done, done);
    this.kick();
    return out;
  }

  /** Drops the queued rows of `owner` (a request that timed out or went away); a running batch finishes. */
  cancel(owner: O, reason?: string): void {
    for (const s of this.live.get(owner) ?? []) {
      this.batcher.cancel(s, reason);
      this.untaken.delete(s);
    }
    this.live.delete(owner);
    this.kick();
  }

  private kick(): void {
    if (this.running || this.batcher.pending === 0) return;
    const oldest = this.untaken.keys().next().value as Submission<O> | undefined;
    const wait = this.options.maxDelayMs - (oldest ? performance.now() - oldest.at : 0);
    if (this.batcher.full || wait <= 0 || !(this.options.moreComing?.() ?? true)) {
      void this.runOne();
    } else {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.runOne(), wait);
    }
  }

  private async runOne(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) return;
    const batch = this.batcher.take();
    if (!batch) return;
    this.running = true;
    for (const o of batch.owners) {
      const left = this.untaken.get(o)! - 1;
      if (left > 0) this.untaken.set(o, left);
      else this.untaken.delete(o);
    }
    const start = performance.now();
    const waitSeconds = batch.owners.map((s) => (start - s.at) / 1000);
    let error: string | undefined;
    try {
      batch.resolve(await this.forward(batch.inputValues));
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      batch.reject(err);
    } finally {
      this.running = false;
    }
    this.onBatch({ size: batch.owners.length, waitSeconds, computeSeconds: (performance.now() - start) / 1000, error });
    this.kick();
  }
}
