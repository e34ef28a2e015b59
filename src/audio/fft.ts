/**
 * Power spectrum of a real frame, in float64: a real FFT of size N done as one complex FFT of
 * size N/2 (even samples as real parts, odd as imaginary) plus a split step. Twiddles and the
 * bit-reversal table are computed once per size and cached, as whisper.cpp keeps its global cache.
 */

interface RealFftPlan {
  /** Real transform size N (a power of two, >= 4). */
  readonly n: number;
  /** Half size M = N/2: the complex FFT that does the work. */
  readonly m: number;
  /** bitReverse[i]: where input pair i lands before the in-place butterflies. [M] */
  readonly bitReverse: Uint32Array;
  /** cos/sin(-2*pi*k/M), k < M/2: the complex FFT's twiddles. [M/2] */
  readonly cosM: Float64Array;
  readonly sinM: Float64Array;
  /** cos/sin(-2*pi*k/N), k <= M/2: the split step's twiddles. [M/2 + 1] */
  readonly cosN: Float64Array;
  readonly sinN: Float64Array;
  /** Scratch for the complex FFT. [M] */
  readonly re: Float64Array;
  readonly im: Float64Array;
}

const plans = new Map<number, RealFftPlan>();

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function realFftPlan(n: number): RealFftPlan {
  let plan = plans.get(n);
  if (plan) return plan;
  if (!isPowerOfTwo(n) || n < 4) throw new Error(`real FFT size must be a power of two >= 4, got ${n}`);
  const m = n / 2;
  const bits = Math.log2(m);
  const bitReverse = new Uint32Array(m);
  for (let i = 0; i < m; i++) {
    let r = 0;
    for (let b = 0, x = i; b < bits; b++, x >>= 1) r = (r << 1) | (x & 1);
    bitReverse[i] = r;
  }
  const cosM = new Float64Array(m / 2);
  const sinM = new Float64Array(m / 2);
  for (let k = 0; k < m / 2; k++) {
    cosM[k] = Math.cos((-2 * Math.PI * k) / m);
    sinM[k] = Math.sin((-2 * Math.PI * k) / m);
  }
  const cosN = new Float64Array(m / 2 + 1);
  const sinN = new Float64Array(m / 2 + 1);
  for (let k = 0; k <= m / 2; k++) {
    cosN[k] = Math.cos((-2 * Math.PI * k) / n);
    sinN[k] = Math.sin((-2 * Math.PI * k) / n);
  }
  plan = { n, m, bitReverse, cosM, sinM, cosN, sinN, re: new Float64Array(m), im: new Float64Array(m) };
  plans.set(n, plan);
  return plan;
}

/** In-place radix-2 decimation-in-time butterflies over bit-reversed input. */
function complexFftInPlace(re: Float64Array, im: Float64Array, m: number, cosT: Float64Array, sinT: Float64Array, firstStagesDone = false): void {
  if (!firstStagesDone) firstTwoStages(re, im, m);
  laterStages(re, im, m, cosT, sinT);
}

function firstTwoStages(re: Float64Array, im: Float64Array, m: number): void {
  // First stage (size 2) has the trivial twiddle 1.
  for (let i = 0; i < m; i += 2) {
    const ar = re[i]!, ai = im[i]!, br = re[i + 1]!, bi = im[i + 1]!;
    re[i] = ar + br;
    im[i] = ai + bi;
    re[i + 1] = ar - br;
    im[i + 1] = ai - bi;
  }
  // Second stage (size 4): twiddles 1 and -i.
  for (let i = 0; i + 3 < m; i += 4) {
    const ar = re[i]!, ai = im[i]!, br = re[i + 2]!, bi = im[i + 2]!;
    re[i] = ar + br;
    im[i] = ai + bi;
    re[i + 2] = ar - br;
    im[i + 2] = ai - bi;
    const cr = re[i + 1]!, ci = im[i + 1]!, dr = im[i + 3]!, di = -re[i + 3]!; // d * (-i)
    re[i + 1] = cr + dr;
    im[i + 1] = ci + di;
    re[i + 3] = cr - dr;
    im[i + 3] = ci - di;
  }
}

function laterStages(re: Float64Array, im: Float64Array, m: number, cosT: Float64Array, sinT: Float64Array): void {
  // Remaining stages two at a time (radix-2^2): half the passes over memory of plain radix-2.
  let half = 4;
  for (; half * 4 <= m; half *= 4) {
    const s2 = m / (2 * half); // twiddle stride of the first stage of the pair (size 2*half)
    const s4 = s2 >> 1; // and of the second (size 4*half)
    for (let start = 0; start < m; start += 4 * half) {
      for (let k = 0; k < half; k++) {
        const w2r = cosT[k * s2]!, w2i = sinT[k * s2]!;
        const w4r = cosT[k * s4]!, w4i = sinT[k * s4]!;
        const p0 = start + k, p1 = p0 + half, p2 = p1 + half, p3 = p2 + half;
        // first stage: (p0, p1) and (p2, p3) with W_{2h}^k
        let xr = re[p1]! * w2r - im[p1]! * w2i, xi = re[p1]! * w2i + im[p1]! * w2r;
        const a0r = re[p0]! + xr, a0i = im[p0]! + xi, a1r = re[p0]! - xr, a1i = im[p0]! - xi;
        xr = re[p3]! * w2r - im[p3]! * w2i;
        xi = re[p3]! * w2i + im[p3]! * w2r;
        const a2r = re[p2]! + xr, a2i = im[p2]! + xi, a3r = re[p2]! - xr, a3i = im[p2]! - xi;
        // second stage: (p0, p2) with W_{4h}^k, (p1, p3) with W_{4h}^(k+h) = -i W_{4h}^k
        const br = a2r * w4r - a2i * w4i, bi = a2r * w4i + a2i * w4r;
        const cr = a3r * w4i + a3i * w4r, ci = -(a3r * w4r - a3i * w4i); // -i * (W a3)
        re[p0] = a0r + br; im[p0] = a0i + bi;
        re[p2] = a0r - br; im[p2] = a0i - bi;
        re[p1] = a1r + cr; im[p1] = a1i + ci;
        re[p3] = a1r - cr; im[p3] = a1i - ci;
      }
    }
  }
  if (half < m) {
    // one radix-2 stage left (m = 2 * 4^j)
    for (let k = 0; k < half; k++) {
      const wr = cosT[k]!, wi = sinT[k]!;
      const q = k + half;
      const xr = re[q]! * wr - im[q]! * wi, xi = re[q]! * wi + im[q]! * wr;
      const pr = re[k]!, pi = im[k]!;
      re[k] = pr + xr; im[k] = pi + xi;
      re[q] = pr - xr; im[q] = pi - xi;
    }
  }
}

/**
 * |rfft(frame)|^2 for k = 0..N/2 into `power` (length >= N/2 + 1). `frame` holds N real
 * samples (callers zero-pad). Float64 throughout.
 */
export function powerSpectrum(frame: Float64Array, n: number, power: Float64Array): void {
  const p = realFftPlan(n);
  const { m, re, im, bitReverse, cosN, sinN } = p;
  if (m >= 4) {
    // One pass: z[j] = x[2j] + i x[2j+1] gathered in bit-reversed order, and the first two
    // butterfly stages (twiddles 1 and -i), four outputs at a time. [M]
    for (let g = 0; g < m; g += 4) {
      const j0 = 2 * bitReverse[g]!, j1 = 2 * bitReverse[g + 1]!, j2 = 2 * bitReverse[g + 2]!, j3 = 2 * bitReverse[g + 3]!;
      const x0r = frame[j0]!, x0i = frame[j0 + 1]!, x1r = frame[j1]!, x1i = frame[j1 + 1]!;
      const x2r = frame[j2]!, x2i = frame[j2 + 1]!, x3r = frame[j3]!, x3i = frame[j3 + 1]!;
      const a0r = x0r + x1r, a0i = x0i + x1i, a1r = x0r - x1r, a1i = x0i - x1i;
      const a2r = x2r + x3r, a2i = x2i + x3i, a3r = x2r - x3r, a3i = x2i - x3i;
      re[g] = a0r + a2r;
      im[g] = a0i + a2i;
      re[g + 2] = a0r - a2r;
      im[g + 2] = a0i - a2i;
      // a3 * (-i) = a3i - i a3r
      re[g + 1] = a1r + a3i;
      im[g + 1] = a1i - a3r;
      re[g + 3] = a1r - a3i;
      im[g + 3] = a1i + a3r;
    }
    laterStages(re, im, m, p.cosM, p.sinM);
  } else {
    for (let j = 0; j < m; j++) {
      const r = bitReverse[j]!;
      re[r] = frame[2 * j]!;
      im[r] = frame[2 * j + 1]!;
    }
    complexFftInPlace(re, im, m, p.cosM, p.sinM);
  }
  // Split: X[k] = E[k] + W^k O[k], E = (Z[k] + conj Z[M-k]) / 2, O = (Z[k] - conj Z[M-k]) / (2i).
  const z0r = re[0]!, z0i = im[0]!;
  power[0] = (z0r + z0i) * (z0r + z0i);
  power[m] = (z0r - z0i) * (z0r - z0i);
  for (let k = 1; k <= m >> 1; k++) {
    const ar = re[k]!, ai = im[k]!, br = re[m - k]!, bi = -im[m - k]!; // b = conj Z[M-k]
    const er = 0.5 * (ar + br), ei = 0.5 * (ai + bi);
    // (a - b) / (2i) = (ai - bi) / 2 - i (ar - br) / 2
    const or = 0.5 * (ai - bi), oi = -0.5 * (ar - br);
    const wr = cosN[k]!, wi = sinN[k]!;
    const tr = or * wr - oi * wi, ti = or * wi + oi * wr;
    const xr = er + tr, xi = ei + ti;
    power[k] = xr * xr + xi * xi;
    // X[M-k] = conj(E[k]) - conj(W^k O[k]) * ... : use symmetry E[M-k] = conj E[k], O[M-k] = conj O[k], W^(M-k) = -conj W^k.
    const yr = er - tr, yi = -ei + ti;
    power[m - k] = yr * yr + yi * yi;
  }
}

const dftTables = new Map<number, { cos: Float64Array; sin: Float64Array }>();

/** The same power spectrum by a direct O(N^2) DFT, for sizes that are not powers of two. */
export function powerSpectrumDft(frame: Float64Array, n: number, power: Float64Array): void {
  let t = dftTables.get(n);
  if (!t) {
    t = { cos: new Float64Array(n), sin: new Float64Array(n) };
    for (let i = 0; i < n; i++) {
      t.cos[i] = Math.cos((2 * Math.PI * i) / n);
      t.sin[i] = Math.sin((2 * Math.PI * i) / n);
    }
    dftTables.set(n, t);
  }
  for (let k = 0; k <= n >> 1; k++) {
    let re = 0, im = 0;
    for (let j = 0, idx = 0; j < n; j++, idx = (idx + k) % n) {
      re += frame[j]! * t.cos[idx]!;
      im -= frame[j]! * t.sin[idx]!;
    }
    power[k] = re * re + im * im;
  }
}
