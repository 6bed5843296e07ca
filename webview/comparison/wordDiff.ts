// Word-level diff of two texts (longest common subsequence over word and punctuation tokens, whitespace ignored;
// words found by Intl.Segmenter, so Chinese splits into words), reported as character ranges of each text that are
// not shared. No DOM: unit-tested under Node.

/** [start, end) character offsets into a text. */
export type Range = readonly [number, number];

export interface Token {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

export interface WordDiff {
  /** Changed ranges of the first text, in order, adjacent changes merged. */
  readonly a: Range[];
  /** Changed ranges of the second text. */
  readonly b: Range[];
  /**
   * False when the texts were too long for an exact LCS: the common prefix and suffix are still found, and the
   * whole middle of both is marked changed.
   */
  readonly exact: boolean;
  /**
   * Share of tokens the two texts have in common: 2 * common / (tokens of a + tokens of b), in [0, 1]
   * (1 for two empty texts). With `exact` false, only the common prefix and suffix count.
   */
  readonly similarity: number;
}

/** The word segmenter (ICU's dictionaries: Chinese and Japanese words, Thai), where the runtime has one. */
const segmenter: Intl.Segmenter | undefined = typeof Intl.Segmenter === 'function' ? new Intl.Segmenter(undefined, { granularity: 'word' }) : undefined;

/** Scripts written without spaces: without a segmenter each character of them is its own token. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]/u;

/**
 * Words and single punctuation/symbol characters; whitespace is skipped. Words come from `Intl.Segmenter`, so a run
 * of Chinese characters splits into its words (天空 / 为什么 / 是 / 蓝色) instead of being one token that any change
 * marks whole. Without a segmenter, words are runs of letters, digits and underscore, and Han, kana and Thai
 * characters one at a time.
 */
export function tokenize(s: string, seg: Intl.Segmenter | null = segmenter ?? null): Token[] {
  const out: Token[] = [];
  const push = (text: string, start: number): void => {
    out.push({ text, start, end: start + text.length });
  };
  const punctuation = (text: string, start: number): void => {
    const re = /[^\s]/gu;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) push(m[0], start + m.index);
  };
  if (seg) {
    for (const part of seg.segment(s)) {
      if (part.isWordLike) push(part.segment, part.index);
      else punctuation(part.segment, part.index);
    }
    return out;
  }
  const re = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    if (!UNSPACED.test(m[0])) push(m[0], m.index);
    else for (const c of m[0].matchAll(/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]|[^\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]+/gu)) push(c[0], m.index + (c.index ?? 0));
  }
  return out;
}

/**
 * Diffs `a` against `b`. Cost: O(n m) time and memory over the tokens left after removing the common prefix and
 * suffix; above `maxCells` (default 4M cells, ~8 MB) the middle is reported as changed without an LCS.
 */
export function wordDiff(a: string, b: string, maxCells = 4_000_000): WordDiff {
  const ta = tokenize(a);
  const tb = tokenize(b);
  let pre = 0;
  while (pre < ta.length && pre < tb.length && ta[pre].text === tb[pre].text) pre++;
  let suf = 0;
  while (suf < ta.length - pre && suf < tb.length - pre && ta[ta.length - 1 - suf].text === tb[tb.length - 1 - suf].text) suf++;
  const ma = ta.slice(pre, ta.length - suf);
  const mb = tb.slice(pre, tb.length - suf);
  const changedA = new Uint8Array(ma.length).fill(1);
  const changedB = new Uint8Array(mb.length).fill(1);
  let exact = true;
  let lcs = 0;
  const n = ma.length;
  const m = mb.length;
  if (n > 0 && m > 0) {
    if ((n + 1) * (m + 1) > maxCells) exact = false;
    else {
      // L[i][j] = LCS length of ma[i..] and mb[j..]; Uint16 is enough since min(n, m) < 65536 under the cap,
      // otherwise Uint32.
      const W = m + 1;
      const L = Math.min(n, m) < 65535 ? new Uint16Array((n + 1) * W) : new Uint32Array((n + 1) * W);
      for (let i = n - 1; i >= 0; i--) {
        for (let j = m - 1; j >= 0; j--) {
          L[i * W + j] = ma[i].text === mb[j].text ? L[(i + 1) * W + j + 1] + 1 : Math.max(L[(i + 1) * W + j], L[i * W + j + 1]);
        }
      }
      lcs = L[0];
      let i = 0;
      let j = 0;
      while (i < n && j < m) {
        if (ma[i].text === mb[j].text) {
          changedA[i++] = 0;
          changedB[j++] = 0;
        } else if (L[(i + 1) * W + j] >= L[i * W + j + 1]) i++;
        else j++;
      }
    }
  }
  const total = ta.length + tb.length;
  const similarity = total === 0 ? 1 : (2 * (pre + suf + lcs)) / total;
  return { a: ranges(a, ma, changedA), b: ranges(b, mb, changedB), exact, similarity };
}

/** Ranges of changed tokens; two changed tokens separated only by whitespace become one range. */
function ranges(s: string, tokens: Token[], changed: Uint8Array): Range[] {
  const out: [number, number][] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (!changed[i]) continue;
    const t = tokens[i];
    const last = out[out.length - 1];
    if (last && /^\s*$/.test(s.slice(last[1], t.start)) && changed[i - 1]) last[1] = t.end;
    else out.push([t.start, t.end]);
  }
  return out;
}
