import type { Dim } from './types.js';
import type { OnnxElemType } from './onnx.js';

/** A value in the graph: a graph input, an initializer, or a node output. */
export class Value {
  /** @internal set once, when the value becomes a named graph output */
  name: string;
  constructor(
    name: string,
    readonly dtype: OnnxElemType,
    /** Static shape; `undefined` when the op's shape rule is not known (then `shape()` throws). */
    readonly dims: readonly Dim[] | undefined,
    readonly kind: 'input' | 'initializer' | 'node',
  ) {
    this.name = name;
  }
  toString(): string {
    return `${this.name}: ${this.dtype}[${this.dims?.join(', ') ?? '?'}]`;
  }
}
