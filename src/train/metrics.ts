/**
 * Evaluation metrics as the AST repository reports them (sklearn's definitions):
 * accuracy for single-label; per-class average precision (mAP), ROC AUC and
 * d′ = √2 · Φ⁻¹(mean AUC) for multi-label. Classes with no positive (or no negative)
 * example have no AP/AUC and are left out of the means (sklearn would warn and give nan).
 */

/** Fraction of rows whose arg-max score equals the target class. */
export function accuracy(scores: Float32Array, numClasses: number, targets: ArrayLike<number>): number {
  const n = targets.length;
  if (scores.length !== n * numClasses) throw new Error(`accuracy: ${scores.length} scores for ${n} x ${numClasses}`);
  if (n === 0) return NaN;
  let right = 0;
  for (let i = 0; i < n; i++) if (argmax(scores, i * numClasses, numClasses) === targets[i]) right++;
  return right / n;
}

export function argmax(a: ArrayLike<number>, offset: number, length: number): number {
  let best = 0;
  for (let j = 1; j < length; j++) if (a[offset + j]! > a[offset + best]!) best = j;
  return best;
}

/** sklearn.metrics.average_precision_score for one class: Σ (R_k − R_{k−1}) · P_k over score thresholds. */
export function averagePrecision(scores: ArrayLike<number>, truth: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let positives = 0;
  for (let i = 0; i < n; i++) if (truth[i]! > 0.5) positives++;
  if (positives === 0) return NaN;
  let tp = 0;
  let fp = 0;
  let prevRecall = 0;
  let ap = 0;
  for (let k = 0; k < n; ) {
    // one threshold per distinct score: ties enter together
    const s = scores[order[k]!]!;
    while (k < n && scores[order[k]!] === s) {
      if (truth[order[k]!]! > 0.5) tp++;
      else fp++;
      k++;
    }
    const recall = tp / positives;
    const precision = tp / (tp + fp);
    ap += (recall - prevRecall) * precision;
    prevRecall = recall;
  }
  return ap;
}

/** ROC AUC (= Mann–Whitney U / (P·N), ties counted half), as sklearn.metrics.roc_auc_score. */
export function rocAuc(scores: ArrayLike<number>, truth: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const ranks = new Float64Array(n);
  for (let k = 0; k < n; ) {
    let e = k;
    while (e + 1 < n && scores[order[e + 1]!] === scores[order[k]!]) e++;
    const r = (k + e) / 2 + 1; // average 1-based rank of the tie group
    for (let j = k; j <= e; j++) ranks[order[j]!] = r;
    k = e + 1;
  }
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; i++) {
    if (truth[i]! > 0.5) {
      pos++;
      rankSum += ranks[i]!;
    }
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Φ⁻¹: the standard normal quantile (Wichura's AS241, about 1e-16 relative accuracy). */
export function normInv(p: number): number {
  if (!(p >= 0 && p <= 1)) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (
      (q *
        (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r + 67265.770927008700853) * r +
          45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r +
          133.14166789178437745) * r + 3.387132872796366608)) /
      (((((((r * 5226.495278852545925 + 28729.085735721942674) * r + 39307.89580009271061) * r +
        21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r +
        42.313330701600911252) * r + 1)
    );
  }
  let r = q < 0 ? p : 1 - p;
  r = Math.sqrt(-Math.log(r));
  let x: number;
  if (r <= 5) {
    r -= 1.6;
    x =
      (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r + 0.24178072517745061177) * r +
        1.27045825245236838258) * r + 3.64784832476320460504) * r + 5.7694972214606914055) * r +
        4.6303378461565452959) * r + 1.42343711074968357734) /
      (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r +
        0.14810397642748007459) * r + 0.68976733498510000455) * r + 1.6763848301838038494) * r +
        2.05319162663775882187) * r + 1);
  } else {
    r -= 5;
    x =
      (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r +
        0.026532189526576123093) * r + 0.29656057182850489123) * r + 1.7848265399172913358) * r +
        5.4637849111641143699) * r + 6.6579046435011037772) /
      (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r +
        7.868691311456132591e-4) * r + 0.0148753612908506148525) * r + 0.13692988092273580531) * r +
        0.59983220655588793769) * r + 1);
  }
  return q < 0 ? -x : x;
}

/** d′ = √2 · Φ⁻¹(AUC), the AST repository's d-prime. */
export function dPrime(auc: number): number {
  return Math.SQRT2 * normInv(auc);
}

export interface MultiLabelMetrics {
  mAP: number;
  mAUC: number;
  dPrime: number;
  /** Per class; NaN where the class has no positive or no negative example. */
  ap: number[];
  auc: number[];
}

/** scores and targets are [n, numClasses] row-major; targets > 0.5 count as positive. */
export function multiLabelMetrics(scores: Float32Array, targets: Float32Array, numClasses: number): MultiLabelMetrics {
  if (scores.length !== targets.length || scores.length % numClasses !== 0) {
    throw new Error(`multiLabelMetrics: ${scores.length} scores, ${targets.length} targets, ${numClasses} classes`);
  }
  const n = scores.length / numClasses;
  const ap: number[] = [];
  const auc: number[] = [];
  const s = new Float64Array(n);
  const t = new Float64Array(n);
  for (let c = 0; c < numClasses; c++) {
    for (let i = 0; i < n; i++) {
      s[i] = scores[i * numClasses + c]!;
      t[i] = targets[i * numClasses + c]!;
    }
    ap.push(averagePrecision(s, t));
    auc.push(rocAuc(s, t));
  }
  const mean = (xs: number[]): number => {
    const ok = xs.filter((x) => !Number.isNaN(x));
    return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN;
  };
  const mAUC = mean(auc);
  return { mAP: mean(ap), mAUC, dPrime: dPrime(mAUC), ap, auc };
}
