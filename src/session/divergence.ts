/**
 * Divergence checks: a run whose numbers stay finite can still have blown up (lr 0.99 without clipping ends with
 * an SFT loss of 364 where chance is 7.3; weights of 1e30 give a gradient of exactly 0 and empty samples). The
 * NaN guard (loop.ts) only sees NaN and Inf. These checks look at every optimizer step and at the weights:
 *
 *   loss-above-range      loss > hi + RANGE_FACTOR * max(hi - lo, |hi|, 1), where [lo, hi] is the range of the
 *                         first REFERENCE_STEPS steps that passed this check (a blown-up step never widens it)
 *   loss-above-chance     token losses only: loss > CHANCE_FACTOR * ln(V), V the model's vocabulary; a model that
 *                         predicts worse than uniform over its vocabulary has stopped being a language model
 *   grad-norm-zero        grad_norm exactly 0 for ZERO_GRAD_STEPS steps in a row (every trainable weight gets a
 *                         gradient in a working run, LoRA's included)
 *   grad-norm-non-finite  a NaN or infinite gradient norm
 *   weights-non-finite    a NaN or infinite weight (checked when weights are read: checkpoints and the end)
 *   rewards-exploding     |x| of an implicit reward (rewards/chosen, rewards/rejected, rewards/margins) above
 *                         max(REWARD_LIMIT, the range rule above applied to |x| of its first steps). The implicit
 *                         reward is beta * log(pi/pi_ref) of a whole reply: at TRL's beta 0.1, REWARD_LIMIT 50 means
 *                         the policy moved a reply's log-probability 500 nats from the reference
 *   kl-exploding          the KL to the reference (objective/kl, kl; nats per reply) above max(KL_LIMIT, the
 *                         range rule on its first steps)
 *   samples-collapsed     every sample reply is empty or one character repeated (greedy decoding of a blown-up
 *                         model), while the start model's replies to the same prompts were not
 *
 * Each reason is reported once per session. The factors are wide on purpose: a warning that fires on a healthy
 * run would teach users to ignore it.
 */
import type { DivergenceReason } from '../protocol/session';

/** Steps whose losses make the reference range. */
export const REFERENCE_STEPS = 3;
/** How far above the reference range a loss must be, in units of the range (or of its top, or of 1). */
export const RANGE_FACTOR = 10;
/** How far above chance a token loss must be, as a multiple of ln(V). */
export const CHANCE_FACTOR = 2;
/** Steps in a row with a zero gradient norm. */
export const ZERO_GRAD_STEPS = 3;
/** The smallest implicit reward magnitude that counts as exploding, whatever the first steps were. */
export const REWARD_LIMIT = 50;
/** The smallest KL (nats per reply) that counts as exploding, whatever the first steps were. */
export const KL_LIMIT = 100;

/** Metrics watched for blowing up, with the reason they give and their floor. */
const WATCHED: Readonly<Record<string, { readonly reason: DivergenceReason; readonly limit: number }>> = {
  'rewards/chosen': { reason: 'rewards-exploding', limit: REWARD_LIMIT },
  'rewards/rejected': { reason: 'rewards-exploding', limit: REWARD_LIMIT },
  'rewards/margins': { reason: 'rewards-exploding', limit: REWARD_LIMIT },
  'objective/kl': { reason: 'kl-exploding', limit: KL_LIMIT },
  kl: { reason: 'kl-exploding', limit: KL_LIMIT },
};

/** A reply that says nothing: empty, whitespace, or one character repeated (`\n\n\n`, `!!!!`). */
export function collapsedReply(text: string): boolean {
  const t = text.trim();
  return t === '' || (t.length > 1 && new Set(t).size === 1);
}

/**
 * The range rule: the first REFERENCE_STEPS values that pass make the range [lo, hi]; a value above
 * hi + RANGE_FACTOR * max(hi - lo, |hi|, 1) is out of it and never widens it.
 */
class ReferenceRange {
  private lo = Infinity;
  private hi = -Infinity;
  private seen = 0;

  /** The bound `x` was checked against (Infinity before the first value). */
  bound(): number {
    return this.seen > 0 ? this.hi + RANGE_FACTOR * Math.max(this.hi - this.lo, Math.abs(this.hi), 1) : Infinity;
  }

  /** True when `x` is above the bound; otherwise `x` may join the range. */
  above(x: number): boolean {
    if (x > this.bound()) return true;
    if (this.seen < REFERENCE_STEPS) {
      this.seen++;
      this.lo = Math.min(this.lo, x);
      this.hi = Math.max(this.hi, x);
    }
    return false;
  }

  get range(): [number, number] {
    return [this.lo, this.hi];
  }
}

export interface Divergence {
  readonly step: number;
  readonly reason: DivergenceReason;
  readonly message: string;
  readonly value?: number;
}

export interface DivergenceOptions {
  /** Vocabulary size, for methods whose loss is a mean token cross-entropy (chance = ln V); absent otherwise. */
  readonly tokenLossVocab?: number;
}

const fmt = (x: number): string => (Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(3) : String(Number(x.toPrecision(4))));

/** Watches one session's steps and weights; returns each kind of divergence the first time it shows. */
export class DivergenceMonitor {
  private readonly reported = new Set<DivergenceReason>();
  private readonly loss = new ReferenceRange();
  /** |x| of each watched metric. */
  private readonly watched = new Map<string, ReferenceRange>();
  private zeroGradRun = 0;
  /** Whether the first sample set's start-model replies said something (undefined until one is seen). */
  private startSpoke: boolean | undefined;

  constructor(private readonly opts: DivergenceOptions = {}) {}

  /** Keeps only reasons not reported before. */
  private fresh(found: Divergence[]): Divergence[] {
    return found.filter((d) => {
      if (this.reported.has(d.reason)) return false;
      this.reported.add(d.reason);
      return true;
    });
  }

  /** One optimizer step's loss and gradient norm. Non-finite losses are the NaN guard's. */
  step(step: number, loss: number, gradNorm: number): Divergence[] {
    const out: Divergence[] = [];
    const add = (d: Divergence): void => void out.push(...this.fresh([d]));
    if (!Number.isFinite(gradNorm)) add({ step, reason: 'grad-norm-non-finite', message: `grad_norm is ${gradNorm} at step ${step}` });
    this.zeroGradRun = gradNorm === 0 ? this.zeroGradRun + 1 : 0;
    if (this.zeroGradRun >= ZERO_GRAD_STEPS) {
      add({ step, reason: 'grad-norm-zero', message: `grad_norm is exactly 0 for ${this.zeroGradRun} steps in a row (to step ${step}): the weights no longer learn`, value: 0 });
    }
    if (!Number.isFinite(loss)) return out;
    const chance = this.opts.tokenLossVocab !== undefined ? Math.log(this.opts.tokenLossVocab) : undefined;
    if (chance !== undefined && loss > CHANCE_FACTOR * chance) {
      add({ step, reason: 'loss-above-chance', message: `loss ${fmt(loss)} at step ${step} is above ${CHANCE_FACTOR} x chance (ln ${this.opts.tokenLossVocab} = ${fmt(chance)})`, value: loss });
    }
    const bound = this.loss.bound();
    if (this.loss.above(loss)) {
      const [lo, hi] = this.loss.range;
      add({ step, reason: 'loss-above-range', message: `loss ${fmt(loss)} at step ${step} is far above the range of the first steps (${fmt(lo)} to ${fmt(hi)}; limit ${fmt(bound)})`, value: loss });
    }
    return out;
  }

  /** One step's (or rollout's) metrics: implicit rewards and KL that blow up (see module comment). */
  metrics(step: number, values: Readonly<Record<string, number>>): Divergence[] {
    const out: Divergence[] = [];
    for (const [name, w] of Object.entries(WATCHED)) {
      const x = values[name];
      if (x === undefined || !Number.isFinite(x)) continue;
      let r = this.watched.get(name);
      if (!r) this.watched.set(name, (r = new ReferenceRange()));
      const limit = Math.max(w.limit, r.bound());
      if (Math.abs(x) > limit) out.push({ step, reason: w.reason, message: `${name} ${fmt(x)} at step ${step} is beyond ±${fmt(limit)} (the run's first steps were within ±${fmt(Math.max(0, r.range[1]))})`, value: x });
      else r.above(Math.abs(x));
    }
    return this.fresh(out);
  }

  /**
   * One sample set: the policy's replies and, when the run has them, the start model's replies to the same
   * prompts (online runs have none: their first sample set stands for the start). Replies that all say nothing
   * are a collapse only when the start model's said something: a start model that cannot write is not a
   * divergence.
   */
  samples(step: number, policy: readonly string[], start?: readonly string[]): Divergence[] {
    if (!policy.length) return [];
    const allCollapsed = (xs: readonly string[]): boolean => xs.length > 0 && xs.every(collapsedReply);
    if (this.startSpoke === undefined) {
      this.startSpoke = start ? !allCollapsed(start) : !allCollapsed(policy);
      if (!start) return [];
    }
    if (!this.startSpoke || !allCollapsed(policy)) return [];
    const shown = JSON.stringify((policy[0] ?? '').slice(0, 12));
    return this.fresh([{ step, reason: 'samples-collapsed', message: `all ${policy.length} sample replies at step ${step} are empty or one repeated character (e.g. ${shown}); the start model's were not` }]);
  }

  /** The weights as read at `step` (a checkpoint, the end of the run). */
  weights(step: number, weights: Iterable<readonly [string, Float32Array]>): Divergence[] {
    if (this.reported.has('weights-non-finite')) return [];
    for (const [name, data] of weights) {
      const i = data.findIndex((x) => !Number.isFinite(x));
      if (i < 0) continue;
      this.reported.add('weights-non-finite');
      return [{ step, reason: 'weights-non-finite', message: `weight ${name}[${i}] is ${data[i]} at step ${step}` }];
    }
    return [];
  }
}
