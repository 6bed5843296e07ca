/**
 * KTO trainer (Ethayarajh et al. 2024, "KTO: Model Alignment as Prospect Theoretic Optimization",
 * arXiv 2402.01306) on completions labeled desirable / undesirable, via ./losses.ts `ktoLossGraph`. The reference
 * point z0 is estimated on mismatched pairs within the micro-batch: prompt i with completion i-1 (TRL's shift,
 * lossReference.ktoMismatchedIndex). One [2B, T] forward carries the matched rows (0..B-1) and the mismatched
 * rows (B..2B-1) through the policy and, inside the graph, through the frozen reference.
 */
import * as op from '../graph/ops';
import type { Tensor } from '../graph/graph';
import type { HostTensor } from '../runtime/tensor';
import { padRows, promptCompletionRow } from './batching';
import type { EncodedCompletion } from './encode';
import { hyperparameters, type Hyperparameters } from './hyper';
import { ktoMismatchedIndex } from './lossReference';
import { ktoLossGraph } from './losses';
import { pick, type PlanOptions } from './pairs';
import { field, halves, referenceLookup, referenceParams, sequenceLogps, type TrainerPlan } from './plan';

export interface KtoTrainerConfig {
  readonly beta: number;
  readonly desirableWeight: number;
  readonly undesirableWeight: number;
}

export function ktoConfig(h: Hyperparameters = {}): KtoTrainerConfig {
  const r = hyperparameters('kto', h);
  return { beta: r.number('beta'), desirableWeight: r.number('desirable_weight'), undesirableWeight: r.number('undesirable_weight') };
}

export function createKtoPlan(opts: PlanOptions<EncodedCompletion>, cfg: KtoTrainerConfig): TrainerPlan {
  const { model, batchSize: B, seqLen: T, padId, data } = opts;
  if (B < 2) throw new Error('KTO needs a batch size > 1 (its reference point z0 is estimated within the batch)');
  const ref = referenceParams(model, opts.weights);
  const params = [...model.params.map((p) => ({ name: p.name, shape: p.shape, trainable: p.trainable, weightDecay: p.weightDecay })), ...ref.specs];
  const initialParams = new Map(opts.weights);
  for (const [k, v] of ref.values) initialParams.set(k, v);
  return {
    method: 'kto',
    batchSize: B,
    seqLen: T,
    params,
    initialParams,
    batch: [field('ids', [2 * B, T], 'int64'), field('mask', [2 * B, T], 'int64'), field('cmask', [2 * B, T], 'int64'), field('labels', [B], 'bool')],
    trainSize: data.train.length,
    evalSize: data.eval.length,
    forward: (p, b) => {
      const ids = b.ids as Tensor;
      const mask = b.mask as Tensor;
      const cmask = b.cmask as Tensor;
      const pol = sequenceLogps(model, p, ids, mask, cmask);
      const rf = sequenceLogps(model, referenceLookup(model, p), ids, mask, cmask);
      const [policy, policyKl] = halves(pol.sum, B);
      const [refLp, refKl] = halves(op.stopGradient(rf.sum), B);
      const [tokens] = halves(pol.count, B);
      const [logitsMean] = halves(pol.logitsMean, B);
      const l = ktoLossGraph({ policy, ref: refLp, policyKl, refKl, labels: b.labels as Tensor, tokens, logitsMean }, cfg);
      const rho = op.stopGradient(op.mul(op.sub(policy, refLp), cfg.beta));
      return { loss: l.loss, metrics: l.metrics, perExample: { reward: rho } };
    },
    collate: (split, indices) => {
      const items = pick(data, split, indices);
      const matched = items.map((e) => promptCompletionRow(e.prompt, e.completion));
      const mismatched = items.map((e, i) => promptCompletionRow(e.prompt, (items[ktoMismatchedIndex(i, items.length)] as EncodedCompletion).completion));
      const r = padRows([...matched, ...mismatched], T, padId);
      const t = (d: BigInt64Array): HostTensor => ({ dtype: 'int64', shape: [2 * B, T], data: d });
      const labels: HostTensor = { dtype: 'bool', shape: [B], data: Uint8Array.from(items, (e) => (e.label ? 1 : 0)) };
      // The mismatched rows only estimate z0; tokens counts the matched ones plus them (both are computed).
      return { fields: { ids: t(r.ids), mask: t(r.mask), cmask: t(r.cmask), labels }, tokens: r.tokens };
    },
  };
}
