/**
 * Finds and reads a checkpoint's tensors the way transformers' from_pretrained looks for them:
 * model.safetensors, then the sharded model.safetensors.index.json, then PyTorch's
 * pytorch_model.bin (and its sharded index), read with a restricted unpickler.
 */
import { FormatError } from './errors.js';
import { parseJson, type FileSource } from './files.js';
import type { Tensor } from '../tensor.js';
import { parseSafetensors } from './safetensors.js';
import { parseTorchCheckpoint } from './torch-pickle.js';

export const CHECKPOINT_FILES = {
  safetensors: 'model.safetensors',
  safetensorsIndex: 'model.safetensors.index.json',
  pytorch: 'pytorch_model.bin',
  pytorchIndex: 'pytorch_model.bin.index.json',
} as const;

export type CheckpointFormat = keyof typeof CHECKPOINT_FILES;

/** The tensors of the checkpoint in `source`, by their state-dict names, in the file's dtype. */
export async function readCheckpointTensors(source: FileSource): Promise<Map<string, Tensor>> {
  return (await readCheckpoint(source)).tensors;
}

/** Like readCheckpointTensors, also saying which file(s) the tensors came from. */
export async function readCheckpoint(
  source: FileSource,
): Promise<{ tensors: Map<string, Tensor>; format: CheckpointFormat; files: string[] }> {
  for (const format of Object.keys(CHECKPOINT_FILES) as CheckpointFormat[]) {
    const name = CHECKPOINT_FILES[format];
    if (!(await source.exists(name))) continue;
    if (format === 'safetensors') {
      return { tensors: parseSafetensors(await source.read(name), source.describe(name)).tensors, format, files: [name] };
    }
    if (format === 'pytorch') {
      return { tensors: parseTorchCheckpoint(await source.read(name), source.describe(name)), format, files: [name] };
    }
    const shardReader =
      format === 'safetensorsIndex'
        ? (bytes: Uint8Array, where: string) => parseSafetensors(bytes, where).tensors
        : parseTorchCheckpoint;
    return { ...(await readSharded(source, name, shardReader)), format };
  }
  throw new FormatError(
    source.description,
    `no weights found; looked for ${Object.values(CHECKPOINT_FILES).join(', ')}`,
  );
}

/** A shard file name from an index: a plain file name in the same folder (no paths, no traversal). */
function checkShardName(shard: unknown, indexWhere: string): string {
  if (typeof shard !== 'string' || shard.length === 0 || /[/\\]/.test(shard) || shard === '.' || shard === '..') {
    throw new FormatError(indexWhere, `weight_map names ${JSON.stringify(shard)}, which is not a file name in the same folder`);
  }
  return shard;
}

async function readSharded(
  source: FileSource,
  indexName: string,
  readShard: (bytes: Uint8Array, where: string) => Map<string, Tensor>,
): Promise<{ tensors: Map<string, Tensor>; files: string[] }> {
  const where = source.describe(indexName);
  const index = parseJson(await source.read(indexName), where);
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new FormatError(where, `no "weight_map" object`);
  }
  const wanted = new Map<string, string[]>(); // shard -> tensor names it should hold
  for (const [tensor, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    const file = checkShardName(shard, where);
    const list = wanted.get(file) ?? [];
    list.push(tensor);
    wanted.set(file, list);
  }
  const tensors = new Map<string, Tensor>();
  const origin = new Map<string, string>();
  for (const [file, names] of wanted) {
    if (!(await source.exists(file))) throw new FormatError(where, `shard ${source.describe(file)} is missing`);
    const shardWhere = source.describe(file);
    const shardTensors = readShard(await source.read(file), shardWhere);
    for (const n of names) {
      if (!shardTensors.has(n)) throw new FormatError(where, `weight_map puts "${n}" in ${file}, but ${shardWhere} does not hold it`);
    }
    for (const [n, t] of shardTensors) {
      const other = origin.get(n);
      if (other) throw new FormatError(where, `tensor "${n}" is in two shards, ${other} and ${file}`);
      origin.set(n, file);
      tensors.set(n, t);
    }
  }
  return { tensors, files: [indexName, ...wanted.keys()] };
}
