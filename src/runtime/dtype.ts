/**
 * The precision a model runs in, named as transformers.js names its files' dtypes:
 *   fp32  float32 everywhere (the default; matches PyTorch to ~1e-6)
 *   fp16  the graph in float16 (weights and activations; layer norm and softmax in float32), transformers.js's model_fp16.onnx
 *   q8    every encoder Linear in int8 (weights symmetric per output channel, quantised at load; activations per tensor at run time)
 */
export const MODEL_DTYPES = ['fp32', 'fp16', 'q8'] as const;
export type ModelDtype = (typeof MODEL_DTYPES)[number];

/** The dtype, or a clear error naming where it came from and the valid values. */
export function parseModelDtype(value: unknown, where = 'dtype'): ModelDtype {
  if ((MODEL_DTYPES as readonly unknown[]).includes(value)) return value as ModelDtype;
  throw new Error(`${where} ${String(value)} is not supported: valid dtypes are ${MODEL_DTYPES.join(', ')}`);
}
