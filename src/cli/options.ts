/** Option-value parsers shared by the commands: a bad value becomes commander's usage error, not a stack trace. */
import { InvalidArgumentError } from 'commander';

/** `--batch-size 8`, `--threads 2`: a whole number of at least 1. */
export function positiveInteger(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got "${value}"`);
    return n;
  };
}
