/**
 * What every algorithm's trainer hands to the training loop (src/session/runSession.ts): a `TrainerPlan` is the
 * parameter list, the static micro-batch fields, the traced forward (loss + TRL metrics) and the collation of
 * examples into those fields. The loop knows nothing about the algorithm (nanoGPT's "the trainer knows nothing
 * about the model"; TRL's one config + one trainer per algorithm).
 *
 * Shapes: B = examples per micro-batch, T = tokens per row (static), V = vocabulary.
 */
import type { DType } from '../engine/graph/dtype';
import type { Tensor } from '../engine/graph/graph';
import * as op from '../engine/graph/ops';
import type { BatchFieldSpec, ForwardOutput, ParamSpec } from '../engine/step/compile';
import type { ParamLookup, TransformerModel } from '../engine/models/transformer';
import type { HostTensor } from '../engine/runtime/tensor';

/** A forward output with optional per-example [B] tensors (used by evaluation for exact held-out metrics). */
export interface PlanOutput extends ForwardOutput {
  readonly perExample?: Readonly<Record<string, Tensor>>;
}

/** One collated micro-batch: a host array per batch field (shapes as in the plan's `batch`), and its size. */
export interface Collated {
  readonly fields: Record<string, HostTensor>;
  /** Real (non-padding) tokens the forward processes. */
  readonly tokens: number;
}

/** Rows a frozen reference must score when reference log-probs are precomputed (see `TrainerPlan.reference`). */
export interface ReferenceRequest {
  /** One entry per row: prompt + completion ids and which tokens are the completion. */
  readonly rows: readonly { readonly ids: readonly number[]; readonly scored: readonly boolean[] }[];
  /** Receives the summed completion log-prob of every row, in order. */
  accept(logps: Float64Array): void;
}

export interface TrainerPlan {
  readonly method: string;
  /** Examples per micro-batch (pairs count once). */
  readonly batchSize: number;
  /** Static row length T. */
  readonly seqLen: number;
  /** Every tensor the forward reads: the trained model's parameters, plus frozen ones (e.g. `ref.*`). */
  readonly params: readonly ParamSpec[];
  /** Initial values of every parameter in `params`. */
  readonly initialParams: ReadonlyMap<string, Float32Array>;
  readonly batch: readonly BatchFieldSpec[];
  readonly forward: (params: Readonly<Record<string, Tensor>>, batch: Readonly<Record<string, Tensor>>) => PlanOutput;
  readonly trainSize: number;
  readonly evalSize: number;
  /** Collates examples of a split by index into one micro-batch (exactly `batchSize` indices). */
  collate(split: 'train' | 'eval', indices: readonly number[]): Collated;
  /**
   * Exact held-out metrics from per-example outputs (concatenated over the eval set, one value per example), e.g.
   * the reward model's accuracy; names without the `eval_` prefix. They replace the batch-averaged ones.
   */
  perExampleMetrics?(values: Readonly<Record<string, Float64Array>>): Record<string, number>;
  /**
   * Set when reference log-probs are precomputed: the rows of each split to score once with the frozen reference
   * before training (Rafailov et al.'s reference is fixed, so one pass suffices).
   */
  readonly reference?: { readonly train: ReferenceRequest; readonly eval: ReferenceRequest };
}

/** Batch field spec helper. */
export function field(name: string, shape: readonly number[], dtype: DType): BatchFieldSpec {
  return { name, shape, dtype };
}

/** Prefix of the frozen reference copy's parameters when the reference runs inside the training graph. */
export const REF_PREFIX = 'ref.';

/**
 * Frozen copies of a model's parameters under `ref.<name>` (the reference policy inside the graph), and a lookup
 * that lets the model's forward read them under their own names. With LoRA, the reference is the base model:
 * its frozen weights are shared with the policy (no copy), only the adapters are left out.
 */
export function referenceParams(model: TransformerModel, weights: ReadonlyMap<string, Float32Array>): { specs: ParamSpec[]; values: Map<string, Float32Array> } {
  const specs: ParamSpec[] = [];
  const values = new Map<string, Float32Array>();
  if (model.lora) return { specs, values };
  for (const p of model.params) {
    const w = weights.get(p.name);
    if (!w) throw new Error(`reference: no weights for parameter '${p.name}'`);
    specs.push({ name: REF_PREFIX + p.name, shape: p.shape, trainable: false });
    values.set(REF_PREFIX + p.name, w);
  }
  return { specs, values };
}

/** The reference's parameter lookup inside a traced forward (see {@link referenceParams}); use it with {@link referenceModel}. */
export function referenceLookup(model: TransformerModel, params: Readonly<Record<string, Tensor>>): ParamLookup {
  const m = new Map<string, Tensor>();
  for (const p of model.params) {
    if (model.lora) {
      if (p.name.endsWith('.lora_A') || p.name.endsWith('.lora_B')) continue;
      const t = params[p.name];
      if (t) m.set(p.name, op.stopGradient(t));
    } else {
      const t = params[REF_PREFIX + p.name];
      if (t) m.set(p.name, t);
    }
  }
  return m;
}

/**
 * The model the reference runs as. With LoRA the reference is the frozen base, so it is the same architecture
 * without adapters (its lookup holds no lora_A / lora_B); without LoRA it is the model itself.
 */
export function referenceModel(model: TransformerModel): TransformerModel {
  return model.lora ? { ...model, lora: null, params: model.params.filter((p) => !p.name.endsWith('.lora_A') && !p.name.endsWith('.lora_B')) } : model;
}

/** Rows [0, n) and [n, 2n) of a [2n] tensor. */
export function halves(x: Tensor, n: number): [Tensor, Tensor] {
  return [op.narrow(x, 0, 0, n), op.narrow(x, 0, n, n)];
}

/** Float [N] host tensor. */
export function f32Field(values: readonly number[] | Float32Array): HostTensor {
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  return { dtype: 'float32', shape: [data.length], data };
}
