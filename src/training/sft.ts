/**
 * SFT trainer: next-token cross-entropy, averaged over the scored tokens of the batch (TRL's SFTTrainer). With
 * `completion_only_loss` only completion tokens are scored (prompt tokens are context); for whole conversations
 * the assistant turns are. Metrics: `mean_token_accuracy` (argmax prediction = target, over scored tokens),
 * `entropy` (mean entropy of the predicted distribution over scored tokens), `num_tokens` (tokens processed;
 * the session accumulates it into TRL's running total).
 *
 * Packing (`packing`, TRL's best-fit-decreasing packing): short sequences share rows of the static length T
 * (src/core/datasets/prepare.ts `packSequences`). Each row carries a segment id per token; the model attends only
 * within a segment (block-diagonal causal mask) and restarts positions at each segment, so a packed sequence's
 * token log-probs are those it has alone in a row, and no token predicts the next sequence's first token. The
 * loss stays the mean over the batch's scored tokens; a batch is then `batchSize` packed rows (as in TRL).
 */
import * as op from '../engine/graph/ops';
import type { Tensor } from '../engine/graph/graph';
import type { HostTensor } from '../engine/runtime/tensor';
import type { Pack } from '../core/datasets/prepare';
import { padPackedRows, padRows } from './batching';
import type { EncodedSequence } from './encode';
import { hyperparameters, type Hyperparameters } from './hyper';
import { pick, type PlanOptions } from './pairs';
import { field, type TrainerPlan } from './plan';
import { sequenceLogps } from './shared';

export interface SftTrainerConfig {
  readonly completionOnlyLoss: boolean;
  readonly assistantOnlyLoss: boolean;
  readonly packing: boolean;
}

export function sftConfig(h: Hyperparameters = {}): SftTrainerConfig {
  const r = hyperparameters('sft', h);
  return { completionOnlyLoss: r.boolean('completion_only_loss'), assistantOnlyLoss: r.boolean('assistant_only_loss'), packing: r.boolean('packing') };
}

/** The SFT plan over encoded sequences (their loss masks already say which tokens are scored). */
export function createSftPlan(opts: PlanOptions<EncodedSequence>): TrainerPlan {
  const { batchSize: B, seqLen: T, padId, data } = opts;
  return sftPlan(opts, false, (split, indices) => {
    const seqs = pick(data, split, indices);
    const r = padRows(seqs.map((s) => ({ ids: s.ids, scored: s.lossMask })), T, padId);
    const t = (d: BigInt64Array): HostTensor => ({ dtype: 'int64', shape: [B, T], data: d });
    return { fields: { ids: t(r.ids), mask: t(r.mask), cmask: t(r.cmask) }, tokens: r.tokens };
  });
}

/**
 * The SFT plan over packed rows (see module comment): an "example" of this plan is one pack, so `trainSize` and
 * `batchSize` count packs. Batch fields: ids/mask/cmask [B, T] and `seg` [B, T] (segment per token, 0 = padding).
 */
export function createPackedSftPlan(opts: PlanOptions<Pack>): TrainerPlan {
  const { batchSize: B, seqLen: T, padId, data } = opts;
  return sftPlan(opts, true, (split, indices) => {
    const packs = pick(data, split, indices);
    const r = padPackedRows(packs.map((p) => ({ ids: p.ids, scored: p.lossMask, boundaries: p.boundaries })), T, padId);
    const t = (d: BigInt64Array): HostTensor => ({ dtype: 'int64', shape: [B, T], data: d });
    return { fields: { ids: t(r.ids), mask: t(r.mask), cmask: t(r.cmask), seg: t(r.segments) }, tokens: r.tokens };
  });
}

function sftPlan<E>(opts: PlanOptions<E>, packed: boolean, collate: TrainerPlan['collate']): TrainerPlan {
  const { model, batchSize: B, seqLen: T, data } = opts;
  return {
    method: 'sft',
    batchSize: B,
    seqLen: T,
    params: model.params.map((p) => ({ name: p.name, shape: p.shape, trainable: p.trainable, weightDecay: p.weightDecay })),
    initialParams: new Map(opts.weights),
    batch: [field('ids', [B, T], 'int64'), field('mask', [B, T], 'int64'), field('cmask', [B, T], 'int64'), ...(packed ? [field('seg', [B, T], 'int64')] : [])],
    trainSize: data.train.length,
    evalSize: data.eval.length,
    forward: (p, b) => {
      const ids = b.ids as Tensor;
      const s = sequenceLogps(model, p, ids, b.mask as Tensor, b.cmask as Tensor, packed ? (b.seg as Tensor) : undefined);
      // Cross-entropy averaged over the batch's scored tokens (TRL's token-level mean), whether or not rows are packed.
      const scored = op.sum(s.count); // >= B (counts are clamped at 1 per row)
      const loss = op.neg(op.div(op.sum(s.sum), scored));
      // Accuracy: the target token has the largest logit. Entropy: -sum_v p log p of the prediction.
      const sel = op.cast(op.not(op.equal(op.narrow(b.cmask as Tensor, 1, 1, T - 1), 0)), 'float32');
      const logits = op.stopGradient(op.narrow(s.logits, 1, 0, T - 1)); // [B, T-1, V]
      const target = op.squeeze(op.gatherElements(logits, op.unsqueeze(op.narrow(ids, 1, 1, T - 1), [2]), 2), [2]);
      const hit = op.cast(op.greaterEqual(target, op.max(logits, [2])), 'float32');
      const logp = op.logSoftmax(logits, -1);
      const entropy = op.neg(op.sum(op.mul(op.exp(logp), logp), [2])); // [B, T-1]
      const tokens = op.sum(op.cast(b.mask as Tensor, 'float32'));
      return {
        loss,
        metrics: {
          mean_token_accuracy: op.div(op.sum(op.mul(hit, sel)), scored),
          entropy: op.div(op.sum(op.mul(entropy, sel)), scored),
          num_tokens: tokens,
        },
      };
    },
    collate,
  };
}
