/** The HTTP thread's handle on the model's worker thread: start it, send requests, get answers and batch reports. */
import type { Worker } from 'node:worker_threads';
import { startThread } from './threads.js';
import type { BatchReport } from './dynamic-batcher.js';
import type { Classified, ClassifyRequestOptions, FailureKind, FromWorker, ModelInfo, ToWorker, WorkerInit } from './protocol.js';

/** A request the worker could not answer; `kind` decides the HTTP status. */
export class InferenceError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'InferenceError';
  }
}

interface Waiting {
  resolve: (value: Classified | Float32Array) => void;
  reject: (err: Error) => void;
}

export class ModelWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private exited = false;
  /** Resolves with the model's description once it is loaded and one warm-up forward ran. */
  readonly ready: Promise<ModelInfo>;

  constructor(init: WorkerInit, onBatch: (report: BatchReport, pendingRows: number) => void) {
    this.worker = startThread('worker', init);
    this.ready = new Promise<ModelInfo>((resolve, reject) => {
      this.worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'ready':
            return resolve(m.info);
          case 'fatal':
            return reject(new Error(m.message));
          case 'batch':
            return onBatch(m.report, m.pendingRows);
          case 'classified':
            return this.settle(m.id, (w) => w.resolve(m.result));
          case 'embedded':
            return this.settle(m.id, (w) => w.resolve(m.embedding));
          case 'failed':
            return this.settle(m.id, (w) => w.reject(new InferenceError(m.kind, m.message)));
        }
      });
      this.worker.on('error', (err) => reject(err));
      this.worker.on('exit', (code) => {
        this.exited = true;
        const err = new Error(`the model worker exited (code ${code})`);
        reject(err);
        for (const w of this.waiting.values()) w.reject(new InferenceError('forward', err.message));
        this.waiting.clear();
      });
    });
    this.ready.catch(() => {}); // the server reports it; an unobserved rejection must not end the process
  }

  /** False once the worker thread has exited (crashed, or closed). */
  get alive(): boolean {
    return !this.exited;
  }

  /**
   * `admitted`: inference requests the HTTP side has accepted and not answered, this one included (the batcher
   * waits for a batch to fill only while more are on their way). `bytes` is handed over to the worker when it alone owns its buffer (then it is unusable here afterwards). */
  classify(bytes: Uint8Array, options: ClassifyRequestOptions, signal: AbortSignal, admitted: number): Promise<Classified> {
    return this.send((id) => ({ type: 'classify', id, bytes, options, admitted }), signal, handOver(bytes)) as Promise<Classified>;
  }

  embed(bytes: Uint8Array, signal: AbortSignal, admitted: number): Promise<Float32Array> {
    return this.send((id) => ({ type: 'embed', id, bytes, admitted }), signal, handOver(bytes)) as Promise<Float32Array>;
  }

  async close(): Promise<void> {
    if (!this.exited) await this.worker.terminate();
  }

  /** Aborting the signal (timeout, client gone) cancels the request's queued windows in the worker. */
  private send(message: (id: number) => ToWorker, signal: AbortSignal, transfer: ArrayBuffer[]): Promise<Classified | Float32Array> {
    if (this.exited) return Promise.reject(new InferenceError('forward', 'the model worker is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiting.delete(id);
        this.worker.postMessage({ type: 'cancel', id } satisfies ToWorker);
        reject(new InferenceError('cancelled', String(signal.reason ?? 'cancelled')));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(id, {
        resolve: (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
        reject: (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
      });
      this.worker.postMessage(message(id), transfer);
    });
  }

  private settle(id: number, f: (w: Waiting) => void): void {
    const w = this.waiting.get(id);
    if (!w) return; // answered already (timed out or the client left)
    this.waiting.delete(id);
    f(w);
  }
}

/**
 * The body's buffer, to transfer rather than copy, when the body is all of it (a request body is its own
 * allocation); never a slice of a shared one, such as Node's pool for small Buffers, which would be detached.
 */
function handOver(bytes: Uint8Array): ArrayBuffer[] {
  const b = bytes.buffer;
  return b instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === b.byteLength ? [b] : [];
}
