/**
 * Reward sources for the online methods and how they combine, as TRL's `reward_funcs` + `reward_weights`: every
 * function scores every completion; a sample's reward is the weighted sum of the functions' scores (a function
 * may answer null, TRL's None, for a sample it does not apply to: it is left out of that sample's sum).
 *
 * Bad answers never pass silently. A function that throws, times out, returns a non-finite number or the wrong
 * number of scores gives a `RewardError` that names the function and the prompt; under `onError: 'skip'` the
 * sample is dropped from this step instead (invalid: no part in its group's statistics, no loss) and the reason
 * is reported. A verifier that needs a column (a reference answer) is checked against every prompt before
 * training starts: a missing one is a `MissingRewardFieldError` that names the file, line and field.
 */
import { formatWhere } from '../../../core/datasets/records';
import type { RewardFailurePolicy } from '../../../core/runs/specRewards';
import type { RolloutPrompt } from '../rollout';

/** What a reward function sees of one sample. */
export interface RewardSample {
  readonly prompt: RolloutPrompt;
  /** The completion's text (special tokens left out). */
  readonly completion: string;
  readonly completionIds: readonly number[];
  /** Ended on its own (stop token or stop string), not cut at the length limit. */
  readonly terminated: boolean;
}

/** One reward function: a score per sample, in order; null = does not apply to that sample. */
export interface RewardFunction {
  /** Name in the metrics (`rewards/<name>/mean`) and in errors; unique within a run. */
  readonly name: string;
  /** A dataset column every prompt must carry (a verifier's reference answer). */
  readonly requiredField?: string;
  score(samples: readonly RewardSample[]): Promise<readonly (number | null)[]> | readonly (number | null)[];
}

export interface WeightedReward {
  readonly fn: RewardFunction;
  /** TRL's `reward_weights` entry (default 1). */
  readonly weight: number;
}

/** What happens to a sample a reward function fails on: the run stops (default) or the sample is skipped (the run spec's `rewards.onError`). */
export type { RewardFailurePolicy } from '../../../core/runs/specRewards';

export class RewardError extends Error {
  override readonly name = 'RewardError';
}

export class MissingRewardFieldError extends Error {
  override readonly name = 'MissingRewardFieldError';
}

/** How errors name a prompt: id, file:line when known, and the start of its text. */
export function describePrompt(p: RolloutPrompt): string {
  const text = typeof p.prompt === 'string' ? p.prompt : p.prompt.map((m) => `${m.role}: ${m.content}`).join(' | ');
  const short = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  const where = p.source ? ` (${formatWhere(p.source)})` : '';
  return `prompt ${p.id}${where} ${JSON.stringify(short)}`;
}

/** Checks names and weights, and that every prompt has the columns the functions need (see module comment). */
export function checkRewardInputs(prompts: readonly RolloutPrompt[], rewards: readonly WeightedReward[]): void {
  if (!rewards.length) throw new Error('reward functions: at least one is needed');
  const names = new Set<string>();
  for (const r of rewards) {
    if (names.has(r.fn.name)) throw new Error(`reward functions: the name "${r.fn.name}" is used twice (metrics are keyed by name)`);
    names.add(r.fn.name);
    if (!Number.isFinite(r.weight)) throw new Error(`reward_weights: the weight of "${r.fn.name}" must be a finite number, got ${r.weight}`);
    const field = r.fn.requiredField;
    if (field === undefined) continue;
    const missing = prompts.filter((p) => p.fields?.[field] === undefined || p.fields[field] === null || p.fields[field] === '');
    if (!missing.length) continue;
    const where = (p: RolloutPrompt): string => (p.source ? `${formatWhere(p.source)}, field "${field}"` : `prompt ${p.id}, field "${field}"`);
    const shown = missing.slice(0, 5).map(where).join('; ');
    const more = missing.length > 5 ? ` and ${missing.length - 5} more` : '';
    throw new MissingRewardFieldError(`reward "${r.fn.name}" needs a reference answer in field "${field}"; ${missing.length} of ${prompts.length} prompts have none: ${shown}${more}`);
  }
}

export interface RewardTable {
  /** [N][F]: each function's score per sample; NaN where it did not apply or the sample was skipped. */
  readonly perFunc: number[][];
  /** Weighted sum per sample over the functions that applied (0 when none did); NaN for skipped samples. */
  readonly total: number[];
  /** false = skipped (a function failed on it under `onError: 'skip'`). */
  readonly valid: boolean[];
  /** Why each skipped sample was skipped. */
  readonly problems: string[];
}

export interface RewardOptions {
  readonly onError?: RewardFailurePolicy;
  /** A function call that has not answered after this many ms is a failure (default 60 s). */
  readonly timeoutMs?: number;
}

async function withTimeout<T>(p: Promise<T> | T, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RewardError(`${what()} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([Promise.resolve(p), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * One function's scores for all samples. A call that throws is retried sample by sample, so the failure is pinned
 * on the prompts that cause it; a timeout or a wrong-length answer fails the whole call. Returns a score or an
 * error line per sample.
 */
async function scoreWith(fn: RewardFunction, samples: readonly RewardSample[], timeoutMs: number): Promise<(number | null | string)[]> {
  const call = async (xs: readonly RewardSample[]): Promise<readonly (number | null)[]> => {
    const out = await withTimeout(fn.score(xs), timeoutMs, () => `reward function "${fn.name}" (scoring ${xs.length === 1 ? describePrompt((xs[0] as RewardSample).prompt) : `${xs.length} samples`})`);
    if (!Array.isArray(out) || out.length !== xs.length) throw new RewardError(`reward function "${fn.name}" returned ${Array.isArray(out) ? out.length : typeof out} scores for ${xs.length} samples`);
    return out;
  };
  const failed = (s: RewardSample, e: unknown): string =>
    e instanceof RewardError ? e.message : `reward function "${fn.name}" failed on ${describePrompt(s.prompt)}: ${message(e)}`;
  let scores: readonly (number | null | string)[];
  try {
    scores = await call(samples);
  } catch (e) {
    if (e instanceof RewardError) throw e;
    if (samples.length === 1) return [failed(samples[0] as RewardSample, e)];
    scores = [];
    for (const s of samples) {
      try {
        scores = [...scores, ...(await call([s]))];
      } catch (e1) {
        scores = [...scores, failed(s, e1)];
      }
    }
  }
  return scores.map((v, i) => {
    if (v === null || typeof v === 'string') return v;
    if (typeof v !== 'number' || !Number.isFinite(v)) return `reward function "${fn.name}" returned ${String(v)} for ${describePrompt((samples[i] as RewardSample).prompt)}`;
    return v;
  });
}

/** Scores every sample with every function and combines them (see module comment). */
export async function computeRewards(samples: readonly RewardSample[], rewards: readonly WeightedReward[], opts: RewardOptions = {}): Promise<RewardTable> {
  const onError = opts.onError ?? 'stop';
  const perFunc = samples.map(() => rewards.map(() => NaN));
  const valid = samples.map(() => true);
  const problems: string[] = [];
  for (const [f, r] of rewards.entries()) {
    const scores = await scoreWith(r.fn, samples, opts.timeoutMs ?? 60_000);
    scores.forEach((v, i) => {
      if (typeof v === 'number') (perFunc[i] as number[])[f] = v;
      if (typeof v !== 'string') return;
      if (onError === 'stop') throw new RewardError(v);
      if (valid[i]) problems.push(`skipped: ${v}`);
      valid[i] = false;
    });
  }
  const total = perFunc.map((row, i) => (valid[i] ? row.reduce((s, v, f) => (Number.isNaN(v) ? s : s + v * (rewards[f] as WeightedReward).weight), 0) : NaN));
  perFunc.forEach((row, i) => valid[i] || row.fill(NaN));
  return { perFunc, total, valid, problems };
}

/** Mean and unbiased std of the numbers that are not NaN (0, 0 when there are none). */
function nanStats(xs: readonly number[]): { mean: number; std: number } {
  const v = xs.filter((x) => !Number.isNaN(x));
  if (!v.length) return { mean: NaN, std: NaN };
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const std = v.length < 2 ? 0 : Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1));
  return { mean, std };
}

/** TRL's reward metrics of a table: reward, reward_std, rewards/<name>/mean and /std (over valid samples). */
export function rewardMetrics(table: RewardTable, rewards: readonly WeightedReward[]): Record<string, number> {
  const total = nanStats(table.total);
  const out: Record<string, number> = { reward: total.mean, reward_std: total.std };
  rewards.forEach((r, f) => {
    const s = nanStats(table.perFunc.map((row) => row[f] as number));
    out[`rewards/${r.fn.name}/mean`] = s.mean;
    out[`rewards/${r.fn.name}/std`] = s.std;
  });
  return out;
}
