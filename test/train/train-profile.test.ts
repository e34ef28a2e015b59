/**
 * The training profile's attribution (bench/train-profile.ts): kernel times from ORT's trace summed per phase
 * and op type, the warm-up run left out, fused nodes (names without `n<i>_`) given the phase of the kernel
 * before. A hand-made trace whose sums are worked out below.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summariseProfile } from '../../bench/train-profile.js';

const run = (ts: number, dur: number) => ({ cat: 'Session', name: 'model_run', ts, dur });
const kernel = (node: string, op: string, ts: number, dur: number) => ({ cat: 'Node', name: `${node}_kernel_time`, ts, dur, args: { op_name: op } });

/** Same op types, each ms within 1e-12 (µs sums divided into ms are not exact in binary). */
function near(got: Map<string, number>, want: Record<string, number>): void {
  assert.deepEqual([...got.keys()].sort(), Object.keys(want).sort());
  for (const [op, ms] of Object.entries(want)) assert.ok(Math.abs(got.get(op)! - ms) < 1e-12, `${op}: ${got.get(op)} ms, expected ${ms}`);
}

test('kernels are summed per phase and op type per kept run; warm-up skipped; fused nodes follow the kernel before', () => {
  const events = [
    run(0, 1000), // warm-up: its kernels do not count
    kernel('n1_Gemm', 'Gemm', 10, 500),
    run(2000, 1000),
    kernel('n1_Gemm', 'Gemm', 2010, 300), // forward: index 1 < 5
    kernel('n3_Mul', 'Mul', 2320, 100), // forward
    kernel('n7_Gemm', 'Gemm', 2430, 200), // backward: index 7 >= 5
    kernel('GeluFusion_12', 'Gelu', 2640, 50), // no index: the phase of n7 (backward)
    run(4000, 1000),
    kernel('n1_Gemm', 'Gemm', 4010, 500),
    kernel('n7_Gemm', 'Gemm', 4520, 400),
    { cat: 'Node', name: 'n9_Add_fence_before', ts: 4930, dur: 1, args: { op_name: 'Add' } }, // not a kernel event
  ];
  const p = summariseProfile(events, 5);
  assert.equal(p.runs, 2);
  assert.equal(p.modelRunMs, 1); // (1000 + 1000) µs / 2 runs
  // per run: forward Gemm (300 + 500) / 2 = 400 µs, Mul 100 / 2 = 50 µs; backward Gemm (200 + 400) / 2 = 300 µs, Gelu 25 µs
  near(p.byPhase.forward, { Gemm: 0.4, Mul: 0.05 });
  near(p.byPhase.backward, { Gelu: 0.025, Gemm: 0.3 });
  assert.ok(Math.abs(p.inferredMs - 0.025) < 1e-12);
});

test('a trace with no run after the warm-up is an error, not an empty table', () => {
  assert.throws(() => summariseProfile([run(0, 10)], 5), /1 model_run events, none left after skipping 1/);
});
