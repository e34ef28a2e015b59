/** Option-value parsers shared by the commands: a bad value becomes commander's usage error, not a stack trace. */
import { InvalidArgumentError, Option } from 'commander';
import { executionProvidersFor } from '../pipeline/hf-options.js';
import { checkThreads } from '../runtime/options.js';
import { parseModelDtype, type ModelDtype } from '../runtime/dtype.js';

/** `--batch-size 8`, `--threads 2`: a whole number of at least 1. */
export function positiveInteger(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got "${value}"`);
    return n;
  };
}

/** `--top-k 5` or `--top-k all`; 'all' stays a string: commander turns a parser's null into ''. */
export function topKOption(value: string): number | 'all' {
  if (value === 'all') return 'all';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer or "all"');
  return n;
}

/** `--window 10`, `--hop 2.5`: a length of time above zero. */
export function positiveSeconds(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} expects a positive number of seconds`);
    return n;
  };
}

/** `--threads 2`: parsed here, checked by the runtime's one rule (checkThreads), reported as a usage error. */
export function threadsOption(value: string): number {
  try {
    return checkThreads(value, '--threads');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** `--dtype q8`: the compute precision (src/runtime/dtype.ts); an unknown one is a usage error listing the valid ones. */
export function modelDtype(value: string): ModelDtype {
  try {
    return parseModelDtype(value, '--dtype');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export const DTYPE_HELP =
  'precision: fp32 (default), q8 (int8 Linears quantised at load: faster on CPUs with VNNI/AMX, logits within ~2 % of fp32), ' +
  'fp16 (float16 graph for WebGPU/CUDA; on x86 CPUs its GEMMs are slower than fp32)';

/** `--device`: where ONNX Runtime runs the model; the pipeline's `device` (src/pipeline/hf-options.ts) says which EPs. */
export const CLI_DEVICES = ['cpu', 'webgpu'] as const;
export type CliDevice = (typeof CLI_DEVICES)[number];

export function deviceOption(): Option {
  return new Option(
    '--device <device>',
    'cpu (default) or webgpu (onnxruntime-node\'s bundled WebGPU EP: Dawn over Vulkan; fp32 or fp16; ops it lacks run on the CPU)',
  ).choices(CLI_DEVICES);
}

/** RuntimeOptions.executionProviders for `--device` (undefined: the runtime's default, the CPU). */
export function executionProvidersOf(device: CliDevice | undefined): string[] | undefined {
  return device === undefined ? undefined : [...(executionProvidersFor(device, 'node') ?? [])];
}
