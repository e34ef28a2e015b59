/**
 * CPU time per thread (Linux /proc), so the server's CPU per clip can be split between the HTTP thread, the
 * pipeline's thread and the model's thread: wall time says little on a shared, loaded machine, CPU time does.
 * Elsewhere every function returns undefined and the split is simply not reported.
 */
import { readFileSync, readlinkSync } from 'node:fs';

/** The calling thread's kernel id (readlink /proc/thread-self = "PID/task/TID"); undefined off Linux. */
export function currentThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Seconds of CPU thread `tid` of this process has used: schedstat's run time in ns when the kernel keeps it
 * (exact), else stat's utime + stime in clock ticks (100 Hz); undefined when the thread is gone or off Linux.
 */
export function threadCpuSeconds(tid: number): number | undefined {
  try {
    const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    if (Number.isFinite(ns)) return ns / 1e9;
  } catch {
    // no schedstat: fall through to stat
  }
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // fields after the ")" that closes the command name: utime and stime are the 12th and 13th
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
