// AssemblyScript source of AdamW's WebAssembly SIMD kernel (src/train/adamw-wasm.ts loads it).
// Rebuild with `npm run build:wasm` (writes src/train/adamw-wasm.generated.ts, committed).
//
// One AdamW update of n float32 parameters, four at a time, in the float32 operations of torch 1.13's
// single-tensor AdamW (each step below is one correctly rounded f32 operation; adamw.ts's JavaScript loop
// does the same operations with Math.fround, which gives the same bits):
//   p = p * decay
//   m = m * b1 + g * c1
//   v = v * b2 + (c2 * g) * g                      (addcmul: value * t1 * t2)
//   p = p + (negStep * m) / (sqrt(v) / bc2 + eps)   (addcdiv: self + value * t1 / t2)
// Pointers are byte offsets into this module's memory, laid out by the caller.

/** First free byte after this module's static data: the caller's layout starts there. */
export function heapBase(): usize {
  return __heap_base;
}

export function adamw(p: usize, g: usize, m: usize, v: usize, n: i32, decay: f32, b1: f32, b2: f32, c1: f32, c2: f32, bc2: f32, eps: f32, negStep: f32): void {
  const vDecay = f32x4.splat(decay);
  const vb1 = f32x4.splat(b1);
  const vb2 = f32x4.splat(b2);
  const vc1 = f32x4.splat(c1);
  const vc2 = f32x4.splat(c2);
  const vbc2 = f32x4.splat(bc2);
  const vEps = f32x4.splat(eps);
  const vStep = f32x4.splat(negStep);
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const o = <usize>i << 2;
    const gi = v128.load(g + o);
    const pi = f32x4.mul(v128.load(p + o), vDecay);
    const mi = f32x4.add(f32x4.mul(v128.load(m + o), vb1), f32x4.mul(gi, vc1));
    const vi = f32x4.add(f32x4.mul(v128.load(v + o), vb2), f32x4.mul(f32x4.mul(vc2, gi), gi));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(vi), vbc2), vEps);
    v128.store(p + o, f32x4.add(pi, f32x4.div(f32x4.mul(vStep, mi), denom)));
  }
  for (let i = n4; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    const pi = load<f32>(p + o) * decay;
    const mi = load<f32>(m + o) * b1 + gi * c1;
    const vi = load<f32>(v + o) * b2 + c2 * gi * gi;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const denom = sqrt<f32>(vi) / bc2 + eps;
    store<f32>(p + o, pi + (negStep * mi) / denom);
  }
}
