/**
 * What an online method (GRPO, RLOO) hands to the online trainer loop (onlineTrainer.ts): how to sample, how to
 * turn rewards into advantages, which policy loss to compile, and how many updates each rollout gets. The loop
 * knows nothing about the method, as the offline session loop knows nothing about a TrainerPlan's loss.
 */
import { defaultHyperparameters, type HyperparameterValue, type MethodId } from '../../core/methods';
import { hyperparameters, type Hyperparameters } from '../hyper';
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

/**
 * A reader of an online method's hyperparameters: the ones its card lists come with the card's defaults (and
 * checks); `extra` holds TRL's defaults for the ones the card does not list yet. An unknown name is an error.
 */
export function onlineHyperparameters(method: MethodId, given: Hyperparameters, extra: Readonly<Record<string, HyperparameterValue>>): ReturnType<typeof hyperparameters> {
  const onCard = new Set(Object.keys(defaultHyperparameters(method)));
  for (const k of Object.keys(given)) if (!onCard.has(k) && !(k in extra)) throw new Error(`hyperparameters.${k}: ${method} has no such hyperparameter`);
  const card = hyperparameters(method, Object.fromEntries(Object.entries(given).filter(([k]) => onCard.has(k))));
  const rest = { ...extra, ...Object.fromEntries(Object.entries(given).filter(([k]) => !onCard.has(k))) };
  const get = <T>(name: string, type: 'number' | 'boolean' | 'string'): T => {
    if (onCard.has(name)) return card[type](name) as T;
    const v = rest[name];
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
