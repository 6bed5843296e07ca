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

/** What GRPO and RLOO read alike: the group, the clip range, the updates per rollout and how completions are sampled. */
export interface GroupPolicyConfig {
  /** k, the group size (TRL `num_generations`). */
  readonly numGenerations: number;
  /** GRPO: weight of the k3 KL penalty; RLOO: of the sequence-level KL folded into the reward; 0 loads no reference. */
  readonly beta: number;
  readonly epsilon: number;
  /** Upper clip 1 + epsilon_high (the card's 0 = TRL's None = epsilon; DAPO uses 0.28). */
  readonly epsilonHigh: number;
  /** Updates per rollout (mu). */
  readonly numIterations: number;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly maxCompletionLength: number;
  readonly maskTruncatedCompletions: boolean;
}

/** The group fields of a GRPO or RLOO config, with their range checks (errors name the hyperparameter). */
export function groupPolicyConfig(r: ReturnType<typeof onlineHyperparameters>): GroupPolicyConfig {
  const epsilon = r.number('epsilon');
  const high = r.number('epsilon_high');
  const cfg: GroupPolicyConfig = {
    numGenerations: r.number('num_generations'),
    beta: r.number('beta'),
    epsilon,
    epsilonHigh: high > 0 ? high : epsilon,
    numIterations: r.number('num_iterations'),
    temperature: r.number('temperature'),
    topK: r.number('top_k'),
    topP: r.number('top_p'),
    maxCompletionLength: r.number('max_completion_length'),
    maskTruncatedCompletions: r.boolean('mask_truncated_completions'),
  };
  if (!(Number.isInteger(cfg.numGenerations) && cfg.numGenerations >= 2)) throw new Error(`hyperparameters.num_generations: expected an integer >= 2 (a group needs peers), got ${cfg.numGenerations}`);
  if (!(Number.isInteger(cfg.numIterations) && cfg.numIterations >= 1)) throw new Error(`hyperparameters.num_iterations: expected an integer >= 1, got ${cfg.numIterations}`);
  if (!(cfg.epsilon > 0 && cfg.epsilon < 1 && cfg.epsilonHigh > 0)) throw new Error(`hyperparameters.epsilon / epsilon_high: expected 0 < epsilon < 1 and epsilon_high > 0, got ${cfg.epsilon} / ${cfg.epsilonHigh}`);
  return cfg;
}

/** How a GRPO or RLOO run samples its group of completions per prompt. */
export function groupSampling(cfg: GroupPolicyConfig, stopStrings: readonly string[]): SamplingConfig {
  return { numGenerations: cfg.numGenerations, temperature: cfg.temperature, topK: cfg.topK, topP: cfg.topP, maxCompletionLength: cfg.maxCompletionLength, stopStrings };
}
