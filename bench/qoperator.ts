/**
 * The transformers.js q8 peer's model_quantized.onnx, made as transformers.js's own conversion makes it
 * (scripts/quantize.py `quantize_q8` -> onnxruntime.quantization ONNXQuantizer) without Python: a pass over a
 * float32 model that reproduces these settings of that call for an AST graph:
 *   mode=QuantizationMode.IntegerOps (QOperator ops, dynamic), static=False,
 *   weight_qType=QuantType.QUInt8 (transformers.js picks QUInt8 when the model has a Conv, as AST's patch embedding),
 *   activation_qType=QuantType.QUInt8, per_channel=None -> per tensor, reduce_range=None -> full 0..255,
 *   extra_options MatMulConstBOnly=True (only products with a constant weight: every Linear, not attention's two
 *   batched MatMuls), op types = IntegerOpsRegistry (MatMul, Conv, ...).
 * Each such product becomes what ONNXQuantizer writes for it:
 *   x_q, x_scale, x_zero = DynamicQuantizeLinear(x)
 *   y_int = MatMulInteger(x_q, W_q, x_zero, W_zero)            (Conv: ConvInteger, same inputs)
 *   y = Cast(y_int, float) * (x_scale * W_scale)  [+ bias]
 * with W_q = quantizeUint8Asymmetric(W, per tensor). Our graph expresses a Linear as Gemm(transB=1) where the torch
 * export has MatMul + Add: same product, same quantisation. Bench-only: the package never emits this form.
 */
import { ONNX_DTYPE, type OnnxModel, type OnnxNode, type OnnxTensor } from '../src/graph/onnx.js';
import { quantizeUint8Asymmetric } from '../src/model/quant.js';

function attr(n: OnnxNode, name: string): number | undefined {
  const a = n.attributes?.find(([k]) => k === name)?.[1];
  return a && (a.type === 'int' || a.type === 'float') ? a.value : undefined;
}

export function quantizeDynamicQOperator(model: OnnxModel): OnnxModel {
  const g = model.graph;
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  const added: OnnxTensor[] = [];
  const nodes: OnnxNode[] = [];
  let k = 0;
  const scalar = (name: string, dtype: 'float32' | 'uint8', v: number): string => {
    added.push({ name, dtype, dims: [], data: dtype === 'float32' ? Float32Array.of(v) : Uint8Array.of(v) });
    return name;
  };
  const quantizeInput = (x: string): [string, string, string] => {
    const id = k++;
    const out: [string, string, string] = [`${x}_q${id}`, `${x}_scale${id}`, `${x}_zero${id}`];
    nodes.push({ opType: 'DynamicQuantizeLinear', name: `dql_${id}`, inputs: [x], outputs: out });
    return out;
  };
  const rescale = (acc: string, xScale: string, wScale: string, out: string, bias: string | undefined): void => {
    const id = k++;
    nodes.push({ opType: 'Cast', name: `cast_${id}`, inputs: [acc], outputs: [`${acc}_f`], attributes: [['to', { type: 'int', value: ONNX_DTYPE.float32 }]] });
    nodes.push({ opType: 'Mul', name: `scales_${id}`, inputs: [xScale, wScale], outputs: [`${acc}_s`] });
    nodes.push({ opType: 'Mul', name: `rescale_${id}`, inputs: [`${acc}_f`, `${acc}_s`], outputs: [bias ? `${acc}_y` : out] });
    if (bias) nodes.push({ opType: 'Add', name: `bias_${id}`, inputs: [`${acc}_y`, bias], outputs: [out] });
  };

  for (const n of g.nodes) {
    const w = inits.get(n.inputs[1] ?? '');
    const isLinear = n.opType === 'Gemm' && !n.domain && w && w.dtype === 'float32' && attr(n, 'transB') === 1 && !attr(n, 'transA');
    const isConv = n.opType === 'Conv' && !n.domain && w && w.dtype === 'float32';
    if (!isLinear && !isConv) {
      nodes.push(n);
      continue;
    }
    const wd = w!.data as Float32Array;
    const [xq, xs, xz] = quantizeInput(n.inputs[0]!);
    const id = k++;
    let bias = n.inputs[2] || undefined;
    if (isLinear) {
      const [out, inF] = w!.dims as [number, number];
      const alpha = attr(n, 'alpha') ?? 1;
      const q = quantizeUint8Asymmetric(wd, out, inF, { perChannel: false, reduceRange: false });
      added.push({ name: `${w!.name}_quantized`, dtype: 'uint8', dims: [inF, out], data: q.data });
      const wz = scalar(`${w!.name}_zero_point`, 'uint8', q.zeroPoints[0]!);
      const ws = scalar(`${w!.name}_scale`, 'float32', q.scales[0]! * alpha);
      if (bias && alpha !== 1) {
        const b = inits.get(bias)!.data as Float32Array;
        added.push({ name: `${bias}_alpha${id}`, dtype: 'float32', dims: [b.length], data: b.map((v) => v * alpha) });
        bias = `${bias}_alpha${id}`;
      }
      nodes.push({ opType: 'MatMulInteger', name: `mmi_${id}`, inputs: [xq, `${w!.name}_quantized`, xz, wz], outputs: [`mmi_${id}_out`] });
      rescale(`mmi_${id}_out`, xs, ws, n.outputs[0]!, bias);
    } else {
      // Conv weight [out, in, kh, kw]: per tensor, so the layout is irrelevant to the quantiser (one group)
      const q = quantizeUint8Asymmetric(wd, 1, wd.length, { perChannel: false, reduceRange: false });
      added.push({ name: `${w!.name}_quantized`, dtype: 'uint8', dims: [...w!.dims], data: q.data });
      const wz = scalar(`${w!.name}_zero_point`, 'uint8', q.zeroPoints[0]!);
      const ws = scalar(`${w!.name}_scale`, 'float32', q.scales[0]!);
      if (bias) {
        // ConvInteger has no bias; ONNXQuantizer adds it after the rescale, reshaped to [1, out, 1, 1]
        const b = inits.get(bias)!;
        added.push({ name: `${bias}_reshaped${id}`, dtype: 'float32', dims: [1, b.dims[0]!, 1, 1], data: b.data });
        bias = `${bias}_reshaped${id}`;
      }
      nodes.push({ opType: 'ConvInteger', name: `convint_${id}`, inputs: [xq, `${w!.name}_quantized`, xz, wz], outputs: [`convint_${id}_out`], attributes: n.attributes });
      rescale(`convint_${id}_out`, xs, ws, n.outputs[0]!, bias);
    }
  }
  const stillRead = new Set(nodes.flatMap((n) => n.inputs));
  // the float weights (and biases that were rescaled or reshaped) are gone when nothing reads them any more
  const initializers = [...g.initializers, ...added].filter((t) => stillRead.has(t.name));
  return { ...model, graph: { ...g, nodes, initializers } };
}
