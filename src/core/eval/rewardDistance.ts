/**
 * Distances between reward functions that ignore the differences which never change optimal behaviour
 * (potential shaping, positive scaling, and for text per-prompt constants): EPIC, EPIC-like, STARC and DARD.
 *
 * Three settings:
 * - **Single-turn text grid** (M prompts x K responses): state = prompt, action = response, then terminal. All
 *   canonicalizations reduce to per-prompt centering R(x, y) - E_Y[R(x, Y)] (ALIGNMENT_REFERENCE.md section 6),
 *   which is also exactly what Bradley-Terry rewards are identified up to.
 * - **Dense tabular MDP** (states x actions x next states, gamma, coverage D_S, D_A): EPIC's general
 *   canonicalization (Gleave et al. 2020, "Quantifying Differences in Reward Functions", Definition 4.1).
 * - **Finite MDP with state-dependent actions and sparse dynamics** (multi-turn dialogue: next state = dialogue so
 *   far + response + next user turn): DARD (Wulfe et al. 2022) and STARC's value-based canonicalization.
 */
import { pearson, StatisticsInputError } from './correlation';

// ---------------------------------------------------------------------------------------------------------
// Shared pieces

/** A reward function could not be compared (constant reward, shape mismatch, bad MDP). */
export class RewardDistanceError extends StatisticsInputError {
  constructor(message: string) {
    super(message);
    this.name = 'RewardDistanceError';
  }
}

/**
 * Pearson distance D(X, Y) = sqrt((1 - rho(X, Y)) / 2) (Gleave et al. 2020, eq. 4); in [0, 1]: 0 for
 * positively proportional, 1 for negatively proportional. `what` names the inputs in errors.
 */
export function pearsonDistance(x: ArrayLike<number>, y: ArrayLike<number>, w: ArrayLike<number> | undefined, what: string): number {
  const rho = pearson(x, y, w);
  if (Number.isNaN(rho)) {
    throw new RewardDistanceError(`${what}: a canonicalized reward is constant over the coverage distribution, so its correlation (and EPIC) is undefined; such a reward expresses no preference at all`);
  }
  return Math.sqrt(Math.max(0, (1 - rho) / 2));
}

export type NormKind = 'l1' | 'l2' | 'linf';

/** Weighted p-norm (weights = coverage probabilities; uniform when omitted). */
export function weightedNorm(x: ArrayLike<number>, kind: NormKind, w?: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const wi = w ? w[i] : 1;
    const a = Math.abs(x[i]);
    if (kind === 'l1') s += wi * a;
    else if (kind === 'l2') s += wi * a * a;
    else if (wi > 0) s = Math.max(s, a);
  }
  return kind === 'l2' ? Math.sqrt(s) : s;
}

/** x / n(x); the zero vector stays zero (STARC's convention, Skalse et al. Definition 3). */
function normalize(x: ArrayLike<number>, kind: NormKind, w?: ArrayLike<number>): Float64Array {
  const n = weightedNorm(x, kind, w);
  const out = new Float64Array(x.length);
  // Callers zero float noise first (cleanNoise), so a reward that is constant up to rounding has norm exactly 0.
  if (n === 0) return out;
  for (let i = 0; i < x.length; i++) out[i] = x[i] / n;
  return out;
}

function diff(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] - b[i];
  return out;
}

/**
 * Zeroes canonical values that are float noise: |c| below 1e-12 of the raw reward's size. Without this a reward
 * that is exactly constant per prompt would normalize rounding errors into a unit vector.
 */
function cleanNoise(c: Float64Array, rawScale: number): Float64Array {
  const eps = 1e-12 * rawScale;
  for (let i = 0; i < c.length; i++) if (Math.abs(c[i]) <= eps) c[i] = 0;
  return c;
}

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

// ---------------------------------------------------------------------------------------------------------
// Single-turn text: M prompts x K responses

/**
 * Rewards on a grid: `grid[i][j]` = R(prompt i, response j). Rows may differ in length (K_i responses for
 * prompt i), but two grids being compared must have the same shape. Coverage is uniform over prompts and, within
 * a prompt, over its responses.
 */
export type RewardGrid = readonly (readonly number[])[];

function checkGrids(a: RewardGrid, b: RewardGrid, what: string): void {
  if (a.length !== b.length) throw new RewardDistanceError(`${what}: the grids have ${a.length} and ${b.length} prompts`);
  if (a.length === 0) throw new RewardDistanceError(`${what}: the grids are empty`);
  for (let i = 0; i < a.length; i++) {
    if (a[i].length !== b[i].length) throw new RewardDistanceError(`${what}: prompt ${i} has ${a[i].length} responses in one grid and ${b[i].length} in the other`);
    if (a[i].length === 0) throw new RewardDistanceError(`${what}: prompt ${i} has no responses`);
    for (let j = 0; j < a[i].length; j++) {
      if (!Number.isFinite(a[i][j]) || !Number.isFinite(b[i][j])) throw new RewardDistanceError(`${what}: reward [${i}][${j}] is not a finite number`);
    }
  }
}

/** Flattened canonical rewards and coverage weights of a grid: C(R)(x, y) = R(x, y) - mean_y' R(x, y'). */
export function canonicalizeGrid(grid: RewardGrid): { values: Float64Array; weights: Float64Array } {
  const n = grid.reduce((s, r) => s + r.length, 0);
  const values = new Float64Array(n);
  const weights = new Float64Array(n);
  let k = 0;
  for (const row of grid) {
    const mean = row.reduce((s, v) => s + v, 0) / row.length;
    for (const v of row) {
      values[k] = v - mean;
      // D_S uniform over prompts, D_A uniform over that prompt's responses.
      weights[k] = 1 / (grid.length * row.length);
      k++;
    }
  }
  cleanNoise(values, maxAbs(grid.flat()));
  return { values, weights };
}

/** EPIC on a text grid: Pearson distance of the per-prompt-centered rewards. In [0, 1]. */
export function epicDistance(a: RewardGrid, b: RewardGrid): number {
  checkGrids(a, b, 'EPIC');
  const ca = canonicalizeGrid(a);
  const cb = canonicalizeGrid(b);
  return pearsonDistance(ca.values, cb.values, ca.weights, 'EPIC');
}

export interface EpicLikeOptions {
  /** Normalization n of the canonical reward (default l2). */
  readonly norm?: NormKind;
  /** Metric m between the normalized rewards (default l2). */
  readonly metric?: NormKind;
}

/**
 * EPIC-like distance: m(C(a)/n(C(a)), C(b)/n(C(b))) with EPIC's canonicalization (per-prompt centering),
 * a normalization and a metric other than Pearson (default L2 and L2, coverage-weighted). Unscaled: with L2/L2
 * the range is [0, 2].
 */
export function epicLikeDistance(a: RewardGrid, b: RewardGrid, opts: EpicLikeOptions = {}): number {
  checkGrids(a, b, 'EPIC-like');
  const ca = canonicalizeGrid(a);
  const cb = canonicalizeGrid(b);
  return normalizedDistance(ca.values, cb.values, ca.weights, opts.norm ?? 'l2', opts.metric ?? 'l2');
}

function normalizedDistance(ca: ArrayLike<number>, cb: ArrayLike<number>, w: ArrayLike<number>, norm: NormKind, metric: NormKind): number {
  return weightedNorm(diff(normalize(ca, norm, w), normalize(cb, norm, w)), metric, w);
}

/**
 * STARC on a text grid (Skalse et al. 2024, "STARC: A General Framework For Quantifying Differences Between
 * Reward Functions"): canonicalize (per-prompt centering, which is the value-based canonicalization here),
 * L2-normalize, L2 distance, divided by 2 so the result lies in [0, 1].
 */
export function starcDistance(a: RewardGrid, b: RewardGrid): number {
  checkGrids(a, b, 'STARC');
  const ca = canonicalizeGrid(a);
  const cb = canonicalizeGrid(b);
  return normalizedDistance(ca.values, cb.values, ca.weights, 'l2', 'l2') / 2;
}

export type GridDistance = 'epic' | 'epic-like' | 'starc';

export interface DistanceMatrix {
  readonly names: readonly string[];
  /** Symmetric, zero diagonal; `values[i][j]` = distance between names[i] and names[j]. */
  readonly values: readonly (readonly number[])[];
}

/** Pairwise distances between several reward functions scored on the same grid. */
export function rewardDistanceMatrix(rewards: Readonly<Record<string, RewardGrid>>, distance: GridDistance | ((a: RewardGrid, b: RewardGrid) => number) = 'epic'): DistanceMatrix {
  const names = Object.keys(rewards);
  const f = typeof distance === 'function' ? distance : distance === 'epic' ? epicDistance : distance === 'starc' ? starcDistance : epicLikeDistance;
  const values = names.map(() => names.map(() => 0));
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      let d: number;
      try {
        d = f(rewards[names[i]], rewards[names[j]]);
      } catch (e) {
        throw new RewardDistanceError(`distance between "${names[i]}" and "${names[j]}": ${(e as Error).message}`);
      }
      values[i][j] = d;
      values[j][i] = d;
    }
  }
  return { names, values };
}

// ---------------------------------------------------------------------------------------------------------
// Dense tabular MDP: EPIC's general canonicalization

/** R[s][a][s'] */
export type TabularReward = readonly (readonly (readonly number[])[])[];

export interface TabularMdp {
  readonly numStates: number;
  readonly numActions: number;
  readonly gamma: number;
  /** Coverage distribution over states D_S (sums to 1). */
  readonly dS: readonly number[];
  /** Coverage distribution over actions D_A (sums to 1). */
  readonly dA: readonly number[];
  /** T[s][a][s'] (rows sum to 1). Not needed by EPIC; {@link tabularToFiniteMdp} needs it for DARD and STARC. */
  readonly transitions?: TabularReward;
}

function checkDistribution(p: readonly number[], n: number, what: string): void {
  if (p.length !== n) throw new RewardDistanceError(`${what}: expected ${n} probabilities, got ${p.length}`);
  let s = 0;
  p.forEach((x, i) => {
    if (!(x >= 0) || !Number.isFinite(x)) throw new RewardDistanceError(`${what}[${i}]: probability must be a finite number >= 0 (${x})`);
    s += x;
  });
  if (Math.abs(s - 1) > 1e-9) throw new RewardDistanceError(`${what}: probabilities sum to ${s}, not 1`);
}

function checkTabular(R: TabularReward, mdp: TabularMdp, what: string): void {
  const { numStates: S, numActions: A } = mdp;
  if (!(mdp.gamma >= 0 && mdp.gamma <= 1)) throw new RewardDistanceError(`${what}: gamma must be in [0, 1] (${mdp.gamma})`);
  checkDistribution(mdp.dS, S, `${what}: dS`);
  checkDistribution(mdp.dA, A, `${what}: dA`);
  if (R.length !== S) throw new RewardDistanceError(`${what}: reward has ${R.length} states, the MDP ${S}`);
  R.forEach((ra, s) => {
    if (ra.length !== A) throw new RewardDistanceError(`${what}: reward[${s}] has ${ra.length} actions, the MDP ${A}`);
    ra.forEach((rs, a) => {
      if (rs.length !== S) throw new RewardDistanceError(`${what}: reward[${s}][${a}] has ${rs.length} next states, the MDP ${S}`);
      rs.forEach((v, t) => {
        if (!Number.isFinite(v)) throw new RewardDistanceError(`${what}: reward[${s}][${a}][${t}] is not a finite number`);
      });
    });
  });
}

/**
 * EPIC canonicalization (Gleave et al. 2020, Definition 4.1):
 *   C(R)(s, a, s') = R(s, a, s') + E[gamma R(s', A, S') - R(s, A, S') - gamma R(S, A, S')],
 * with S, S' ~ D_S and A ~ D_A independent. With m(s) = E_{A, S'}[R(s, A, S')] and c = E_S[m(S)] this is
 *   C(R)(s, a, s') = R(s, a, s') + gamma m(s') - m(s) - gamma c,
 * which is invariant to potential shaping R + gamma Phi(s') - Phi(s) (Proposition 4.2 there).
 */
export function epicCanonicalizeTabular(R: TabularReward, mdp: TabularMdp): number[][][] {
  checkTabular(R, mdp, 'EPIC canonicalization');
  const { numStates: S, numActions: A, gamma, dS, dA } = mdp;
  const m = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    let acc = 0;
    for (let a = 0; a < A; a++) for (let t = 0; t < S; t++) acc += dA[a] * dS[t] * R[s][a][t];
    m[s] = acc;
  }
  let c = 0;
  for (let s = 0; s < S; s++) c += dS[s] * m[s];
  return R.map((ra, s) => ra.map((rs) => rs.map((v, t) => v + gamma * m[t] - m[s] - gamma * c)));
}

/** Coverage weights D_S(s) D_A(a) D_S(s') over every transition, flattened in [s][a][s'] order. */
function tabularCoverage(mdp: TabularMdp): Float64Array {
  const { numStates: S, numActions: A, dS, dA } = mdp;
  const w = new Float64Array(S * A * S);
  let k = 0;
  for (let s = 0; s < S; s++) for (let a = 0; a < A; a++) for (let t = 0; t < S; t++) w[k++] = dS[s] * dA[a] * dS[t];
  return w;
}

/**
 * EPIC distance of two tabular rewards: Pearson distance of their canonicalizations over the coverage
 * distribution D_S x D_A x D_S (or `coverage`, flattened in [s][a][s'] order).
 */
export function epicDistanceTabular(R1: TabularReward, R2: TabularReward, mdp: TabularMdp, coverage?: ArrayLike<number>): number {
  const c1 = Float64Array.from(epicCanonicalizeTabular(R1, mdp).flat(2));
  const c2 = Float64Array.from(epicCanonicalizeTabular(R2, mdp).flat(2));
  const w = coverage ?? tabularCoverage(mdp);
  if (w.length !== c1.length) throw new RewardDistanceError(`EPIC: coverage has ${w.length} weights, expected ${c1.length} (states x actions x states)`);
  cleanNoise(c1, maxAbs(R1.flat(2)));
  cleanNoise(c2, maxAbs(R2.flat(2)));
  return pearsonDistance(c1, c2, w, 'EPIC');
}

// ---------------------------------------------------------------------------------------------------------
// Finite MDP with state-dependent actions and sparse transitions: DARD and STARC

export interface Weighted<T> {
  readonly value: T;
  readonly p: number;
}

/**
 * A finite MDP whose action sets and dynamics may depend on the state (a dialogue: the actions of a state are
 * the candidate responses to that dialogue so far). A state with no actions is terminal (absorbing, zero reward;
 * potentials must be 0 there, as in Ng et al. 1999 for episodic tasks).
 */
export interface FiniteMdp {
  readonly numStates: number;
  readonly gamma: number;
  /** Per state: its actions (ids local to the state) with coverage probabilities D_A(a | s). Empty = terminal. */
  readonly actions: readonly (readonly Weighted<number>[])[];
  /** T(. | s, a): the successors (s, a) can produce, with probabilities. Empty = the episode ends (terminal). */
  transitions(s: number, a: number): readonly Weighted<number>[];
  /** Coverage over states for the distance (default uniform over non-terminal states). */
  readonly dS?: readonly number[];
}

/** R(s, a, s'); `next` is -1 when the episode ends after (s, a). */
export type RewardFn = (s: number, a: number, next: number) => number;

/** A transition (s, a, s') the dynamics can produce, with its coverage weight D_S(s) D_A(a|s) T(s'|s, a). */
interface Transition {
  readonly s: number;
  readonly a: number;
  readonly next: number;
  readonly w: number;
}

function checkFiniteMdp(mdp: FiniteMdp, what: string): void {
  if (!(mdp.gamma >= 0 && mdp.gamma <= 1)) throw new RewardDistanceError(`${what}: gamma must be in [0, 1] (${mdp.gamma})`);
  if (mdp.actions.length !== mdp.numStates) throw new RewardDistanceError(`${what}: actions lists ${mdp.actions.length} states, numStates is ${mdp.numStates}`);
  mdp.actions.forEach((acts, s) => {
    if (acts.length === 0) return;
    const sum = acts.reduce((t, x) => t + x.p, 0);
    if (Math.abs(sum - 1) > 1e-9 || acts.some((x) => !(x.p >= 0))) throw new RewardDistanceError(`${what}: action probabilities of state ${s} must be >= 0 and sum to 1 (sum ${sum})`);
    for (const { value: a } of acts) {
      const ts = mdp.transitions(s, a);
      if (ts.length === 0) continue;
      const tsum = ts.reduce((t, x) => t + x.p, 0);
      if (Math.abs(tsum - 1) > 1e-9) throw new RewardDistanceError(`${what}: T(. | state ${s}, action ${a}) sums to ${tsum}, not 1`);
      for (const t of ts) if (!Number.isInteger(t.value) || t.value < 0 || t.value >= mdp.numStates) throw new RewardDistanceError(`${what}: state ${s}, action ${a} leads to unknown state ${t.value}`);
    }
  });
  if (mdp.dS) checkDistribution(mdp.dS, mdp.numStates, `${what}: dS`);
}

/** Successors of (s, a), with an ended episode as the single pseudo-state -1. */
function successors(mdp: FiniteMdp, s: number, a: number): readonly Weighted<number>[] {
  const ts = mdp.transitions(s, a);
  return ts.length ? ts : [{ value: -1, p: 1 }];
}

/** Every producible transition with its coverage weight. */
function transitionsOf(mdp: FiniteMdp): Transition[] {
  const live = mdp.actions.map((a) => a.length > 0);
  const nLive = live.filter(Boolean).length;
  if (nLive === 0) throw new RewardDistanceError('the MDP has no state with actions');
  const dS = mdp.dS ?? live.map((l) => (l ? 1 / nLive : 0));
  const out: Transition[] = [];
  mdp.actions.forEach((acts, s) => {
    for (const { value: a, p } of acts) for (const t of successors(mdp, s, a)) if (dS[s] * p * t.p > 0) out.push({ s, a, next: t.value, w: dS[s] * p * t.p });
  });
  return out;
}

/**
 * DARD canonicalization (Wulfe et al. 2022, "Dynamics-Aware Comparison of Learned Reward Functions", eq. 3):
 *   C(R)(s, a, s') = R(s, a, s') + E[gamma R(s', A, S'') - R(s, A, S') - gamma R(S', A, S'')],
 * with S' ~ T(s, A) and S'' ~ T(s', A): every expectation uses transitions the dynamics can produce from s and s'.
 *
 * Deviation from the paper, for state-dependent action sets (dialogues): in the last term the action is drawn
 * from D_A(. | S') (the actions that exist in S'), independently of the draws of S' and S'', where the paper uses
 * one A ~ D_A for all three. Potential-shaping invariance still holds; with rho_s the successor distribution of s,
 * the shaping terms are gamma Phi(s') - Phi(s) + gamma (gamma E_rho_s' Phi - Phi(s')) - (gamma E_rho_s Phi - Phi(s))
 * - gamma (gamma E_rho_s' Phi - E_rho_s Phi) = 0. Terminal states contribute zero (absorbing, zero reward).
 */
export function dardCanonicalize(R: RewardFn, mdp: FiniteMdp): RewardFn {
  checkFiniteMdp(mdp, 'DARD');
  const { gamma } = mdp;
  // m(s) = E_{A ~ D_A(.|s), S' ~ T(s, A)} R(s, A, S'); 0 for terminal states.
  const m = new Float64Array(mdp.numStates);
  // rho_s = the distribution of S' ~ T(s, A), A ~ D_A(.|s); the ended episode is -1.
  const rho: Map<number, number>[] = [];
  for (let s = 0; s < mdp.numStates; s++) {
    const r = new Map<number, number>();
    let acc = 0;
    for (const { value: a, p } of mdp.actions[s]) {
      for (const t of successors(mdp, s, a)) {
        acc += p * t.p * R(s, a, t.value);
        r.set(t.value, (r.get(t.value) ?? 0) + p * t.p);
      }
    }
    m[s] = acc;
    rho.push(r);
  }
  const third = new Map<string, number>();
  // E_{S' ~ rho_s, A ~ D_A(.|S'), S'' ~ rho_s'} R(S', A, S''); a terminal s' is absorbing, so rho_s' = {s'}.
  const thirdTerm = (s: number, next: number): number => {
    const key = `${s},${next}`;
    const hit = third.get(key);
    if (hit !== undefined) return hit;
    const rhoNext = next < 0 || mdp.actions[next].length === 0 ? new Map([[next, 1]]) : rho[next];
    let acc = 0;
    for (const [x, px] of rho[s]) {
      if (x < 0) continue; // an ended episode has no actions: zero reward
      for (const { value: a, p } of mdp.actions[x]) for (const [y, py] of rhoNext) acc += px * p * py * R(x, a, y);
    }
    third.set(key, acc);
    return acc;
  };
  return (s, a, next) => R(s, a, next) + gamma * (next < 0 ? 0 : m[next]) - m[s] - gamma * thirdTerm(s, next);
}

/** DARD distance: Pearson distance of the DARD-canonicalized rewards over the producible transitions. */
export function dardDistance(R1: RewardFn, R2: RewardFn, mdp: FiniteMdp): number {
  const ts = transitionsOf(mdp);
  const c1 = dardCanonicalize(R1, mdp);
  const c2 = dardCanonicalize(R2, mdp);
  const v1 = Float64Array.from(ts, (t) => c1(t.s, t.a, t.next));
  const v2 = Float64Array.from(ts, (t) => c2(t.s, t.a, t.next));
  cleanNoise(v1, maxAbs(ts.map((t) => R1(t.s, t.a, t.next))));
  cleanNoise(v2, maxAbs(ts.map((t) => R2(t.s, t.a, t.next))));
  return pearsonDistance(v1, v2, Float64Array.from(ts, (t) => t.w), 'DARD');
}

/**
 * Value of the policy pi = D_A(.|s) under R: V = r_pi + gamma P_pi V, solved exactly (Gaussian elimination with
 * partial pivoting). Terminal states have V = 0. With gamma = 1 the MDP must end with probability 1 (a dialogue
 * tree or DAG does); otherwise the system is singular and an error says so.
 */
export function policyValue(R: RewardFn, mdp: FiniteMdp): Float64Array {
  const n = mdp.numStates;
  const M = Array.from({ length: n }, (_, i) => {
    const row = new Float64Array(n + 1);
    row[i] = 1;
    return row;
  });
  for (let s = 0; s < n; s++) {
    for (const { value: a, p } of mdp.actions[s]) {
      for (const t of successors(mdp, s, a)) {
        M[s][n] += p * t.p * R(s, a, t.value);
        if (t.value >= 0 && mdp.actions[t.value].length > 0) M[s][t.value] -= mdp.gamma * p * t.p;
      }
    }
  }
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(M[r][col]) > Math.abs(M[piv][col])) piv = r;
    if (Math.abs(M[piv][col]) < 1e-12) throw new RewardDistanceError('the policy value is undefined: with gamma = 1 the episode must end with probability 1 (use gamma < 1 for MDPs with cycles)');
    [M[col], M[piv]] = [M[piv], M[col]];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = M[r][col] / M[col][col];
      if (f === 0) continue;
      for (let k = col; k <= n; k++) M[r][k] -= f * M[col][k];
    }
  }
  return Float64Array.from(M, (row, i) => row[n] / row[i]);
}

/**
 * STARC's value-based canonicalization (Skalse et al., the canonicalization built from V^pi):
 *   c(R)(s, a) = E_{S' ~ T(s, a)}[R(s, a, S') + gamma V^pi(S')] - V^pi(s),   pi = D_A(. | s).
 * Invariant to potential shaping (V^pi shifts by -Phi) and to redistributing R over S' (only the expectation
 * over S' enters). It does not depend on s', so STARC compares rewards over (s, a) pairs.
 */
export function starcCanonicalize(R: RewardFn, mdp: FiniteMdp): (s: number, a: number) => number {
  checkFiniteMdp(mdp, 'STARC');
  const V = policyValue(R, mdp);
  const v = (s: number): number => (s < 0 || mdp.actions[s].length === 0 ? 0 : V[s]);
  return (s, a) => {
    let acc = 0;
    for (const t of successors(mdp, s, a)) acc += t.p * (R(s, a, t.value) + mdp.gamma * v(t.value));
    return acc - v(s);
  };
}

/**
 * STARC distance on a finite MDP: value-based canonicalization, L2 normalization and L2 metric, both weighted by
 * the coverage D_S(s) D_A(a|s), divided by 2 so the result lies in [0, 1].
 */
export function starcDistanceMdp(R1: RewardFn, R2: RewardFn, mdp: FiniteMdp): number {
  const c1 = starcCanonicalize(R1, mdp);
  const c2 = starcCanonicalize(R2, mdp);
  const ts = transitionsOf(mdp);
  const pairs = new Map<string, { s: number; a: number; w: number }>();
  for (const t of ts) {
    const k = `${t.s},${t.a}`;
    const e = pairs.get(k);
    if (e) e.w += t.w;
    else pairs.set(k, { s: t.s, a: t.a, w: t.w });
  }
  const list = [...pairs.values()];
  const w = Float64Array.from(list, (x) => x.w);
  const v1 = cleanNoise(Float64Array.from(list, (x) => c1(x.s, x.a)), maxAbs(ts.map((t) => R1(t.s, t.a, t.next))));
  const v2 = cleanNoise(Float64Array.from(list, (x) => c2(x.s, x.a)), maxAbs(ts.map((t) => R2(t.s, t.a, t.next))));
  return normalizedDistance(v1, v2, w, 'l2', 'l2') / 2;
}

/** A dense tabular MDP (with transitions) as a {@link FiniteMdp}: every action in every state, D_A everywhere. */
export function tabularToFiniteMdp(mdp: TabularMdp): FiniteMdp {
  const T = mdp.transitions;
  if (!T) throw new RewardDistanceError('this distance needs the MDP transitions T[s][a][s\'], which were not given');
  checkDistribution(mdp.dS, mdp.numStates, 'dS');
  checkDistribution(mdp.dA, mdp.numActions, 'dA');
  const acts = mdp.dA.map((p, a) => ({ value: a, p })).filter((x) => x.p > 0);
  const succ = T.map((ta) => ta.map((row) => row.map((p, t) => ({ value: t, p })).filter((x) => x.p > 0)));
  return { numStates: mdp.numStates, gamma: mdp.gamma, actions: Array.from({ length: mdp.numStates }, () => acts), transitions: (s, a) => succ[s][a], dS: mdp.dS };
}

/** A tabular reward R[s][a][s'] as a {@link RewardFn}. */
export function tabularRewardFn(R: TabularReward): RewardFn {
  return (s, a, next) => (next < 0 ? 0 : R[s][a][next]);
}

// ---------------------------------------------------------------------------------------------------------
// Multi-turn dialogue as an MDP for DARD

/** A state of a dialogue tree: the dialogue so far, and the candidate assistant responses to it. */
export interface DialogueState {
  readonly id: string;
  /** Candidate responses. Each leads, through the next user turn(s), to other states; none = the dialogue ends. */
  readonly responses: readonly { readonly next: readonly { readonly stateId: string; readonly p?: number }[] }[];
}

/**
 * Builds the MDP of a dialogue tree: state = dialogue so far, action = a candidate response (uniform D_A over a
 * state's candidates), next state = dialogue + response + next user turn (uniform over the listed user turns
 * unless `p` is given). Rewards are looked up in `rewards[stateIndex][responseIndex]`, independent of s'
 * (as a reward model scores (dialogue, response)).
 */
export function dialogueMdp(states: readonly DialogueState[], gamma = 1): { mdp: FiniteMdp; index: ReadonlyMap<string, number>; reward: (table: RewardGrid) => RewardFn } {
  const index = new Map<string, number>();
  states.forEach((st, i) => {
    if (index.has(st.id)) throw new RewardDistanceError(`dialogue state "${st.id}" is listed twice`);
    index.set(st.id, i);
  });
  const succ = states.map((st) =>
    st.responses.map((r, a) => {
      const ps = r.next.map((n) => n.p ?? 1 / r.next.length);
      return r.next.map((n, k) => {
        const t = index.get(n.stateId);
        if (t === undefined) throw new RewardDistanceError(`dialogue state "${st.id}", response ${a}: next state "${n.stateId}" is not listed`);
        return { value: t, p: ps[k] };
      });
    }),
  );
  const mdp: FiniteMdp = {
    numStates: states.length,
    gamma,
    actions: states.map((st) => st.responses.map((_, a) => ({ value: a, p: 1 / st.responses.length }))),
    transitions: (s, a) => succ[s][a],
  };
  const reward = (table: RewardGrid): RewardFn => {
    if (table.length !== states.length) throw new RewardDistanceError(`reward table has ${table.length} rows, the dialogue ${states.length} states`);
    table.forEach((row, s) => {
      if (row.length !== states[s].responses.length) throw new RewardDistanceError(`reward table row ${s} ("${states[s].id}") has ${row.length} values for ${states[s].responses.length} responses`);
    });
    return (s, a) => table[s][a];
  };
  return { mdp, index, reward };
}
