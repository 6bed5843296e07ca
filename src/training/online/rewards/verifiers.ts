/**
 * Built-in verifiable rewards (RLVR: rule-based rewards that need no model): exact and numeric match against a
 * reference answer from a dataset column, a regular expression, JSON validity, and DAPO's soft length penalty.
 * Each is a {@link RewardFunction}; the ones that read a reference answer declare the column, so a prompt without
 * one is reported before training starts (file, line, field).
 */
import type { RewardFunction, RewardSample } from './rewardFunction';

/** The reference answer(s) of a sample: a string, a number, or a list of acceptable ones. */
function answers(s: RewardSample, field: string): string[] {
  const v = s.prompt.fields?.[field];
  const list = Array.isArray(v) ? v : [v];
  return list.filter((x): x is string | number => typeof x === 'string' || typeof x === 'number').map(String);
}

const collapse = (t: string, caseSensitive: boolean): string => {
  const s = t.trim().replace(/\s+/g, ' ');
  return caseSensitive ? s : s.toLowerCase();
};

export interface AnswerFieldOptions {
  /** Dataset column holding the reference answer (default `answer`). */
  readonly field?: string;
  /** Metric / error name (default: the verifier's). */
  readonly name?: string;
}

/**
 * 1 when the completion equals a reference answer after trimming and collapsing whitespace (and ignoring case and
 * a final `.`, unless `caseSensitive`), else 0.
 */
export function exactMatchReward(opts: AnswerFieldOptions & { readonly caseSensitive?: boolean } = {}): RewardFunction {
  const field = opts.field ?? 'answer';
  const cs = opts.caseSensitive ?? false;
  const norm = (t: string): string => {
    const c = collapse(t, cs);
    return cs ? c : c.replace(/\.$/, '');
  };
  return {
    name: opts.name ?? 'exact_match',
    requiredField: field,
    score: (samples) => samples.map((s) => (answers(s, field).some((a) => norm(a) === norm(s.completion)) ? 1 : 0)),
  };
}

/** Numbers in a text: integers and decimals, optional sign, thousands separators (`1,234.5`). */
const NUMBER = /-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?|-?\.\d+/g;

/** The last number written in `text`, or undefined (GSM8K-style graders take the final number as the answer). */
export function lastNumber(text: string): number | undefined {
  const all = text.match(NUMBER);
  if (!all?.length) return undefined;
  return Number((all[all.length - 1] as string).replace(/,/g, ''));
}

/**
 * 1 when the last number in the completion equals the reference answer within max(absTol, relTol * |answer|)
 * (defaults 1e-9 and 1e-6), else 0 (also when the completion has no number).
 */
export function numericMatchReward(opts: AnswerFieldOptions & { readonly relTol?: number; readonly absTol?: number } = {}): RewardFunction {
  const field = opts.field ?? 'answer';
  const rel = opts.relTol ?? 1e-6;
  const abs = opts.absTol ?? 1e-9;
  const name = opts.name ?? 'numeric_match';
  return {
    name,
    requiredField: field,
    score: (samples) =>
      samples.map((s) => {
        const got = lastNumber(s.completion);
        if (got === undefined) return 0;
        return answers(s, field).some((a) => {
          const want = lastNumber(a);
          if (want === undefined) throw new Error(`${name}: the reference answer ${JSON.stringify(a)} in field "${field}" holds no number`);
          return Math.abs(got - want) <= Math.max(abs, rel * Math.abs(want));
        })
          ? 1
          : 0;
      }),
  };
}

/** 1 when `pattern` matches somewhere in the completion (anchor it with ^...$ for a whole match), else 0. */
export function regexReward(pattern: string, opts: { readonly flags?: string; readonly name?: string } = {}): RewardFunction {
  let re: RegExp;
  try {
    re = new RegExp(pattern, (opts.flags ?? '').replace(/g/g, ''));
  } catch (e) {
    throw new Error(`regex reward: invalid pattern ${JSON.stringify(pattern)}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { name: opts.name ?? 'regex', score: (samples) => samples.map((s) => (re.test(s.completion) ? 1 : 0)) };
}

/**
 * 1 when the completion parses as JSON (a Markdown ```json fence around it is allowed), else 0. `objectOnly`:
 * only an object or array counts (a bare string or number does not).
 */
export function jsonValidReward(opts: { readonly objectOnly?: boolean; readonly name?: string } = {}): RewardFunction {
  const parse = (t: string): boolean => {
    const body = t.trim().replace(/^```(?:json)?\s*\n?([\s\S]*?)\n?```$/, '$1');
    try {
      const v = JSON.parse(body) as unknown;
      return !opts.objectOnly || (typeof v === 'object' && v !== null);
    } catch {
      return false;
    }
  };
  return { name: opts.name ?? 'json_valid', score: (samples) => samples.map((s) => (parse(s.completion) ? 1 : 0)) };
}

/**
 * DAPO's soft overlong punishment (Yu et al. 2025, eq. 13; TRL's `get_soft_overlong_punishment`), in tokens:
 * 0 up to L_max - L_cache, then falling linearly to -1 at L_max, and -1 beyond.
 */
export function lengthPenaltyReward(opts: { readonly maxCompletionLength: number; readonly softPunishCache: number; readonly name?: string }): RewardFunction {
  const { maxCompletionLength: max, softPunishCache: cache } = opts;
  if (!(Number.isInteger(max) && max >= 1 && Number.isInteger(cache) && cache >= 1 && cache <= max)) {
    throw new Error(`length penalty: needs integers 1 <= soft_punish_cache (${cache}) <= max_completion_length (${max})`);
  }
  const penalty = (n: number): number => (n <= max - cache ? 0 : n <= max ? (max - cache - n) / cache : -1);
  return { name: opts.name ?? 'length_penalty', score: (samples) => samples.map((s) => penalty(s.completionIds.length)) };
}
