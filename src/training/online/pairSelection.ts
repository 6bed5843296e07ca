/**
 * Which pairs of a round's sampled completions are worth a person's time (ALIGNMENT_REFERENCE.md section 7,
 * "Active selection"). Every prompt has k completions, so k(k-1)/2 candidate pairs; `pairs` of them are picked.
 *
 * active   Each candidate pair (a, b) gets P_s = sigmoid(x_s(a) - x_s(b)), the probability that a is preferred,
 *          from each signal s that scores both completions: the policy's implicit DPO reward
 *          h = beta (log pi(y) - log pi_ref(y)) (signal `implicit`), and the run's reward functions (a reward model,
 *          a judge: the external signals) when it has them. Its worth is
 *
 *            with external signals   v = |2 p - 1| g,   p = mean over the external s of P_s,
 *                                    g = sigmoid(-t (h(a) - h(b))),  t = sign(p - 1/2)   (g = 1/2 without h)
 *            implicit reward only    v = 4 P (1 - P),   P = P_implicit
 *
 *          With external signals, |2p - 1| is how clearly they predict a quality difference and g is the weight the
 *          DPO loss gives a label that agrees with them (sigmoid of minus the policy's implicit margin toward the
 *          predicted winner): v is high where the ensemble disagrees, the reward functions sure of a difference that
 *          the policy's implicit reward does not yet hold. The pairs they find least certain (p near 1/2) are
 *          near-ties: a person's label there is close to a coin flip and teaches the policy little, and the
 *          benchmark (bench/active.ts, docs/human-loop.md) measured that rule below random. Without external signals
 *          nothing predicts the label, and v is the implicit reward's own uncertainty (1 while the policy equals the
 *          reference). A pair of identical completions is a certain tie and teaches nothing, so v is multiplied by
 *          how much the two differ, d = 1 - |A ∩ B| / |A ∪ B| over their token multisets (0 for identical token
 *          ids). The pairs are then picked greedily by v d w(prompt), where every prompt starts at w = 1 and each
 *          pick from prompt g multiplies w(h) of every prompt h by 1 - lambda sim(g, h) (sim: 1 for the same
 *          prompt, else the Jaccard overlap of their word sets; lambda = `diversityWeight`), so the batch spreads
 *          over prompts and topics. Ties are broken by a seeded shuffle.
 *   random  Pairs of two different completions of a prompt, drawn uniformly, going round the prompts in a
 *          shuffled order (identical texts may be drawn, as online DPO's two samples may be identical).
 */
import { Rng } from '../../engine/rng';

/** One sampled completion, as selection sees it. */
export interface SelectionCompletion {
  /** Index of its prompt in the round's prompt list. */
  readonly promptIndex: number;
  readonly ids: readonly number[];
  /** Scores by signal name (`implicit`, reward-function names); a signal missing for either side is not used. */
  readonly signals: Readonly<Record<string, number>>;
}

export interface SelectedPair {
  readonly promptIndex: number;
  /** Completion indices into the round's list, first and second candidate. */
  readonly a: number;
  readonly b: number;
  /** The score it was picked by (active: v d w; random: the draw in [0, 1)). */
  readonly score: number;
  /** P(a preferred) under each signal. */
  readonly probabilities: Readonly<Record<string, number>>;
}

export interface SelectionOptions {
  readonly method: 'active' | 'random';
  readonly pairs: number;
  /** Prompt texts, by prompt index (for the similarity of two prompts). */
  readonly promptTexts: readonly string[];
  /** lambda of the module comment, in [0, 1]. */
  readonly diversityWeight: number;
  readonly seed: number;
}

export const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** P(a preferred) per signal that scores both (module comment). */
export function pairProbabilities(a: SelectionCompletion, b: SelectionCompletion): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [s, xa] of Object.entries(a.signals)) {
    const xb = b.signals[s];
    if (xb !== undefined && Number.isFinite(xa) && Number.isFinite(xb)) out[s] = sigmoid(xa - xb);
  }
  return out;
}

/** The signal name of the policy's implicit DPO reward; every other signal is an external one (module comment). */
export const IMPLICIT_SIGNAL = 'implicit';

/** v of the module comment; 1 when no signal scores the pair (nothing is known). */
export function pairWorth(probabilities: Readonly<Record<string, number>>): number {
  const implicit = probabilities[IMPLICIT_SIGNAL];
  const external = Object.entries(probabilities).filter(([s]) => s !== IMPLICIT_SIGNAL).map(([, p]) => p);
  if (external.length === 0) return implicit === undefined ? 1 : 4 * implicit * (1 - implicit);
  const p = external.reduce((s, x) => s + x, 0) / external.length;
  // sigmoid(-t m) from P_implicit = sigmoid(m): 1 - P toward a, P toward b; 1/2 when p is exactly 1/2 or h is missing.
  const g = implicit === undefined || p === 0.5 ? 0.5 : p > 0.5 ? 1 - implicit : implicit;
  return Math.abs(2 * p - 1) * g;
}

/** Multiset Jaccard overlap |A ∩ B| / |A ∪ B| of two token lists (1 for two empty lists). */
export function multisetJaccard<T>(a: readonly T[], b: readonly T[]): number {
  if (a.length === 0 && b.length === 0) return 1;
  const count = new Map<T, number>();
  for (const x of a) count.set(x, (count.get(x) ?? 0) + 1);
  let inter = 0;
  for (const x of b) {
    const c = count.get(x) ?? 0;
    if (c > 0) {
      inter++;
      count.set(x, c - 1);
    }
  }
  return inter / (a.length + b.length - inter);
}

/** Jaccard overlap of the word sets of two prompts. */
export function promptSimilarity(a: string, b: string): number {
  const wa = new Set(a.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []);
  const wb = new Set(b.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []);
  if (wa.size === 0 && wb.size === 0) return 1;
  let inter = 0;
  for (const w of wa) if (wb.has(w)) inter++;
  return inter / (wa.size + wb.size - inter);
}

/** The candidate pairs of every prompt: completions i < j of the same prompt. */
function candidatePairs(cs: readonly SelectionCompletion[]): [number, number][] {
  const byPrompt = new Map<number, number[]>();
  cs.forEach((c, i) => byPrompt.set(c.promptIndex, [...(byPrompt.get(c.promptIndex) ?? []), i]));
  const out: [number, number][] = [];
  for (const idx of byPrompt.values()) for (let x = 0; x < idx.length; x++) for (let y = x + 1; y < idx.length; y++) out.push([idx[x] as number, idx[y] as number]);
  return out;
}

/** Picks `o.pairs` pairs (fewer when there are fewer candidates) by the rule of the module comment. */
export function selectPairs(cs: readonly SelectionCompletion[], o: SelectionOptions): SelectedPair[] {
  const rng = new Rng(o.seed).derive(`select-${o.method}`);
  const cands = rng.shuffle(candidatePairs(cs));
  return o.method === 'active' ? selectActive(cs, cands, o) : selectRandom(cs, cands, o, rng);
}

function selectActive(cs: readonly SelectionCompletion[], cands: readonly [number, number][], o: SelectionOptions): SelectedPair[] {
  const scored = cands.map(([a, b]) => {
    const ca = cs[a] as SelectionCompletion;
    const probabilities = pairProbabilities(ca, cs[b] as SelectionCompletion);
    return { a, b, promptIndex: ca.promptIndex, probabilities, base: pairWorth(probabilities) * (1 - multisetJaccard(ca.ids, (cs[b] as SelectionCompletion).ids)) };
  });
  const prompts = [...new Set(scored.map((s) => s.promptIndex))];
  const weight = new Map<number, number>();
  const taken = new Set<number>();
  const out: SelectedPair[] = [];
  while (out.length < o.pairs && taken.size < scored.length) {
    let best = -1;
    let bestScore = -Infinity;
    scored.forEach((s, i) => {
      if (taken.has(i)) return;
      const score = s.base * (weight.get(s.promptIndex) ?? 1);
      if (score > bestScore) [best, bestScore] = [i, score];
    });
    const pick = scored[best] as (typeof scored)[number];
    taken.add(best);
    out.push({ promptIndex: pick.promptIndex, a: pick.a, b: pick.b, score: bestScore, probabilities: pick.probabilities });
    const g = o.promptTexts[pick.promptIndex] ?? '';
    for (const h of prompts) {
      const sim = h === pick.promptIndex ? 1 : promptSimilarity(g, o.promptTexts[h] ?? '');
      weight.set(h, (weight.get(h) ?? 1) * (1 - o.diversityWeight * sim));
    }
  }
  return out;
}

function selectRandom(cs: readonly SelectionCompletion[], cands: readonly [number, number][], o: SelectionOptions, rng: Rng): SelectedPair[] {
  // Pairs grouped by prompt, each group in shuffled order; prompts visited round-robin in a shuffled order.
  const byPrompt = new Map<number, [number, number][]>();
  for (const c of cands) {
    const g = (cs[c[0]] as SelectionCompletion).promptIndex;
    byPrompt.set(g, [...(byPrompt.get(g) ?? []), c]);
  }
  const prompts = rng.shuffle([...byPrompt.keys()].sort((x, y) => x - y));
  const out: SelectedPair[] = [];
  for (let round = 0; out.length < o.pairs && out.length < cands.length; round++) {
    for (const g of prompts) {
      const pair = (byPrompt.get(g) as [number, number][])[round];
      if (!pair || out.length >= o.pairs) continue;
      out.push({ promptIndex: g, a: pair[0], b: pair[1], score: rng.uniform(), probabilities: pairProbabilities(cs[pair[0]] as SelectionCompletion, cs[pair[1]] as SelectionCompletion) });
    }
  }
  return out;
}
