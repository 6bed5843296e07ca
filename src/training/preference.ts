/**
 * The trainer body shared by the DPO family (DPO, ORPO, SimPO, CPO): one concatenated [2B, T] forward of the
 * policy gives l_theta(y+) and l_theta(y-) per pair; methods with a reference add l_ref either from a frozen copy
 * inside the graph or from precomputed values; then the method's loss graph (in its own file) gives the loss and
 * TRL's metrics. Per-example outputs `chosen_reward` / `rejected_reward` (the implicit rewards) let evaluation
 * compute the held-out preference accuracy exactly.
 */
import type { Tensor } from '../engine/graph/graph';
import * as op from '../engine/graph/ops';
import { collatePairs, accuracy, pairFields, pick, PairReference, type PlanOptions } from './pairs';
import { field, halves, referenceLookup, referenceModel, referenceParams, type TrainerPlan } from './plan';
import { pairImplicitRewards, sequenceLogps, type ImplicitRewardRule, type LossTensors, type PairLogpTensors } from './shared';
import type { EncodedPair } from './encode';
import type { ParamSpec } from '../engine/step/compile';

export type ReferenceMode = 'none' | 'in-graph' | 'precomputed';

export interface PairPlanSpec {
  readonly method: string;
  /** How l_ref is obtained: no reference, a frozen copy inside the graph, or precomputed once. */
  readonly reference: ReferenceMode;
  /** The method's loss on per-pair log-prob tensors. */
  readonly loss: (p: PairLogpTensors) => LossTensors;
  /** The method's implicit reward (for exact eval accuracy). */
  readonly implicitReward: ImplicitRewardRule;
}

/** Builds a DPO-family plan (see module comment). */
export function createPairPlan(opts: PlanOptions<EncodedPair>, spec: PairPlanSpec): TrainerPlan {
  const { model, batchSize: B, seqLen: T, padId, data } = opts;
  const params: ParamSpec[] = model.params.map((p) => ({ name: p.name, shape: p.shape, trainable: p.trainable, weightDecay: p.weightDecay }));
  const initialParams = new Map(opts.weights);
  if (spec.reference === 'in-graph') {
    const ref = referenceParams(model, opts.weights);
    params.push(...ref.specs);
    for (const [k, v] of ref.values) initialParams.set(k, v);
  }
  const precomputed = spec.reference === 'precomputed' ? new PairReference(data) : undefined;
  const batch = [...pairFields(B, T), ...(precomputed ? [field('ref_chosen', [B], 'float32'), field('ref_rejected', [B], 'float32')] : [])];

  const pairTensors = (p: Readonly<Record<string, Tensor>>, b: Readonly<Record<string, Tensor>>): PairLogpTensors => {
    const ids = b.ids as Tensor;
    const mask = b.mask as Tensor;
    const cmask = b.cmask as Tensor;
    const pol = sequenceLogps(model, p, ids, mask, cmask);
    const [policyChosen, policyRejected] = halves(pol.sum, B);
    const [chosenTokens, rejectedTokens] = halves(pol.count, B);
    const [chosenLogitsMean, rejectedLogitsMean] = halves(pol.logitsMean, B);
    let refChosen: Tensor | undefined;
    let refRejected: Tensor | undefined;
    if (spec.reference === 'in-graph') {
      const ref = sequenceLogps(referenceModel(model), referenceLookup(model, p), ids, mask, cmask);
      [refChosen, refRejected] = halves(op.stopGradient(ref.sum), B);
    } else if (spec.reference === 'precomputed') {
      refChosen = b.ref_chosen;
      refRejected = b.ref_rejected;
    }
    return {
      policyChosen,
      policyRejected,
      chosenTokens,
      rejectedTokens,
      chosenLogitsMean,
      rejectedLogitsMean,
      ...(refChosen && refRejected ? { refChosen, refRejected } : {}),
    };
  };

  return {
    method: spec.method,
    batchSize: B,
    seqLen: T,
    params,
    initialParams,
    batch,
    trainSize: data.train.length,
    evalSize: data.eval.length,
    forward: (p, b) => {
      const t = pairTensors(p, b);
      const l = spec.loss(t);
      const r = pairImplicitRewards(spec.implicitReward, t);
      return { loss: l.loss, metrics: l.metrics, perExample: { chosen_reward: op.stopGradient(r.chosen), rejected_reward: op.stopGradient(r.rejected) } };
    },
    collate: (split, indices) => {
      const c = collatePairs(pick(data, split, indices), T, padId);
      return precomputed ? { fields: { ...c.fields, ...precomputed.fields(split, indices) }, tokens: c.tokens } : c;
    },
    perExampleMetrics: (v): Record<string, number> => {
      const c = v.chosen_reward;
      const r = v.rejected_reward;
      if (!c || !r) return {};
      let margin = 0;
      for (let i = 0; i < c.length; i++) margin += (c[i] as number) - (r[i] as number);
      return { 'rewards/accuracies': accuracy(c, r), 'rewards/margins': c.length ? margin / c.length : 0 };
    },
    ...(precomputed ? { reference: { train: precomputed.request('train'), eval: precomputed.request('eval') } } : {}),
  };
}
