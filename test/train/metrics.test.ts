import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracy, averagePrecision, rocAuc, normInv, dPrime, multiLabelMetrics } from '../../src/train/metrics.js';

// Expected values are worked out by hand (comments) or are textbook constants; 1e-12 is float64 noise.
const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('accuracy counts arg-max hits', () => {
  const scores = new Float32Array([0.1, 0.9, 0.8, 0.2, 0.3, 0.7]); // argmax: 1, 0, 1
  assert.equal(accuracy(scores, 2, [1, 0, 0]), 2 / 3);
});

test('average precision: sum over thresholds of recall step times precision', () => {
  // ranked 0.9(+) 0.8(-) 0.7(+) 0.6(-): R .5 @ P 1, then R 1 @ P 2/3 -> .5 + .5·2/3
  close(averagePrecision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]), 0.5 + 1 / 3);
  // a tie enters as one threshold: R 1 at P 1/2
  close(averagePrecision([0.5, 0.5], [1, 0]), 0.5);
  assert.ok(Number.isNaN(averagePrecision([0.1, 0.2], [0, 0])));
});

test('ROC AUC: fraction of (positive, negative) pairs ordered right, ties half', () => {
  // positives 0.9, 0.7; negatives 0.8, 0.6: pairs right = 2 + 1 of 4
  close(rocAuc([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]), 0.75);
  close(rocAuc([0.5, 0.5, 0.1], [1, 0, 0]), 0.75); // (0.5 tie + 1) / 2
  assert.ok(Number.isNaN(rocAuc([0.1, 0.2], [1, 1])));
});

test('normInv matches standard normal quantiles; d′ = √2 Φ⁻¹(AUC)', () => {
  close(normInv(0.5), 0);
  close(normInv(0.975), 1.959963984540054, 1e-13);
  close(normInv(0.75), 0.6744897501960817, 1e-13);
  close(normInv(1e-10), -6.361340902404056, 1e-11);
  close(dPrime(0.75), Math.SQRT2 * 0.6744897501960817, 1e-13);
  close(dPrime(0.5), 0);
});

test('multi-label metrics average per class and skip classes without positives', () => {
  // class 0 scores 0.9 0.8 0.7 0.6 truth 1 0 1 0 (AP 5/6, AUC .75); class 1 has no positive
  const scores = new Float32Array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4]);
  const targets = new Float32Array([1, 0, 0, 0, 1, 0, 0, 0]);
  const m = multiLabelMetrics(scores, targets, 2);
  close(m.mAP, 5 / 6, 1e-7);
  close(m.mAUC, 0.75, 1e-7);
  close(m.dPrime, Math.SQRT2 * 0.6744897501960817, 1e-6);
  assert.ok(Number.isNaN(m.ap[1]!));
});
