/**
 * The online training loop of GRPO and RLOO, headless: each `step()` is
 *
 *   prompts (seeded order) -> rollout: k completions per prompt from the current policy (rollout.ts)
 *   -> log pi_ref of the sampled tokens when the method has a reference (tokenScorer.ts)
 *   -> rewards: the weighted reward functions (rewards/rewardFunction.ts)
 *   -> advantages (the method) -> `numIterations` optimizer steps of the compiled update (policyUpdate.ts)
 *
 * and returns TRL's metrics and the samples with their rewards. The reference is the starting policy (with LoRA:
 * the base model without adapters), frozen. Step s draws prompts [s P, s P + P) of the seeded order and samples
 * with a seed derived from (seed, s), so a run restored to step s continues exactly (`restore`).
 */
import { runnerOptions } from '../../engine/runtime/devices';
import type { TransformerModel } from '../../engine/models/transformer';
import type { Weights } from '../../engine/models/params';
import { Trainer, type StepResult } from '../../engine/step/trainer';
import type { TrainState } from '../../engine/step/trainState';
import { ExampleOrder } from '../batching';
import { referenceModel } from '../plan';
import type { OnlineMethod } from './onlineMethod';
import { collateUpdate, updateBatchFields, updateForward, type UpdateRow, type UpdateShape } from './policyUpdate';
import { checkRewardInputs, computeRewards, rewardMetrics, type WeightedReward } from './rewards/rewardFunction';
import { completionMetrics, encodeRolloutPrompt, PolicySampler, rolloutRewardSamples, rolloutRows, rolloutSeed, rolloutTokens, samplerModel, samplerWeights, type Rollout, type RolloutPrompt } from './rollout';
import { TokenLogprobScorer } from './tokenScorer';
import { trainedWeights, updateMetrics, type RewardedPolicyOptions } from './runTrainer';

export interface OnlineTrainerOptions extends RewardedPolicyOptions {
  readonly method: OnlineMethod;
  /** Prompts per step; each is sampled k times. */
  readonly promptsPerStep: number;
  /** Completions per micro-batch (default: all of a step's); must divide promptsPerStep * k. */
  readonly microBatchRows?: number;
  /** Completions per generate call (default 64); the samples depend on it (each call has its own seed). */
  readonly generationBatchRows?: number;
}

/** One completion of a step, for the samples tab. */
export interface OnlineSample {
  readonly promptId: string;
  readonly completion: string;
  /** Combined reward (NaN when skipped). */
  readonly reward: number;
  /** Each function's score by name (NaN where it did not apply). */
  readonly rewards: Readonly<Record<string, number>>;
  readonly advantage: number;
  readonly terminated: boolean;
}

export interface OnlineStepResult {
  /** Rollouts done, this one included (1-based). */
  readonly step: number;
  /** TRL's metric names; loss-side metrics averaged over the rollout's `numIterations` updates. */
  readonly metrics: Readonly<Record<string, number>>;
  readonly samples: readonly OnlineSample[];
  /** Why samples were skipped (reward failures under onError 'skip'). */
  readonly problems: readonly string[];
}

/**
 * A rollout's completions for the samples tab: `reward[i]` the combined reward of completion i, `perFunc[i]` each
 * reward function's score of it (in `rewards`' order), `advantage(i)` its advantage.
 */
export function onlineSamples(rollout: Rollout, rewards: readonly WeightedReward[], reward: readonly number[], perFunc: readonly (readonly number[])[], advantage: (i: number) => number): OnlineSample[] {
  const names = rewards.map((r) => r.fn.name);
  return rollout.completions.map((c, i): OnlineSample => ({
    promptId: (rollout.prompts[c.promptIndex] as RolloutPrompt).id,
    completion: c.text,
    reward: reward[i] as number,
    rewards: Object.fromEntries(names.map((n, f) => [n, perFunc[i]?.[f] as number])),
    advantage: advantage(i),
    terminated: c.terminated,
  }));
}

interface Setup {
  readonly shape: UpdateShape;
  readonly promptIds: number[][];
  readonly genModel: TransformerModel;
}

/** Encodes the prompts and sizes the update: T = longest prompt + max completion length. */
function setup(o: OnlineTrainerOptions): Setup {
  const k = o.method.sampling.numGenerations;
  if (!(Number.isInteger(o.promptsPerStep) && o.promptsPerStep >= 1)) throw new Error(`promptsPerStep must be a positive integer, got ${o.promptsPerStep}`);
  if (!o.prompts.length) throw new Error('online training needs at least one prompt');
  const promptIds = o.prompts.map((p) => encodeRolloutPrompt(o.tokenizer, p, o.maxPromptLength));
  const longest = Math.max(...promptIds.map((p) => p.length));
  const seqLen = longest + o.method.sampling.maxCompletionLength;
  if (seqLen > o.model.maxLength) {
    throw new Error(`the longest prompt (${longest} tokens) + max_completion_length (${o.method.sampling.maxCompletionLength}) = ${seqLen} exceeds the model's ${o.model.maxLength} positions; lower max_prompt_length or max_completion_length`);
  }
  const N = o.promptsPerStep * k;
  const rows = o.microBatchRows ?? N;
  if (!(Number.isInteger(rows) && rows >= 1 && N % rows === 0)) throw new Error(`microBatchRows ${rows} must divide the ${N} completions of a step (promptsPerStep ${o.promptsPerStep} x k ${k})`);
  return { shape: { rows, seqLen, microBatches: N / rows }, promptIds, genModel: samplerModel(o.model) };
}

export class OnlineTrainer {
  private rollouts = 0;
  private tokensSeen = 0;

  private constructor(
    private readonly o: OnlineTrainerOptions,
    private readonly s: Setup,
    private readonly trainer: Trainer,
    private readonly sampler: PolicySampler,
    private readonly ref: TokenLogprobScorer | undefined,
    private readonly order: ExampleOrder,
  ) {}

  /** Checks the data against the reward functions (before anything heavy), compiles the update, loads the reference. */
  static async create(o: OnlineTrainerOptions): Promise<OnlineTrainer> {
    checkRewardInputs(o.prompts, o.rewards);
    const s = setup(o);
    const runner = runnerOptions(o);
    const m = o.method;
    const dist = { temperature: m.sampling.temperature, vocabLimit: o.tokenizer.vocabSize };
    const trainer = await Trainer.create(
      { forward: updateForward(o.model, m.loss, dist), params: o.model.params, batch: updateBatchFields(m.loss, s.shape), optim: o.optim, stepsPerRun: 1, microBatches: s.shape.microBatches },
      { initialParams: o.weights, ...runner },
    );
    let ref: TokenLogprobScorer | undefined;
    try {
      if (m.needsReference) {
        const padId = o.tokenizer.padTokenId ?? 0;
        ref = await TokenLogprobScorer.create(referenceModel(o.model), o.weights, { rows: s.shape.rows, seqLen: s.shape.seqLen, padId, ...dist }, runner);
      }
    } catch (e) {
      await trainer.dispose();
      throw e;
    }
    const sampler = new PolicySampler(s.genModel, o.tokenizer, m.sampling, runner, o.generationBatchRows);
    return new OnlineTrainer(o, s, trainer, sampler, ref, new ExampleOrder(o.prompts.length, o.seed));
  }

  /** The device the update runs on. */
  get device(): Trainer['device'] {
    return this.trainer.device;
  }

  /** Prompt + completion tokens of the rollouts so far (TRL's `num_tokens`). */
  get numTokens(): number {
    return this.tokensSeen;
  }

  /** Rollouts done so far. */
  get stepsDone(): number {
    return this.rollouts;
  }

  /** The current value of every parameter of the model (frozen ones as given). */
  async currentWeights(): Promise<Map<string, Float32Array>> {
    return trainedWeights(this.o.weights, this.trainer);
  }

  /**
   * Replaces the policy's weights (optimizer state and counters kept): for a loop that also trains the policy by
   * other means (a run with a person's refit, humanRefit.ts) and hands its weights over before each rollout.
   */
  async setPolicyWeights(weights: ReadonlyMap<string, Float32Array>): Promise<void> {
    await this.trainer.setParams(weights);
  }

  /** Goes on as after `n` rollouts (their prompts and sampling seeds are not drawn again): a resumed refit's trainer. */
  skipRollouts(n: number): void {
    this.rollouts = n;
  }

  /** Weights the generator runs (LoRA adapters merged into the base). */
  private async generationWeights(): Promise<Weights> {
    return samplerWeights(this.o.model, await this.currentWeights());
  }

  /** One rollout and its updates (see module comment). */
  async step(): Promise<OnlineStepResult> {
    const t0 = Date.now();
    const m = this.o.method;
    const P = this.o.promptsPerStep;
    const idx = this.order.slice(this.rollouts * P, P);
    const rollout = await this.sampler.sample(await this.generationWeights(), idx.map((i) => this.o.prompts[i] as RolloutPrompt), idx.map((i) => this.s.promptIds[i] as number[]), rolloutSeed(this.o.seed, `rollout-${this.rollouts}`));
    const refLogps = this.ref ? await this.ref.score(rolloutRows(rollout)) : undefined;
    const table = await computeRewards(rolloutRewardSamples(rollout), this.o.rewards, this.o.rewardOptions);
    const kl = refLogps ? klStats(rollout, refLogps) : undefined;
    const adv = m.advantages({ rewards: table.total, valid: table.valid, k: rollout.k, ...(kl ? { klSums: kl.sums } : {}) });
    const rows = rollout.completions.map(
      (c, i): UpdateRow => ({
        promptIds: rollout.promptIds[c.promptIndex] as number[],
        completionIds: c.ids,
        oldLogprobs: c.logprobs,
        ...(refLogps ? { refLogprobs: refLogps[i] as number[] } : {}),
        advantage: adv.advantages[i] as number,
        active: (table.valid[i] as boolean) && (c.terminated || !m.maskTruncatedCompletions),
      }),
    );
    const updates: StepResult[] = [];
    for (let it = 0; it < m.numIterations; it++) updates.push(await this.trainer.run(collateUpdate(rows, m.loss, this.s.shape, this.o.tokenizer.padTokenId ?? 0)));
    this.rollouts += 1;
    this.tokensSeen += rolloutTokens(rollout);
    const metrics: Record<string, number> = {
      ...rewardMetrics(table, this.o.rewards),
      ...adv.metrics,
      ...completionMetrics(rollout.completions),
      ...updateMetrics(updates),
      ...(kl && m.method === 'rloo' ? { kl: kl.meanPerToken } : {}),
      num_tokens: this.tokensSeen,
      step_time: (Date.now() - t0) / 1000,
    };
    const samples = onlineSamples(rollout, this.o.rewards, table.total, table.perFunc, (i) => adv.advantages[i] as number);
    return { step: this.rollouts, metrics, samples, problems: table.problems };
  }

  /** Parameters, optimizer state and counters, plus the rollouts done: what a checkpoint holds to resume exactly. */
  async state(): Promise<{ readonly train: TrainState; readonly rollouts: number; readonly tokensSeen: number }> {
    return { train: await this.trainer.state(), rollouts: this.rollouts, tokensSeen: this.tokensSeen };
  }

  async restore(s: { readonly train: TrainState; readonly rollouts: number; readonly tokensSeen: number }): Promise<void> {
    await this.trainer.setState(s.train);
    this.rollouts = s.rollouts;
    this.tokensSeen = s.tokensSeen;
  }

  async dispose(): Promise<void> {
    await this.trainer.dispose();
    await this.ref?.dispose();
  }
}

/** Per completion: sum over its tokens of k1 = log pi_old - log pi_ref; and the mean k1 per token (TRL's `kl`). */
function klStats(rollout: Rollout, refLogps: readonly (readonly number[])[]): { sums: number[]; meanPerToken: number } {
  let total = 0;
  let tokens = 0;
  const sums = rollout.completions.map((c, i) => {
    const ref = refLogps[i] as readonly number[];
    const s = c.logprobs.reduce((acc, lp, t) => acc + lp - (ref[t] as number), 0);
    total += s;
    tokens += c.logprobs.length;
    return s;
  });
  return { sums, meanPerToken: tokens ? total / tokens : 0 };
}
