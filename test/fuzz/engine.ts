/**
 * The fuzz contract, checked for every input of every target:
 *   - the parser returns a valid result (the target's own checks), or throws FormatError whose `file`
 *     names the input and whose `problem` is not empty; any other exception is a crash;
 *   - one input takes at most HANG_MS (2 s);
 *   - no single allocation exceeds the target's bound, derived from the input's size.
 * Inputs come from fast-check arbitraries, so a run is reproducible from its seed and a failure
 * shrinks to a small counterexample.
 */
import fc from 'fast-check';
import { FormatError } from '../../src/io/errors.js';
import { installAllocationProbe, largestAllocation, resetLargestAllocation } from './alloc.js';

/**
 * A hang: one input using more than HANG_MS of this process's CPU time, or more than HANG_WALL_MS of
 * wall time. CPU time, not wall time, is the 2 s test, because on a shared machine another process
 * can stretch a 10 ms input's wall time past 2 s (seen: a Hub-cache input taking 2.3 s at load 20
 * and 6-60 ms alone); a blocked or spinning parser burns CPU either way.
 */
export const HANG_MS = 2000;
export const HANG_WALL_MS = 10_000;

/** A result that breaks the target's validity rules (a silent wrong answer). */
export class InvalidResult extends Error {}

export interface FuzzTarget<I = Uint8Array> {
  name: string;
  /** The source file(s) under test, for the report. */
  parser: string;
  inputs: fc.Arbitrary<I>;
  /** Parses one input (timed, allocations measured). */
  run(input: I): Promise<unknown>;
  /** Throws InvalidResult when what `run` returned is not valid (not timed: round trips can be slow). */
  check?(result: unknown): void;
  /** Bytes of input, for the allocation bound. */
  size(input: I): number;
  /** The largest allocation allowed for an input of `size` bytes. */
  bound(size: number): number;
  /** Text every FormatError's `file` must contain (the name the target gave its input). */
  fileTag: string;
  /** Optional per-input cleanup (files written for the Hub target). */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

export interface FuzzStats {
  target: string;
  parser: string;
  inputs: number;
  parsed: number;
  rejected: number;
  crashes: number;
  hangs: number;
  overAllocations: number;
  largestAllocation: number;
  largestAllocationWhat: string;
  largestAllocationInput: number;
  largestRatio: number;
  slowestMs: number;
  seconds: number;
  failure?: string;
  counterexample?: unknown;
}

type Outcome = { kind: 'parsed' | 'rejected' } | { kind: 'crash' | 'hang' | 'alloc'; detail: string };

async function runOne<I>(t: FuzzTarget<I>, input: I, stats: FuzzStats): Promise<Outcome> {
  resetLargestAllocation();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let outcome: Outcome;
  let result: unknown;
  let ms = 0;
  let cpuMs = 0;
  let alloc = { bytes: 0, what: '' };
  try {
    try {
      result = await t.run(input);
    } finally {
      ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      cpuMs = (cpu.user + cpu.system) / 1000;
      alloc = largestAllocation();
    }
    t.check?.(result);
    outcome = { kind: 'parsed' };
  } catch (err) {
    if (err instanceof FormatError && err.file.includes(t.fileTag) && err.problem.length > 0 && !(err instanceof InvalidResult)) {
      outcome = { kind: 'rejected' };
    } else {
      const e = err as Error;
      const where = String(e?.stack ?? '').split('\n').find((l) => l.includes('/src/')) ?? '';
      outcome = { kind: 'crash', detail: `${e?.constructor?.name ?? typeof err}: ${String(e?.message ?? err).slice(0, 300)} ${where.trim()}` };
    }
  }
  const size = t.size(input);
  stats.slowestMs = Math.max(stats.slowestMs, ms);
  if (alloc.bytes > stats.largestAllocation) {
    stats.largestAllocation = alloc.bytes;
    stats.largestAllocationWhat = alloc.what;
    stats.largestAllocationInput = size;
  }
  stats.largestRatio = Math.max(stats.largestRatio, alloc.bytes / Math.max(1, size));
  if (outcome.kind === 'crash') return outcome;
  if (cpuMs > HANG_MS || ms > HANG_WALL_MS) {
    return { kind: 'hang', detail: `${cpuMs.toFixed(0)} ms of CPU (${ms.toFixed(0)} ms wall) for one input of ${size} bytes` };
  }
  if (alloc.bytes > t.bound(size)) {
    return { kind: 'alloc', detail: `${alloc.what} = ${alloc.bytes} bytes for an input of ${size} bytes (bound ${t.bound(size)})` };
  }
  return outcome;
}

export interface FuzzOptions {
  runs: number;
  seed: number;
  /** Stop after this many seconds even if fewer than `runs` inputs ran (the stats say how many did). */
  seconds?: number;
  /** Called before each input (the watchdog's heartbeat). */
  onInput?: () => void;
  /** Called every `every` inputs. */
  onProgress?: (stats: FuzzStats) => void;
  every?: number;
}

/** Runs `runs` inputs through the target; stops at (and shrinks) the first contract violation. */
export async function fuzz<I>(t: FuzzTarget<I>, options: FuzzOptions): Promise<FuzzStats> {
  installAllocationProbe();
  const stats: FuzzStats = {
    target: t.name,
    parser: t.parser,
    inputs: 0,
    parsed: 0,
    rejected: 0,
    crashes: 0,
    hangs: 0,
    overAllocations: 0,
    largestAllocation: 0,
    largestAllocationWhat: '',
    largestAllocationInput: 0,
    largestRatio: 0,
    slowestMs: 0,
    seconds: 0,
  };
  const start = performance.now();
  let shrinking = false;
  await t.setup?.();
  try {
    const details = await fc.check(
      fc.asyncProperty(t.inputs, async (input) => {
        options.onInput?.();
        const o = await runOne(t, input, stats);
        if (!shrinking) {
          stats.inputs++;
          if (o.kind === 'parsed') stats.parsed++;
          else if (o.kind === 'rejected') stats.rejected++;
          else if (o.kind === 'crash') stats.crashes++;
          else if (o.kind === 'hang') stats.hangs++;
          else stats.overAllocations++;
          if (options.onProgress && stats.inputs % (options.every ?? 10_000) === 0) options.onProgress(stats);
        }
        if ('detail' in o) {
          shrinking = true;
          throw new Error(`${o.kind}: ${o.detail}`);
        }
      }),
      {
        numRuns: options.runs,
        seed: options.seed,
        maxSkipsPerRun: 0,
        ...(options.seconds ? { interruptAfterTimeLimit: options.seconds * 1000, markInterruptAsFailure: false } : {}),
      },
    );
    if (details.failed) {
      stats.failure = String((details.errorInstance as Error | undefined)?.message ?? details.errorInstance);
      stats.counterexample = details.counterexample?.[0];
    }
  } finally {
    await t.teardown?.();
  }
  stats.seconds = (performance.now() - start) / 1000;
  return stats;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
