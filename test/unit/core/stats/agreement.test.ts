import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FeedbackStore } from '../../../../src/core/feedback/store';
import {
  accuracy,
  annotatorAgreement,
  cohenKappa,
  humanVsAi,
  krippendorffAlpha,
  labelDistribution,
  labelDistributionOf,
  median,
  medianSeconds,
  positionBias,
  unitsFromMatrix,
  type Label,
} from '../../../../src/core/stats/agreement';

const close = (actual: number | null, expected: number, tol = 5e-4): void => {
  assert.ok(actual !== null && Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
};

function repeat(n: number, pair: [Label, Label]): [Label, Label][] {
  return Array.from({ length: n }, () => pair);
}

test("Cohen's kappa: Wikipedia's worked example (20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no) gives p_o 0.7, p_e 0.5, kappa 0.4", () => {
  const r = cohenKappa([...repeat(20, ['yes', 'yes']), ...repeat(5, ['yes', 'no']), ...repeat(10, ['no', 'yes']), ...repeat(15, ['no', 'no'])]);
  close(r.observed, 0.7, 1e-12);
  close(r.expected, 0.5, 1e-12);
  close(r.kappa, 0.4, 1e-12);
  assert.equal(r.n, 50);
});

test("Cohen's kappa: Wikipedia's second example (45/15/25/15) gives kappa 0.1304; degenerate cases", () => {
  // a=45 yes/yes, b=15 yes/no, c=25 no/yes, d=15 no/no: p_o = 0.6, p_e = 0.54, kappa = 0.06 / 0.46
  const r = cohenKappa([...repeat(45, ['y', 'y']), ...repeat(15, ['y', 'n']), ...repeat(25, ['n', 'y']), ...repeat(15, ['n', 'n'])]);
  close(r.kappa, 0.1304, 1e-4);
  assert.equal(cohenKappa([]).kappa, null);
  assert.equal(cohenKappa(repeat(3, ['a', 'a'])).kappa, null, 'one category only: kappa is undefined');
  close(cohenKappa([['a', 'b'], ['b', 'a']]).kappa, -1, 1e-12);
  // labels of different JS types are different categories
  assert.equal(cohenKappa([[1, '1']]).observed, 0);
});

// Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units, values
// 1..5, with missing data. Published: nominal 0.743, ordinal 0.815, interval 0.849, ratio 0.797.
const _ = null;
const KRIPPENDORFF_2011 = [
  [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
  [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
  [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
  [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
];

test("Krippendorff's alpha: the 2011 worked example, all four metrics, matches the published values", () => {
  const units = unitsFromMatrix(KRIPPENDORFF_2011);
  const nominal = krippendorffAlpha(units, 'nominal');
  close(nominal.alpha, 0.743);
  assert.equal(nominal.pairableValues, 40, 'n = 40 pairable values (unit 12 has a single value)');
  assert.equal(nominal.pairableUnits, 11);
  close(krippendorffAlpha(units, 'ordinal').alpha, 0.815);
  close(krippendorffAlpha(units, 'interval').alpha, 0.849);
  close(krippendorffAlpha(units, 'ratio').alpha, 0.797);
  // By hand, as in the paper: n_c (values per category in pairable units) = 9, 13, 10, 5, 3 (n = 40); the
  // off-diagonal coincidences sum to 8, so alpha = 1 - (n-1) * 8 / (n^2 - sum n_c^2) = 1 - 39 * 8 / (1600 - 384).
  close(nominal.alpha, 1 - (39 * 8) / (1600 - 384), 1e-12);
  close(nominal.observedDisagreement, 8 / 40, 1e-12);
});

test("Krippendorff's alpha: perfect agreement is 1, undefined without variation or pairable units; nominal with 2 coders and no missing data is close to kappa", () => {
  close(krippendorffAlpha([[1, 1], [2, 2], [3, 3]]).alpha, 1, 1e-12);
  assert.equal(krippendorffAlpha([[1, 1], [1, 1]]).alpha, null);
  assert.equal(krippendorffAlpha([[1], [2]]).alpha, null);
  assert.throws(() => krippendorffAlpha([['a', 'b']], 'interval'), /numeric/);
  // Two coders, no missing data: alpha differs from kappa only by the pooled marginals and a small-sample factor.
  const pairs = [...repeat(20, ['y', 'y']), ...repeat(5, ['y', 'n']), ...repeat(10, ['n', 'y']), ...repeat(15, ['n', 'n'])];
  const a = krippendorffAlpha(pairs.map(([x, y]) => [x, y]));
  assert.ok(a.alpha !== null && Math.abs(a.alpha - 0.4) < 0.02);
});

test('accuracy, label distribution and median', () => {
  assert.equal(accuracy([['a', 'a'], ['a', 'b'], ['b', 'b'], ['c', 'b']]), 0.5);
  assert.equal(accuracy([]), null);
  assert.deepEqual(labelDistribution(['b', 'a', 'b', 'c', 'a', 'b']), [
    { label: 'b', count: 3, fraction: 0.5 },
    { label: 'a', count: 2, fraction: 2 / 6 },
    { label: 'c', count: 1, fraction: 1 / 6 },
  ]);
  assert.equal(median([]), null);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('from the label store: annotator agreement, human vs AI, position bias, label distribution, median seconds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agreement-'));
  let t = Date.parse('2026-03-01T00:00:00Z');
  const s = FeedbackStore.open({ datasetPath: join(dir, 'd.jsonl'), writerId: 'w', annotator: 'alice', now: () => new Date((t += 1000)) });
  const cmp = (recordId: string, annotator: string, left: string, preferred: string | null, opts: { source?: 'human' | `ai:${string}`; seconds?: number } = {}): void => {
    const order: [string, string] = left === 'chosen' ? ['chosen', 'rejected'] : ['rejected', 'chosen'];
    s.record({ recordId, type: 'comparison', payload: { mode: 'pair', order, preferred }, annotator, source: opts.source ?? 'human', seconds: opts.seconds ?? 0 });
  };
  // alice and bob on 4 records: agree on r1, r2, r4 (tie), disagree on r3
  cmp('r1', 'alice', 'chosen', 'chosen', { seconds: 4 });
  cmp('r1', 'bob', 'rejected', 'chosen', { seconds: 6 });
  cmp('r2', 'alice', 'rejected', 'rejected', { seconds: 10 });
  cmp('r2', 'bob', 'chosen', 'rejected', { seconds: 2 });
  cmp('r3', 'alice', 'chosen', 'chosen', { seconds: 5 });
  cmp('r3', 'bob', 'chosen', 'rejected', { seconds: 3 });
  cmp('r4', 'alice', 'chosen', null);
  cmp('r4', 'bob', 'rejected', null);
  // judge on r1 (agrees), r2 (disagrees), r3 (humans split: skipped)
  cmp('r1', 'ai:j', 'chosen', 'chosen', { source: 'ai:j' });
  cmp('r2', 'ai:j', 'chosen', 'chosen', { source: 'ai:j' });
  cmp('r3', 'ai:j', 'chosen', 'chosen', { source: 'ai:j' });
  const v = s.view();

  const hh = annotatorAgreement(v, 'comparison', { sources: ['human'] });
  assert.deepEqual(hh.coders, ['alice', 'bob']);
  assert.equal(hh.units, 4);
  // kappa over (chosen,chosen), (rejected,rejected), (chosen,rejected), (tie,tie): p_o = 3/4;
  // alice: chosen 2, rejected 1, tie 1; bob: chosen 1, rejected 2, tie 1 -> p_e = (2+2+1)/16 = 5/16
  close(hh.kappa?.kappa ?? null, (0.75 - 5 / 16) / (1 - 5 / 16), 1e-12);
  assert.ok(hh.alpha.alpha !== null);

  const hv = humanVsAi(v);
  assert.equal(hv.n, 2);
  assert.equal(hv.accuracy, 0.5);

  // humans: alice picked the left output on r1, r2, r3; bob the right one on r1, r2, r3; r4 are ties.
  // The judge always saw chosen on the left and picked it.
  const pb = positionBias(v, { sources: ['human'] });
  assert.deepEqual([pb.decided, pb.leftWins, pb.ties], [6, 3, 2]);
  close(pb.leftRate, 0.5, 1e-12);
  assert.ok(pb.interval && pb.interval[0] < 0.5 && pb.interval[1] > 0.5);
  assert.equal(positionBias(v, { sources: ['ai'] }).leftWins, 3);

  assert.equal(medianSeconds(v, 'comparison', { sources: ['human'] }), 4.5);
  assert.deepEqual(
    labelDistributionOf(v, 'comparison', { sources: ['human'] }).map((f) => [f.label, f.count]),
    [
      ['chosen', 3],
      ['rejected', 3],
      ['tie', 2],
    ],
  );
  s.close();
});

test('rating agreement uses interval alpha; multi-label critiques become one binary unit per label', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agreement-'));
  const s = FeedbackStore.open({ datasetPath: join(dir, 'd.jsonl'), writerId: 'w', annotator: 'alice' });
  // Krippendorff's matrix as ratings: unit u = record u, coder = annotator A..D
  KRIPPENDORFF_2011.forEach((row, coder) =>
    row.forEach((value, u) => {
      if (value !== null) s.record({ recordId: `u${u}`, type: 'rating', payload: { target: 'completion', value, scale: { min: 1, max: 5 } }, annotator: 'ABCD'[coder] });
    }),
  );
  close(annotatorAgreement(s.view(), 'rating').alpha.alpha, 0.849);
  close(annotatorAgreement(s.view(), 'rating', {}, 'nominal').alpha.alpha, 0.743);
  const crit = (annotator: string, labels: string[]): void => {
    s.record({ recordId: 'c1', type: 'critique', payload: { target: 'completion', mode: 'multi', labels, labelSet: ['helpful', 'harmful', 'factual-error'] }, annotator });
  };
  crit('A', ['helpful']);
  crit('B', ['helpful', 'factual-error']);
  const ca = annotatorAgreement(s.view(), 'critique');
  assert.equal(ca.units, 3);
  assert.equal(ca.kappa?.n, 3);
  close(ca.kappa?.kappa ?? null, cohenKappa([[true, true], [false, false], [false, true]]).kappa ?? NaN, 1e-12);
  s.close();
});
