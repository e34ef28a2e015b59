/**
 * The vocabulary every part of the graph layer shares: static dims, attributes, a recorded node, and
 * what the derivative rules need from a graph under construction. No code, so nothing here imports.
 */

/** A static dimension: a number, or a symbolic name such as 'batch'. */
export type Dim = number | string;

export type AttrValue = number | string | number[] | string[] | Float32Array;
export type Attrs = Readonly<Record<string, AttrValue>>;

/** One recorded forward node, as the builder keeps it. */
export interface NodeRecord<V> {
  readonly op: string;
  readonly domain?: string;
  readonly inputs: readonly (V | null)[];
  readonly outputs: readonly V[];
  readonly attrs: Attrs;
}

/** What the rules need from the graph under construction. */
export interface GradGraph<V> {
  /** Emits one node and returns its outputs. */
  op(type: string, inputs: readonly (V | null)[], attrs?: Attrs, numOutputs?: number): V[];
  /** The value's static shape (symbolic names allowed); used to un-broadcast and to size slices. */
  shape(v: V): readonly Dim[];
  /** The numbers of a value that is a constant (initializer or Constant), else undefined. */
  constValue(v: V): readonly number[] | undefined;
  constF32(values: readonly number[], dims: readonly number[]): V;
  constI64(values: readonly number[], dims?: readonly number[]): V;
}
