/**
 * What an online method (GRPO, RLOO) hands to the online trainer loop (onlineTrainer.ts): how to sample, how to
 * turn rewards into advantages, which policy loss to compile, and how many updates each rollout gets. The loop
 * knows nothing about the method, as the offline session loop knows nothing about a TrainerPlan's loss.
 */
import { defaultHyperparameters, type HyperparameterValue, type MethodId } from '../../core/methods';
import type { Hyperparameters } from '../hyper';
import type { PolicyLossSpec } from './policyUpdate';
import type { SamplingConfig } from './rollout';

export interface AdvantageInput {
  /** Combined reward per completion (NaN for skipped ones). */
  readonly rewards: readonly number[];
  /** false = skipped sample. */
  readonly valid: readonly boolean[];
  /** Completions per prompt. */
  readonly k: number;
  /** With a reference loaded: per completion, sum over its tokens of log pi_old - log pi_ref (k1). */
  readonly klSums?: readonly number[];
}

export interface AdvantageOutput {
  readonly advantages: readonly number[];
  /** Method metrics of the rollout (TRL names), e.g. frac_reward_zero_std. */
  readonly metrics: Readonly<Record<string, number>>;
}

export interface OnlineMethod {
  readonly method: Extract<MethodId, 'grpo' | 'rloo'>;
  readonly sampling: SamplingConfig;
  readonly loss: PolicyLossSpec;
  /** Optimizer steps on each rollout (TRL's `num_iterations`, mu); from the second one the ratio differs from 1. */
  readonly numIterations: number;
  /** A frozen reference policy is needed (beta > 0). */
  readonly needsReference: boolean;
  /** Truncated completions (cut at the length limit) take no part in the loss (TRL's `mask_truncated_completions`). */
  readonly maskTruncatedCompletions: boolean;
  advantages(x: AdvantageInput): AdvantageOutput;
}

/** Which reader a value is read with. */
type ValueType = 'number' | 'boolean' | 'string';

/**
 * A reader of an online method's hyperparameters with the card's defaults (the one home of them); a name the
 * card does not list, or a value of the wrong type, is an error naming the field.
 */
export function onlineHyperparameters(method: MethodId, given: Hyperparameters): { number(n: string): number; boolean(n: string): boolean; string(n: string): string } {
  const all: Record<string, HyperparameterValue> = defaultHyperparameters(method);
  for (const k of Object.keys(given)) if (!(k in all)) throw new Error(`hyperparameters.${k}: ${method} has no such hyperparameter`);
  Object.assign(all, given);
  const get = <T>(name: string, type: ValueType): T => {
    const v = all[name];
    if (typeof v !== type || (type === 'number' && !Number.isFinite(v))) throw new Error(`hyperparameters.${name}: expected a ${type}, got ${JSON.stringify(v)}`);
    return v as T;
  };
  return { number: (n) => get<number>(n, 'number'), boolean: (n) => get<boolean>(n, 'boolean'), string: (n) => get<string>(n, 'string') };
}

/** A value of `name` that must be one of `options`. */
export function oneOf<T extends string>(name: string, value: string, options: readonly T[]): T {
  if (!(options as readonly string[]).includes(value)) throw new Error(`hyperparameters.${name}: "${value}" is not one of ${options.join(', ')}`);
  return value as T;
}
