/**
 * The run spec's `rewards` and `generation` sections (online methods: GRPO, RLOO), read like the other sections of
 * `./spec.ts`: every problem recorded under its JSON path, defaults filled in.
 *
 *   "rewards": {
 *     "functions": [{ "kind": "numeric_match", "weight": 1 }, { "kind": "regex", "pattern": "^\\d+$", "weight": 0.2 }],
 *     "onError": "stop",          // a function that throws, times out or returns NaN: stop the run, or skip the sample
 *     "timeoutSeconds": 60
 *   },
 *   "generation": { "stop": ["\n\n"] }
 *
 * The functions and weights are TRL's `reward_funcs` + `reward_weights`; a sample's reward is the weighted sum.
 * `REWARD_FUNCTION_KINDS` is the one list of built-in reward functions: the launch form offers these and the session
 * builds them (src/training/online/rewards/builtin.ts). The other reward sources (a reward model, a JavaScript module,
 * an LLM judge) share the list and its weights; ./specRewardSources.ts reads their entries. Sampling (temperature,
 * top_k, top_p, max_completion_length) is set by the method's hyperparameters, TRL's names on its card; stop strings,
 * which are not numbers, are here.
 */
import type { MethodCard } from '../methods';
import { int, isObj, positive, type Obj, type SpecReader } from './specFields';
import { isRewardSourceEntry, readRewardSource, REWARD_SOURCE_KINDS, type RewardSourceSpec } from './specRewardSources';

export type RewardFunctionKind = 'exact_match' | 'numeric_match' | 'regex' | 'json_valid' | 'length_penalty' | 'proxy';

export interface RewardFunctionInfo {
  readonly kind: RewardFunctionKind;
  readonly title: string;
  readonly help: string;
  /** Reads a reference answer from a dataset column (`field`, default `answer`); every prompt must have one. */
  readonly needsAnswer: boolean;
  /** Its metric name unless the spec gives `name` (`rewards/<name>/mean`). */
  readonly defaultName: string;
  /** The one option it takes besides weight and name (what the launch form and `--reward KIND=ARG` set), if any. */
  readonly arg?: { readonly field: 'field' | 'pattern' | 'softPunishCache'; readonly label: string; readonly kind: 'text' | 'integer'; readonly default?: string };
}

const ANSWER_ARG = { field: 'field', label: 'Answer column', kind: 'text', default: 'answer' } as const;

/** The built-in reward functions (verifiable rewards and the demo's proxy reward). */
export const REWARD_FUNCTION_KINDS: readonly RewardFunctionInfo[] = [
  { kind: 'exact_match', title: 'Exact match', help: '1 when the completion equals the reference answer (whitespace collapsed, case and a final "." ignored), else 0.', needsAnswer: true, defaultName: 'exact_match', arg: ANSWER_ARG },
  { kind: 'numeric_match', title: 'Numeric match', help: '1 when the last number in the completion equals the reference answer (GSM8K-style), else 0.', needsAnswer: true, defaultName: 'numeric_match', arg: ANSWER_ARG },
  { kind: 'regex', title: 'Regular expression', help: '1 when `pattern` matches somewhere in the completion (anchor it with ^...$ for a whole match), else 0.', needsAnswer: false, defaultName: 'regex', arg: { field: 'pattern', label: 'Pattern', kind: 'text' } },
  { kind: 'json_valid', title: 'Valid JSON', help: '1 when the completion parses as JSON (a ```json fence is allowed), else 0.', needsAnswer: false, defaultName: 'json_valid' },
  { kind: 'length_penalty', title: 'Soft length penalty (DAPO)', help: '0 up to max_completion_length - softPunishCache tokens, then down to -1 at the limit.', needsAnswer: false, defaultName: 'length_penalty', arg: { field: 'softPunishCache', label: 'Cache tokens', kind: 'integer' } },
  { kind: 'proxy', title: "The demo's proxy reward", help: 'Word-F1 against the reference answer, minus 0.5 for a reply cut at the length limit, minus 0.1 per word past the answer length + 2.', needsAnswer: true, defaultName: 'proxy_reward', arg: ANSWER_ARG },
];

export interface RewardFunctionSpec {
  readonly kind: RewardFunctionKind;
  /** TRL `reward_weights` entry (default 1). */
  readonly weight: number;
  /** Name in metrics and errors (default: the kind's `defaultName`); unique within the run. */
  readonly name: string;
  /** Column of the reference answer (functions that need one; default `answer`). */
  readonly field?: string;
  /** regex: the pattern and its flags. */
  readonly pattern?: string;
  readonly flags?: string;
  /** exact_match: compare case and a final "." too. */
  readonly caseSensitive?: boolean;
  /** json_valid: only an object or array counts. */
  readonly objectOnly?: boolean;
  /** length_penalty: the tokens over which the penalty falls from 0 to -1. */
  readonly softPunishCache?: number;
}

export type RewardFailurePolicy = 'stop' | 'skip';

/** An entry of `rewards.functions`: a built-in function or another reward source (./specRewardSources.ts). */
export type RewardEntrySpec = RewardFunctionSpec | RewardSourceSpec;

export interface RewardsSpec {
  readonly functions: readonly RewardEntrySpec[];
  readonly onError: RewardFailurePolicy;
  /** A reward function call that has not answered after this long fails. */
  readonly timeoutSeconds: number;
}

export interface GenerationSpec {
  /** Stop strings: a completion ends with the token that completes one. */
  readonly stop: readonly string[];
}

export const REWARDS_DEFAULTS = { weight: 1, onError: 'stop' as RewardFailurePolicy, timeoutSeconds: 60, field: 'answer' };

const FUNCTION_FIELDS: Readonly<Record<RewardFunctionKind, readonly string[]>> = {
  exact_match: ['field', 'caseSensitive'],
  numeric_match: ['field'],
  regex: ['pattern', 'flags'],
  json_valid: ['objectOnly'],
  length_penalty: ['softPunishCache'],
  proxy: ['field'],
};

/** Whether a method is trained against the spec's reward functions: every online method (PPO, RLOO, GRPO, online DPO). */
export function usesRewardFunctions(card: MethodCard | undefined): boolean {
  return card?.family === 'online-rl';
}

/**
 * A run with a person (`rewardsOptional`) needs its reward functions, as the AI judge, when a hyperparameter hands
 * pairs to the judge: `feedback_mode` other than `human`, or `on_timeout` `judge`. Empty when none does.
 */
export function judgeNeeded(h: Readonly<Record<string, unknown>>): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  const ask = 'add a rewards section with the judge, e.g. {"functions": [{"kind": "judge", "baseUrl": "...", "model": "..."}]}';
  if (h.feedback_mode !== undefined && h.feedback_mode !== 'human') out.push({ field: 'hyperparameters.feedback_mode', message: `"${String(h.feedback_mode)}" has an AI judge label pairs: ${ask}` });
  if (h.on_timeout === 'judge') out.push({ field: 'hyperparameters.on_timeout', message: `"judge" has an AI judge label the pairs left at the timeout: ${ask}` });
  return out;
}

/**
 * A run with a person trains its policy against the refit reward model (`refit_policy` grpo or ppo) only when there
 * is one (`refit_reward_model`). Empty when the two agree, or when the method has neither.
 */
export function refitProblems(h: Readonly<Record<string, unknown>>): { field: string; message: string }[] {
  if (h.refit_policy === undefined || h.refit_policy === 'none' || h.refit_reward_model === true) return [];
  return [{ field: 'hyperparameters.refit_policy', message: `"${String(h.refit_policy)}" trains the policy against the refit reward model; set refit_reward_model to true` }];
}

/** The `rewards` section: required for GRPO / RLOO, ignored (with a warning) by the other methods. */
export function readRewards(input: Obj, card: MethodCard | undefined, maxCompletionLength: unknown, r: SpecReader): RewardsSpec | undefined {
  const x = r.obj(input.rewards, 'rewards');
  if (!usesRewardFunctions(card)) {
    if (x && card) r.warn(`rewards is ignored by ${card.title}`);
    return undefined;
  }
  if (!x) {
    if (input.rewards === undefined && card?.rewardsOptional) return undefined;
    if (input.rewards === undefined) r.bad('rewards', `${card?.title ?? 'this method'} needs reward functions, e.g. {"functions": [{"kind": "exact_match"}]} (built-ins: ${REWARD_FUNCTION_KINDS.map((k) => k.kind).join(', ')})`);
    return undefined;
  }
  // The launch form sends an empty list when no function is ticked: for a run with a person, that is no judge.
  if (card?.rewardsOptional && Array.isArray(x.functions) && x.functions.length === 0) return undefined;
  r.unknownKeys(x, 'rewards', ['functions', 'onError', 'timeoutSeconds']);
  const onError = x.onError ?? REWARDS_DEFAULTS.onError;
  if (onError !== 'stop' && onError !== 'skip') r.bad('rewards.onError', 'expected "stop" or "skip"');
  const timeoutSeconds = r.num(x, 'timeoutSeconds', 'rewards.timeoutSeconds', REWARDS_DEFAULTS.timeoutSeconds, positive);
  if (!Array.isArray(x.functions) || x.functions.length === 0) {
    r.bad('rewards.functions', 'expected a non-empty list of reward functions');
    return undefined;
  }
  const read = x.functions.map((f, i) => readFunction(f, `rewards.functions[${i}]`, maxCompletionLength, r));
  const seen = new Set<string>();
  read.forEach((f, i) => {
    if (f && seen.has(f.name)) r.bad(`rewards.functions[${i}].name`, `"${f.name}" is used twice; give each function its own name (metrics are keyed by it)`);
    if (f) seen.add(f.name);
  });
  const functions = read.filter((f): f is RewardEntrySpec => f !== undefined);
  return { functions, onError: onError as RewardFailurePolicy, timeoutSeconds };
}

/** One reward function entry. */
function readFunction(f: unknown, path: string, maxCompletionLength: unknown, r: SpecReader): RewardEntrySpec | undefined {
  if (!isObj(f)) {
    r.bad(path, 'expected an object, e.g. {"kind": "exact_match", "weight": 1}');
    return undefined;
  }
  if (isRewardSourceEntry(f)) return readRewardSource(f, path, r);
  const info = REWARD_FUNCTION_KINDS.find((k) => k.kind === f.kind);
  if (!info) {
    r.bad(`${path}.kind`, `${f.kind === undefined ? 'missing' : `unknown reward function ${JSON.stringify(f.kind)}`} (built-ins: ${REWARD_FUNCTION_KINDS.map((k) => k.kind).join(', ')}; other sources: ${REWARD_SOURCE_KINDS.map((k) => k.kind).join(', ')})`);
    return undefined;
  }
  r.unknownKeys(f, path, ['kind', 'weight', 'name', ...FUNCTION_FIELDS[info.kind]]);
  const weight = r.num(f, 'weight', `${path}.weight`, REWARDS_DEFAULTS.weight, () => undefined);
  const str = (k: string): string | undefined => {
    const v = f[k];
    if (v !== undefined && (typeof v !== 'string' || v === '')) r.bad(`${path}.${k}`, 'expected a non-empty string');
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const bool = (k: string): boolean | undefined => {
    if (f[k] !== undefined && typeof f[k] !== 'boolean') r.bad(`${path}.${k}`, 'expected true or false');
    return typeof f[k] === 'boolean' ? f[k] : undefined;
  };
  const name = str('name') ?? info.defaultName;
  const out: RewardFunctionSpec = { kind: info.kind, weight, name, ...(info.needsAnswer ? { field: str('field') ?? REWARDS_DEFAULTS.field } : {}) };
  switch (info.kind) {
    case 'exact_match': {
      const cs = bool('caseSensitive');
      return cs === undefined ? out : { ...out, caseSensitive: cs };
    }
    case 'regex':
      return { ...out, ...readPattern(f, path, r) };
    case 'json_valid': {
      const o = bool('objectOnly');
      return o === undefined ? out : { ...out, objectOnly: o };
    }
    case 'length_penalty': {
      const cache = r.num(f, 'softPunishCache', `${path}.softPunishCache`, undefined, int(1));
      if (typeof maxCompletionLength === 'number' && cache > maxCompletionLength) r.bad(`${path}.softPunishCache`, `must be <= hyperparameters.max_completion_length (${maxCompletionLength})`);
      return { ...out, softPunishCache: cache };
    }
    default:
      return out;
  }
}

/** A regex function's pattern (which must compile) and flags. */
function readPattern(f: Obj, path: string, r: SpecReader): { pattern: string; flags?: string } {
  if (typeof f.pattern !== 'string' || f.pattern === '') {
    r.bad(`${path}.pattern`, f.pattern === undefined ? 'missing (the regular expression to look for)' : 'expected a non-empty string');
    return { pattern: '' };
  }
  if (f.flags !== undefined && (typeof f.flags !== 'string' || !/^[imsuy]*$/.test(f.flags))) r.bad(`${path}.flags`, 'expected regular-expression flags from "imsuy"');
  const flags = typeof f.flags === 'string' ? f.flags : undefined;
  try {
    new RegExp(f.pattern, flags);
  } catch (e) {
    r.bad(`${path}.pattern`, `not a valid regular expression: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { pattern: f.pattern, ...(flags ? { flags } : {}) };
}

/** The `generation` section (stop strings); only methods that sample during training read it. */
export function readGeneration(input: Obj, card: MethodCard | undefined, r: SpecReader): GenerationSpec | undefined {
  const g = r.obj(input.generation, 'generation');
  if (!g) return undefined;
  if (!usesRewardFunctions(card)) {
    if (card) r.warn(`generation is ignored by ${card.title}`);
    return undefined;
  }
  r.unknownKeys(g, 'generation', ['stop']);
  const stop = g.stop ?? [];
  if (!Array.isArray(stop) || !stop.every((s) => typeof s === 'string' && s !== '')) {
    r.bad('generation.stop', 'expected a list of non-empty stop strings');
    return { stop: [] };
  }
  return { stop: stop as string[] };
}
