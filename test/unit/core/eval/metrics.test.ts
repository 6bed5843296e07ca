import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { heldOutAccuracy, UNSECTIONED } from '../../../../src/core/eval/accuracy';
import { calibration, pairCalibration, sigmoid } from '../../../../src/core/eval/calibration';
import { averageRanks, pearson, spearman } from '../../../../src/core/eval/correlation';
import { histogram, rewardHistograms, rewardLengthCorrelation } from '../../../../src/core/eval/distributions';

const close = (a: number, b: number, tol = 1e-12, msg = ''): void => assert.ok(Math.abs(a - b) <= tol, `${msg} expected ${b}, got ${a}`);

describe('held-out accuracy', () => {
  const pairs = [
    { section: 'chat', chosen: 2, rejected: 1, tags: ['alpacaeval'] },
    { section: 'chat', chosen: 3, rejected: 0, tags: ['alpacaeval', 'mt-bench'] },
    { section: 'chat', chosen: 0, rejected: 1, tags: ['mt-bench'] },
    { section: 'safety', chosen: 1, rejected: -1 },
    { section: 'reasoning', chosen: 0, rejected: 5 },
    { section: 'reasoning', chosen: 4, rejected: 4 },
  ];

  it('reports per-section accuracy, the section-weighted overall and the plain fraction', () => {
    const r = heldOutAccuracy(pairs);
    assert.deepEqual(
      r.bySection.map((g) => [g.name, g.n, g.correct, g.ties]),
      [['chat', 3, 2, 0], ['reasoning', 2, 0, 1], ['safety', 1, 1, 0]],
    );
    close(r.overall, (2 / 3 + 0 + 1) / 3);
    close(r.micro, 0.5);
    assert.equal(r.ties, 1);
    assert.deepEqual(r.byTag.map((g) => [g.name, g.correct, g.n]), [['alpacaeval', 2, 2], ['mt-bench', 1, 2]]);
    close(r.meanMargin, (1 + 3 - 1 + 2 - 5 + 0) / 6);
  });

  it('uses given section weights', () => {
    const r = heldOutAccuracy(pairs, { sectionWeights: { chat: 1, safety: 3 } });
    close(r.overall, (2 / 3 + 3) / 4);
  });

  it('puts pairs without a section in their own group and names bad scores', () => {
    assert.equal(heldOutAccuracy([{ chosen: 1, rejected: 0 }]).bySection[0].name, UNSECTIONED);
    assert.throws(() => heldOutAccuracy([{ chosen: 1, rejected: 0 }, { chosen: NaN, rejected: 0 }]), /pair 1/);
  });
});

describe('calibration', () => {
  it('matches a hand-computed reliability diagram and ECE', () => {
    // 5 bins of width 0.2. Bin 0: p 0.05, 0.15, 0.15 with outcomes 0, 0, 1 -> mean p 0.35/3, observed 1/3.
    // Bin 2: 0.55 -> 1. Bin 3: 0.65 -> 0. Bin 4: 0.85, 0.95, 1.0 -> 1, 1, 1 (1.0 falls in the last bin).
    // ECE = (3 * (1/3 - 0.35/3) + |1 - 0.55| + |0 - 0.65| + 3 * (1 - 2.8/3)) / 8 = (0.65 + 0.45 + 0.65 + 0.2) / 8.
    const preds = [
      { p: 0.05, outcome: 0 },
      { p: 0.15, outcome: 0 },
      { p: 0.15, outcome: 1 },
      { p: 0.55, outcome: 1 },
      { p: 0.65, outcome: 0 },
      { p: 0.85, outcome: 1 },
      { p: 0.95, outcome: 1 },
      { p: 1.0, outcome: 1 },
    ];
    const r = calibration(preds, 5);
    close(r.ece, 1.95 / 8, 1e-12);
    close(r.mce, 0.65, 1e-12);
    close(r.brier, 1.3975 / 8, 1e-12);
    assert.deepEqual(r.bins.map((b) => b.count), [3, 0, 1, 1, 3]);
    close(r.bins[0].meanPredicted, 0.35 / 3);
    close(r.bins[0].observed, 1 / 3);
    assert.ok(Number.isNaN(r.bins[1].observed));
    close(r.bins[4].lower, 0.8);
    close(r.bins[4].upper, 1);
  });

  it('is 0 for a perfectly calibrated predictor and rejects non-probabilities', () => {
    const preds = [0, 0, 1, 1].map((o) => ({ p: 0.5, outcome: o }));
    close(calibration(preds, 10).ece, 0);
    assert.throws(() => calibration([{ p: 1.2, outcome: 1 }]), /prediction 0 has p = 1.2/);
  });

  it('counts each pair in both orders, so the diagram is symmetric', () => {
    const r = pairCalibration([{ chosen: 2, rejected: 0 }, { chosen: 0, rejected: 1 }], 4);
    assert.equal(r.n, 4);
    // sigmoid(2) = 0.881 (outcome 1) and 0.119 (outcome 0); sigmoid(-1) = 0.269 (outcome 1) and 0.731 (outcome 0).
    assert.deepEqual(r.bins.map((b) => b.count), [1, 1, 1, 1]);
    close(r.ece, (2 * (1 - sigmoid(2)) + 2 * sigmoid(1)) / 4, 1e-12);
    close(sigmoid(-800), 0);
    close(sigmoid(800), 1);
  });
});

describe('distributions and correlations', () => {
  it('bins values with a closed last bin and shares bins between chosen and rejected', () => {
    const h = histogram([0, 0.5, 1, 1.5, 2], 4);
    assert.deepEqual(h.edges, [0, 0.5, 1, 1.5, 2]);
    assert.deepEqual(h.counts, [1, 1, 1, 2]);
    const both = rewardHistograms([{ chosen: 3, rejected: -1 }, { chosen: 1, rejected: 0 }], 2);
    assert.deepEqual(both.chosen.edges, both.rejected.edges);
    assert.deepEqual(both.chosen.counts, [0, 2]);
    assert.deepEqual(both.rejected.counts, [2, 0]);
  });

  it('computes Pearson and Spearman (average ranks for ties)', () => {
    close(pearson([1, 2, 3], [2, 4, 6]), 1);
    close(pearson([1, 2, 3], [3, 2, 1]), -1);
    assert.deepEqual([...averageRanks([10, 20, 20, 5])], [2, 3.5, 3.5, 1]);
    // monotone but not linear: Spearman 1, Pearson below 1
    close(spearman([1, 2, 3, 4], [1, 4, 9, 100]), 1);
    assert.ok(pearson([1, 2, 3, 4], [1, 4, 9, 100]) < 0.95);
    assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
    // weighted: a zero weight removes a point
    close(pearson([1, 2, 3, 100], [1, 2, 3, -50], [1, 1, 1, 0]), 1);
  });

  it('measures the correlation of reward with length', () => {
    const r = rewardLengthCorrelation([10, 50, 30, 80].map((len) => ({ length: len, reward: len / 10 + (len === 30 ? 5 : 0) })));
    assert.equal(r.n, 4);
    assert.ok(r.pearson > 0.5 && r.pearson < 1);
    // ranks of length 1 3 2 4, of reward 1 2 3.5 3.5 (tie): r = 3 / sqrt(5 * 4.5)
    close(r.spearman, 3 / Math.sqrt(22.5));
  });
});
