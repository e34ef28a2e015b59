/**
 * dtype 'fp16': a finished float32 model rewritten to compute in float16, as onnxconverter-common's
 * `convert_float_to_float16(model, keep_io_types=True, op_block_list=...)` does for transformers.js's
 * model_fp16.onnx:
 *   - every float32 initializer becomes float16 (values beyond float16's range clamp to +-65504), except those
 *     read only by blocked ops;
 *   - float32 graph inputs and outputs keep their type (keep_io_types): a Cast to float16 after each input,
 *     a Cast back before each output;
 *   - blocked ops (LayerNormalization and Softmax: their sums over 768 values and exponentials are where float16
 *     loses accuracy) run in float32 between Casts;
 *   - Cast nodes that produce float32 produce float16 instead.
 * Ops without a float16 kernel on the chosen execution provider are ORT's business: its InsertCastTransformer
 * runs them in float32 (on x86 CPUs that is most of them, which is why fp16 is slower there than fp32).
 */
import { ONNX_DTYPE, type OnnxElemType, type OnnxModel, type OnnxNode, type OnnxTensor } from './onnx.js';
import { floatToHalf } from '../tensor.js';

export const FLOAT16_BLOCKED_OPS: readonly string[] = ['LayerNormalization', 'Softmax'];

const FLOAT16_MAX = 65504;
const BOOL_OPS = new Set(['Greater', 'Less', 'Equal', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or']);
const DTYPE_BY_ONNX = Object.fromEntries(Object.entries(ONNX_DTYPE).map(([k, v]) => [v, k as OnnxElemType])) as Record<number, OnnxElemType>;

function attrInt(n: OnnxNode, name: string): number | undefined {
  const a = n.attributes?.find(([k]) => k === name)?.[1];
  return a && a.type === 'int' ? a.value : undefined;
}

/** Element type of each node output, by the same rules the builder uses (first input's type unless the op says). */
function outputType(n: OnnxNode, typeOf: (name: string) => OnnxElemType | undefined): OnnxElemType | undefined {
  if (n.opType === 'Cast') return DTYPE_BY_ONNX[attrInt(n, 'to') ?? 1];
  if (n.opType === 'Shape') return 'int64';
  if (BOOL_OPS.has(n.opType)) return 'bool';
  if (n.opType === 'DynamicQuantizeLinear') return undefined; // mixed outputs; not float16-convertible
  if (n.opType === 'Where') return typeOf(n.inputs[1]!);
  for (const i of n.inputs) if (i) return typeOf(i);
  return undefined;
}

function toHalf(t: OnnxTensor): OnnxTensor {
  const src = t.data as Float32Array;
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    out[i] = floatToHalf(v > FLOAT16_MAX ? FLOAT16_MAX : v < -FLOAT16_MAX ? -FLOAT16_MAX : v);
  }
  return { name: t.name, dtype: 'float16', dims: t.dims, data: out };
}

export function toFloat16(model: OnnxModel, blockedOps: readonly string[] = FLOAT16_BLOCKED_OPS): OnnxModel {
  const g = model.graph;
  const blocked = new Set(blockedOps);
  const type = new Map<string, OnnxElemType>();
  for (const i of g.inputs) type.set(i.name, i.dtype);
  for (const t of g.initializers) type.set(t.name, t.dtype);
  for (const n of g.nodes) {
    const t = outputType(n, (name) => type.get(name));
    if (t) for (const o of n.outputs) if (o) type.set(o, t);
  }
  // a float32 initializer stays float32 only when every reader is blocked
  const readers = new Map<string, OnnxNode[]>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  const keep32 = new Set(
    g.initializers.filter((t) => t.dtype === 'float32' && (readers.get(t.name) ?? []).every((n) => blocked.has(n.opType))).map((t) => t.name),
  );
  const isFloat = (name: string) => type.get(name) === 'float32';
  /** After the rewrite: is this float value held in float16? */
  const isHalf = (name: string) => isFloat(name) && !keep32.has(name);

  const names = new Set<string>([...type.keys()]);
  const fresh = (base: string) => {
    let n = base;
    for (let k = 0; names.has(n); k++) n = `${base}_${k}`;
    names.add(n);
    return n;
  };
  const cast = (from: string, to: string, dtype: 'float16' | 'float32'): OnnxNode => ({
    opType: 'Cast',
    name: fresh(`cast_${to}`),
    inputs: [from],
    outputs: [to],
    attributes: [['to', { type: 'int', value: ONNX_DTYPE[dtype] }]],
  });

  const nodes: OnnxNode[] = [];
  const rename = new Map<string, string>(); // float32 graph input -> its float16 copy
  for (const i of g.inputs) {
    if (i.dtype !== 'float32') continue;
    const h = fresh(`${i.name}_fp16`);
    rename.set(i.name, h);
    nodes.push(cast(i.name, h, 'float16'));
  }
  const outputNames = new Set(g.outputs.filter((o) => o.dtype === 'float32').map((o) => o.name));
  const outputRename = new Map<string, string>(); // float32 graph output -> the float16 value computing it
  for (const o of outputNames) outputRename.set(o, fresh(`${o}_fp16`));
  const input = (name: string) => rename.get(name) ?? outputRename.get(name) ?? name;
  const output = (name: string) => outputRename.get(name) ?? name;

  for (const n of g.nodes) {
    if (blocked.has(n.opType)) {
      // float32 island: half inputs cast up, outputs computed in float32 and cast down for their readers
      const inputs = n.inputs.map((i) => {
        if (!i || !isHalf(i)) return i;
        const up = fresh(`${i}_fp32`);
        nodes.push(cast(input(i), up, 'float32'));
        return up;
      });
      const outputs = n.outputs.map((o) => {
        if (!o || !isFloat(o)) return o;
        const f = fresh(`${o}_fp32`);
        return f;
      });
      nodes.push({ ...n, inputs, outputs });
      n.outputs.forEach((o, k) => {
        if (o && isFloat(o)) nodes.push(cast(outputs[k]!, output(o), 'float16'));
      });
      continue;
    }
    const attributes =
      n.opType === 'Cast' && attrInt(n, 'to') === ONNX_DTYPE.float32
        ? n.attributes!.map(([k, a]) => (k === 'to' ? ([k, { type: 'int', value: ONNX_DTYPE.float16 }] as const) : ([k, a] as const)))
        : n.attributes;
    nodes.push({ ...n, inputs: n.inputs.map((i) => (i ? input(i) : i)), outputs: n.outputs.map(output), attributes });
  }
  for (const [o, h] of outputRename) nodes.push(cast(h, o, 'float32'));

  const initializers = g.initializers.map((t) => (t.dtype === 'float32' && !keep32.has(t.name) ? toHalf(t) : t));
  return { ...model, graph: { ...g, nodes, initializers } };
}
