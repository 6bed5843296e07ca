/**
 * The optional second half of a round of a run with a person (`human-dpo` with `refit_reward_model`;
 * docs/human-loop.md): after the round's DPO update,
 *
 *   reward model   refit on every decisive label the person gave so far (Bradley-Terry, the reward trainer's plan:
 *                  ../reward.ts `createRewardPlan`), `refit_reward_epochs` passes in a seeded order. The model is
 *                  the policy's transformer with a one-label score head (the value model's construction,
 *                  valueModel.ts), starting as the starting policy's body with a fresh head; it keeps its weights
 *                  from round to round
 *   policy         with `refit_policy` grpo or ppo, `refit_policy_steps` rollouts of the online trainer
 *                  (onlineTrainer.ts / ppoTrainer.ts) with the refit reward model as the one reward function. The
 *                  online trainer starts each round from the policy the DPO update left, and the DPO trainer takes
 *                  the result back (`policyWeights`)
 *
 * Pairs are in the policy's token ids (the reward model shares the policy's tokenizer), rows prompt + completion as
 * the reward trainer lays them out. The reward model reads the same rows when it scores the online trainer's
 * samples, so it scores what it was fitted on.
 *
 * Metrics (TRL's names under a prefix, so they do not mix with the DPO update's): `reward_model/loss`,
 * `reward_model/accuracy`, `reward_model/margin`, `reward_model/mean_reward` (the refit's steps, averaged),
 * `reward_model/accuracy_before` and `reward_model/accuracy_after` (exact, on every label so far, before and after
 * the refit), `reward_model/pairs`; and `refit/<name>` for each metric of the online trainer's rollouts, averaged,
 * except the counters and the rate, which are the last rollout's (GRPO: `refit/reward`, `refit/kl`, ...; PPO:
 * `refit/objective/scores`, ...).
 *
 * State: the reward model's weights and the online trainer's rollouts, which a checkpoint keeps
 * ({@link writeRefitState}); the two optimizers' moments start again after a resume.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { refitProblems } from '../../core/runs/specRewards';
import { readSafetensors, writeSafetensors } from '../../engine/io/safetensors';
import type { TransformerModel } from '../../engine/models/transformer';
import { Rng } from '../../engine/rng';
import { runnerOptions } from '../../engine/runtime/devices';
import { Trainer, type StepResult } from '../../engine/step/trainer';
import { promptCompletionRow } from '../batching';
import type { EncodedPair } from '../encode';
import { SequenceScorer } from '../evaluate';
import { accuracy } from '../pairs';
import { createRewardPlan } from '../reward';
import { grpoConfig, grpoMethod } from './grpo';
import { oneOf, type onlineHyperparameters } from './onlineMethod';
import { OnlineTrainer } from './onlineTrainer';
import { ppoConfig } from './ppo';
import { PpoTrainer } from './ppoTrainer';
import type { RewardFunction, RewardSample } from './rewards/rewardFunction';
import { encodeRolloutPrompt } from './rollout';
import { graphMetrics, trainedWeights, type OnlinePolicyOptions } from './runTrainer';
import { initialValueWeights, valueModelOf } from './valueModel';

export const REFIT_POLICIES = ['none', 'grpo', 'ppo'] as const;
export type RefitPolicy = (typeof REFIT_POLICIES)[number];

export interface RefitConfig {
  readonly rewardModel: boolean;
  readonly rewardEpochs: number;
  readonly policy: RefitPolicy;
  readonly policySteps: number;
}

/** The refit fields of the human-dpo card (`refit_*`); a policy refit without the reward model is an error. */
export function refitConfig(r: ReturnType<typeof onlineHyperparameters>): RefitConfig {
  const cfg: RefitConfig = {
    rewardModel: r.boolean('refit_reward_model'),
    rewardEpochs: r.number('refit_reward_epochs'),
    policy: oneOf('refit_policy', r.string('refit_policy'), REFIT_POLICIES),
    policySteps: r.number('refit_policy_steps'),
  };
  for (const p of refitProblems({ refit_policy: cfg.policy, refit_reward_model: cfg.rewardModel })) throw new Error(`${p.field}: ${p.message}`);
  if (!(Number.isInteger(cfg.rewardEpochs) && cfg.rewardEpochs >= 1)) throw new Error(`hyperparameters.refit_reward_epochs: expected an integer >= 1, got ${cfg.rewardEpochs}`);
  if (!(Number.isInteger(cfg.policySteps) && cfg.policySteps >= 1)) throw new Error(`hyperparameters.refit_policy_steps: expected an integer >= 1, got ${cfg.policySteps}`);
  return cfg;
}

/** How the policy samples in the online refit (the human-dpo card's sampling fields). */
export interface RefitSampling {
  readonly maxNewTokens: number;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  /** GRPO's group size k. */
  readonly samplesPerPrompt: number;
  /** Prompts per rollout. */
  readonly promptsPerRound: number;
}

/**
 * `weights`, the starting policy, are also the reward model's body; `optim` (the run's, at a constant rate) trains
 * the reward model and the online trainer.
 */
export interface HumanRefitOptions extends OnlinePolicyOptions {
  readonly refit: RefitConfig;
  readonly sampling: RefitSampling;
  readonly stopStrings?: readonly string[];
  /** Pairs per reward-model micro-batch. */
  readonly microBatchPairs: number;
}

/** A decisive label of the person, in the policy's token ids: the preferred completion first. */
export interface RefitPair {
  readonly id: string;
  readonly promptIds: readonly number[];
  readonly chosen: readonly number[];
  readonly rejected: readonly number[];
}

/** What a checkpoint keeps of the refit (module comment). */
export interface RefitState {
  readonly rewardModel: ReadonlyMap<string, Float32Array>;
  readonly policyRollouts: number;
}

/** The online trainer the policy refit drives: GRPO's or PPO's. */
type PolicyTrainer = OnlineTrainer | PpoTrainer;

const SCORER_ROWS = 16;
/** The refit reward model's name as a reward function (metrics `refit/rewards/reward_model/mean`). */
export const REFIT_REWARD_NAME = 'reward_model';

export class HumanRefit {
  private policy: PolicyTrainer | undefined;
  private policyRollouts = 0;

  private constructor(
    private readonly o: HumanRefitOptions,
    private readonly rm: TransformerModel,
    private readonly rmInitial: ReadonlyMap<string, Float32Array>,
    private readonly rmTrainer: Trainer,
    private readonly scorer: SequenceScorer,
    private readonly seqLen: number,
    private readonly promptIds: ReadonlyMap<string, readonly number[]>,
  ) {}

  static async create(o: HumanRefitOptions): Promise<HumanRefit> {
    const promptIds = new Map(o.prompts.map((p) => [p.id, encodeRolloutPrompt(o.tokenizer, p, o.maxPromptLength)] as const));
    const seqLen = Math.max(...[...promptIds.values()].map((p) => p.length)) + o.sampling.maxNewTokens;
    const rm = valueModelOf(o.model);
    const initial = initialValueWeights(rm, o.weights, new Rng(o.seed).derive('refit-reward-model').int(0x7fffffff));
    const padId = o.tokenizer.padTokenId ?? 0;
    const B = o.microBatchPairs;
    // Only the plan's forward, parameters and batch fields are used here; each refit collates with a plan of its pairs.
    const plan = createRewardPlan({ model: rm, weights: initial, data: { train: [], eval: [] }, batchSize: B, seqLen, padId }, { centerRewardsCoefficient: 0, useMargin: false });
    const runner = runnerOptions(o);
    const trainer = await Trainer.create({ forward: plan.forward, params: plan.params, batch: plan.batch, optim: o.optim, stepsPerRun: 1, microBatches: 1 }, { initialParams: plan.initialParams, ...runner });
    let scorer: SequenceScorer;
    try {
      scorer = await SequenceScorer.create(rm, 'reward', { batch: SCORER_ROWS, seqLen, padId }, runner);
      await scorer.setWeights(initial);
    } catch (e) {
      await trainer.dispose();
      throw e;
    }
    return new HumanRefit(o, rm, initial, trainer, scorer, seqLen, promptIds);
  }

  /** The reward model's weights now (every parameter, frozen ones as they started). */
  rewardModelWeights(): Promise<Map<string, Float32Array>> {
    return trainedWeights(this.rmInitial, this.rmTrainer);
  }

  /** The reward model's reward of each (prompt id, completion ids) under its current weights. */
  async rewards(items: readonly { readonly promptId: string; readonly completion: readonly number[] }[]): Promise<number[]> {
    return [...(await this.scorer.score(items.map((x) => promptCompletionRow(this.promptIdsOf(x.promptId), x.completion))))];
  }

  private promptIdsOf(id: string): readonly number[] {
    const ids = this.promptIds.get(id);
    if (!ids) throw new Error(`refit: no prompt "${id}" in the run's prompts`);
    return ids;
  }

  /** Share of the pairs whose chosen completion the reward model now scores higher (TRL's accuracy, exact). */
  async accuracy(pairs: readonly RefitPair[]): Promise<number> {
    if (!pairs.length) return NaN;
    const rows = (pick: 'chosen' | 'rejected') => pairs.map((p) => promptCompletionRow(p.promptIds, p[pick]));
    return accuracy(await this.scorer.score(rows('chosen')), await this.scorer.score(rows('rejected')));
  }

  /**
   * The round's refit (module comment) on `pairs`, every decisive label of the person so far, starting the policy
   * refit from `policy` (the policy's weights after the DPO update). Returns the metrics and, with a policy refit,
   * the policy's new weights and each of its rollouts' metrics, in order.
   */
  async run(round: number, pairs: readonly RefitPair[], policy: ReadonlyMap<string, Float32Array>): Promise<{ metrics: Record<string, number>; policyWeights?: Map<string, Float32Array>; rollouts?: readonly Record<string, number>[] }> {
    const metrics: Record<string, number> = { 'reward_model/pairs': pairs.length, 'reward_model/accuracy_before': await this.accuracy(pairs) };
    if (!pairs.length) return { metrics };
    Object.assign(metrics, prefixed('reward_model/', averaged(await this.fitRewardModel(round, pairs))));
    await this.scorer.setWeights(await this.rewardModelWeights());
    metrics['reward_model/accuracy_after'] = await this.accuracy(pairs);
    if (this.o.refit.policy === 'none') return { metrics };
    // Made at the first refit, so PPO's value model starts from the fitted reward model (TRL starts it from the RM).
    const trainer = (this.policy ??= await this.createPolicyTrainer());
    await trainer.setPolicyWeights(policy);
    const steps: Record<string, number>[] = [];
    for (let s = 0; s < this.o.refit.policySteps; s++) steps.push({ ...(await trainer.step()).metrics });
    this.policyRollouts = trainer.stepsDone;
    // Counters and the rate as of the last rollout; the rest averaged over the rollouts.
    const last = steps[steps.length - 1] ?? {};
    const counters = Object.fromEntries(['num_tokens', 'episode', 'learning_rate', 'lr'].filter((k) => k in last).map((k) => [k, last[k] as number]));
    Object.assign(metrics, prefixed('refit/', { ...meanOf(steps), ...counters }));
    return { metrics, policyWeights: await trainer.currentWeights(), rollouts: steps };
  }

  /** `refit_reward_epochs` passes over the pairs in micro-batches of B, in a seeded order; the last one wraps. */
  private async fitRewardModel(round: number, pairs: readonly RefitPair[]): Promise<StepResult[]> {
    const B = this.o.microBatchPairs;
    const train: EncodedPair[] = pairs.map((p) => ({ id: p.id, prompt: [...p.promptIds], chosen: [...p.chosen], rejected: [...p.rejected] }));
    const plan = createRewardPlan({ model: this.rm, weights: this.rmInitial, data: { train, eval: [] }, batchSize: B, seqLen: this.seqLen, padId: this.o.tokenizer.padTokenId ?? 0 }, { centerRewardsCoefficient: 0, useMargin: false });
    const out: StepResult[] = [];
    for (let e = 0; e < this.o.refit.rewardEpochs; e++) {
      const order = new Rng(this.o.seed).derive(`refit-round-${round}-epoch-${e}`).permutation(pairs.length);
      for (let start = 0; start < order.length; start += B) {
        const idx = Array.from({ length: B }, (_, i) => order[(start + i) % order.length] as number);
        // One optimizer step of one micro-batch: the trainer's [K = 1, A = 1, ...field] layout.
        const fields = Object.entries(plan.collate('train', idx).fields).map(([k, t]) => [k, { ...t, shape: [1, 1, ...t.shape] }] as const);
        out.push(await this.rmTrainer.run(Object.fromEntries(fields)));
      }
    }
    return out;
  }

  /** GRPO's or PPO's online trainer with the refit reward model as its one reward function. */
  private async createPolicyTrainer(): Promise<PolicyTrainer> {
    const { o } = this;
    const s = o.sampling;
    const fn: RewardFunction = { name: REFIT_REWARD_NAME, score: (samples: readonly RewardSample[]) => this.rewards(samples.map((x) => ({ promptId: x.prompt.id, completion: x.completionIds }))) };
    const common = { model: o.model, weights: o.weights, tokenizer: o.tokenizer, prompts: o.prompts, rewards: [{ fn, weight: 1 }], optim: o.optim, seed: new Rng(o.seed).derive('refit-policy').int(0x7fffffff), ...(o.maxPromptLength !== undefined ? { maxPromptLength: o.maxPromptLength } : {}), ...runnerOptions(o) };
    let t: PolicyTrainer;
    if (o.refit.policy === 'ppo') {
      const cfg = ppoConfig({ response_length: s.maxNewTokens, temperature: s.temperature });
      t = await PpoTrainer.create({ ...common, cfg, valueInit: await this.rewardModelWeights(), stopStrings: o.stopStrings ?? [], promptsPerStep: Math.max(2, s.promptsPerRound) });
    } else {
      const cfg = grpoConfig({ num_generations: s.samplesPerPrompt, max_completion_length: s.maxNewTokens, temperature: s.temperature, top_k: s.topK, top_p: s.topP });
      t = await OnlineTrainer.create({ ...common, method: grpoMethod(cfg, o.stopStrings ?? []), promptsPerStep: s.promptsPerRound });
    }
    t.skipRollouts(this.policyRollouts);
    return t;
  }

  async state(): Promise<RefitState> {
    return { rewardModel: await this.rewardModelWeights(), policyRollouts: this.policyRollouts };
  }

  /** Takes a checkpoint's refit state: the reward model's weights, and where the policy refit's prompts go on. */
  async restore(s: RefitState): Promise<void> {
    const w = new Map(this.rmInitial);
    for (const p of this.rm.params) {
      const v = s.rewardModel.get(p.name);
      if (v && v.length !== w.get(p.name)?.length) throw new Error(`refit state: "${p.name}" has ${v.length} values, the reward model ${w.get(p.name)?.length}`);
      if (v) w.set(p.name, v);
      else if (p.trainable) throw new Error(`refit state: the reward model's "${p.name}" is missing`);
    }
    await this.rmTrainer.setParams(new Map(this.rm.params.filter((p) => p.trainable).map((p) => [p.name, w.get(p.name) as Float32Array])));
    await this.scorer.setWeights(w);
    this.policyRollouts = s.policyRollouts;
  }

  async dispose(): Promise<void> {
    await this.rmTrainer.dispose();
    await this.scorer.dispose();
    await this.policy?.dispose();
  }
}

/** The refit state's file in a checkpoint folder. */
export const REFIT_STATE_FILE = 'refit_reward_model.safetensors';

/** Writes the refit state into a checkpoint folder (the reward model's trained tensors; the rollouts as metadata). */
export function writeRefitState(dir: string, s: RefitState): void {
  const tensors = new Map([...s.rewardModel].map(([k, v]) => [k, { dtype: 'F32' as const, shape: [v.length], data: v }]));
  writeSafetensors(path.join(dir, REFIT_STATE_FILE), tensors, { policy_rollouts: String(s.policyRollouts) });
}

/** The refit state of a checkpoint folder, or undefined when it has none. */
export function readRefitState(dir: string): RefitState | undefined {
  const file = path.join(dir, REFIT_STATE_FILE);
  if (!fs.existsSync(file)) return undefined;
  const f = readSafetensors(file);
  const rollouts = Number(f.metadata.policy_rollouts ?? '0');
  if (!(Number.isInteger(rollouts) && rollouts >= 0)) throw new Error(`${file}: metadata policy_rollouts: expected an integer >= 0, got ${JSON.stringify(f.metadata.policy_rollouts)}`);
  const rewardModel = new Map<string, Float32Array>();
  for (const [k, t] of f.tensors) {
    if (!(t.data instanceof Float32Array)) throw new Error(`${file}: tensor "${k}" is ${t.dtype}, expected F32`);
    rewardModel.set(k, t.data);
  }
  return { rewardModel, policyRollouts: rollouts };
}

function prefixed(prefix: string, m: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [prefix + k, v]));
}

/** The mean of each metric over the dicts that have it finite. */
function meanOf(ms: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const sums: Record<string, number[]> = {};
  for (const m of ms) for (const [k, v] of Object.entries(m)) if (Number.isFinite(v)) (sums[k] ??= []).push(v);
  return Object.fromEntries(Object.entries(sums).map(([k, vs]) => [k, vs.reduce((a, b) => a + b, 0) / vs.length]));
}

/** Loss and the graph's metrics of each step, averaged. */
function averaged(steps: readonly StepResult[]): Record<string, number> {
  return meanOf(steps.map((u) => ({ loss: u.losses[0] as number, ...graphMetrics(u) })));
}
