/**
 * Shared collation of preference pairs (reward models and the DPO family): a micro-batch of B pairs is one
 * [2B, T] forward (TRL's `concatenated_forward`): rows 0..B-1 are prompt + chosen, rows B..2B-1 prompt + rejected.
 */
import type { TransformerModel } from '../engine/models/transformer';
import type { HostTensor } from '../engine/runtime/tensor';
import { padRows, promptCompletionRow, type Row } from './batching';
import type { EncodedPair } from './encode';
import { field, type Collated, type ReferenceRequest } from './plan';
import type { BatchFieldSpec } from '../engine/step/compile';

/** Train and eval examples of one run. */
export interface Splits<E> {
  readonly train: readonly E[];
  readonly eval: readonly E[];
}

/** What every trainer factory takes besides its config. */
export interface PlanOptions<E> {
  readonly model: TransformerModel;
  /** Initial values of every parameter of `model` (policy or reward model; LoRA adapters included). */
  readonly weights: ReadonlyMap<string, Float32Array>;
  readonly data: Splits<E>;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly padId: number;
}

/** ids/mask/cmask [2B, T] fields. */
export function pairFields(B: number, T: number): BatchFieldSpec[] {
  return [field('ids', [2 * B, T], 'int64'), field('mask', [2 * B, T], 'int64'), field('cmask', [2 * B, T], 'int64')];
}

/** Rows of B pairs: chosen rows first, then rejected rows. */
export function pairRows(pairs: readonly EncodedPair[]): Row[] {
  return [...pairs.map((p) => promptCompletionRow(p.prompt, p.chosen)), ...pairs.map((p) => promptCompletionRow(p.prompt, p.rejected))];
}

/** Collates B pairs into ids/mask/cmask [2B, T]. */
export function collatePairs(pairs: readonly EncodedPair[], T: number, padId: number): Collated {
  const B = pairs.length;
  const r = padRows(pairRows(pairs), T, padId);
  const t = (data: BigInt64Array): HostTensor => ({ dtype: 'int64', shape: [2 * B, T], data });
  return { fields: { ids: t(r.ids), mask: t(r.mask), cmask: t(r.cmask) }, tokens: r.tokens };
}

/** Looks up examples of a split by index, with a clear error for a bad index. */
export function pick<E>(data: Splits<E>, split: 'train' | 'eval', indices: readonly number[]): E[] {
  const xs = data[split];
  return indices.map((i) => {
    const e = xs[i];
    if (e === undefined) throw new RangeError(`${split} example ${i} does not exist (${xs.length} examples)`);
    return e;
  });
}

/**
 * Precomputed reference log-probs of pairs: the reference scores both completions of every pair once; the values
 * are kept per pair and fed as `ref_chosen` / `ref_rejected` [B].
 */
export class PairReference {
  readonly chosen: { train: Float32Array; eval: Float32Array };
  readonly rejected: { train: Float32Array; eval: Float32Array };
  private ready = { train: false, eval: false };

  constructor(private readonly data: Splits<EncodedPair>) {
    this.chosen = { train: new Float32Array(data.train.length), eval: new Float32Array(data.eval.length) };
    this.rejected = { train: new Float32Array(data.train.length), eval: new Float32Array(data.eval.length) };
  }

  request(split: 'train' | 'eval'): ReferenceRequest {
    const pairs = this.data[split];
    return {
      rows: pairRows(pairs),
      accept: (logps) => {
        const n = pairs.length;
        if (logps.length !== 2 * n) throw new RangeError(`reference log-probs: expected ${2 * n} values, got ${logps.length}`);
        for (let i = 0; i < n; i++) {
          this.chosen[split][i] = logps[i] as number;
          this.rejected[split][i] = logps[n + i] as number;
        }
        this.ready[split] = true;
      },
    };
  }

  fields(split: 'train' | 'eval', indices: readonly number[]): Record<string, HostTensor> {
    if (!this.ready[split]) throw new Error(`reference log-probs of the ${split} split were not computed before use`);
    const pickF = (a: Float32Array): HostTensor => ({ dtype: 'float32', shape: [indices.length], data: Float32Array.from(indices, (i) => a[i] as number) });
    return { ref_chosen: pickF(this.chosen[split]), ref_rejected: pickF(this.rejected[split]) };
  }
}

/** Fraction of examples whose first value beats the second (ties count as misses, as TRL's `>`). */
export function accuracy(a: Float64Array, b: Float64Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if ((a[i] as number) > (b[i] as number)) n++;
  return a.length ? n / a.length : 0;
}
