import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { toFloat32, type Float32Tensor } from '../../src/tensor.js';
import { AdamW } from '../../src/train/adamw.js';
import { adamwWasmSettings } from '../../src/train/adamw-wasm.js';
import { Rng } from '../../src/rng.js';
import { fixturesDir, fixtureIndex, maxAbsDiff } from '../helpers/fixtures.js';

function readF32(path: string): Map<string, Float32Tensor> {
  const st = parseSafetensors(readFileSync(path), path);
  const out = new Map<string, Float32Tensor>();
  for (const [k, t] of st.tensors) {
    const f = toFloat32(t);
    out.set(k, { dtype: 'float32', dims: f.dims, data: Float32Array.from(f.data) }); // own copy: AdamW writes in place
  }
  return out;
}

const cases = fixtureIndex.models.filter((m) => m.case !== 'case-inference');
test('the fixture filter finds its cases (an empty list would run no comparison)', () => {
  assert.ok(cases.length >= 4, `training fixtures: ${cases.length} cases`);
});

for (const c of cases) for (const loop of ['WebAssembly', 'JavaScript'] as const) {
  test(`one AdamW step with the reference gradients matches torch.optim.AdamW (${c.model}/${c.case}, ${loop} loop)`, (t) => {
    adamwWasmSettings.enabled = loop === 'WebAssembly';
    t.after(() => void (adamwWasmSettings.enabled = true));
    const dir = join(fixturesDir, 'models', c.model);
    const meta = JSON.parse(readFileSync(join(dir, c.case, 'case.json'), 'utf8'));
    const params = readF32(join(dir, 'model.safetensors'));
    const grads = readF32(join(dir, c.case, 'grads.safetensors'));
    const expected = readF32(join(dir, c.case, 'after_adamw_step.safetensors'));
    const opt = new AdamW({ lr: meta.adamw.lr, weightDecay: meta.adamw.weight_decay, betas: meta.adamw.betas, eps: meta.adamw.eps });
    opt.step(params, grads);
    assert.equal(params.size, expected.size);
    let worst = 0;
    for (const [name, p] of params) {
      const e = expected.get(name);
      assert.ok(e, `${name} missing from after_adamw_step`);
      worst = Math.max(worst, maxAbsDiff(p.data, e.data));
    }
    // 1e-6 (issue 5); float32 rounding of one update; measured max 3.0e-8 over the four cases
    assert.ok(worst <= 1e-6, `max |diff| ${worst}`);
    console.log(`# ${c.model}/${c.case} (${loop}): max |AdamW - torch| = ${worst.toExponential(2)}`);
  });
}

test('the WebAssembly and the JavaScript AdamW loops give the same bits (odd lengths, chunk edges, 5 steps, decay on and off)', () => {
  const sizes = [1, 3, 4, 7, 8192, 8195, 20001];
  const make = (): { p: Map<string, Float32Tensor>; g: Map<string, Float32Tensor>[] } => {
    const r = new Rng(11);
    const p = new Map<string, Float32Tensor>();
    for (const [i, n] of sizes.entries()) p.set(i % 2 ? `w${i}.bias` : `w${i}`, { dtype: 'float32', dims: [n], data: Float32Array.from({ length: n }, () => r.normal()) });
    const g = Array.from({ length: 5 }, (_, s) => new Map([...p].map(([k, t]) => [k, { ...t, data: Float32Array.from(t.data, () => r.normal() * 10 ** (s - 3)) }])));
    return { p, g };
  };
  const run = (wasm: boolean): Map<string, Float32Tensor> => {
    adamwWasmSettings.enabled = wasm;
    try {
      const { p, g } = make();
      const opt = new AdamW({ lr: 3e-4, weightDecay: 0.05, noDecay: (n) => n.endsWith('.bias') });
      for (const gs of g) opt.step(p, gs);
      for (const [k, m] of opt.state.expAvg) p.set(`m:${k}`, { dtype: 'float32', dims: [m.length], data: m });
      for (const [k, v] of opt.state.expAvgSq) p.set(`v:${k}`, { dtype: 'float32', dims: [v.length], data: v });
      return p;
    } finally {
      adamwWasmSettings.enabled = true;
    }
  };
  const a = run(true);
  const b = run(false);
  assert.equal(a.size, b.size);
  for (const [k, t] of a) {
    const u = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
    const w = b.get(k)!.data;
    const v = new Uint32Array(w.buffer, w.byteOffset, w.length);
    const at = u.findIndex((x, i) => x !== v[i]);
    assert.equal(at, -1, `${k}[${at}]: WebAssembly ${t.data[at]} vs JavaScript ${w[at]}`);
  }
});
