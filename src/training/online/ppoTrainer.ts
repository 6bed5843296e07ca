/**
 * PPO's online loop (ppo.ts has the config and the update graph), headless: each `step()` is
 *
 *   prompts (seeded order) -> one completion per prompt from the current policy (rollout.ts)
 *   -> log pi_ref of the sampled tokens (tokenScorer.ts; with LoRA the reference is the base model)
 *   -> scores: the weighted reward functions (rewards/rewardFunction.ts), less missing_eos_penalty
 *   -> V_old from the value model (valueModel.ts) -> per-token rewards, GAE, whitening (ppoRollout.ts)
 *   -> num_ppo_epochs x num_mini_batches optimizer steps of the joint policy + value update
 *   -> the KL controller sees the rollout's KL
 *
 * and returns TRL's PPO metrics. Prompts, sampling seeds and mini-batch shuffles are functions of (seed, rollout),
 * and the KL coefficient is part of the state, so a run restored to a rollout continues exactly.
 */
import { runnerOptions } from '../../engine/runtime/devices';
import type { TransformerModel } from '../../engine/models/transformer';
import type { Weights } from '../../engine/models/params';
import { Rng } from '../../engine/rng';
import { Trainer, type StepResult } from '../../engine/step/trainer';
import { ExampleOrder } from '../batching';
import { referenceModel } from '../plan';
import { onlineSamples, type OnlineSample, type OnlineStepResult } from './onlineTrainer';
import { collatePpo, KlController, ppoBatchFields, ppoForward, type PpoConfig, type PpoRow } from './ppo';
import { gae, maskedWhiten, ppoRewards } from './ppoRollout';
import type { UpdateShape } from './policyUpdate';
import { checkRewardInputs, computeRewards, rewardMetrics, type RewardTable } from './rewards/rewardFunction';
import { completionMetrics, encodeRolloutPrompt, PolicySampler, rolloutRewardSamples, rolloutRows, rolloutTokens, samplerModel, samplerWeights, type Rollout, type RolloutPrompt } from './rollout';
import { updateMetrics, type OnlineRunTrainer, type OnlineTrainerState, type RewardedPolicyOptions } from './runTrainer';
import { TokenLogprobScorer } from './tokenScorer';
import { initialValueWeights, prefixedValueParams, VALUE_PREFIX, valueModelOf, ValueScorer } from './valueModel';

/** `weights` also start the value model's body (unless `valueInit`). */
export interface PpoTrainerOptions extends RewardedPolicyOptions {
  readonly cfg: PpoConfig;
  /** A reward model of the policy's architecture to start the value model from (default: the policy, a fresh head). */
  readonly valueInit?: ReadonlyMap<string, Float32Array>;
  readonly stopStrings?: readonly string[];
  /** Completions (= prompts) per rollout; num_mini_batches must divide it. */
  readonly promptsPerStep: number;
  /** Completions per micro-batch (default: a whole mini-batch); must divide the mini-batch. */
  readonly microBatchRows?: number;
  readonly generationBatchRows?: number;
}

interface Models {
  readonly value: TransformerModel;
  readonly genModel: TransformerModel;
  readonly shape: UpdateShape;
  readonly promptIds: number[][];
  /** Every parameter of the joint graph: the policy's names and `value.` ones. */
  readonly initial: Map<string, Float32Array>;
}

/** Encodes the prompts, sizes the update (T = longest prompt + response_length) and builds the value model. */
function models(o: PpoTrainerOptions): Models {
  const N = o.promptsPerStep;
  if (!(Number.isInteger(N) && N >= 2)) throw new Error(`promptsPerStep must be an integer >= 2 (advantages are whitened over the rollout), got ${N}`);
  if (!o.prompts.length) throw new Error('online training needs at least one prompt');
  if (N % o.cfg.numMiniBatches !== 0) throw new Error(`hyperparameters.num_mini_batches ${o.cfg.numMiniBatches} must divide the ${N} completions of a rollout`);
  const mini = N / o.cfg.numMiniBatches;
  const rows = o.microBatchRows ?? mini;
  if (!(Number.isInteger(rows) && rows >= 1 && mini % rows === 0)) throw new Error(`microBatchRows ${rows} must divide the mini-batch of ${mini} completions`);
  const promptIds = o.prompts.map((p) => encodeRolloutPrompt(o.tokenizer, p, o.maxPromptLength));
  const longest = Math.max(...promptIds.map((p) => p.length));
  const seqLen = longest + o.cfg.responseLength;
  if (seqLen > o.model.maxLength) throw new Error(`the longest prompt (${longest} tokens) + response_length (${o.cfg.responseLength}) = ${seqLen} exceeds the model's ${o.model.maxLength} positions; lower max_prompt_length or response_length`);
  const value = valueModelOf(o.model);
  const initial = new Map(o.weights);
  for (const [k, v] of initialValueWeights(value, o.weights, o.seed, o.valueInit)) initial.set(VALUE_PREFIX + k, v);
  return { value, genModel: samplerModel(o.model), shape: { rows, seqLen, microBatches: mini / rows }, promptIds, initial };
}

/** The rollout's per-token arrays, rectangular [N][Tmax] with the mask of valid completions' tokens. */
interface RolloutMats {
  readonly logp: number[][];
  readonly ref: number[][];
  readonly values: number[][];
  readonly mask: number[][];
}

function rectangular(rollout: Rollout, ref: readonly (readonly number[])[], values: readonly (readonly number[])[], valid: readonly boolean[]): RolloutMats {
  const T = Math.max(...rollout.completions.map((c) => c.ids.length));
  const pad = (xs: readonly number[]): number[] => Array.from({ length: T }, (_, t) => xs[t] ?? 0);
  return {
    logp: rollout.completions.map((c) => pad(c.logprobs)),
    ref: ref.map(pad),
    values: values.map(pad),
    mask: rollout.completions.map((c, i) => Array.from({ length: T }, (_, t) => (valid[i] && t < c.ids.length ? 1 : 0))),
  };
}

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
const rowSum = (m: readonly (readonly number[])[], mask: readonly (readonly number[])[], i: number): number => (m[i] as number[]).reduce((s, x, t) => s + x * ((mask[i] as number[])[t] as number), 0);

export class PpoTrainer implements OnlineRunTrainer {
  private rollouts = 0;
  private tokensSeen = 0;
  private readonly kl: KlController;
  private readonly eosIds: Set<number>;

  private constructor(
    private readonly o: PpoTrainerOptions,
    private readonly m: Models,
    private readonly trainer: Trainer,
    private readonly sampler: PolicySampler,
    private readonly ref: TokenLogprobScorer,
    private readonly values: ValueScorer,
    private readonly order: ExampleOrder,
  ) {
    this.kl = new KlController(o.cfg);
    this.eosIds = new Set([o.tokenizer.eosTokenId, o.model.config.eosTokenId].flat().filter((x): x is number => typeof x === 'number'));
  }

  /** Checks the data against the reward functions, compiles the joint update, loads the reference and value scorers. */
  static async create(o: PpoTrainerOptions): Promise<PpoTrainer> {
    checkRewardInputs(o.prompts, o.rewards);
    const m = models(o);
    const runner = runnerOptions(o);
    const dist = { temperature: o.cfg.temperature, vocabLimit: o.tokenizer.vocabSize };
    const trainer = await Trainer.create(
      { forward: ppoForward(o.model, m.value, o.cfg.loss, dist), params: [...o.model.params, ...prefixedValueParams(m.value)], batch: ppoBatchFields(m.shape), optim: o.optim, stepsPerRun: 1, microBatches: m.shape.microBatches },
      { initialParams: m.initial, ...runner },
    );
    const disposers: (() => Promise<void>)[] = [() => trainer.dispose()];
    try {
      const scoreShape = { rows: m.shape.rows, seqLen: m.shape.seqLen, padId: o.tokenizer.padTokenId ?? 0 };
      const ref = await TokenLogprobScorer.create(referenceModel(o.model), o.weights, { ...scoreShape, ...dist }, runner);
      disposers.push(() => ref.dispose());
      const values = await ValueScorer.create(m.value, scoreShape, runner);
      const sampling = { numGenerations: 1, temperature: o.cfg.temperature, maxCompletionLength: o.cfg.responseLength, stopStrings: o.stopStrings ?? [] };
      const sampler = new PolicySampler(m.genModel, o.tokenizer, sampling, runner, o.generationBatchRows);
      return new PpoTrainer(o, m, trainer, sampler, ref, values, new ExampleOrder(o.prompts.length, o.seed));
    } catch (e) {
      for (const d of disposers.reverse()) await d();
      throw e;
    }
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

  /** The current KL coefficient (fixed, or the adaptive controller's). */
  get klCoef(): number {
    return this.kl.value;
  }

  /** Every parameter of the joint graph now (policy names and `value.` ones). */
  private async jointWeights(): Promise<Map<string, Float32Array>> {
    const w = new Map(this.m.initial);
    for (const [k, v] of await this.trainer.getParams()) w.set(k, v.data);
    return w;
  }

  async currentWeights(): Promise<Map<string, Float32Array>> {
    const joint = await this.jointWeights();
    return new Map(this.o.model.params.map((p) => [p.name, joint.get(p.name) as Float32Array]));
  }

  /** The value model's weights now (unprefixed names). */
  async valueWeights(): Promise<Map<string, Float32Array>> {
    const joint = await this.jointWeights();
    return new Map(this.m.value.params.map((p) => [p.name, joint.get(VALUE_PREFIX + p.name) as Float32Array]));
  }

  /** Replaces the policy's weights, the value model's kept (OnlineTrainer.setPolicyWeights says why). */
  async setPolicyWeights(weights: ReadonlyMap<string, Float32Array>): Promise<void> {
    const joint = await this.jointWeights();
    for (const p of this.o.model.params) {
      const w = weights.get(p.name);
      if (!w) throw new Error(`PPO: the policy's "${p.name}" is missing`);
      joint.set(p.name, w);
    }
    await this.trainer.setParams(joint);
  }

  /** Goes on as after `n` rollouts (OnlineTrainer.skipRollouts). */
  skipRollouts(n: number): void {
    this.rollouts = n;
  }

  private async generationWeights(): Promise<Weights> {
    return samplerWeights(this.o.model, await this.currentWeights());
  }

  /** One rollout and its updates (module comment). */
  async step(): Promise<OnlineStepResult> {
    const t0 = Date.now();
    const { o, m } = this;
    const N = o.promptsPerStep;
    const idx = this.order.slice(this.rollouts * N, N);
    const rng = new Rng(o.seed).derive(`rollout-${this.rollouts}`);
    const rollout = await this.sampler.sample(await this.generationWeights(), idx.map((i) => o.prompts[i] as RolloutPrompt), idx.map((i) => m.promptIds[i] as number[]), rng.int(0x7fffffff));
    const scored = rolloutRows(rollout);
    const refLogps = await this.ref.score(scored);
    await this.values.setWeights(await this.valueWeights());
    const oldValues = await this.values.score(scored);
    const table = await computeRewards(rolloutRewardSamples(rollout), o.rewards, o.rewardOptions);
    const mats = rectangular(rollout, refLogps, oldValues, table.valid);
    const adv = this.advantages(rollout, table, mats);
    const rows = rollout.completions.map((c, i): PpoRow => {
      const n = c.ids.length;
      return { promptIds: scored[i]?.promptIds as number[], completionIds: c.ids, oldLogprobs: c.logprobs, advantages: (adv.advantages[i] as number[]).slice(0, n), oldValues: (oldValues[i] as number[]).slice(0, n), returns: (adv.returns[i] as number[]).slice(0, n), active: table.valid[i] as boolean };
    });
    const updates = await this.update(rows, rng);
    const validCount = table.valid.filter(Boolean).length;
    this.kl.update(adv.metrics['objective/kl'] as number, validCount);
    this.rollouts += 1;
    this.tokensSeen += rolloutTokens(rollout);
    const update = updateMetrics(updates);
    const metrics: Record<string, number> = {
      ...rewardMetrics(table, o.rewards),
      ...completionMetrics(rollout.completions),
      ...adv.metrics,
      ...update,
      // TRL PPO's name of the rate
      lr: update.learning_rate as number,
      'val/num_eos_tokens': rollout.completions.reduce((s, c) => s + c.ids.filter((t) => this.eosIds.has(t)).length, 0),
      'objective/kl_coef': this.kl.value,
      episode: this.rollouts * N,
      num_tokens: this.tokensSeen,
      step_time: (Date.now() - t0) / 1000,
    };
    return { step: this.rollouts, metrics, samples: this.samples(rollout, table, adv.advantages), problems: table.problems };
  }

  /** Per-token rewards (KL penalty at this rollout's kl_coef + score), GAE, whitening; TRL's `objective/*` metrics. */
  private advantages(rollout: Rollout, table: RewardTable, mats: RolloutMats): { advantages: number[][]; returns: number[][]; metrics: Record<string, number> } {
    const { cfg } = this.o;
    const valid = table.valid;
    const scores = table.total.map((s, i) => (valid[i] ? s : 0));
    const missingEos = rollout.completions.map((c) => !c.terminated);
    const r = ppoRewards({ scores, logp: mats.logp, refLogp: mats.ref, mask: mats.mask, missingEos }, { klCoef: this.kl.value, estimator: cfg.klEstimator, missingEosPenalty: cfg.missingEosPenalty });
    const rewards = cfg.whitenRewards ? maskedWhiten(r.rewards, mats.mask, false) : r.rewards;
    const g = gae(rewards, mats.values, mats.mask, cfg.gamma, cfg.lam, true);
    const on = valid.map((v, i) => (v ? i : -1)).filter((i) => i >= 0);
    const negLogp = mats.logp.map((row) => row.map((x) => -x));
    const kl = mean(on.map((i) => rowSum(r.kl, mats.mask, i)));
    const nonScore = mean(on.map((i) => rowSum(r.nonScore, mats.mask, i)));
    const score = mean(on.map((i) => r.scores[i] as number));
    return {
      advantages: g.advantages,
      returns: g.returns,
      metrics: { 'objective/kl': kl, 'objective/entropy': mean(on.map((i) => rowSum(negLogp, mats.mask, i))), 'objective/non_score_reward': nonScore, 'objective/scores': score, 'objective/rlhf_reward': nonScore + score },
    };
  }

  /** num_ppo_epochs passes, each over num_mini_batches mini-batches of a fresh seeded permutation. */
  private async update(rows: readonly PpoRow[], rng: Rng): Promise<StepResult[]> {
    const { cfg } = this.o;
    const mini = rows.length / cfg.numMiniBatches;
    const pad = this.o.tokenizer.padTokenId ?? 0;
    const out: StepResult[] = [];
    for (let e = 0; e < cfg.numPpoEpochs; e++) {
      const perm = rng.derive(`ppo-epoch-${e}`).permutation(rows.length);
      for (let b = 0; b < cfg.numMiniBatches; b++) out.push(await this.trainer.run(collatePpo(perm.slice(b * mini, b * mini + mini).map((i) => rows[i] as PpoRow), this.m.shape, pad)));
    }
    return out;
  }

  /** The samples tab's advantage of a completion is that of its first token. */
  private samples(rollout: Rollout, table: RewardTable, adv: readonly (readonly number[])[]): OnlineSample[] {
    return onlineSamples(rollout, this.o.rewards, table.total, table.perFunc, (i) => adv[i]?.[0] ?? 0);
  }

  /** Parameters (policy and value), optimizer state, rollouts and the KL controller's coefficient. */
  async state(): Promise<OnlineTrainerState> {
    return { train: await this.trainer.state(), rollouts: this.rollouts, tokensSeen: this.tokensSeen, extra: { kl_coef: this.kl.value } };
  }

  async restore(s: OnlineTrainerState): Promise<void> {
    const coef = s.extra?.kl_coef;
    if (coef === undefined) throw new Error('PPO state: the KL controller\'s kl_coef is missing');
    this.kl.restore({ klCoef: coef });
    await this.trainer.setState(s.train);
    this.rollouts = s.rollouts;
    this.tokensSeen = s.tokensSeen;
  }

  async dispose(): Promise<void> {
    await this.trainer.dispose();
    await this.ref.dispose();
    await this.values.dispose();
  }
}
