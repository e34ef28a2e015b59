/**
 * The fuzz contract on a fixed-seed sample: 2,000 inputs per parser (the full campaign, 100,000 per
 * parser, is `npm run fuzz`). Every input parses to a valid result or is refused with a FormatError
 * naming the file; none crashes, hangs (2 s) or allocates more than its bound. Figures are printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, fuzz } from './engine.js';
import { TARGETS } from './targets.js';

const SAMPLE = 2000;
const SEED = 20261203;

for (const [i, target] of TARGETS.entries()) {
  test(`fuzz sample: ${target.name} (${target.parser}), ${SAMPLE} inputs`, async () => {
    const s = await fuzz(target, { runs: SAMPLE, seed: SEED + i });
    console.log(
      `  ${target.name}: ${s.inputs} inputs, ${s.parsed} parsed, ${s.rejected} rejected, crashes ${s.crashes}, hangs ${s.hangs}, ` +
        `over-bound ${s.overAllocations}, largest allocation ${formatBytes(s.largestAllocation)} (${s.largestAllocationWhat || '-'}), slowest ${s.slowestMs.toFixed(0)} ms, ${s.seconds.toFixed(1)} s`,
    );
    assert.equal(s.failure, undefined, `${target.name}: ${s.failure}\ncounterexample: ${String(s.counterexample).slice(0, 2000)}`);
    assert.equal(s.inputs, SAMPLE);
  });
}
