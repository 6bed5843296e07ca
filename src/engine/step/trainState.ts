/**
 * The state of a compiled trainer that a checkpoint must hold to resume exactly: trainable parameters,
 * optimizer buffers (named as torch's optimizer state: exp_avg, exp_avg_sq, momentum_buffer) and the
 * two step counters.
 */

/** A float32 tensor by shape. */
export interface F32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export type OptimizerKind = 'adamw' | 'sgd';

export interface TrainState {
  /** Optimizer steps attempted so far: the LR schedule's position (advances even when a non-finite step is skipped). */
  readonly step: number;
  /** Updates applied so far: AdamW's bias-correction t (torch's state['step']; a skipped step does not count). */
  readonly updates: number;
  readonly optimizer: OptimizerKind;
  /** Trainable parameters by name. */
  readonly params: ReadonlyMap<string, F32Tensor>;
  /** Optimizer buffers by `<buffer>.<param name>`, e.g. `exp_avg.h0.attn.w`. */
  readonly buffers: ReadonlyMap<string, F32Tensor>;
}

/** Buffer names per optimizer, in torch's naming. */
export function optimizerBufferNames(kind: OptimizerKind, momentum: boolean): readonly string[] {
  return kind === 'adamw' ? ['exp_avg', 'exp_avg_sq'] : momentum ? ['momentum_buffer'] : [];
}
