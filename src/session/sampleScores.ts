/**
 * Scores of the dashboard's sample generations: each reply y (the policy's and the reference model's, greedy, for
 * the same prompt x) is scored with the method's own implicit reward (src/training/shared.ts `implicitReward`),
 * the quantity its trainer logs as `rewards/chosen` / `rewards/rejected`, so the table and the plots share one
 * scale. With l(y) = sum over reply tokens of log pi(y_t | x, y_<t) (one scorer graph, `sequenceLogps`):
 *
 *   DPO, KTO     r = beta * (l_theta(y) - l_ref(y))     implicit reward
 *   SimPO, ORPO  r = beta * l_theta(y) / |y|            length-normalized reward
 *   CPO          r = beta * l_theta(y)                  summed reward
 *   SFT          r = l_theta(y) / |y|                   mean token log-prob under the policy (no implicit reward)
 *
 * |y| counts the reply's tokens including a generated EOS. Reward-model runs generate no samples (a score-head
 * model has no LM head to generate with), so they have no rule here.
 */
import type { HyperparameterValue, MethodId } from '../core/methods';
import type { SampleScoreKind } from '../protocol/session';
import type { TransformerModel } from '../engine/models/transformer';
import { promptCompletionRow, type Row } from '../training/batching';
import type { RunnerOptions } from '../engine/runtime/devices';
import { SequenceScorer } from '../training/evaluate';
import { hasImplicitReward, implicitReward, implicitRewardRule, type ImplicitRewardKind, type ImplicitRewardRule } from '../training/shared';

/** How a method scores one reply from its summed log-probs. */
export interface SampleScoreRule {
  readonly kind: SampleScoreKind;
  /** The formula with its constants, shown above the samples table. */
  readonly label: string;
  /** True when the score needs log pi_ref (the starting weights) as well as log pi_theta. */
  readonly needsReference: boolean;
  /** The score from l_theta(y), l_ref(y) (NaN when not needed) and |y|. */
  score(policyLogp: number, referenceLogp: number, tokens: number): number;
}

function betaOf(method: string, h: Readonly<Record<string, HyperparameterValue>>): number {
  const b = h['beta'];
  if (typeof b !== 'number' || !Number.isFinite(b)) throw new Error(`hyperparameters.beta: ${method} needs a finite number for its sample scores, got ${JSON.stringify(b)}`);
  return b;
}

/** How each implicit reward is named on the dashboard. */
const SHOWN: Readonly<Record<ImplicitRewardKind, { readonly kind: SampleScoreKind; readonly label: (beta: number) => string }>> = {
  'log-ratio': { kind: 'implicit-reward', label: (beta) => `implicit reward β·log(π/π_ref), β=${beta}` },
  'mean-token': { kind: 'length-normalized-reward', label: (beta) => `length-normalized reward β/|y|·log π, β=${beta}` },
  summed: { kind: 'summed-reward', label: (beta) => `reward β·log π, β=${beta}` },
};

/** A score rule that computes `reward` from l_theta(y), l_ref(y) and |y| (at least 1). */
function rule(kind: SampleScoreKind, label: string, reward: ImplicitRewardRule): SampleScoreRule {
  const needsReference = reward.kind === 'log-ratio';
  return { kind, label, needsReference, score: (policy, ref, n) => implicitReward(reward, { policy, ref, tokens: Math.max(n, 1) }) };
}

/** The sample-score rule of an offline LM method (undefined for reward-model methods, which generate no samples). */
export function sampleScoreRule(method: MethodId, hyperparameters: Readonly<Record<string, HyperparameterValue>>): SampleScoreRule | undefined {
  if (hasImplicitReward(method)) {
    const reward = implicitRewardRule(method, betaOf(method, hyperparameters));
    const shown = SHOWN[reward.kind];
    return rule(shown.kind, shown.label(reward.beta), reward);
  }
  // SFT has no implicit reward: its samples show the mean token log-prob, a mean-token reward of scale 1.
  if (method === 'sft') return rule('mean-logp', 'mean token log-prob (1/|y|)·log π', { kind: 'mean-token', beta: 1 });
  return undefined;
}

/** Tokens of a row that are scored as predictions (position 0 predicts nothing), within `seqLen`. */
export function scoredTokens(row: Row, seqLen: number): number {
  let n = 0;
  for (let t = 1; t < Math.min(row.scored.length, seqLen); t++) if (row.scored[t]) n++;
  return n;
}

/**
 * Scores replies to prompts with one `SequenceScorer` (summed reply log-probs), created on first use and kept for
 * the run: `setWeights` swaps between the policy's and the reference's weights.
 */
export class SampleScorer {
  private scorer: SequenceScorer | undefined;

  constructor(
    private readonly model: TransformerModel,
    readonly rule: SampleScoreRule,
    private readonly shape: { readonly batch: number; readonly seqLen: number; readonly padId: number },
    private readonly runner: RunnerOptions = {},
  ) {}

  /** Summed reply log-probs of `replies[i]` after `prompts[i]` under `weights` (every parameter of the model). */
  async logps(weights: ReadonlyMap<string, Float32Array>, prompts: readonly (readonly number[])[], replies: readonly (readonly number[])[]): Promise<Float64Array> {
    this.scorer ??= await SequenceScorer.create(this.model, 'logps', this.shape, this.runner);
    await this.scorer.setWeights(weights);
    return this.scorer.score(prompts.map((p, i) => promptCompletionRow(p, replies[i] as readonly number[])));
  }

  /**
   * The rule's score of each reply: log pi_theta under `policy`, log pi_ref under `reference` when the rule needs
   * it (`referenceLogps` may pass them in when already known). Non-finite scores come back as undefined.
   */
  async score(
    prompts: readonly (readonly number[])[],
    replies: readonly (readonly number[])[],
    policy: ReadonlyMap<string, Float32Array>,
    reference: ReadonlyMap<string, Float32Array>,
    referenceLogps?: Float64Array,
  ): Promise<{ scores: (number | undefined)[]; referenceLogps?: Float64Array }> {
    const lp = await this.logps(policy, prompts, replies);
    const lr = this.rule.needsReference ? referenceLogps ?? (await this.logps(reference, prompts, replies)) : undefined;
    const scores = prompts.map((p, i) => {
      const n = scoredTokens(promptCompletionRow(p, replies[i] as readonly number[]), this.shape.seqLen);
      const s = this.rule.score(lp[i] as number, lr ? (lr[i] as number) : NaN, n);
      return Number.isFinite(s) ? s : undefined;
    });
    return { scores, ...(lr ? { referenceLogps: lr } : {}) };
  }

  async dispose(): Promise<void> {
    await this.scorer?.dispose();
    this.scorer = undefined;
  }
}
