/**
 * The online DPO loop (./onlineDpo.ts), headless: each `step()` is
 *
 *   prompts (seeded order) -> rollout: 2 completions per prompt from the current policy (rollout.ts)
 *   -> l_ref of each completion under the frozen reference (tokenScorer.ts, temperature 1)
 *   -> scores: the weighted reward functions (rewards/rewardFunction.ts), minus missing_eos_penalty
 *   -> the verdict on each pair (higher score chosen; ties and skipped samples leave the pair out)
 *   -> one optimizer step of the compiled DPO update on the pairs
 *
 * and returns TRL's online-DPO metrics and the samples with their scores. The reference is the starting policy
 * (with LoRA: the base model without adapters), frozen. As in ./onlineTrainer.ts, step s draws prompts
 * [s P, s P + P) of the seeded order and samples with a seed derived from (seed, s), so a trainer restored to
 * step s continues exactly (`restore`).
 */
import { runnerOptions } from '../../engine/runtime/devices';
import type { Weights } from '../../engine/models/params';
import type { Trainer } from '../../engine/step/trainer';
import { ExampleOrder } from '../batching';
import { referenceModel } from '../plan';
import { collatePairs, createPairUpdate, judgePairs, onlineDpoSampling, type OnlineDpoConfig, type PairUpdateShape, type PairVerdict, type UpdatePair } from './onlineDpo';
import { onlineSamples, type OnlineSample, type OnlineStepResult } from './onlineTrainer';
import { graphMetrics, stepMetrics, trainedWeights, type OnlineRunTrainer, type OnlineTrainerState, type RewardedPolicyOptions } from './runTrainer';
import { checkRewardInputs, computeRewards, rewardMetrics } from './rewards/rewardFunction';
import { completionMetrics, encodeRolloutPrompt, PolicySampler, rolloutRewardSamples, rolloutRows, rolloutSeed, rolloutTokens, samplerModel, samplerWeights, type Rollout, type RolloutPrompt } from './rollout';
import { TokenLogprobScorer } from './tokenScorer';

export interface OnlineDpoTrainerOptions extends RewardedPolicyOptions {
  readonly config: OnlineDpoConfig;
  readonly stopStrings?: readonly string[];
  /** Prompts (pairs) per optimizer step. */
  readonly promptsPerStep: number;
  /** Pairs per micro-batch (default: all of a step's); must divide promptsPerStep. */
  readonly microBatchPairs?: number;
  /** Completions per generate call (default 64); the samples depend on it (each call has its own seed). */
  readonly generationBatchRows?: number;
}

/** Encodes the prompts and sizes the update: T = longest prompt + max_new_tokens. */
function setup(o: OnlineDpoTrainerOptions): { shape: PairUpdateShape; promptIds: number[][] } {
  const P = o.promptsPerStep;
  if (!(Number.isInteger(P) && P >= 1)) throw new Error(`promptsPerStep must be a positive integer, got ${P}`);
  if (!o.prompts.length) throw new Error('online DPO needs at least one prompt');
  const promptIds = o.prompts.map((p) => encodeRolloutPrompt(o.tokenizer, p, o.maxPromptLength));
  const longest = Math.max(...promptIds.map((p) => p.length));
  const seqLen = longest + o.config.maxNewTokens;
  if (seqLen > o.model.maxLength) throw new Error(`the longest prompt (${longest} tokens) + max_new_tokens (${o.config.maxNewTokens}) = ${seqLen} exceeds the model's ${o.model.maxLength} positions; lower max_prompt_length or max_new_tokens`);
  const pairs = o.microBatchPairs ?? P;
  if (!(Number.isInteger(pairs) && pairs >= 1 && P % pairs === 0)) throw new Error(`microBatchPairs ${pairs} must divide the ${P} pairs of a step`);
  return { shape: { pairs, seqLen, microBatches: P / pairs }, promptIds };
}

export class OnlineDpoTrainer implements OnlineRunTrainer {
  private rollouts = 0;
  private tokensSeen = 0;

  private constructor(
    private readonly o: OnlineDpoTrainerOptions,
    private readonly shape: PairUpdateShape,
    private readonly promptIds: readonly number[][],
    private readonly trainer: Trainer,
    private readonly sampler: PolicySampler,
    private readonly ref: TokenLogprobScorer,
    private readonly order: ExampleOrder,
  ) {}

  /** Checks the data against the reward functions (before anything heavy), compiles the update, loads the reference. */
  static async create(o: OnlineDpoTrainerOptions): Promise<OnlineDpoTrainer> {
    checkRewardInputs(o.prompts, o.rewards);
    const { shape, promptIds } = setup(o);
    const runner = runnerOptions(o);
    const trainer = await createPairUpdate(o, o.config, shape, runner);
    let ref: TokenLogprobScorer;
    try {
      ref = await TokenLogprobScorer.create(referenceModel(o.model), o.weights, { rows: 2 * shape.pairs, seqLen: shape.seqLen, padId: o.tokenizer.padTokenId ?? 0, temperature: 1, vocabLimit: o.tokenizer.vocabSize }, runner);
    } catch (e) {
      await trainer.dispose();
      throw e;
    }
    const sampler = new PolicySampler(samplerModel(o.model), o.tokenizer, onlineDpoSampling(o.config, o.stopStrings), runner, o.generationBatchRows);
    return new OnlineDpoTrainer(o, shape, promptIds, trainer, sampler, ref, new ExampleOrder(o.prompts.length, o.seed));
  }

  get device(): Trainer['device'] {
    return this.trainer.device;
  }

  get numTokens(): number {
    return this.tokensSeen;
  }

  get stepsDone(): number {
    return this.rollouts;
  }

  async currentWeights(): Promise<Map<string, Float32Array>> {
    return trainedWeights(this.o.weights, this.trainer);
  }

  /** Weights the generator runs (LoRA adapters merged into the base). */
  private async generationWeights(): Promise<Weights> {
    return samplerWeights(this.o.model, await this.currentWeights());
  }

  /** One rollout and its DPO step (see module comment). */
  async step(): Promise<OnlineStepResult> {
    const t0 = Date.now();
    const P = this.o.promptsPerStep;
    const idx = this.order.slice(this.rollouts * P, P);
    const rollout = await this.sampler.sample(await this.generationWeights(), idx.map((i) => this.o.prompts[i] as RolloutPrompt), idx.map((i) => this.promptIds[i] as number[]), rolloutSeed(this.o.seed, `rollout-${this.rollouts}`));
    const rows = rolloutRows(rollout);
    const refSums = (await this.ref.score(rows)).map((lp) => lp.reduce((s, x) => s + x, 0));
    const table = await computeRewards(rolloutRewardSamples(rollout), this.o.rewards, this.o.rewardOptions);
    const judged = judgePairs(table.total, table.valid, rollout.completions.map((c) => c.terminated), this.o.config.missingEosPenalty);
    const pairs = judged.verdicts.map((v): UpdatePair => ({ chosen: { ...(rows[v.chosen] as (typeof rows)[number]), refLogp: refSums[v.chosen] as number }, rejected: { ...(rows[v.rejected] as (typeof rows)[number]), refLogp: refSums[v.rejected] as number }, winner: v.winner }));
    const update = await this.trainer.run(collatePairs(pairs, this.shape, this.o.tokenizer.padTokenId ?? 0));
    this.rollouts += 1;
    this.tokensSeen += rolloutTokens(rollout);
    const { loss, grad_norm, learning_rate } = stepMetrics(update);
    const metrics: Record<string, number> = {
      ...rewardMetrics(table, this.o.rewards),
      ...completionMetrics(rollout.completions),
      ...this.objectiveMetrics(graphMetrics(update), judged.scores, judged.verdicts, rollout),
      loss,
      grad_norm,
      learning_rate,
      num_tokens: this.tokensSeen,
      step_time: (Date.now() - t0) / 1000,
    };
    return { step: this.rollouts, metrics, samples: this.samples(rollout, table.perFunc, judged.scores), problems: table.problems };
  }

  /**
   * TRL's online-DPO metrics: the graph's pair metrics (NaN when no pair had a winner) and objective/kl and
   * objective/entropy; objective/non_score_reward = -beta kl; objective/scores = mean score (missing-EOS penalty
   * in); objective/rlhf_reward = scores + non_score_reward; val/contain_eos_token = share of completions that
   * ended on their own; beta; and how many pairs tied (`pairs/ties`) and trained (`pairs/trained`).
   */
  private objectiveMetrics(graph: Record<string, number>, scores: readonly number[], verdicts: readonly PairVerdict[], rollout: Rollout): Record<string, number> {
    const trained = verdicts.filter((v) => v.winner).length;
    const pairKeys = ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected'];
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(graph)) out[k] = pairKeys.includes(k) && trained === 0 ? NaN : v;
    const scored = scores.filter((s) => !Number.isNaN(s));
    const meanScore = scored.length ? scored.reduce((a, b) => a + b, 0) / scored.length : NaN;
    const kl = graph['objective/kl'] as number;
    const beta = this.o.config.beta;
    out['objective/non_score_reward'] = -beta * kl;
    out['objective/scores'] = meanScore;
    out['objective/rlhf_reward'] = meanScore - beta * kl;
    out['val/contain_eos_token'] = rollout.completions.filter((c) => c.terminated).length / rollout.completions.length;
    out.beta = beta;
    out['pairs/ties'] = verdicts.filter((v) => v.tie).length;
    out['pairs/trained'] = trained;
    return out;
  }

  /** The rollout's completions with their scores; `advantage` has no meaning here and is NaN. */
  private samples(rollout: Rollout, perFunc: readonly number[][], scores: readonly number[]): OnlineSample[] {
    return onlineSamples(rollout, this.o.rewards, scores, perFunc, () => NaN);
  }

  async state(): Promise<OnlineTrainerState> {
    return { train: await this.trainer.state(), rollouts: this.rollouts, tokensSeen: this.tokensSeen };
  }

  async restore(s: OnlineTrainerState): Promise<void> {
    await this.trainer.setState(s.train);
    this.rollouts = s.rollouts;
    this.tokensSeen = s.tokensSeen;
  }

  async dispose(): Promise<void> {
    await this.trainer.dispose();
    await this.ref.dispose();
  }
}
