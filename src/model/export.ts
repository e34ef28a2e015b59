/**
 * A checkpoint as a folder that transformers.js 4.x loads unchanged (`AutoModelForAudioClassification
 * .from_pretrained(dir, { dtype })`, `pipeline('audio-classification', dir)`): its file names per dtype,
 *   config.json, preprocessor_config.json,
 *   onnx/model.onnx (fp32), onnx/model_fp16.onnx (fp16), onnx/model_quantized.onnx (q8),
 * each ONNX file self-contained (weights as initializers), input `input_values` [batch, max_length, mel],
 * outputs `logits` (classification checkpoints), `pooler_output`, `last_hidden_state`.
 * The graphs are the ones this package runs (same builder, same dtype transforms). Browser-safe: files come
 * out one at a time as bytes; the caller writes them (the CLI: src/cli/export.ts).
 */
import type { FileSource } from '../io/files.js';
import { toFloat16 } from '../graph/float16.js';
import { encodeModel } from '../graph/onnx.js';
import { buildInferenceGraph } from './ast.js';
import { loadPretrained } from './pretrained.js';
import { MODEL_DTYPES, parseModelDtype, type ModelDtype } from '../runtime/dtype.js';

/** transformers.js's file name for each dtype (its `DEFAULT_DTYPE_SUFFIX_MAPPING`). */
export const TRANSFORMERS_JS_FILES: Readonly<Record<ModelDtype, string>> = {
  fp32: 'onnx/model.onnx',
  fp16: 'onnx/model_fp16.onnx',
  q8: 'onnx/model_quantized.onnx',
};

/** protobuf's hard limit for one message; past it a model needs external data. */
const PROTOBUF_LIMIT = 2 ** 31 - 1;

export interface ExportOptions {
  /** Which ONNX files (default all three). */
  dtypes?: readonly ModelDtype[];
  revision?: string;
}

export interface ExportedFile {
  /** Relative path inside the export folder, '/'-separated. */
  path: string;
  bytes: Uint8Array;
}

/** Parses `fp32,fp16,q8` (the CLI's --dtype list); an unknown name is an error listing the valid ones. */
export function parseDtypeList(list: string, where = '--dtype'): ModelDtype[] {
  const names = list.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length === 0) throw new Error(`${where}: empty; give one or more of ${MODEL_DTYPES.join(', ')}`);
  return [...new Set(names.map((n) => parseModelDtype(n, `${where}:`)))];
}

/**
 * The export folder's files, one at a time (so only one ONNX model is in memory at once): the two JSON files
 * first, then one ONNX file per dtype.
 */
export async function* exportForTransformersJs(source: string | FileSource, options: ExportOptions = {}): AsyncGenerator<ExportedFile> {
  const dtypes = options.dtypes ?? MODEL_DTYPES;
  for (const d of dtypes) parseModelDtype(d);
  // a head when the checkpoint has one; Hugging Face's feature extractor defaults when it has no preprocessor config
  const { config, extractor, weights, head } = await loadPretrained(source, { revision: options.revision, head: 'auto', preprocessor: 'optional' });

  const configJson = config.toJSON();
  if (!configJson.architectures) configJson.architectures = [head === 'classification' ? 'ASTForAudioClassification' : 'ASTModel'];
  yield { path: 'config.json', bytes: jsonBytes(configJson) };
  yield { path: 'preprocessor_config.json', bytes: jsonBytes({ feature_extractor_type: 'ASTFeatureExtractor', ...extractor.toJSON() }) };
  for (const dtype of dtypes) {
    const graph = buildInferenceGraph(config, weights, { head, dtype, attention: 'fused' });
    const model = graph.toModel();
    const bytes = encodeModel(dtype === 'fp16' ? toFloat16(model) : model);
    if (bytes.length > PROTOBUF_LIMIT) {
      throw new Error(`${typeof source === 'string' ? source : source.description}: the ${dtype} model is ${(bytes.length / 2 ** 30).toFixed(2)} GiB, past ONNX's 2 GiB single-file limit; external data is not written yet`);
    }
    yield { path: TRANSFORMERS_JS_FILES[dtype], bytes };
  }
}

function jsonBytes(v: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`);
}
