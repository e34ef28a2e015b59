/**
 * Power spectrum of a real frame, in float64: a real FFT of size N done as one complex FFT of
 * size N/2 (even samples as real parts, odd as imaginary) plus a split step. Twiddles and the
 * bit-reversal table are computed once per size and cached, as whisper.cpp keeps its global cache.
 */

export interface RealFftPlan {
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
  /**
   * The radix-4 stages' twiddles, stage after stage (quarter size h = 4, 16, ... while 4h <= M),
   * for k < h: w^k, w^2k, w^3k with w = exp(-2 pi i / 4h), as (re, im) pairs. [6 * sum h]
   */
  readonly radix4: Float64Array;
  /** Scratch for the complex FFT. [M] */
  readonly re: Float64Array;
  readonly im: Float64Array;
}

const plans = new Map<number, RealFftPlan>();

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

export function realFftPlan(n: number): RealFftPlan {
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
  const radix4: number[] = [];
  for (let h = 4; h * 4 <= m; h *= 4) {
    for (let k = 0; k < h; k++) {
      for (let q = 1; q <= 3; q++) radix4.push(Math.cos((-2 * Math.PI * q * k) / (4 * h)), Math.sin((-2 * Math.PI * q * k) / (4 * h)));
    }
  }
  plan = { n, m, bitReverse, cosM, sinM, cosN, sinN, radix4: Float64Array.from(radix4), re: new Float64Array(m), im: new Float64Array(m) };
  plans.set(n, plan);
  return plan;
}

/** In-place radix-2 decimation-in-time butterflies over bit-reversed input. */
function complexFftInPlace(re: Float64Array, im: Float64Array, p: RealFftPlan): void {
  firstTwoStages(re, im, p.m);
  laterStages(re, im, p);
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

function laterStages(re: Float64Array, im: Float64Array, p: RealFftPlan): void {
  const { m, radix4: tw } = p;
  // The remaining stages two at a time, as radix-4 butterflies: with w = W_{4h}^k, the size-2h
  // stage multiplies by w^2 and the size-4h stage by w and w^3 (-i w^3 for the odd half), so
  // three complex multiplies per four points instead of four. k runs outermost so each
  // twiddle triple is loaded once per stage; k = 0 needs no multiplies.
  let half = 4;
  let t = 0; // into tw
  for (; half * 4 <= m; half *= 4) {
    const span = 4 * half;
    for (let p0 = 0; p0 < m; p0 += span) {
      const p1 = p0 + half, p2 = p1 + half, p3 = p2 + half;
      const x0r = re[p0]!, x0i = im[p0]!, x1r = re[p1]!, x1i = im[p1]!;
      const x2r = re[p2]!, x2i = im[p2]!, x3r = re[p3]!, x3i = im[p3]!;
      const ar = x0r + x1r, ai = x0i + x1i, br = x0r - x1r, bi = x0i - x1i;
      const cr = x2r + x3r, ci = x2i + x3i, dr = x2r - x3r, di = x2i - x3i;
      re[p0] = ar + cr; im[p0] = ai + ci;
      re[p2] = ar - cr; im[p2] = ai - ci;
      re[p1] = br + di; im[p1] = bi - dr; // b - i d
      re[p3] = br - di; im[p3] = bi + dr; // b + i d
    }
    t += 6;
    for (let k = 1; k < half; k++, t += 6) {
      const w1r = tw[t]!, w1i = tw[t + 1]!, w2r = tw[t + 2]!, w2i = tw[t + 3]!, w3r = tw[t + 4]!, w3i = tw[t + 5]!;
      for (let p0 = k; p0 < m; p0 += span) {
        const p1 = p0 + half, p2 = p1 + half, p3 = p2 + half;
        const x0r = re[p0]!, x0i = im[p0]!;
        const x1r = re[p1]!, x1i = im[p1]!, x2r = re[p2]!, x2i = im[p2]!, x3r = re[p3]!, x3i = im[p3]!;
        const y1r = x1r * w2r - x1i * w2i, y1i = x1r * w2i + x1i * w2r; // w^2 x1
        const y2r = x2r * w1r - x2i * w1i, y2i = x2r * w1i + x2i * w1r; // w x2
        const y3r = x3r * w3r - x3i * w3i, y3i = x3r * w3i + x3i * w3r; // w^3 x3
        const ar = x0r + y1r, ai = x0i + y1i, br = x0r - y1r, bi = x0i - y1i;
        const cr = y2r + y3r, ci = y2i + y3i, dr = y2r - y3r, di = y2i - y3i;
        re[p0] = ar + cr; im[p0] = ai + ci;
        re[p2] = ar - cr; im[p2] = ai - ci;
        re[p1] = br + di; im[p1] = bi - dr; // b - i d
        re[p3] = br - di; im[p3] = bi + dr; // b + i d
      }
    }
  }
  if (half < m) {
    // one radix-2 stage left (m = 2 * 4^j)
    const { cosM, sinM } = p;
    for (let k = 0; k < half; k++) {
      const wr = cosM[k]!, wi = sinM[k]!;
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
    laterStages(re, im, p);
  } else {
    for (let j = 0; j < m; j++) {
      const r = bitReverse[j]!;
      re[r] = frame[2 * j]!;
      im[r] = frame[2 * j + 1]!;
    }
    complexFftInPlace(re, im, p);
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
