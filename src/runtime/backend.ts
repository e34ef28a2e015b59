/**
 * The platform seam. The core builds ONNX bytes and feeds tensors; which ONNX Runtime
 * executes them (onnxruntime-node on servers, onnxruntime-web in a page) is registered
 * by the platform entry (`src/node/index.ts`, `src/web/index.ts`). The core never
 * imports a runtime package itself.
 *
 * Both onnxruntime-node and onnxruntime-web implement onnxruntime-common's API, so the
 * registered object is simply that module (`import * as ort from 'onnxruntime-node'`).
 */
import type * as OrtCommon from 'onnxruntime-common';

export type OrtModule = Pick<typeof OrtCommon, 'InferenceSession' | 'Tensor' | 'env'>;

export interface RuntimeRegistration {
  /** 'node' | 'web' — shown in errors and benchmarks. */
  readonly name: string;
  readonly ort: OrtModule;
  /** Execution providers tried in order when the caller names none. */
  readonly defaultExecutionProviders: readonly string[];
}

let registered: RuntimeRegistration | undefined;

export function registerRuntime(runtime: RuntimeRegistration): void {
  registered = runtime;
}

export function getRuntime(): RuntimeRegistration {
  if (!registered) {
    throw new Error(
      'no ONNX Runtime registered: import "ast-audio" (Node picks onnxruntime-node, browsers onnxruntime-web) ' +
        'or call registerRuntime() with an onnxruntime module',
    );
  }
  return registered;
}
