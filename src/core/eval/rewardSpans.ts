/**
 * From per-token dense rewards to what a person reads: the rewards of each word (Intl.Segmenter's word
 * segmentation, which splits Chinese and Japanese text into words with ICU's dictionary), the top positive and
 * negative spans, and the per-prompt canonicalization of sequence rewards (EPIC, Gleave et al. 2020: for single-turn
 * text it is R(x, y) − E_Y[R(x, Y)], see ALIGNMENT_REFERENCE.md section 6).
 */
import type { SpanReward, TokenReward } from '../../protocol/rewardInspection';

const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' });
const SPACE = /^\s*$/;

/**
 * Segments `text` into words and the runs between them, and gives each segment the dense rewards of its tokens.
 * A token's reward is split over the non-space segments it overlaps, by characters (a byte-level token " cat"
 * gives its reward to "cat", not to the space; a token over "ice-cream" splits over its parts), so the spans'
 * rewards plus `outside` sum to the tokens' rewards. A token with an empty span (bytes of a character that a later
 * token completes) counts in the segment of that character; a token outside the text (start -1) in `outside`.
 */
export function segmentRewards(text: string, tokens: readonly TokenReward[]): { spans: SpanReward[]; outside: number } {
  const segs = [...segmenter.segment(text)].map((s) => ({ start: s.index, end: s.index + s.segment.length, text: s.segment, word: s.isWordLike === true }));
  const rewards = new Float64Array(segs.length);
  const at = (pos: number): number => {
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((segs[mid] as { start: number }).start <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  let outside = 0;
  for (const t of tokens) {
    if (t.start < 0 || t.start >= text.length || segs.length === 0) {
      outside += t.reward;
      continue;
    }
    const end = Math.max(t.end, t.start + 1);
    const first = at(t.start);
    const last = at(end - 1);
    const overlaps: { i: number; n: number }[] = [];
    for (let i = first; i <= last; i++) {
      const s = segs[i] as { start: number; end: number; text: string };
      overlaps.push({ i, n: Math.min(end, s.end) - Math.max(t.start, s.start) });
    }
    const solid = overlaps.filter((o) => !SPACE.test((segs[o.i] as { text: string }).text));
    const into = solid.length ? solid : overlaps;
    const total = into.reduce((s, o) => s + o.n, 0);
    for (const o of into) rewards[o.i] = (rewards[o.i] as number) + (t.reward * o.n) / total;
  }
  return { spans: segs.map((s, i) => ({ ...s, reward: rewards[i] as number })), outside };
}

/** The `k` spans with the largest positive and the most negative rewards (spaces left out), largest magnitude first. */
export function topSpans(spans: readonly SpanReward[], k = 5): { positive: SpanReward[]; negative: SpanReward[] } {
  const solid = spans.filter((s) => !SPACE.test(s.text));
  return {
    positive: solid.filter((s) => s.reward > 0).sort((a, b) => b.reward - a.reward).slice(0, k),
    negative: solid.filter((s) => s.reward < 0).sort((a, b) => a.reward - b.reward).slice(0, k),
  };
}

/**
 * Per-prompt canonicalization: for every response, its reward minus the mean reward of all responses to the same
 * prompt (`key` identifies the prompt). Returns the means by key. Bradley-Terry rewards are identified only up to
 * a per-prompt constant, so only canonical rewards compare across prompts.
 */
export function promptMeans<T>(items: readonly T[], key: (t: T) => string, reward: (t: T) => readonly number[]): Map<string, number> {
  const sums = new Map<string, { s: number; n: number }>();
  for (const it of items) {
    const acc = sums.get(key(it)) ?? { s: 0, n: 0 };
    for (const r of reward(it)) {
      acc.s += r;
      acc.n++;
    }
    sums.set(key(it), acc);
  }
  return new Map([...sums].map(([k, { s, n }]) => [k, n ? s / n : 0]));
}
