/**
 * PPO for RLHF (Schulman et al. 2017; Ziegler et al. 2019; Ouyang et al. 2022), as TRL's PPOTrainer: one completion
 * per prompt; per-token rewards = -kl_coef * KL estimate (k1 or k3) + the score at the last token, less
 * missing_eos_penalty for a completion without an end (ppoRollout.ts `ppoRewards`); GAE over a value model's
 * estimates with whitened advantages (`gae`); num_ppo_epochs passes over the rollout in num_mini_batches shuffled
 * mini-batches, each one optimizer step of the clipped policy + clipped value loss (../lossesRl.ts `ppoLossGraph`).
 * kl_coef is fixed, or adapted toward a target KL (`adap_kl_ctrl`, Ziegler et al. 2019 sec. 2.2).
 *
 * This file holds the config, the KL controllers and the update graph with its collation; ppoTrainer.ts the loop.
 * The update's batch fields (policyUpdate.ts explains the [B, T-1] alignment):
 *
 *   ids, mask       int64   [B, T]     prompt + completion, right-padded
 *   cmask           float32 [B, T-1]   1 = a completion token in the loss
 *   old_logp        float32 [B, T-1]   log pi_old of the sampled tokens
 *   advantages      float32 [B, T-1]   whitened GAE advantages
 *   old_values      float32 [B, T-1]   V_old (the value model before this rollout's updates)
 *   returns         float32 [B, T-1]   GAE returns A + V_old
 */
import type { Tensor } from '../../engine/graph/graph';
import type { TransformerModel } from '../../engine/models/transformer';
import type { HostTensor } from '../../engine/runtime/tensor';
import type { BatchFieldSpec, ForwardFn } from '../../engine/step/compile';
import type { Hyperparameters } from '../hyper';
import { ppoLossGraph, type PpoLossConfig } from '../lossesRl';
import { field } from '../plan';
import type { KlEstimator } from './advantages';
import { oneOf, onlineHyperparameters } from './onlineMethod';
import { maskedEntropy, policyTokenLogprobs, type PolicyDistribution, type UpdateShape } from './policyUpdate';
import { tokenValues, valueParamView } from './valueModel';

export interface PpoConfig {
  /** Initial (or fixed) weight of the per-token KL penalty. */
  readonly klCoef: number;
  readonly klEstimator: KlEstimator;
  /** Adapt kl_coef toward `targetKl` (TRL's older `adap_kl_ctrl`). */
  readonly adaptiveKl: boolean;
  /** Target sequence-level KL of the adaptive controller (TRL `target`). */
  readonly targetKl: number;
  /** Horizon of the adaptive controller in episodes (TRL `horizon`). */
  readonly horizon: number;
  readonly loss: PpoLossConfig;
  readonly gamma: number;
  readonly lam: number;
  readonly numPpoEpochs: number;
  readonly numMiniBatches: number;
  readonly whitenRewards: boolean;
  readonly missingEosPenalty: number;
  readonly temperature: number;
  /** Most tokens per completion (TRL `response_length`). */
  readonly responseLength: number;
}

/** PPO config from a run spec's hyperparameters (TRL names; defaults from the PPO card). */
export function ppoConfig(h: Hyperparameters = {}): PpoConfig {
  const r = onlineHyperparameters('ppo', h);
  const int = (n: string, min: number): number => {
    const v = r.number(n);
    if (!(Number.isInteger(v) && v >= min)) throw new Error(`hyperparameters.${n}: expected an integer >= ${min}, got ${v}`);
    return v;
  };
  const cfg: PpoConfig = {
    klCoef: r.number('kl_coef'),
    klEstimator: oneOf('kl_estimator', r.string('kl_estimator'), ['k1', 'k3'] as const),
    adaptiveKl: r.boolean('adap_kl_ctrl'),
    targetKl: r.number('target'),
    horizon: int('horizon', 1),
    loss: { cliprange: r.number('cliprange'), cliprangeValue: r.number('cliprange_value'), vfCoef: r.number('vf_coef') },
    gamma: r.number('gamma'),
    lam: r.number('lam'),
    numPpoEpochs: int('num_ppo_epochs', 1),
    numMiniBatches: int('num_mini_batches', 1),
    whitenRewards: r.boolean('whiten_rewards'),
    missingEosPenalty: r.number('missing_eos_penalty'),
    temperature: r.number('temperature'),
    responseLength: int('response_length', 1),
  };
  if (!(cfg.klCoef >= 0)) throw new Error(`hyperparameters.kl_coef: expected >= 0, got ${cfg.klCoef}`);
  if (!(cfg.targetKl > 0)) throw new Error(`hyperparameters.target: expected > 0, got ${cfg.targetKl}`);
  if (!(cfg.loss.cliprange > 0 && cfg.loss.cliprangeValue > 0 && cfg.loss.vfCoef >= 0)) throw new Error('hyperparameters.cliprange / cliprange_value: expected > 0, vf_coef >= 0');
  if (!(cfg.gamma >= 0 && cfg.gamma <= 1 && cfg.lam >= 0 && cfg.lam <= 1)) throw new Error(`hyperparameters.gamma / lam: expected in [0, 1], got ${cfg.gamma} / ${cfg.lam}`);
  if (!(cfg.temperature > 0)) throw new Error(`hyperparameters.temperature: expected > 0, got ${cfg.temperature}`);
  return cfg;
}

/** What a KL controller carries across rollouts (checkpointed). */
export interface KlControllerState {
  readonly klCoef: number;
}

/**
 * The KL coefficient over a run. Fixed: kl_coef throughout. Adaptive (Ziegler et al. 2019, sec. 2.2, the
 * proportional controller of TRL's `AdaptiveKLController`): after each rollout with mean sequence KL `kl` over
 * `n` episodes, e = clip(kl / target - 1, -0.2, 0.2) and kl_coef <- kl_coef * (1 + e n / horizon).
 */
export class KlController {
  private coef: number;

  constructor(private readonly cfg: Pick<PpoConfig, 'klCoef' | 'adaptiveKl' | 'targetKl' | 'horizon'>) {
    this.coef = cfg.klCoef;
  }

  get value(): number {
    return this.coef;
  }

  update(kl: number, n: number): void {
    if (!this.cfg.adaptiveKl) return;
    if (!Number.isFinite(kl)) throw new Error(`adaptive KL controller: the rollout's KL is ${kl}`);
    const e = Math.min(Math.max(kl / this.cfg.targetKl - 1, -0.2), 0.2);
    this.coef *= 1 + (e * n) / this.cfg.horizon;
  }

  state(): KlControllerState {
    return { klCoef: this.coef };
  }

  restore(s: KlControllerState): void {
    if (!(Number.isFinite(s.klCoef) && s.klCoef >= 0)) throw new Error(`KL controller state: kl_coef ${s.klCoef} is not a finite number >= 0`);
    this.coef = s.klCoef;
  }
}

/** The update's batch fields (module comment). */
export function ppoBatchFields(shape: UpdateShape): BatchFieldSpec[] {
  const { rows: B, seqLen: T } = shape;
  const tok = (n: string): BatchFieldSpec => field(n, [B, T - 1], 'float32');
  return [field('ids', [B, T], 'int64'), field('mask', [B, T], 'int64'), tok('cmask'), tok('old_logp'), tok('advantages'), tok('old_values'), tok('returns')];
}

/** The traced update: policy log-probs and values -> PPO loss; TRL's loss metrics + `policy/entropy_avg`. */
export function ppoForward(policy: TransformerModel, value: TransformerModel, cfg: PpoLossConfig, dist: PolicyDistribution): ForwardFn {
  return (params, b) => {
    const t = (name: string): Tensor => b[name] as Tensor;
    const { logp, scaled } = policyTokenLogprobs(policy, params, t('ids'), t('mask'), dist);
    const values = tokenValues(value, valueParamView(value, params), t('ids'), t('mask'));
    const out = ppoLossGraph({ logp, oldLogp: t('old_logp'), advantages: t('advantages'), values, oldValues: t('old_values'), returns: t('returns'), mask: t('cmask') }, cfg);
    return { loss: out.loss, metrics: { ...out.metrics, 'policy/entropy_avg': maskedEntropy(scaled, t('cmask')) } };
  };
}

/** One completion as PPO's update sees it; per-token arrays have one entry per completion token. */
export interface PpoRow {
  readonly promptIds: readonly number[];
  readonly completionIds: readonly number[];
  readonly oldLogprobs: readonly number[];
  readonly advantages: readonly number[];
  readonly oldValues: readonly number[];
  readonly returns: readonly number[];
  /** false: no part in the loss (a skipped sample). */
  readonly active: boolean;
}

/** The feeds of one optimizer step: every field [1, A, ...], micro-batch a holding rows [a B, a B + B). */
export function collatePpo(rows: readonly PpoRow[], shape: UpdateShape, padId: number): Record<string, HostTensor> {
  const { rows: B, seqLen: T, microBatches: A } = shape;
  if (rows.length !== A * B) throw new RangeError(`collatePpo: ${rows.length} rows for ${A} micro-batches of ${B}`);
  const N = rows.length;
  const ids = new BigInt64Array(N * T).fill(BigInt(padId));
  const mask = new BigInt64Array(N * T);
  const per = ['cmask', 'old_logp', 'advantages', 'old_values', 'returns'] as const;
  const f = Object.fromEntries(per.map((k) => [k, new Float32Array(N * (T - 1))])) as Record<(typeof per)[number], Float32Array>;
  rows.forEach((r, i) => {
    const seq = [...r.promptIds, ...r.completionIds];
    if (seq.length > T) throw new RangeError(`collatePpo: row ${i} has ${seq.length} tokens, the update holds ${T}`);
    seq.forEach((tok, t) => {
      ids[i * T + t] = BigInt(tok);
      mask[i * T + t] = 1n;
    });
    r.completionIds.forEach((_, j) => {
      const at = i * (T - 1) + r.promptIds.length + j - 1;
      f.cmask[at] = r.active ? 1 : 0;
      f.old_logp[at] = r.oldLogprobs[j] as number;
      f.advantages[at] = r.advantages[j] as number;
      f.old_values[at] = r.oldValues[j] as number;
      f.returns[at] = r.returns[j] as number;
    });
  });
  const lead = [1, A, B];
  const feeds: Record<string, HostTensor> = { ids: { dtype: 'int64', shape: [...lead, T], data: ids }, mask: { dtype: 'int64', shape: [...lead, T], data: mask } };
  for (const k of per) feeds[k] = { dtype: 'float32', shape: [...lead, T - 1], data: f[k] };
  return feeds;
}
