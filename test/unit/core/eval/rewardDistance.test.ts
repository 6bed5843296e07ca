import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../../../src/core/datasets/prepare';
import { pearson } from '../../../../src/core/eval/correlation';
import {
  dardCanonicalize,
  dardDistance,
  dialogueMdp,
  epicCanonicalizeTabular,
  epicDistance,
  epicDistanceTabular,
  epicLikeDistance,
  RewardDistanceError,
  rewardDistanceMatrix,
  starcDistance,
  starcDistanceMdp,
  tabularRewardFn,
  tabularToFiniteMdp,
  type RewardFn,
  type RewardGrid,
  type TabularMdp,
  type TabularReward,
} from '../../../../src/core/eval/rewardDistance';

const rng = mulberry32;

function randomGrid(r: () => number, m: number, k: number): number[][] {
  return Array.from({ length: m }, () => Array.from({ length: k }, () => r() * 4 - 2));
}

function distribution(r: () => number, n: number): number[] {
  const x = Array.from({ length: n }, () => 0.1 + r());
  const s = x.reduce((a, b) => a + b, 0);
  return x.map((v) => v / s);
}

const close = (a: number, b: number, tol: number, msg?: string): void => assert.ok(Math.abs(a - b) <= tol, `${msg ?? ''} expected ${b}, got ${a}`);

describe('EPIC / EPIC-like / STARC on a prompts x responses grid', () => {
  const r = rng(1);
  const R = randomGrid(r, 6, 5);
  // aR + b_x: a positive scale and an arbitrary shift per prompt.
  const shifted = R.map((row) => {
    const b = r() * 100 - 50;
    return row.map((v) => 3.7 * v + b);
  });
  const neg = R.map((row, i) => row.map((v) => -v + i));

  it('EPIC(R, aR + b_x) = 0 for a > 0 and any per-prompt shift', () => {
    close(epicDistance(R, shifted), 0, 1e-6);
  });

  it('EPIC(R, -R) = 1, even with per-prompt shifts', () => {
    close(epicDistance(R, neg), 1, 1e-9);
  });

  it('EPIC is symmetric and lies in [0, 1]', () => {
    for (let t = 0; t < 20; t++) {
      const a = randomGrid(r, 4, 3);
      const b = randomGrid(r, 4, 3);
      const d = epicDistance(a, b);
      assert.ok(d >= 0 && d <= 1, `d = ${d}`);
      close(epicDistance(b, a), d, 1e-12);
    }
  });

  it('the per-prompt canonicalization matters: raw Pearson distance is not shift invariant', () => {
    const raw = Math.sqrt((1 - pearson(R.flat(), shifted.flat())) / 2);
    assert.ok(raw > 0.1, `raw distance ${raw}`);
  });

  it('STARC has the same invariances, lies in [0, 1] and is symmetric', () => {
    close(starcDistance(R, shifted), 0, 1e-9);
    close(starcDistance(R, neg), 1, 1e-9);
    for (let t = 0; t < 20; t++) {
      const a = randomGrid(r, 3, 4);
      const b = randomGrid(r, 3, 4);
      const d = starcDistance(a, b);
      assert.ok(d >= 0 && d <= 1, `d = ${d}`);
      close(starcDistance(b, a), d, 1e-12);
    }
  });

  it('STARC treats a reward that is constant per prompt as the zero reward (distance 1/2 to anything)', () => {
    const flat = R.map((row, i) => row.map(() => i * 3));
    close(starcDistance(R, flat), 0.5, 1e-12);
  });

  it('EPIC refuses a reward that is constant per prompt, with a clear error', () => {
    const flat = R.map((row, i) => row.map(() => i));
    assert.throws(() => epicDistance(R, flat), (e: unknown) => e instanceof RewardDistanceError && /constant/.test(e.message));
  });

  it('EPIC-like (L2 after canonicalize + normalize) is invariant too, and 2 for opposite rewards', () => {
    close(epicLikeDistance(R, shifted), 0, 1e-9);
    close(epicLikeDistance(R, neg), 2, 1e-9);
    close(epicLikeDistance(R, shifted, { norm: 'l1', metric: 'l1' }), 0, 1e-9);
  });

  it('checks grid shapes and names the prompt', () => {
    assert.throws(() => epicDistance([[1, 2]], [[1, 2, 3]]), /prompt 0 has 2 responses/);
    assert.throws(() => epicDistance([[1, 2]], [[1, 2], [3, 4]]), /1 and 2 prompts/);
  });

  it('builds a symmetric distance matrix with a zero diagonal', () => {
    const m = rewardDistanceMatrix({ base: R, scaled: shifted, opposite: neg }, 'epic');
    assert.deepEqual(m.names, ['base', 'scaled', 'opposite']);
    for (let i = 0; i < 3; i++) {
      assert.equal(m.values[i][i], 0);
      for (let j = 0; j < 3; j++) assert.equal(m.values[i][j], m.values[j][i]);
    }
    close(m.values[0][1], 0, 1e-6);
    close(m.values[0][2], 1, 1e-9);
    close(m.values[1][2], 1, 1e-6);
  });
});

describe('tabular MDP: EPIC general canonicalization, DARD and STARC', () => {
  const S = 5;
  const A = 3;
  const gamma = 0.9;
  const r = rng(7);
  const T: TabularReward = Array.from({ length: S }, () => Array.from({ length: A }, () => distribution(r, S)));
  const mdp: TabularMdp = { numStates: S, numActions: A, gamma, dS: distribution(r, S), dA: distribution(r, A), transitions: T };
  const R: number[][][] = Array.from({ length: S }, () => Array.from({ length: A }, () => Array.from({ length: S }, () => r() * 2 - 1)));
  const phi = Array.from({ length: S }, () => r() * 10 - 5);
  // Potential shaping (Ng et al. 1999): R'(s, a, s') = R(s, a, s') + gamma Phi(s') - Phi(s).
  const shaped = R.map((ra, s) => ra.map((rs) => rs.map((v, t) => v + gamma * phi[t] - phi[s])));
  const shapedScaled = shaped.map((ra) => ra.map((rs) => rs.map((v) => 2.5 * v)));
  const negR = R.map((ra) => ra.map((rs) => rs.map((v) => -v)));

  it('EPIC canonicalization removes potential shaping exactly', () => {
    const c1 = epicCanonicalizeTabular(R, mdp).flat(2);
    const c2 = epicCanonicalizeTabular(shaped, mdp).flat(2);
    c1.forEach((v, i) => close(c2[i], v, 1e-9, `entry ${i}`));
  });

  it('EPIC = 0 under potential shaping and positive scaling, 1 for -R, and shaping does change raw rewards', () => {
    close(epicDistanceTabular(R, shapedScaled, mdp), 0, 1e-6);
    close(epicDistanceTabular(R, negR, mdp), 1, 1e-9);
    const raw = Math.sqrt((1 - pearson(R.flat(2), shaped.flat(2))) / 2);
    assert.ok(raw > 0.1, `raw distance ${raw}`);
  });

  it('EPIC is symmetric and in [0, 1] for unrelated rewards', () => {
    const other = R.map((ra) => ra.map((rs) => rs.map(() => r())));
    const d = epicDistanceTabular(R, other, mdp);
    assert.ok(d > 0.1 && d <= 1, `d = ${d}`);
    close(epicDistanceTabular(other, R, mdp), d, 1e-12);
  });

  it('DARD canonicalization removes potential shaping on every producible transition', () => {
    const f = tabularToFiniteMdp(mdp);
    const c1 = dardCanonicalize(tabularRewardFn(R), f);
    const c2 = dardCanonicalize(tabularRewardFn(shaped), f);
    for (let s = 0; s < S; s++) for (let a = 0; a < A; a++) for (let t = 0; t < S; t++) close(c2(s, a, t), c1(s, a, t), 1e-9, `(${s},${a},${t})`);
    close(dardDistance(tabularRewardFn(R), tabularRewardFn(shapedScaled), f), 0, 1e-6);
    close(dardDistance(tabularRewardFn(R), tabularRewardFn(negR), f), 1, 1e-9);
  });

  it('STARC (value-based canonicalization) is 0 under shaping, scaling and S\'-redistribution, 1 for -R, in [0, 1]', () => {
    const f = tabularToFiniteMdp(mdp);
    const base = tabularRewardFn(R);
    close(starcDistanceMdp(base, tabularRewardFn(shapedScaled), f), 0, 1e-9);
    close(starcDistanceMdp(base, tabularRewardFn(negR), f), 1, 1e-9);
    // Move reward between next states without changing its expectation under T(. | s, a).
    const redistributed = R.map((ra, s) =>
      ra.map((rs, a) => {
        const e = rs.map(() => r() - 0.5);
        const mean = e.reduce((acc, v, t) => acc + v * T[s][a][t], 0);
        return rs.map((v, t) => v + e[t] - mean);
      }),
    );
    close(starcDistanceMdp(base, tabularRewardFn(redistributed), f), 0, 1e-9);
    const other = tabularRewardFn(R.map((ra) => ra.map((rs) => rs.map(() => r()))));
    const d = starcDistanceMdp(base, other, f);
    assert.ok(d > 0.05 && d <= 1, `d = ${d}`);
    close(starcDistanceMdp(other, base, f), d, 1e-12);
  });

  it('validates the MDP and names the bad part', () => {
    assert.throws(() => epicCanonicalizeTabular(R, { ...mdp, dA: [0.5, 0.5, 0.5] }), /dA: probabilities sum to 1.5/);
    assert.throws(() => epicCanonicalizeTabular(R.slice(1), mdp), /reward has 4 states/);
  });
});

describe('DARD on a multi-turn dialogue', () => {
  // root: 3 candidate replies; replies 0 and 1 get one of two next user turns, reply 2 ends the dialogue.
  const states = [
    { id: 'root', responses: [{ next: [{ stateId: 'r0u0' }, { stateId: 'r0u1' }] }, { next: [{ stateId: 'r1u0' }, { stateId: 'r1u1' }] }, { next: [] }] },
    ...['r0u0', 'r0u1', 'r1u0', 'r1u1'].map((id) => ({ id, responses: [{ next: [] }, { next: [] }, { next: [] }] })),
  ];
  const r = rng(11);
  const table = states.map((s) => s.responses.map(() => r() * 2 - 1));
  const { mdp, reward } = dialogueMdp(states, 1);
  const base = reward(table);

  it('is 0 between a reward and its potential-shaped, scaled version (Phi = 0 when the dialogue ends)', () => {
    const phi = states.map(() => r() * 6 - 3);
    const shaped: RewardFn = (s, a, next) => 1.8 * (base(s, a, next) + (next < 0 ? 0 : phi[next]) - phi[s]);
    close(dardDistance(base, shaped, mdp), 0, 1e-6);
  });

  it('is 1 for the negated reward and in (0, 1] for an unrelated one', () => {
    close(dardDistance(base, (s, a, n) => -base(s, a, n), mdp), 1, 1e-9);
    const other = reward(states.map((s) => s.responses.map(() => r())));
    const d = dardDistance(base, other, mdp);
    assert.ok(d > 0 && d <= 1, `d = ${d}`);
  });

  it('reduces to EPIC on the grid for single-turn dialogues', () => {
    const single = [0, 1, 2].map((i) => ({ id: `p${i}`, responses: [{ next: [] }, { next: [] }, { next: [] }, { next: [] }] }));
    const g1: RewardGrid = randomGrid(r, 3, 4);
    const g2: RewardGrid = randomGrid(r, 3, 4);
    const d = dialogueMdp(single);
    close(dardDistance(d.reward(g1), d.reward(g2), d.mdp), epicDistance(g1, g2), 1e-12);
  });

  it('names a missing next state', () => {
    assert.throws(() => dialogueMdp([{ id: 'a', responses: [{ next: [{ stateId: 'nope' }] }] }]), /next state "nope" is not listed/);
  });
});
