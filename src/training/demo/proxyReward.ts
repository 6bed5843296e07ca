/**
 * The demo's proxy reward: a documented, rule-based preference that stands in for a human labeler (the survey's
 * "proxy reward" feedback type, ALIGNMENT_REFERENCE.md section 3). It scores an assistant reply to one of the
 * synthetic corpus's questions (src/engine/tokenizer/demoCorpus.ts), whose correct answer is known:
 *
 *   R(x, y) = F1(y, a*(x)) - 0.5 * [y did not end] - 0.1 * max(0, |y| - |a*| - 2)
 *
 * - F1(y, a*) is the word-level F1 between the reply and the reference answer a*(x) (lower-cased words and
 *   numbers, punctuation ignored; SQuAD's answer-overlap metric): 1 for the right answer in the corpus's phrasing,
 *   partial credit for a partly right one, 0 for an unrelated reply. It rewards correctness.
 * - The reply must end on its own (the model emitted its end-of-turn token within the length budget); a reply cut
 *   off mid-way loses 0.5.
 * - Every word beyond the reference answer's length plus 2 costs 0.1 (no padding the answer with extra words).
 *
 * R lies in [-0.5 - 0.1 n, 1]. The preference between two replies is the one with the higher R; equal R is a tie
 * (such pairs are not used for training).
 */

/** Lower-cased words and numbers of a text. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9']+/g) ?? [];
}

/** Word-level F1 between a reply and a reference answer (multiset overlap). */
export function wordF1(reply: string, reference: string): number {
  const a = words(reply);
  const b = words(reference);
  if (a.length === 0 || b.length === 0) return a.length === b.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const w of b) counts.set(w, (counts.get(w) ?? 0) + 1);
  let common = 0;
  for (const w of a) {
    const c = counts.get(w) ?? 0;
    if (c > 0) {
      common++;
      counts.set(w, c - 1);
    }
  }
  if (common === 0) return 0;
  const p = common / a.length;
  const r = common / b.length;
  return (2 * p * r) / (p + r);
}

export interface ProxyRewardParts {
  readonly f1: number;
  readonly endedPenalty: number;
  readonly lengthPenalty: number;
  readonly total: number;
}

/** The proxy reward of `reply` (see module comment); `ended`: the model emitted its end-of-turn token. */
export function proxyReward(reply: string, reference: string, ended: boolean): ProxyRewardParts {
  const f1 = wordF1(reply, reference);
  const endedPenalty = ended ? 0 : 0.5;
  const extra = Math.max(0, words(reply).length - words(reference).length - 2);
  const lengthPenalty = 0.1 * extra;
  return { f1, endedPenalty, lengthPenalty, total: f1 - endedPenalty - lengthPenalty };
}

/** Which of two replies the rule prefers: 1 (first), -1 (second) or 0 (tie). */
export function proxyPreference(a: ProxyRewardParts, b: ProxyRewardParts, tolerance = 1e-9): 1 | -1 | 0 {
  if (a.total > b.total + tolerance) return 1;
  if (b.total > a.total + tolerance) return -1;
  return 0;
}
