/**
 * Online DPO (Guo et al. 2024, "Direct Language Model Alignment from Online AI Feedback", arXiv 2402.04792), as
 * TRL's OnlineDPOTrainer: for each prompt the current policy samples two completions, the run's reward functions
 * score both and the higher score is the chosen one (a verifier, the proxy reward or a reward model stands where
 * the paper has its AI judge), and the pair takes a DPO step against the frozen reference. The loss is the offline
 * DPO loss of ../dpo.ts (`dpoLossGraph`, the card's `sigmoid` / `ipo`), applied to the pairs with a winner: a pair
 * whose scores tie, or one with a sample skipped by its reward functions, has no winner and is left out (counted
 * in `pairs/ties`). A completion without EOS loses `missing_eos_penalty` from its score first (TRL). A step in
 * which no pair has a winner still takes its optimizer step, with a zero gradient (as GRPO's steps whose groups all
 * tie do): the LR schedule keeps TRL's step count, and AdamW's momentum moves the weights on a little.
 *
 * Log-probs here are the policy's own (temperature 1, over the ids it can produce): DPO's implicit reward is
 * beta log(pi / pi_ref) of the policy itself; the sampling temperature only shapes exploration (TRL computes the
 * loss on the raw logits too). The reference's summed log-probs come from the token scorer (./tokenScorer.ts),
 * once per rollout, as TRL runs the reference under no_grad.
 *
 * The update's batch, one micro-batch of B pairs = 2B rows of prompt + completion right-padded to T tokens:
 *   ids, mask     int64   [2B, T]    rows [0, B) the chosen completions, [B, 2B) the rejected ones, pair i in
 *                                    rows i and B + i (for a pair without a winner: its completions in order)
 *   cmask         float32 [2B, T-1]  1 at the prediction of each completion token (see policyUpdate.ts)
 *   ref_logps     float32 [2B]       l_ref(y) = sum of log pi_ref over the row's completion tokens
 *   pair_mask     float32 [B]        the pair's weight when it has a winner (1 unless given), else 0
 *   active_pairs  float32 [1]        the summed weights of the whole step / micro-batches (so the step's loss
 *                                    is the weighted mean over its pairs with a winner, however they fall in
 *                                    micro-batches)
 */
import { ONLINE_DPO_LOSS_TYPE_IDS } from '../../core/methods';
import type { Tensor } from '../../engine/graph/graph';
import * as op from '../../engine/graph/ops';
import type { TransformerModel } from '../../engine/models/transformer';
import type { RunnerOptions } from '../../engine/runtime/devices';
import type { HostTensor } from '../../engine/runtime/tensor';
import type { OptimConfig } from '../../engine/optim/config';
import type { BatchFieldSpec, ForwardFn } from '../../engine/step/compile';
import { Trainer } from '../../engine/step/trainer';
import type { TextTokenizer } from '../../engine/tokenizer/tokenizer';
import { dpoLossGraph, type DpoLossConfig } from '../dpo';
import type { Hyperparameters } from '../hyper';
import { field, halves } from '../plan';
import { implicitRewardRule, pairImplicitRewards, type LossTensors, type PairLogpTensors } from '../shared';
import { oneOf, onlineHyperparameters } from './onlineMethod';
import { policyTokenLogprobs } from './policyUpdate';
import type { SamplingConfig } from './rollout';

/** What online DPO and iterative DPO with a person (humanDpoTrainer.ts) read alike: the loss and the sampling. */
export interface PairPolicyConfig extends DpoLossConfig {
  readonly lossType: (typeof ONLINE_DPO_LOSS_TYPE_IDS)[number];
  /** Tokens generated per completion at most (TRL `max_new_tokens`). */
  readonly maxNewTokens: number;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
}

export interface OnlineDpoConfig extends PairPolicyConfig {
  /** Subtracted from the score of a completion cut at max_new_tokens (0 = off, TRL's None). */
  readonly missingEosPenalty: number;
}

/** The loss and sampling fields of an `online-dpo` or `human-dpo` config (unchecked: each card checks its own). */
export function pairPolicyConfig(r: ReturnType<typeof onlineHyperparameters>): PairPolicyConfig {
  return {
    beta: r.number('beta'),
    lossType: oneOf('loss_type', r.string('loss_type'), ONLINE_DPO_LOSS_TYPE_IDS),
    maxNewTokens: r.number('max_new_tokens'),
    temperature: r.number('temperature'),
    topK: r.number('top_k'),
    topP: r.number('top_p'),
  };
}

/** Online DPO config from a run spec's hyperparameters (TRL names; defaults from the online-dpo card). */
export function onlineDpoConfig(h: Hyperparameters = {}): OnlineDpoConfig {
  const r = onlineHyperparameters('online-dpo', h);
  const cfg: OnlineDpoConfig = { ...pairPolicyConfig(r), missingEosPenalty: r.number('missing_eos_penalty') };
  if (!(cfg.beta > 0)) throw new Error(`hyperparameters.beta: expected > 0, got ${cfg.beta}`);
  if (!(cfg.missingEosPenalty >= 0)) throw new Error(`hyperparameters.missing_eos_penalty: expected >= 0, got ${cfg.missingEosPenalty}`);
  return cfg;
}

/** `numGenerations` completions per prompt (TRL's online DPO samples exactly a pair; a run with a person more). */
export function onlineDpoSampling(cfg: PairPolicyConfig, stopStrings: readonly string[] = [], numGenerations = 2): SamplingConfig {
  return { numGenerations, temperature: cfg.temperature, topK: cfg.topK, topP: cfg.topP, maxCompletionLength: cfg.maxNewTokens, stopStrings };
}

// ---------------------------------------------------------------------------------------------------------
// Judging the pairs

/** The verdict on one prompt's pair (completions 2g and 2g + 1 of the rollout). */
export interface PairVerdict {
  /** Index of the chosen completion in the rollout (the first one when there is no winner). */
  readonly chosen: number;
  readonly rejected: number;
  /** The pair enters the loss: both completions scored, and their scores differ. */
  readonly winner: boolean;
  /** Both scored with equal scores (skipped, counted in `pairs/ties`). */
  readonly tie: boolean;
}

/**
 * Scores (reward minus `missingEosPenalty` for a completion that did not end on its own) and the verdict on each
 * pair: the higher score is chosen. `rewards` and `valid` per completion, the pair of prompt g at 2g, 2g + 1.
 */
export function judgePairs(rewards: readonly number[], valid: readonly boolean[], terminated: readonly boolean[], missingEosPenalty: number): { scores: number[]; verdicts: PairVerdict[] } {
  if (rewards.length % 2 !== 0) throw new RangeError(`judgePairs: ${rewards.length} completions do not form pairs`);
  const scores = rewards.map((r, i) => (valid[i] ? r - (terminated[i] ? 0 : missingEosPenalty) : NaN));
  const verdicts: PairVerdict[] = [];
  for (let a = 0; a < scores.length; a += 2) {
    const [sa, sb] = [scores[a] as number, scores[a + 1] as number];
    const scored = (valid[a] as boolean) && (valid[a + 1] as boolean);
    const aWins = !scored || sa >= sb;
    verdicts.push({ chosen: aWins ? a : a + 1, rejected: aWins ? a + 1 : a, winner: scored && sa !== sb, tie: scored && sa === sb });
  }
  return { scores, verdicts };
}

// ---------------------------------------------------------------------------------------------------------
// The update graph

/** Summed log-probs of the 2B rows of a micro-batch and what selects the pairs of the loss (module comment). */
export interface OnlineDpoRows {
  /** l_theta(y) per row [2B]. */
  readonly logps: Tensor;
  /** l_ref(y) per row [2B]. */
  readonly refLogps: Tensor;
  /** Completion tokens per row [2B] (at least 1). */
  readonly tokens: Tensor;
  /** [B] 1 = the pair enters the loss. */
  readonly pairMask: Tensor;
  /** [1] pairs with a winner in the step / micro-batches. */
  readonly activePairs: Tensor;
}

/** Mean of a [B] tensor over the pairs of the loss: sum(mask x) / active pairs. */
const pairMean = (x: Tensor, r: OnlineDpoRows): Tensor => op.div(op.sum(op.mul(op.stopGradient(x), r.pairMask)), op.sum(r.activePairs));

/**
 * The online DPO loss of a micro-batch: `dpoLossGraph` on each pair, averaged over the pairs with a winner; TRL's
 * pair metrics over those pairs (rewards = beta rho, logps = l), and the objective metrics over every row of the
 * rollout as TRL logs them: objective/kl = mean over completions of sum_t (log pi - log pi_ref), objective/entropy
 * = mean over completions of -sum_t log pi (TRL's one-sample estimate of the sequence entropy).
 */
export function onlineDpoLossGraph(r: OnlineDpoRows, cfg: DpoLossConfig): LossTensors {
  const B = r.pairMask.shape[0] as number;
  const [policyChosen, policyRejected] = halves(r.logps, B);
  const [refChosen, refRejected] = halves(r.refLogps, B);
  const [chosenTokens, rejectedTokens] = halves(r.tokens, B);
  const pair: PairLogpTensors = { policyChosen, policyRejected, refChosen, refRejected, chosenTokens, rejectedTokens };
  const dpo = dpoLossGraph(pair, cfg);
  const losses = op.mul(dpo.losses, r.pairMask);
  const loss = op.div(op.sum(losses), op.sum(r.activePairs));
  const rewards = pairImplicitRewards(implicitRewardRule('dpo', cfg.beta), pair);
  const logps = op.stopGradient(r.logps);
  return {
    loss,
    losses,
    metrics: {
      'rewards/chosen': pairMean(rewards.chosen, r),
      'rewards/rejected': pairMean(rewards.rejected, r),
      'rewards/accuracies': pairMean(op.cast(op.greater(rewards.chosen, rewards.rejected), r.logps.dtype), r),
      'rewards/margins': pairMean(op.sub(rewards.chosen, rewards.rejected), r),
      'logps/chosen': pairMean(policyChosen, r),
      'logps/rejected': pairMean(policyRejected, r),
      'objective/kl': op.mean(op.sub(logps, r.refLogps)),
      'objective/entropy': op.neg(op.mean(logps)),
    },
  };
}

/** The update's batch fields for micro-batches of `pairs` pairs of `seqLen` tokens (module comment). */
export function onlineDpoBatchFields(pairs: number, seqLen: number): BatchFieldSpec[] {
  const R = 2 * pairs;
  return [
    field('ids', [R, seqLen], 'int64'),
    field('mask', [R, seqLen], 'int64'),
    field('cmask', [R, seqLen - 1], 'float32'),
    field('ref_logps', [R], 'float32'),
    field('pair_mask', [pairs], 'float32'),
    field('active_pairs', [1], 'float32'),
  ];
}

/** The traced forward of the update: the policy's summed log-probs of each row -> {@link onlineDpoLossGraph}. */
export function onlineDpoForward(model: TransformerModel, cfg: DpoLossConfig, vocabLimit?: number): ForwardFn {
  return (params, b) => {
    const t = (name: string): Tensor => b[name] as Tensor;
    const { logp } = policyTokenLogprobs(model, params, t('ids'), t('mask'), { temperature: 1, ...(vocabLimit !== undefined ? { vocabLimit } : {}) });
    const cmask = t('cmask');
    const out = onlineDpoLossGraph({ logps: op.sum(op.mul(logp, cmask), [1]), refLogps: t('ref_logps'), tokens: op.maximum(op.sum(cmask, [1]), 1), pairMask: t('pair_mask'), activePairs: t('active_pairs') }, cfg);
    return { loss: out.loss, metrics: out.metrics };
  };
}

/** Micro-batches of the update: `pairs` pairs of `seqLen` tokens each, `microBatches` of them per optimizer step. */
export interface PairUpdateShape {
  readonly pairs: number;
  readonly seqLen: number;
  readonly microBatches: number;
}

/** What the update is compiled for: the policy, its starting weights, the optimizer, the tokenizer's vocabulary. */
export interface PairUpdateModel {
  readonly model: TransformerModel;
  readonly weights: ReadonlyMap<string, Float32Array>;
  readonly optim: OptimConfig;
  readonly tokenizer: TextTokenizer;
}

/** The compiled update, one optimizer step per run: {@link onlineDpoForward} on batches of `shape` (module comment). */
export function createPairUpdate(o: PairUpdateModel, cfg: DpoLossConfig, shape: PairUpdateShape, runner: RunnerOptions): Promise<Trainer> {
  return Trainer.create(
    { forward: onlineDpoForward(o.model, cfg, o.tokenizer.vocabSize), params: o.model.params, batch: onlineDpoBatchFields(shape.pairs, shape.seqLen), optim: o.optim, stepsPerRun: 1, microBatches: shape.microBatches },
    { initialParams: o.weights, ...runner },
  );
}

/** One row of the update: a completion of a pair, its prompt and l_ref. */
export interface PairRow {
  readonly promptIds: readonly number[];
  readonly completionIds: readonly number[];
  readonly refLogp: number;
}

/** A pair as the update sees it. */
export interface UpdatePair {
  readonly chosen: PairRow;
  readonly rejected: PairRow;
  readonly winner: boolean;
  /** Weight of the pair in the step's mean loss when it has a winner (default 1; a judge-labeled pair of a run with a person weighs less). */
  readonly weight?: number;
}

/** Prompt + completion tokens of a pair's two rows (what TRL's `num_tokens` counts). */
export function pairTokens(p: UpdatePair): number {
  return p.chosen.promptIds.length + p.chosen.completionIds.length + p.rejected.promptIds.length + p.rejected.completionIds.length;
}

/**
 * The feeds of one optimizer step: every field [1, A, ...field shape], micro-batch a holding pairs [a B, a B + B).
 * `pairs.length` must be A * B.
 */
export function collatePairs(pairs: readonly UpdatePair[], shape: PairUpdateShape, padId: number): Record<string, HostTensor> {
  const { pairs: B, seqLen: T, microBatches: A } = shape;
  if (pairs.length !== A * B) throw new RangeError(`collatePairs: ${pairs.length} pairs for ${A} micro-batches of ${B}`);
  const R = 2 * B;
  const ids = new BigInt64Array(A * R * T).fill(BigInt(padId));
  const mask = new BigInt64Array(A * R * T);
  const cmask = new Float32Array(A * R * (T - 1));
  const ref = new Float32Array(A * R);
  const put = (row: number, r: PairRow, at: number): void => {
    const seq = [...r.promptIds, ...r.completionIds];
    if (seq.length > T) throw new RangeError(`collatePairs: pair ${at} has a row of ${seq.length} tokens, the update holds ${T}`);
    seq.forEach((tok, t) => {
      ids[row * T + t] = BigInt(tok);
      mask[row * T + t] = 1n;
    });
    r.completionIds.forEach((_, j) => (cmask[row * (T - 1) + r.promptIds.length + j - 1] = 1));
    ref[row] = r.refLogp;
  };
  pairs.forEach((p, i) => {
    const a = Math.floor(i / B);
    put(a * R + (i % B), p.chosen, i);
    put(a * R + B + (i % B), p.rejected, i);
  });
  const weightOf = (p: UpdatePair): number => (p.winner ? (p.weight ?? 1) : 0);
  const active = pairs.reduce((n, p) => n + weightOf(p), 0);
  const lead = [1, A];
  return {
    ids: { dtype: 'int64', shape: [...lead, R, T], data: ids },
    mask: { dtype: 'int64', shape: [...lead, R, T], data: mask },
    cmask: { dtype: 'float32', shape: [...lead, R, T - 1], data: cmask },
    ref_logps: { dtype: 'float32', shape: [...lead, R], data: ref },
    pair_mask: { dtype: 'float32', shape: [...lead, B], data: Float32Array.from(pairs, weightOf) },
    active_pairs: { dtype: 'float32', shape: [...lead, 1], data: new Float32Array(A).fill((active > 0 ? active : 1) / A) },
  };
}
