/**
 * Iterative DPO with a person (the `human-dpo` card), the model side; the rounds, labels and waiting are the
 * session's (src/session/humanLoop.ts). Per round:
 *
 *   sample(round)   prompts [(round - 1) P, round P) of the seeded order, k completions each from the current
 *                   policy (seed derived from (seed, round), so a resumed run samples the same); each completion's
 *                   l_ref and l_theta (summed log-probs at temperature 1, tokenScorer.ts) and its implicit DPO
 *                   reward beta (l_theta - l_ref), plus the reward functions' scores when the run has them: the
 *                   signals of active selection (pairSelection.ts)
 *   judge(pairs)    the reward functions as the AI judge: the higher total score is preferred, equal is a tie
 *   update(pairs)   `updates_per_round` optimizer steps of the online DPO update (onlineDpo.ts: dpoLossGraph,
 *                   collatePairs) on the labeled pairs, each pair weighted (a person's label 1, the judge's less)
 *
 * The reference is the starting policy (with LoRA: the base without adapters), frozen.
 */
import { FEEDBACK_MODES, PAIR_SELECTIONS, TIMEOUT_ACTIONS, type FeedbackMode, type PairSelection, type TimeoutAction } from '../../protocol/humanLoop';
import { runnerOptions } from '../../engine/runtime/devices';
import type { StepResult, Trainer } from '../../engine/step/trainer';
import { ExampleOrder } from '../batching';
import type { Hyperparameters } from '../hyper';
import { referenceModel } from '../plan';
import { collatePairs, createPairUpdate, onlineDpoSampling, pairPolicyConfig, pairTokens, type PairPolicyConfig, type UpdatePair } from './onlineDpo';
import { oneOf, onlineHyperparameters } from './onlineMethod';
import { refitConfig, type RefitConfig } from './humanRefit';
import { trainedWeights, updateMetrics, type OnlineTrainerState, type RewardedPolicyOptions } from './runTrainer';
import { computeRewards, RewardError, type RewardSample } from './rewards/rewardFunction';
import { encodeRolloutPrompt, PolicySampler, rolloutRewardSamples, rolloutRows, rolloutSeed, samplerModel, samplerWeights, type RolloutPrompt } from './rollout';
import { TokenLogprobScorer } from './tokenScorer';

export interface HumanDpoConfig extends PairPolicyConfig {
  readonly rounds: number;
  readonly promptsPerRound: number;
  readonly samplesPerPrompt: number;
  readonly pairsPerRound: number;
  readonly updatesPerRound: number;
  readonly selection: PairSelection;
  readonly diversityWeight: number;
  readonly feedbackMode: FeedbackMode;
  /** The person's labels wanted per round (the card's 0 = every pair, resolved here to pairsPerRound). */
  readonly humanLabelsPerRound: number;
  readonly auditFraction: number;
  readonly aiLabelWeight: number;
  /** 0 = wait without limit. */
  readonly roundTimeoutSeconds: number;
  readonly onTimeout: TimeoutAction;
  readonly prefetch: boolean;
  /** The reward-model refit and the policy's training against it after each round's update (humanRefit.ts). */
  readonly refit: RefitConfig;
}

/** The card's hyperparameters (defaults filled), checked; a bad value throws naming `hyperparameters.<name>`. */
export function humanDpoConfig(h: Hyperparameters = {}): HumanDpoConfig {
  const r = onlineHyperparameters('human-dpo', h);
  const pairsPerRound = r.number('pairs_per_round');
  const budget = r.number('human_labels_per_round');
  const cfg: HumanDpoConfig = {
    ...pairPolicyConfig(r),
    rounds: r.number('rounds'),
    promptsPerRound: r.number('prompts_per_round'),
    samplesPerPrompt: r.number('samples_per_prompt'),
    pairsPerRound,
    updatesPerRound: r.number('updates_per_round'),
    selection: oneOf('selection', r.string('selection'), PAIR_SELECTIONS),
    diversityWeight: r.number('diversity_weight'),
    feedbackMode: oneOf('feedback_mode', r.string('feedback_mode'), FEEDBACK_MODES),
    humanLabelsPerRound: budget === 0 ? pairsPerRound : Math.min(budget, pairsPerRound),
    auditFraction: r.number('audit_fraction'),
    aiLabelWeight: r.number('ai_label_weight'),
    roundTimeoutSeconds: r.number('round_timeout_seconds'),
    onTimeout: oneOf('on_timeout', r.string('on_timeout'), TIMEOUT_ACTIONS),
    prefetch: r.boolean('prefetch_next_batch'),
    refit: refitConfig(r),
  };
  const candidates = (cfg.promptsPerRound * cfg.samplesPerPrompt * (cfg.samplesPerPrompt - 1)) / 2;
  if (cfg.pairsPerRound > candidates) throw new Error(`hyperparameters.pairs_per_round: ${cfg.pairsPerRound} is more than the ${candidates} pairs that prompts_per_round ${cfg.promptsPerRound} x samples_per_prompt ${cfg.samplesPerPrompt} give`);
  return cfg;
}

/** `rewards`: the run's reward functions, the AI judge and selection signals (may be empty). */
export interface HumanDpoTrainerOptions extends RewardedPolicyOptions {
  readonly config: HumanDpoConfig;
  readonly stopStrings?: readonly string[];
  /** Pairs per micro-batch; must divide pairsPerRound. */
  readonly microBatchPairs: number;
}

/** One completion sampled in a round. */
export interface RoundCompletion {
  /** Index into the round's prompts. */
  readonly promptIndex: number;
  readonly ids: readonly number[];
  readonly text: string;
  readonly terminated: boolean;
  readonly refLogp: number;
  readonly policyLogp: number;
  /** Selection signals: `implicit` and each reward function's score by name. */
  readonly signals: Readonly<Record<string, number>>;
}

export interface RoundSample {
  /** Set when the reward functions failed to score the completions: selection used the implicit reward alone. */
  readonly signalProblem?: string;
  readonly prompts: readonly RolloutPrompt[];
  readonly promptIds: readonly (readonly number[])[];
  readonly completions: readonly RoundCompletion[];
}

/** A pair as the update and the judge see it. */
export interface HumanDpoPair {
  readonly prompt: RolloutPrompt;
  readonly promptIds: readonly number[];
  readonly a: { readonly ids: readonly number[]; readonly text: string; readonly terminated: boolean; readonly refLogp: number };
  readonly b: { readonly ids: readonly number[]; readonly text: string; readonly terminated: boolean; readonly refLogp: number };
}

/** A labeled pair for the update: which side won, and its weight in the loss. */
export interface LabeledPair {
  readonly pair: HumanDpoPair;
  readonly preferred: 'a' | 'b';
  readonly weight: number;
}

/** The judge's verdict on a pair (see {@link HumanDpoTrainer.judge}). */
export type JudgeVerdict = 'a' | 'b' | 'tie' | 'skipped';

const SCORER_ROWS = 32;

export class HumanDpoTrainer {
  private steps = 0;
  private tokensSeen = 0;

  private constructor(
    private readonly o: HumanDpoTrainerOptions,
    private readonly shape: { readonly pairs: number; readonly seqLen: number; readonly microBatches: number },
    private readonly promptIds: readonly number[][],
    private readonly trainer: Trainer,
    private readonly sampler: PolicySampler,
    private readonly ref: TokenLogprobScorer,
    private readonly policy: TokenLogprobScorer,
    private readonly order: ExampleOrder,
  ) {}

  static async create(o: HumanDpoTrainerOptions): Promise<HumanDpoTrainer> {
    const cfg = o.config;
    if (!o.prompts.length) throw new Error('a run with a person needs at least one prompt');
    const B = o.microBatchPairs;
    if (!(Number.isInteger(B) && B >= 1 && cfg.pairsPerRound % B === 0)) throw new Error(`batchSize ${B} must divide hyperparameters.pairs_per_round (${cfg.pairsPerRound})`);
    const promptIds = o.prompts.map((p) => encodeRolloutPrompt(o.tokenizer, p, o.maxPromptLength));
    const seqLen = Math.max(...promptIds.map((p) => p.length)) + cfg.maxNewTokens;
    if (seqLen > o.model.maxLength) throw new Error(`the longest prompt + max_new_tokens (${cfg.maxNewTokens}) = ${seqLen} tokens exceeds the model's ${o.model.maxLength} positions; lower max_prompt_length or max_new_tokens`);
    const shape = { pairs: B, seqLen, microBatches: cfg.pairsPerRound / B };
    const runner = runnerOptions(o);
    const trainer = await createPairUpdate(o, cfg, shape, runner);
    const scorerShape = { rows: SCORER_ROWS, seqLen, padId: o.tokenizer.padTokenId ?? 0, temperature: 1, vocabLimit: o.tokenizer.vocabSize };
    const disposeAll = async (xs: { dispose(): Promise<void> }[]): Promise<void> => {
      for (const x of xs) await x.dispose();
    };
    let ref: TokenLogprobScorer | undefined;
    try {
      ref = await TokenLogprobScorer.create(referenceModel(o.model), o.weights, scorerShape, runner);
      const policy = await TokenLogprobScorer.create(o.model, o.weights, scorerShape, runner);
      const sampler = new PolicySampler(samplerModel(o.model), o.tokenizer, onlineDpoSampling(cfg, o.stopStrings, cfg.samplesPerPrompt), runner);
      return new HumanDpoTrainer(o, shape, promptIds, trainer, sampler, ref, policy, new ExampleOrder(o.prompts.length, o.seed));
    } catch (e) {
      await disposeAll([trainer, ...(ref ? [ref] : [])]);
      throw e;
    }
  }

  get device(): Trainer['device'] {
    return this.trainer.device;
  }

  /** Optimizer steps taken. */
  get stepsDone(): number {
    return this.steps;
  }

  get numTokens(): number {
    return this.tokensSeen;
  }

  async currentWeights(): Promise<Map<string, Float32Array>> {
    return trainedWeights(this.o.weights, this.trainer);
  }

  /** Replaces the policy's weights, optimizer state and counters kept (the refit's policy steps hand theirs back). */
  async setPolicyWeights(weights: ReadonlyMap<string, Float32Array>): Promise<void> {
    await this.trainer.setParams(weights);
  }

  /** Round `round`'s completions from the current policy, with their log-probs and signals (module comment). */
  async sample(round: number): Promise<RoundSample> {
    const cfg = this.o.config;
    const idx = this.order.slice((round - 1) * cfg.promptsPerRound, cfg.promptsPerRound);
    const prompts = idx.map((i) => this.o.prompts[i] as RolloutPrompt);
    const promptIds = idx.map((i) => this.promptIds[i] as number[]);
    const current = await this.currentWeights();
    const rollout = await this.sampler.sample(samplerWeights(this.o.model, current), prompts, promptIds, rolloutSeed(this.o.seed, `round-${round}`));
    const rows = rolloutRows(rollout);
    const sum = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0);
    const refs = (await this.ref.score(rows)).map(sum);
    await this.policy.setWeights(this.o.model, current);
    const pols = (await this.policy.score(rows)).map(sum);
    const fn = await this.rewardScores(rolloutRewardSamples(rollout));
    const completions = rollout.completions.map((c, i): RoundCompletion => {
      const refLogp = refs[i] as number;
      const policyLogp = pols[i] as number;
      return { promptIndex: c.promptIndex, ids: c.ids, text: c.text, terminated: c.terminated, refLogp, policyLogp, signals: { implicit: cfg.beta * (policyLogp - refLogp), ...(fn.scores[i] ?? {}) } };
    });
    return { prompts, promptIds, completions, ...(fn.problem ? { signalProblem: fn.problem } : {}) };
  }

  /**
   * Each reward function's score of each sample by name ({} per sample when the run has none). A failing function
   * (a judge that cannot be reached) leaves selection to the other signals: `problem` says why.
   */
  private async rewardScores(samples: readonly RewardSample[]): Promise<{ scores: Record<string, number>[]; problem?: string }> {
    if (!this.o.rewards.length) return { scores: samples.map(() => ({})) };
    let table: Awaited<ReturnType<typeof computeRewards>>;
    try {
      table = await computeRewards(samples, this.o.rewards, this.o.rewardOptions);
    } catch (e) {
      if (!(e instanceof RewardError)) throw e;
      return { scores: samples.map(() => ({})), problem: e.message };
    }
    return { scores: samples.map((_, i) => (table.valid[i] ? Object.fromEntries(this.o.rewards.map((r, f) => [r.fn.name, table.perFunc[i]?.[f] as number])) : {})) };
  }

  /**
   * The reward functions' verdict on each pair: 'a' or 'b' for the higher total score, 'tie' for equal scores,
   * 'skipped' when a side was skipped (onError "skip"). Throws RewardError when a function fails under "stop".
   */
  async judge(pairs: readonly HumanDpoPair[]): Promise<JudgeVerdict[]> {
    if (!this.o.rewards.length) throw new Error('the run has no reward functions to judge with');
    const samples = pairs.flatMap((p) => [p.a, p.b].map((s): RewardSample => ({ prompt: p.prompt, completion: s.text, completionIds: s.ids, terminated: s.terminated })));
    const t = await computeRewards(samples, this.o.rewards, this.o.rewardOptions);
    return pairs.map((_, i) => {
      const [sa, sb] = [t.total[2 * i] as number, t.total[2 * i + 1] as number];
      if (!t.valid[2 * i] || !t.valid[2 * i + 1]) return 'skipped';
      return sa === sb ? 'tie' : sa > sb ? 'a' : 'b';
    });
  }

  /** l_theta(a) - l_theta(b) of each pair under the current policy (summed log-probs, temperature 1). */
  async margins(pairs: readonly HumanDpoPair[]): Promise<number[]> {
    if (!pairs.length) return [];
    await this.policy.setWeights(this.o.model, await this.currentWeights());
    const rows = pairs.flatMap((p) => [p.a, p.b].map((s) => ({ promptIds: p.promptIds, completionIds: s.ids })));
    const l = (await this.policy.score(rows)).map((xs) => xs.reduce((s, x) => s + x, 0));
    return pairs.map((_, i) => (l[2 * i] as number) - (l[2 * i + 1] as number));
  }

  /**
   * `updates_per_round` optimizer steps on the labeled pairs. A step holds pairs_per_round pairs: all of them when
   * there are no more (the free slots are padding that enters no loss), else the next pairs_per_round in turn.
   * Returns the steps' metrics averaged (NaN-free), or undefined when no pair was labeled (no step is taken).
   */
  async update(labeled: readonly LabeledPair[]): Promise<Record<string, number> | undefined> {
    if (!labeled.length) return undefined;
    const P = this.o.config.pairsPerRound;
    const asUpdate = (l: LabeledPair): UpdatePair => {
      const [w, lo] = l.preferred === 'a' ? [l.pair.a, l.pair.b] : [l.pair.b, l.pair.a];
      return { chosen: { promptIds: l.pair.promptIds, completionIds: w.ids, refLogp: w.refLogp }, rejected: { promptIds: l.pair.promptIds, completionIds: lo.ids, refLogp: lo.refLogp }, winner: true, weight: l.weight };
    };
    const pad = asUpdate(labeled[0] as LabeledPair);
    const updates: StepResult[] = [];
    for (let u = 0; u < this.o.config.updatesPerRound; u++) {
      const slots: UpdatePair[] = [];
      for (let i = 0; i < P; i++) slots.push(labeled.length <= P ? (i < labeled.length ? asUpdate(labeled[i] as LabeledPair) : { ...pad, winner: false }) : asUpdate(labeled[(u * P + i) % labeled.length] as LabeledPair));
      updates.push(await this.trainer.run(collatePairs(slots, this.shape, this.o.tokenizer.padTokenId ?? 0)));
      this.steps += 1;
      this.tokensSeen += slots.filter((s) => s.winner).reduce((n, s) => n + pairTokens(s), 0);
    }
    return updateMetrics(updates, true);
  }

  async state(): Promise<OnlineTrainerState> {
    return { train: await this.trainer.state(), rollouts: this.steps, tokensSeen: this.tokensSeen };
  }

  async restore(s: OnlineTrainerState): Promise<void> {
    await this.trainer.setState(s.train);
    this.steps = s.train.step;
    this.tokensSeen = s.tokensSeen;
  }

  async dispose(): Promise<void> {
    await this.trainer.dispose();
    await this.ref.dispose();
    await this.policy.dispose();
  }
}
