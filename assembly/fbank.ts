// AssemblyScript source of the fbank's WebAssembly kernel (src/audio/fbank-wasm.ts loads it).
// Rebuild with `npm run build:wasm` (writes src/audio/fbank-wasm.generated.ts, committed, so a
// plain `npm run build` needs no AssemblyScript).
//
// The same arithmetic as the JavaScript path in src/audio/fbank.ts and src/audio/fft.ts, in
// float64, for AST's options: DC removal, pre-emphasis, window, the 2M-point real FFT as an
// M-point complex FFT (bit-reversed gather fused with two stages, radix-4 stages with three
// complex multiplies in f64x2 SIMD lanes, a last radix-2 stage when M = 2 * 4^j) plus the split step, power, the
// bin-major mel bank, and the table-and-series log with the extractor's (x - shift) * factor.
// WebAssembly has no bounds checks per access and reinterprets a float's bits in a register,
// which makes it about twice as fast as the JavaScript path. Pointers are byte offsets into this
// module's memory, laid out by the caller.

/** First free byte after this module's static data: the caller's layout starts there. */
export function heapBase(): usize {
  return __heap_base;
}

@inline function f64at(p: usize, i: i32): f64 { return load<f64>(p + (<usize>i << 3)); }
@inline function setf64(p: usize, i: i32, v: f64): void { store<f64>(p + (<usize>i << 3), v); }

export function fbankFrames(
  sig: usize, frames: i32, shift: i32, ws: i32, removeDc: i32, coef: f64, win: usize, frame: usize,
  m: i32, rev: usize, tw: usize, cosM: usize, sinM: usize, cosN: usize, sinN: usize,
  kStart: i32, kEnd: i32, low: usize, wLow: usize, wHigh: usize, nBins: i32,
  re: usize, im: usize, power: usize, energies: usize,
  out: usize, outStride: i32, outOffset: i32, logShift: f64, logFactor: f64, floor: f64, logFloor: f64,
  invC: usize, logC: usize,
): void {
  for (let f = 0; f < frames; f++) {
    const off = sig + (<usize>(f * shift) << 2);
    let mean = 0.0;
    if (removeDc) {
      for (let j = 0; j < ws; j++) mean += <f64>load<f32>(off + (<usize>j << 2));
      mean /= <f64>ws;
    }
    const dc = mean * (1 - coef);
    let prev = <f64>load<f32>(off);
    setf64(frame, 0, (prev - mean) * (1 - coef) * f64at(win, 0));
    for (let j = 1; j < ws; j++) {
      const cur = <f64>load<f32>(off + (<usize>j << 2));
      setf64(frame, j, (cur - coef * prev - dc) * f64at(win, j));
      prev = cur;
    }
    // gather (bit-reversed) + first two stages
    for (let g = 0; g < m; g += 4) {
      const j0 = load<u32>(rev + (<usize>g << 2)) << 1, j1 = load<u32>(rev + (<usize>(g + 1) << 2)) << 1;
      const j2 = load<u32>(rev + (<usize>(g + 2) << 2)) << 1, j3 = load<u32>(rev + (<usize>(g + 3) << 2)) << 1;
      const x0r = f64at(frame, j0), x0i = f64at(frame, j0 + 1), x1r = f64at(frame, j1), x1i = f64at(frame, j1 + 1);
      const x2r = f64at(frame, j2), x2i = f64at(frame, j2 + 1), x3r = f64at(frame, j3), x3i = f64at(frame, j3 + 1);
      const a0r = x0r + x1r, a0i = x0i + x1i, a1r = x0r - x1r, a1i = x0i - x1i;
      const a2r = x2r + x3r, a2i = x2i + x3i, a3r = x2r - x3r, a3i = x2i - x3i;
      setf64(re, g, a0r + a2r); setf64(im, g, a0i + a2i);
      setf64(re, g + 2, a0r - a2r); setf64(im, g + 2, a0i - a2i);
      setf64(re, g + 1, a1r + a3i); setf64(im, g + 1, a1i - a3r);
      setf64(re, g + 3, a1r - a3i); setf64(im, g + 3, a1i + a3r);
    }
    // radix-4 stages, two consecutive k at a time in f64x2 lanes (the same operations as the
    // scalar loop, lane by lane). tw holds per stage six blocks of `half` doubles:
    // w1r, w1i, w2r, w2i, w3r, w3i with w = W_{4 half}^k.
    let half = 4;
    let t = tw;
    for (; half * 4 <= m; half *= 4) {
      const span = 4 * half;
      const hb = <usize>half << 3; // bytes in one block, and between p0, p1, p2, p3
      for (let k = 0; k < half; k += 2) {
        const kb = <usize>k << 3;
        const w1r = v128.load(t + kb), w1i = v128.load(t + hb + kb);
        const w2r = v128.load(t + 2 * hb + kb), w2i = v128.load(t + 3 * hb + kb);
        const w3r = v128.load(t + 4 * hb + kb), w3i = v128.load(t + 5 * hb + kb);
        for (let p0 = k; p0 < m; p0 += span) {
          const r0 = re + (<usize>p0 << 3), r1 = r0 + hb, r2 = r1 + hb, r3 = r2 + hb;
          const i0 = im + (<usize>p0 << 3), i1 = i0 + hb, i2 = i1 + hb, i3 = i2 + hb;
          const x0r = v128.load(r0), x0i = v128.load(i0);
          const x1r = v128.load(r1), x1i = v128.load(i1), x2r = v128.load(r2), x2i = v128.load(i2), x3r = v128.load(r3), x3i = v128.load(i3);
          const y1r = f64x2.sub(f64x2.mul(x1r, w2r), f64x2.mul(x1i, w2i)), y1i = f64x2.add(f64x2.mul(x1r, w2i), f64x2.mul(x1i, w2r));
          const y2r = f64x2.sub(f64x2.mul(x2r, w1r), f64x2.mul(x2i, w1i)), y2i = f64x2.add(f64x2.mul(x2r, w1i), f64x2.mul(x2i, w1r));
          const y3r = f64x2.sub(f64x2.mul(x3r, w3r), f64x2.mul(x3i, w3i)), y3i = f64x2.add(f64x2.mul(x3r, w3i), f64x2.mul(x3i, w3r));
          const ar = f64x2.add(x0r, y1r), ai = f64x2.add(x0i, y1i), br = f64x2.sub(x0r, y1r), bi = f64x2.sub(x0i, y1i);
          const cr = f64x2.add(y2r, y3r), ci = f64x2.add(y2i, y3i), dr = f64x2.sub(y2r, y3r), di = f64x2.sub(y2i, y3i);
          v128.store(r0, f64x2.add(ar, cr)); v128.store(i0, f64x2.add(ai, ci));
          v128.store(r2, f64x2.sub(ar, cr)); v128.store(i2, f64x2.sub(ai, ci));
          v128.store(r1, f64x2.add(br, di)); v128.store(i1, f64x2.sub(bi, dr)); // b - i d
          v128.store(r3, f64x2.sub(br, di)); v128.store(i3, f64x2.add(bi, dr)); // b + i d
        }
      }
      t += 6 * hb;
    }
    if (half < m) {
      for (let k = 0; k < half; k++) {
        const wr = f64at(cosM, k), wi = f64at(sinM, k);
        const q = k + half;
        const xr = f64at(re, q) * wr - f64at(im, q) * wi, xi = f64at(re, q) * wi + f64at(im, q) * wr;
        const pr = f64at(re, k), pi = f64at(im, k);
        setf64(re, k, pr + xr); setf64(im, k, pi + xi);
        setf64(re, q, pr - xr); setf64(im, q, pi - xi);
      }
    }
    // split
    const z0r = f64at(re, 0), z0i = f64at(im, 0);
    setf64(power, 0, (z0r + z0i) * (z0r + z0i));
    setf64(power, m, (z0r - z0i) * (z0r - z0i));
    for (let k = 1; k <= m >> 1; k++) {
      const ar = f64at(re, k), ai = f64at(im, k), br = f64at(re, m - k), bi = -f64at(im, m - k);
      const er = 0.5 * (ar + br), ei = 0.5 * (ai + bi);
      const or = 0.5 * (ai - bi), oi = -0.5 * (ar - br);
      const wr = f64at(cosN, k), wi = f64at(sinN, k);
      const tr = or * wr - oi * wi, ti = or * wi + oi * wr;
      const xr = er + tr, xi = ei + ti;
      setf64(power, k, xr * xr + xi * xi);
      const yr = er - tr, yi = -ei + ti;
      setf64(power, m - k, yr * yr + yi * yi);
    }
    // mel
    memory.fill(energies, 0, <usize>(nBins + 2) << 3);
    for (let k = kStart; k < kEnd; k++) {
      const p = f64at(power, k), b = load<i32>(low + (<usize>k << 2));
      setf64(energies, b, f64at(energies, b) + f64at(wLow, k) * p);
      setf64(energies, b + 1, f64at(energies, b + 1) + f64at(wHigh, k) * p);
    }
    // log
    const o = out + (<usize>(outOffset + f * outStride) << 2);
    for (let b = 0; b < nBins; b++) {
      const x = f64at(energies, b);
      let v: f64;
      // No Math.log here (its tables would more than double the module, past the 4 KB a browser
      // main thread may compile synchronously). The energies are finite: the samples were checked
      // finite and |X|^2 of 2^k float32 samples stays far below float64's range; so every x above
      // the (normal) floor is a normal float64 and the bit method holds. logFloor is
      // (log(floor) - logShift) * logFactor from the caller.
      if (x > floor) {
        const bits = reinterpret<u64>(x);
        const e = <i32>(bits >> 52) - 1023;
        const i = <i32>(bits >> 45) & 127;
        const mant = reinterpret<f64>((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000);
        const r = mant * f64at(invC, i) - 1;
        v = (<f64>e * 0.6931471805599453 - logShift + f64at(logC, i) + r * (1 + r * (-0.5 + r * (1.0 / 3 + r * (-0.25 + r * 0.2))))) * logFactor;
      } else {
        v = logFloor;
      }
      store<f32>(o + (<usize>b << 2), <f32>v);
    }
  }
}
