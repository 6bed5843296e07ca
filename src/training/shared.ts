/**
 * What the method files (./sft.ts, ./reward.ts, ./dpo.ts, ./kto.ts, ./orpo.ts, ./simpo.ts, ./cpo.ts) share:
 * sequence log-probs of rows under a model, the per-pair tensors and loss outputs their loss graphs exchange,
 * the implicit reward of every method that has one, and the metric helpers of the preference losses.
 *
 * Notation (ALIGNMENT_REFERENCE.md section 4): l(y) = sum over completion tokens of log pi_theta(y_t | x, y_<t)
 * ({@link sequenceLogps}); rho(y) = l_theta(y) - l_ref(y); h = rho(y+) - rho(y-). Shapes: every per-example
 * tensor is [B]; token counts are float [B] (`count`).
 *
 * Each loss graph in the method files mirrors the float64 reference of the same name in
 * test/support/reference/losses.ts; the tests compare them value by value and gradient by gradient. Reference
 * log-probs come from a frozen model: callers pass them as graph inputs (no gradient flows to them from the
 * trainer's parameters), but the loss graphs do not detach them, so the gradient checks can cover them.
 */
import type { MethodId } from '../core/methods';
import type { Tensor } from '../engine/graph/graph';
import * as op from '../engine/graph/ops';
import { logprobs, meanVocabLogit, type ParamLookup, type TransformerModel } from '../engine/models/transformer';

// ---------------------------------------------------------------------------------------------------------
// Sequence log-probs

/** Per-row sequence log-probs: the sum over completion tokens, their count, and the mean completion logit. */
export interface SeqLogps {
  /** l(y) = sum of log pi over completion tokens, [N]. */
  readonly sum: Tensor;
  /** Completion token count, float [N] (at least 1, so means are defined). */
  readonly count: Tensor;
  /** Mean raw logit over completion positions and the vocabulary, [N] (TRL's `logits/*` metric). */
  readonly logitsMean: Tensor;
  /** log pi per position [N, T-1] (0 outside the completion). */
  readonly perToken: Tensor;
  readonly logits: Tensor;
}

/**
 * Sequence log-probs of rows ids/mask/cmask under `model` with parameters `params`. With `segments` the rows are
 * packed (several sequences per row, see transformer.ts `ForwardInputs.segments`) and the sums run over a row.
 */
export function sequenceLogps(model: TransformerModel, params: ParamLookup, ids: Tensor, mask: Tensor, cmask: Tensor, segments?: Tensor): SeqLogps {
  const lp = logprobs(model, params, ids, mask, cmask, segments);
  const T = ids.shape[1] as number;
  const sel = op.cast(op.not(op.equal(op.narrow(cmask, 1, 1, T - 1), 0)), 'float32'); // [N, T-1]
  const count = op.maximum(lp.count, 1);
  const vocabMean = meanVocabLogit(model, params, op.narrow(lp.hidden, 1, 0, T - 1)); // [N, T-1], no [N, T-1, V] logits
  const logitsMean = op.div(op.sum(op.mul(vocabMean, sel), [1]), count);
  return { sum: lp.sum, count, logitsMean, perToken: lp.perToken, logits: lp.logits };
}

/** Per-pair log-prob tensors, all [B] of one float dtype. */
export interface PairLogpTensors {
  /** l_theta(y+), summed over the chosen completion's tokens. */
  readonly policyChosen: Tensor;
  readonly policyRejected: Tensor;
  /** l_ref(y+), l_ref(y-) (required by DPO; ignored by the reference-free losses). */
  readonly refChosen?: Tensor;
  readonly refRejected?: Tensor;
  /** Completion token counts |y+|, |y-| as floats. */
  readonly chosenTokens: Tensor;
  readonly rejectedTokens: Tensor;
  /** Optional mean raw logit per sequence (over its completion tokens and the vocabulary), for `logits/*`. */
  readonly chosenLogitsMean?: Tensor;
  readonly rejectedLogitsMean?: Tensor;
}

/** What a loss graph returns, all in the caller's graph: a trainer adds `grad(loss, params)` and outputs the metrics. */
export interface LossTensors {
  /** Scalar batch loss. */
  readonly loss: Tensor;
  /** Per-example loss terms [B] (without batch-level auxiliary terms such as an NLL). */
  readonly losses: Tensor;
  /** TRL metric name -> scalar tensor. */
  readonly metrics: Record<string, Tensor>;
}

// ---------------------------------------------------------------------------------------------------------
// Implicit rewards

/**
 * The implicit reward of a completion y, from its summed log-prob l(y):
 * - `log-ratio`:  beta * (l_theta(y) - l_ref(y))   DPO (Rafailov et al. 2023, eq. 5) and KTO;
 * - `mean-token`: beta * l_theta(y) / |y|          SimPO (Meng et al. 2024, eq. 4); ORPO, whose TRL trainer logs
 *                                                  lambda * mean-token log pi as its rewards;
 * - `summed`:     beta * l_theta(y)                CPO (Xu et al. 2024; TRL's CPO rewards).
 * It is what the trainers log as `rewards/chosen` / `rewards/rejected`, what held-out preference accuracy
 * compares, and what the dashboard scores sample generations with.
 */
export type ImplicitRewardKind = 'log-ratio' | 'mean-token' | 'summed';

export interface ImplicitRewardRule {
  readonly kind: ImplicitRewardKind;
  /** The scale beta (ORPO's lambda). */
  readonly beta: number;
}

/** The implicit reward of each method that has one. */
export const IMPLICIT_REWARD_KINDS = {
  dpo: 'log-ratio',
  kto: 'log-ratio',
  simpo: 'mean-token',
  orpo: 'mean-token',
  cpo: 'summed',
} as const satisfies Partial<Record<MethodId, ImplicitRewardKind>>;

export type ImplicitRewardMethod = keyof typeof IMPLICIT_REWARD_KINDS;

export function hasImplicitReward(method: MethodId): method is ImplicitRewardMethod {
  return method in IMPLICIT_REWARD_KINDS;
}

/** The implicit reward of `method` with scale `beta`. */
export function implicitRewardRule(method: ImplicitRewardMethod, beta: number): ImplicitRewardRule {
  return { kind: IMPLICIT_REWARD_KINDS[method], beta };
}

/** l_theta(y); l_ref(y), which `log-ratio` needs; |y| (at least 1), which `mean-token` needs. */
export interface RewardTerms<T> {
  readonly policy: T;
  readonly ref?: T;
  readonly tokens?: T;
}

/** The three operations the rewards use, on plain numbers or on graph tensors. */
interface Arithmetic<T> {
  sub(a: T, b: T): T;
  div(a: T, b: T): T;
  scale(a: T, k: number): T;
}

const NUMBERS: Arithmetic<number> = { sub: (a, b) => a - b, div: (a, b) => a / b, scale: (a, k) => a * k };
const TENSORS: Arithmetic<Tensor> = { sub: op.sub, div: op.div, scale: (a, k) => op.mul(a, k) };

function rewardOf<T>(rule: ImplicitRewardRule, s: RewardTerms<T>, a: Arithmetic<T>): T {
  switch (rule.kind) {
    case 'log-ratio':
      if (s.ref === undefined) throw new Error('implicit reward: log-ratio needs l_ref(y)');
      return a.scale(a.sub(s.policy, s.ref), rule.beta);
    case 'mean-token':
      if (s.tokens === undefined) throw new Error('implicit reward: mean-token needs |y|');
      return a.scale(a.div(s.policy, s.tokens), rule.beta);
    case 'summed':
      return a.scale(s.policy, rule.beta);
  }
}

const onNumbers = (s: RewardTerms<number> | RewardTerms<Tensor>): s is RewardTerms<number> => typeof s.policy === 'number';

/** The implicit reward of `rule` (see {@link ImplicitRewardKind}), in float64 on numbers or as a graph on tensors. */
export function implicitReward(rule: ImplicitRewardRule, s: RewardTerms<number>): number;
export function implicitReward(rule: ImplicitRewardRule, s: RewardTerms<Tensor>): Tensor;
export function implicitReward(rule: ImplicitRewardRule, s: RewardTerms<number> | RewardTerms<Tensor>): number | Tensor {
  return onNumbers(s) ? rewardOf(rule, s, NUMBERS) : rewardOf(rule, s, TENSORS);
}

/** The implicit rewards of both completions of each pair, [B] each. */
export function pairImplicitRewards(rule: ImplicitRewardRule, p: PairLogpTensors): { chosen: Tensor; rejected: Tensor } {
  return {
    chosen: implicitReward(rule, { policy: p.policyChosen, ref: p.refChosen, tokens: p.chosenTokens }),
    rejected: implicitReward(rule, { policy: p.policyRejected, ref: p.refRejected, tokens: p.rejectedTokens }),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Loss helpers

/** Batch mean of a [B] tensor, as a scalar. */
export const batchMean = (x: Tensor): Tensor => op.mean(x);

/** 1.0 where a > b, else 0.0, in a's dtype. */
export const greaterAsFloat = (a: Tensor, b: Tensor): Tensor => op.cast(op.greater(a, b), a.dtype);

/** Token-weighted mean of per-sequence means: sum(m_i n_i) / sum(n_i) (TRL's mean over all completion tokens). */
const tokenWeighted = (m: Tensor, n: Tensor): Tensor => op.div(op.sum(op.mul(m, n)), op.sum(n));

/**
 * TRL's pair metrics: `rewards/*` from the implicit rewards, `logps/*` from the log-probs lc, lr the method
 * logs (summed or mean-token), `logits/*` when the pair carries logit means.
 */
export function pairMetrics(p: PairLogpTensors, lc: Tensor, lr: Tensor, rewards: { chosen: Tensor; rejected: Tensor }): Record<string, Tensor> {
  // Metrics are observations: cut them off from autodiff so nothing downstream can differentiate through them.
  const [c, r, a, b] = [rewards.chosen, rewards.rejected, lc, lr].map(op.stopGradient);
  const out: Record<string, Tensor> = {
    'rewards/chosen': batchMean(c),
    'rewards/rejected': batchMean(r),
    'rewards/accuracies': batchMean(greaterAsFloat(c, r)),
    'rewards/margins': batchMean(op.sub(c, r)),
    'logps/chosen': batchMean(a),
    'logps/rejected': batchMean(b),
  };
  if (p.chosenLogitsMean) out['logits/chosen'] = tokenWeighted(op.stopGradient(p.chosenLogitsMean), p.chosenTokens);
  if (p.rejectedLogitsMean) out['logits/rejected'] = tokenWeighted(op.stopGradient(p.rejectedLogitsMean), p.rejectedTokens);
  return out;
}

/**
 * Negative log-likelihood of the chosen completions with TRL's convention for CPO and ORPO: the mean over ALL
 * chosen completion tokens of the batch, -sum_i l(y+_i) / sum_i |y+_i|.
 */
export function chosenNllGraph(policyChosen: Tensor, chosenTokens: Tensor): Tensor {
  return op.neg(op.div(op.sum(policyChosen), op.sum(chosenTokens)));
}
