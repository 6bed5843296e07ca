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
  private lo = Infinity;
  private hi = -Infinity;
  private referenceSteps = 0;
  private zeroGradRun = 0;

  constructor(private readonly opts: DivergenceOptions = {}) {}

  /** One optimizer step's loss and gradient norm. Non-finite losses are the NaN guard's. */
  step(step: number, loss: number, gradNorm: number): Divergence[] {
    const out: Divergence[] = [];
    const add = (d: Divergence): void => {
      if (this.reported.has(d.reason)) return;
      this.reported.add(d.reason);
      out.push(d);
    };
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
    const bound = this.referenceSteps > 0 ? this.hi + RANGE_FACTOR * Math.max(this.hi - this.lo, Math.abs(this.hi), 1) : Infinity;
    if (loss > bound) {
      add({ step, reason: 'loss-above-range', message: `loss ${fmt(loss)} at step ${step} is far above the range of the first steps (${fmt(this.lo)} to ${fmt(this.hi)}; limit ${fmt(bound)})`, value: loss });
    } else if (this.referenceSteps < REFERENCE_STEPS) {
      this.referenceSteps++;
      this.lo = Math.min(this.lo, loss);
      this.hi = Math.max(this.hi, loss);
    }
    return out;
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
