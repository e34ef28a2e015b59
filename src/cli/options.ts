/** Option-value parsers shared by the commands: a bad value becomes commander's usage error, not a stack trace. */
import { InvalidArgumentError } from 'commander';
import { checkThreads } from '../runtime/options.js';

/** `--batch-size 8`, `--threads 2`: a whole number of at least 1. */
export function positiveInteger(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got "${value}"`);
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
