/**
 * THE runner: graph bytes + weight feeds + one `RuntimeOptions`, validated once here. It owns session
 * creation (one per graph variant, built on first use), caching and `dispose`. The inference classes
 * (`ASTModel`, `ASTForAudioClassification`) and the training class (`ASTTrainable`) only build graphs
 * and hand them to a Runner. Browser-safe: the ONNX Runtime comes from `getRuntime()`.
 */
import { OrtSession } from './session.js';
import { checkRuntimeOptions, type RuntimeOptions } from './options.js';
import type { Tensor } from '../tensor.js';

export type { RuntimeOptions } from './options.js';

/** A graph as ONNX bytes, with the in-memory files its external-data initializers point into. */
export interface GraphBytes {
  model: Uint8Array;
  externalData?: readonly { path: string; data: Uint8Array }[];
}

/** What using a model after `dispose()` throws (instead of ONNX Runtime's "Session already disposed" or worse). */
export class DisposedError extends Error {
  constructor(owner: string) {
    super(`${owner} has been disposed: dispose() released its ONNX Runtime sessions; load the model again to use it`);
    this.name = 'DisposedError';
  }
}

/**
 * Sessions for the variants of one model (keyed by the caller), created on first use and released together.
 * Concurrent `run`s share one session (ORT's Run is thread-safe, and one session per variant is what keeps
 * memory flat); `dispose` waits for the runs in flight, then releases, and every later call is a DisposedError.
 */
export class Runner {
  readonly options: Readonly<RuntimeOptions>;
  private readonly sessions = new Map<string, Promise<OrtSession>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private disposing: Promise<void> | undefined;

  /** `owner` names the model in errors (e.g. 'ASTForAudioClassification'). */
  constructor(options: RuntimeOptions = {}, readonly owner = 'this model') {
    this.options = checkRuntimeOptions(options);
  }

  /** True once `dispose()` has been called. */
  get disposed(): boolean {
    return this.disposing !== undefined;
  }

  /** True when the session for `key` exists or is being created (so `session(key, …)` will not call its build). */
  hasSession(key: string): boolean {
    return this.sessions.has(key);
  }

  /** The session for `key`; `build` makes its graph the first time (a failed build is retried next time). */
  session(key: string, build: () => GraphBytes): Promise<OrtSession> {
    if (this.disposing) return Promise.reject(new DisposedError(this.owner));
    let s = this.sessions.get(key);
    if (!s) {
      s = (async () => {
        const graph = build();
        return OrtSession.create(graph.model, { ...this.options, externalData: graph.externalData });
      })();
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  /** Runs the `key` graph on `inputs` plus the weights fed as graph inputs (views, never copied here). */
  run(
    key: string,
    build: () => GraphBytes,
    inputs: Record<string, Tensor>,
    weights?: ReadonlyMap<string, Tensor>,
    outputs?: readonly string[],
  ): Promise<Record<string, Tensor>> {
    if (this.disposing) return Promise.reject(new DisposedError(this.owner));
    const run = (async () => {
      const session = await this.session(key, build);
      const feeds: Record<string, Tensor> = { ...inputs };
      if (weights) for (const [k, w] of weights) feeds[k] = w;
      return session.run(feeds, outputs);
    })();
    // dispose() waits for this run: releasing a session under a running Run is a use-after-free in ORT
    this.inFlight.add(run);
    const settled = (): void => void this.inFlight.delete(run);
    run.then(settled, settled);
    return run;
  }

  /** Waits for the runs in flight, then releases every session; idempotent. */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      await Promise.allSettled([...this.inFlight]);
      const all = [...this.sessions.values()];
      this.sessions.clear();
      for (const s of all) await (await s.catch(() => undefined))?.release();
    })();
    return this.disposing;
  }
}
