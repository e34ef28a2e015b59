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

/** Sessions for the variants of one model (keyed by the caller), created on first use and released together. */
export class Runner {
  readonly options: Readonly<RuntimeOptions>;
  private readonly sessions = new Map<string, Promise<OrtSession>>();

  constructor(options: RuntimeOptions = {}) {
    this.options = checkRuntimeOptions(options);
  }

  /** The session for `key`; `build` makes its graph the first time (a failed build is retried next time). */
  session(key: string, build: () => GraphBytes): Promise<OrtSession> {
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
  async run(
    key: string,
    build: () => GraphBytes,
    inputs: Record<string, Tensor>,
    weights?: ReadonlyMap<string, Tensor>,
    outputs?: readonly string[],
  ): Promise<Record<string, Tensor>> {
    const session = await this.session(key, build);
    const feeds: Record<string, Tensor> = { ...inputs };
    if (weights) for (const [k, w] of weights) feeds[k] = w;
    return session.run(feeds, outputs);
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s.catch(() => undefined))?.release();
  }
}
