/**
 * Reward models: their configs, loss graphs and trainer plans. The model is the policy's transformer with a
 * sequence-classification head (`score.weight`, one label); the reward of a sequence is the score at its last
 * real token (as transformers' *ForSequenceClassification pools).
 * - Bradley-Terry on pairs (Ouyang et al. 2022 eq. 1) with the optional per-pair margin (Touvron et al. 2023,
 *   "Llama 2", eq. 2) and reward centering (Eisenstein et al. 2023; TRL's center_rewards_coefficient):
 *   {@link bradleyTerryLossGraph}.
 * - Pointwise regression on ratings (mean squared error): {@link rewardRegressionLossGraph}; ratings are
 *   standardized over the training set when `normalize_ratings` is on.
 * Held-out accuracy (TRL's `eval_accuracy`) is computed exactly over the eval pairs from per-pair rewards.
 */
import * as nn from '../engine/graph/nn';
import * as op from '../engine/graph/ops';
import type { Tensor } from '../engine/graph/graph';
import { forward, pooledScores, type TransformerModel } from '../engine/models/transformer';
import type { HostTensor } from '../engine/runtime/tensor';
import { padRows, promptCompletionRow } from './batching';
import type { EncodedCompletion, EncodedPair } from './encode';
import { hyperparameters, type Hyperparameters } from './hyper';
import { accuracy, collatePairs, pairFields, pick, type PlanOptions } from './pairs';
import { field, halves, type TrainerPlan } from './plan';
import { batchMean, greaterAsFloat, type LossTensors } from './shared';
import type { ParamLookup } from '../engine/models/transformer';

export interface RewardTrainerConfig {
  /** c in c * mean((r+ + r-)^2); 0 = off (TRL suggests 1e-2). */
  readonly centerRewardsCoefficient: number;
  /** Subtract each pair's margin inside the sigmoid. */
  readonly useMargin: boolean;
}

export function rewardConfig(h: Hyperparameters = {}): RewardTrainerConfig {
  const r = hyperparameters('reward', h);
  return { centerRewardsCoefficient: r.number('center_rewards_coefficient'), useMargin: r.boolean('use_margin') };
}

export interface RegressionTrainerConfig {
  readonly normalizeRatings: boolean;
}

export function regressionConfig(h: Hyperparameters = {}): RegressionTrainerConfig {
  return { normalizeRatings: hyperparameters('reward-regression', h).boolean('normalize_ratings') };
}

export interface BradleyTerryTensors {
  /** r(x, y+), r(x, y-): [B]. */
  readonly chosen: Tensor;
  readonly rejected: Tensor;
  /** Optional per-pair margin m [B]. */
  readonly margin?: Tensor;
  /** Optional token counts of each pair (both completions), [B], for `num_tokens`. */
  readonly numTokens?: Tensor;
}

/**
 * Bradley-Terry reward loss (Bradley & Terry 1952; Ouyang et al. 2022 eq. 1), with the optional margin of
 * Llama 2 (Touvron et al. 2023, eq. 2) and reward centering (Eisenstein et al. 2023, eq. 2):
 *   loss = mean[-log sigmoid(r+ - r- - m)] + c * mean[(r+ + r-)^2].
 * Metrics (TRL's RewardTrainer): accuracy = mean[r+ > r-], margin = mean[r+ - r-], min/mean/max over all 2B
 * rewards, num_tokens = sum of the given token counts.
 */
export function bradleyTerryLossGraph(t: BradleyTerryTensors, centerRewardsCoefficient = 0): LossTensors {
  const diff = op.sub(t.chosen, t.rejected);
  const z = t.margin ? op.sub(diff, t.margin) : diff;
  const losses = op.neg(nn.logSigmoid(z));
  let loss = batchMean(losses);
  if (centerRewardsCoefficient !== 0) {
    const s = op.add(t.chosen, t.rejected);
    loss = op.add(loss, op.mul(batchMean(op.mul(s, s)), centerRewardsCoefficient));
  }
  const c = op.stopGradient(t.chosen);
  const r = op.stopGradient(t.rejected);
  const all = op.concat([c, r], 0);
  const metrics: Record<string, Tensor> = {
    accuracy: batchMean(greaterAsFloat(c, r)),
    margin: batchMean(op.sub(c, r)),
    min_reward: op.min(all),
    mean_reward: batchMean(all),
    max_reward: op.max(all),
  };
  if (t.numTokens) metrics.num_tokens = op.sum(t.numTokens);
  return { loss, losses, metrics };
}

/** Pointwise reward regression: loss = mean[(r - y)^2] on ratings y. Metrics: mae, min/mean/max reward. */
export function rewardRegressionLossGraph(rewards: Tensor, ratings: Tensor): LossTensors {
  const d = op.sub(rewards, ratings);
  const losses = op.mul(d, d);
  const r = op.stopGradient(rewards);
  return {
    loss: batchMean(losses),
    losses,
    metrics: { mae: batchMean(op.abs(op.stopGradient(d))), min_reward: op.min(r), mean_reward: batchMean(r), max_reward: op.max(r) },
  };
}

/** Rewards [N] of rows ids/mask under a score-head model. */
export function rewardScores(model: TransformerModel, params: ParamLookup, ids: Tensor, mask: Tensor): Tensor {
  const out = forward(model, params, { ids, mask });
  if (!out.scores) throw new Error(`reward model: the model's head is "${model.head}", expected "score"`);
  const pooled = pooledScores(out.scores, mask); // [N, L]
  return op.squeeze(op.narrow(pooled, 1, 0, 1), [1]);
}

/**
 * The score head (label 0) at every position of rows laid out by an explicit attention pattern, [N, T]: position i
 * scores the sequence of the keys i attends (see ForwardInputs.pattern), so one pass scores many sequences that
 * share a prefix (reward inspection scores every prefix of a response this way).
 */
export function patternScores(model: TransformerModel, params: ParamLookup, ids: Tensor, pattern: { readonly visible: Tensor; readonly positionIds: Tensor }): Tensor {
  const out = forward(model, params, { ids, pattern });
  if (!out.scores) throw new Error(`reward model: the model's head is "${model.head}", expected "score"`);
  return op.squeeze(op.narrow(out.scores, 2, 0, 1), [2]);
}

function modelParams(model: TransformerModel) {
  return model.params.map((p) => ({ name: p.name, shape: p.shape, trainable: p.trainable, weightDecay: p.weightDecay }));
}

/** Bradley-Terry reward-model plan over pairs. */
export function createRewardPlan(opts: PlanOptions<EncodedPair>, cfg: RewardTrainerConfig): TrainerPlan {
  const { model, batchSize: B, seqLen: T, padId, data } = opts;
  return {
    method: 'reward',
    batchSize: B,
    seqLen: T,
    params: modelParams(model),
    initialParams: new Map(opts.weights),
    batch: [...pairFields(B, T), field('margin', [B], 'float32')],
    trainSize: data.train.length,
    evalSize: data.eval.length,
    forward: (p, b) => {
      const mask = b.mask as Tensor;
      const r = rewardScores(model, p, b.ids as Tensor, mask);
      const [chosen, rejected] = halves(r, B);
      const tok = op.sum(op.cast(mask, 'float32'), [1]);
      const [tc, tr] = halves(tok, B);
      const l = bradleyTerryLossGraph({ chosen, rejected, ...(cfg.useMargin ? { margin: b.margin as Tensor } : {}), numTokens: op.add(tc, tr) }, cfg.centerRewardsCoefficient);
      return { loss: l.loss, metrics: l.metrics, perExample: { chosen_reward: op.stopGradient(chosen), rejected_reward: op.stopGradient(rejected) } };
    },
    collate: (split, indices) => {
      const pairs = pick(data, split, indices);
      const c = collatePairs(pairs, T, padId);
      const margin: HostTensor = { dtype: 'float32', shape: [B], data: Float32Array.from(pairs, (x) => x.margin ?? 0) };
      return { fields: { ...c.fields, margin }, tokens: c.tokens };
    },
    perExampleMetrics: (v): Record<string, number> => {
      const c = v.chosen_reward;
      const r = v.rejected_reward;
      if (!c || !r) return {};
      let m = 0;
      for (let i = 0; i < c.length; i++) m += (c[i] as number) - (r[i] as number);
      return { accuracy: accuracy(c, r), margin: c.length ? m / c.length : 0 };
    },
  };
}

/** Pointwise regression plan over rated completions. */
export function createRegressionPlan(opts: PlanOptions<EncodedCompletion>, cfg: RegressionTrainerConfig): TrainerPlan {
  const { model, batchSize: B, seqLen: T, padId, data } = opts;
  const ratings = data.train.map((e) => {
    if (e.rating === undefined || !Number.isFinite(e.rating)) throw new Error(`reward regression: example ${e.id} has no rating`);
    return e.rating;
  });
  let mu = 0;
  let sd = 1;
  if (cfg.normalizeRatings && ratings.length) {
    mu = ratings.reduce((s, x) => s + x, 0) / ratings.length;
    sd = Math.sqrt(ratings.reduce((s, x) => s + (x - mu) ** 2, 0) / ratings.length) || 1;
  }
  return {
    method: 'reward-regression',
    batchSize: B,
    seqLen: T,
    params: modelParams(model),
    initialParams: new Map(opts.weights),
    batch: [field('ids', [B, T], 'int64'), field('mask', [B, T], 'int64'), field('rating', [B], 'float32')],
    trainSize: data.train.length,
    evalSize: data.eval.length,
    forward: (p, b) => {
      const r = rewardScores(model, p, b.ids as Tensor, b.mask as Tensor);
      const l = rewardRegressionLossGraph(r, b.rating as Tensor);
      return { loss: l.loss, metrics: l.metrics };
    },
    collate: (split, indices) => {
      const items = pick(data, split, indices);
      const rows = padRows(items.map((e) => promptCompletionRow(e.prompt, e.completion)), T, padId);
      const t = (d: BigInt64Array): HostTensor => ({ dtype: 'int64', shape: [B, T], data: d });
      const rating: HostTensor = { dtype: 'float32', shape: [B], data: Float32Array.from(items, (e) => ((e.rating ?? 0) - mu) / sd) };
      return { fields: { ids: t(rows.ids), mask: t(rows.mask), rating }, tokens: rows.tokens };
    },
  };
}
