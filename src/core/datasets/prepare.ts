/**
 * Turning loaded examples into training input: a seeded train/eval split, token-length truncation (TRL's
 * rules) and packing of SFT sequences, each reporting what it changed.
 */
import type { Example, Message } from './examples';

// ---------------------------------------------------------------------------------------------------------
// Train / eval split

export interface SplitOptions {
  /** Fraction of examples held out for evaluation, in [0, 1). Ignored when `evalCount` is given. */
  readonly evalFraction?: number;
  /** Exact number of held-out examples. */
  readonly evalCount?: number;
  readonly seed: number;
  /**
   * Keep every example of one prompt on the same side (`prompt`), so evaluation never sees a training prompt.
   * Then the held-out count is the smallest whole number of prompt groups reaching the target.
   */
  readonly groupBy?: 'none' | 'prompt';
}

export interface Split<E> {
  readonly train: E[];
  readonly eval: E[];
}

/**
 * Deterministic seeded split: the same examples, options and seed always give the same split, and each side
 * keeps the examples' original order. Groups (single examples, or all examples sharing a prompt) are ranked by
 * a seeded shuffle and held out from the front of that ranking.
 */
export function splitTrainEval<E extends Example>(examples: readonly E[], opts: SplitOptions): Split<E> {
  const n = examples.length;
  const target = opts.evalCount ?? Math.round((opts.evalFraction ?? 0) * n);
  if (!Number.isInteger(target) || target < 0 || target > n) throw new RangeError(`evalCount must be an integer in [0, ${n}], got ${target}`);
  if (opts.evalFraction !== undefined && !(opts.evalFraction >= 0 && opts.evalFraction < 1)) throw new RangeError(`evalFraction must be in [0, 1), got ${opts.evalFraction}`);
  const groups = new Map<string, number[]>();
  examples.forEach((e, i) => {
    const key = opts.groupBy === 'prompt' ? promptKey(e) : String(i);
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  const order = [...groups.values()];
  const rand = mulberry32(opts.seed >>> 0);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const held = new Set<number>();
  for (const g of order) {
    if (held.size >= target) break;
    for (const i of g) held.add(i);
  }
  return { train: examples.filter((_, i) => !held.has(i)), eval: examples.filter((_, i) => held.has(i)) };
}

function promptKey(e: Example): string {
  return JSON.stringify(e.style === 'messages' ? e.messages : e.prompt);
}

/** mulberry32: a small, fast, well-distributed 32-bit PRNG; enough for shuffling data indices. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------------
// Truncation

/** Turns a prompt or a completion into token ids (the trainer renders the chat template inside it). */
export type TokenizeFn = (content: readonly Message[] | string, part: 'prompt' | 'completion', prompt: readonly Message[] | string) => number[];

export interface TruncationOptions {
  /** Longest prompt in tokens; longer prompts are cut by `truncationMode`. */
  readonly maxPromptLength?: number;
  /** Longest prompt + completion in tokens; longer completions are cut at their end. */
  readonly maxLength?: number;
  /** Which end of a long prompt to keep. `keep_end` (TRL's default) keeps its last tokens, nearest the answer. */
  readonly truncationMode?: 'keep_end' | 'keep_start';
}

/** One tokenized example: prompt ids and one id list per completion (chosen/rejected, or the completion). */
export interface TokenizedExample {
  readonly id: string;
  readonly prompt: number[];
  readonly completions: number[][];
}

export interface TruncationReport {
  readonly examples: number;
  readonly promptsTruncated: number;
  /** Completions (chosen and rejected counted separately) cut to fit `maxLength`. */
  readonly completionsTruncated: number;
  readonly tokensDropped: number;
}

/**
 * Truncates tokenized examples as TRL's DPO/KTO tokenization does: first the prompt to `maxPromptLength`
 * (keeping its end by default), then each completion to `maxLength - prompt length` (keeping its start).
 * Throws a RangeError when `maxPromptLength >= maxLength` (no room would be left for any completion).
 */
export function truncateTokenized(items: readonly TokenizedExample[], opts: TruncationOptions): { examples: TokenizedExample[]; report: TruncationReport } {
  const { maxPromptLength, maxLength } = opts;
  if (maxPromptLength !== undefined && !(Number.isInteger(maxPromptLength) && maxPromptLength > 0)) throw new RangeError(`maxPromptLength must be a positive integer, got ${maxPromptLength}`);
  if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength > 1)) throw new RangeError(`maxLength must be an integer > 1, got ${maxLength}`);
  if (maxPromptLength !== undefined && maxLength !== undefined && maxPromptLength >= maxLength)
    throw new RangeError(`maxPromptLength (${maxPromptLength}) must be smaller than maxLength (${maxLength})`);
  const keepEnd = (opts.truncationMode ?? 'keep_end') === 'keep_end';
  let promptsTruncated = 0;
  let completionsTruncated = 0;
  let tokensDropped = 0;
  const out = items.map((it) => {
    let prompt = it.prompt;
    // Without maxPromptLength, a prompt alone must still leave one completion token under maxLength.
    const promptCap = maxPromptLength ?? (maxLength !== undefined ? maxLength - 1 : undefined);
    if (promptCap !== undefined && prompt.length > promptCap) {
      tokensDropped += prompt.length - promptCap;
      prompt = keepEnd ? prompt.slice(prompt.length - promptCap) : prompt.slice(0, promptCap);
      promptsTruncated++;
    }
    const room = maxLength !== undefined ? maxLength - prompt.length : Infinity;
    const completions = it.completions.map((c) => {
      if (c.length <= room) return c;
      tokensDropped += c.length - room;
      completionsTruncated++;
      return c.slice(0, room);
    });
    return { id: it.id, prompt, completions };
  });
  return { examples: out, report: { examples: items.length, promptsTruncated, completionsTruncated, tokensDropped } };
}

/** Tokenizes examples with `tokenize` and truncates them (see {@link truncateTokenized}). */
export function tokenizeAndTruncate(examples: readonly Example[], tokenize: TokenizeFn, opts: TruncationOptions): { examples: TokenizedExample[]; report: TruncationReport } {
  const items = examples.map((e): TokenizedExample => {
    if (e.style === 'messages') return { id: e.id, prompt: [], completions: [tokenize(e.messages, 'completion', [])] };
    const prompt = tokenize(e.prompt, 'prompt', e.prompt);
    switch (e.kind) {
      case 'preference':
        return { id: e.id, prompt, completions: [tokenize(e.chosen, 'completion', e.prompt), tokenize(e.rejected, 'completion', e.prompt)] };
      case 'unpaired':
      case 'sft':
        return { id: e.id, prompt, completions: [tokenize(e.completion, 'completion', e.prompt)] };
      case 'prompt':
        return { id: e.id, prompt, completions: [] };
    }
  });
  return truncateTokenized(items, opts);
}

// ---------------------------------------------------------------------------------------------------------
// Packing (SFT)

/** One SFT sequence: token ids and, per token, whether the loss covers it (completion tokens). */
export interface SftSequence {
  readonly id: string;
  readonly ids: number[];
  readonly lossMask: boolean[];
}

/** Several sequences in one row of `maxLength` tokens. Attention must not cross `boundaries`. */
export interface Pack {
  readonly ids: number[];
  readonly lossMask: boolean[];
  /** Position ids restart at 0 at each sequence start, so packed sequences look like separate ones. */
  readonly positionIds: number[];
  /** Start offset of each sequence in the pack, then the pack length: `[0, n1, n1 + n2, ..., length]`. */
  readonly boundaries: number[];
  readonly sequenceIds: string[];
}

export interface PackingReport {
  readonly sequences: number;
  readonly packs: number;
  /** Sequences longer than `maxLength`, cut at their end before packing. */
  readonly truncated: number;
  readonly tokensDropped: number;
  /** Real tokens / (packs * maxLength). */
  readonly fillRatio: number;
}

/**
 * Best-fit-decreasing packing (TRL's `bfd` strategy): sequences, longest first, go into the fullest pack that
 * still has room; ties keep input order, so the result is deterministic. Sequences longer than `maxLength`
 * are truncated first and counted.
 */
export function packSequences(seqs: readonly SftSequence[], maxLength: number): { packs: Pack[]; report: PackingReport } {
  if (!(Number.isInteger(maxLength) && maxLength > 0)) throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
  let truncated = 0;
  let tokensDropped = 0;
  const items = seqs.map((s, order) => {
    if (s.ids.length !== s.lossMask.length) throw new RangeError(`sequence ${s.id}: ids and lossMask lengths differ (${s.ids.length} vs ${s.lossMask.length})`);
    if (s.ids.length <= maxLength) return { s, order };
    truncated++;
    tokensDropped += s.ids.length - maxLength;
    return { s: { id: s.id, ids: s.ids.slice(0, maxLength), lossMask: s.lossMask.slice(0, maxLength) }, order };
  });
  items.sort((a, b) => b.s.ids.length - a.s.ids.length || a.order - b.order);
  const bins: { used: number; members: SftSequence[] }[] = [];
  for (const { s } of items) {
    if (s.ids.length === 0) continue;
    let best = -1;
    for (let b = 0; b < bins.length; b++) {
      const free = maxLength - bins[b].used;
      if (free >= s.ids.length && (best < 0 || bins[b].used > bins[best].used)) best = b;
    }
    if (best < 0) {
      bins.push({ used: 0, members: [] });
      best = bins.length - 1;
    }
    bins[best].used += s.ids.length;
    bins[best].members.push(s);
  }
  const packs = bins.map((b): Pack => {
    const ids: number[] = [];
    const lossMask: boolean[] = [];
    const positionIds: number[] = [];
    const boundaries = [0];
    for (const m of b.members) {
      ids.push(...m.ids);
      lossMask.push(...m.lossMask);
      for (let i = 0; i < m.ids.length; i++) positionIds.push(i);
      boundaries.push(ids.length);
    }
    return { ids, lossMask, positionIds, boundaries, sequenceIds: b.members.map((m) => m.id) };
  });
  const real = packs.reduce((s, p) => s + p.ids.length, 0);
  return { packs, report: { sequences: seqs.length, packs: packs.length, truncated, tokensDropped, fillRatio: packs.length ? real / (packs.length * maxLength) : 0 } };
}
