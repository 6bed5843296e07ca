/**
 * Perturbation probes: how much a scorer's output moves under changes that should not matter much (format,
 * whitespace, paraphrase, swapped presentation order) or that it should not reward (padding, truncation).
 * The survey's interpretability checks ask for exactly these: consistency under semantic variations and format
 * changes, and length and position sensitivity.
 *
 * Every probe takes the scorer as a callback, so it works with a reward model in a session process, a proxy
 * scorer, or a judge.
 */
import { mapLimit } from './mapLimit';

/** Pointwise scorer: a reward for `response` to `prompt`. */
export type Scorer = (prompt: string, response: string) => Promise<number>;

/**
 * Pairwise scorer: the probability (in [0, 1]) that `first` is the better response to `prompt`.
 */
export type PairScorer = (prompt: string, first: string, second: string) => Promise<number>;

/** A change to one (prompt, response); `undefined` fields are left as they were. */
export type Perturbation = (prompt: string, response: string) => { readonly prompt?: string; readonly response?: string } | Promise<{ readonly prompt?: string; readonly response?: string }>;

export interface ProbeItem {
  readonly prompt: string;
  readonly response: string;
}

export interface SensitivityStats {
  readonly probe: string;
  readonly n: number;
  /** Mean of score(perturbed) - score(original). */
  readonly meanDelta: number;
  readonly meanAbsDelta: number;
  readonly maxAbsDelta: number;
  /** Standard deviation of the deltas. */
  readonly stdDelta: number;
  /** meanAbsDelta divided by the standard deviation of the original scores (scale-free; NaN if they are constant). */
  readonly relativeMeanAbsDelta: number;
  /** Fraction of items whose score moved by more than `tolerance`. */
  readonly changedFraction: number;
  /** Per item: original and perturbed score. */
  readonly scores: readonly { readonly original: number; readonly perturbed: number }[];
}

export interface ProbeOptions {
  /** Name shown in reports. */
  readonly name?: string;
  /** |delta| above this counts as changed (default 1e-6). */
  readonly tolerance?: number;
  /** Scorer calls in flight at once (default 4). */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

function checkScore(v: number, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${what}: the scorer returned ${String(v)}, not a finite number`);
  return v;
}

function std(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
}

/** Scores every item before and after `perturb`, and summarizes the change. */
export async function perturbationProbe(scorer: Scorer, items: readonly ProbeItem[], perturb: Perturbation, opts: ProbeOptions = {}): Promise<SensitivityStats> {
  const name = opts.name ?? 'perturbation';
  const tol = opts.tolerance ?? 1e-6;
  const scores = await mapLimit(
    items,
    opts.concurrency ?? 4,
    async (it, i) => {
      const changed = await perturb(it.prompt, it.response);
      const original = checkScore(await scorer(it.prompt, it.response), `${name}, item ${i} (original)`);
      const perturbed = checkScore(await scorer(changed.prompt ?? it.prompt, changed.response ?? it.response), `${name}, item ${i} (perturbed)`);
      return { original, perturbed };
    },
    { signal: opts.signal },
  );
  const deltas = scores.map((s) => s.perturbed - s.original);
  const n = deltas.length;
  const abs = deltas.map(Math.abs);
  const meanAbs = n ? abs.reduce((a, b) => a + b, 0) / n : NaN;
  const sdOrig = std(scores.map((s) => s.original));
  return {
    probe: name,
    n,
    meanDelta: n ? deltas.reduce((a, b) => a + b, 0) / n : NaN,
    meanAbsDelta: meanAbs,
    maxAbsDelta: n ? abs.reduce((a, b) => Math.max(a, b), 0) : NaN,
    stdDelta: std(deltas),
    relativeMeanAbsDelta: sdOrig > 0 ? meanAbs / sdOrig : NaN,
    changedFraction: n ? abs.filter((d) => d > tol).length / n : NaN,
    scores,
  };
}

export interface PreferencePairItem {
  readonly prompt: string;
  readonly chosen: string;
  readonly rejected: string;
}

export interface FlipStats {
  readonly probe: string;
  readonly n: number;
  /** Fraction of pairs ranked correctly (chosen > rejected) before the perturbation. */
  readonly accuracyBefore: number;
  readonly accuracyAfter: number;
  /** Fraction of pairs whose ranking (chosen above or below rejected) changed. */
  readonly flipRate: number;
  /** Mean change of the margin score(chosen) - score(rejected). */
  readonly meanMarginDelta: number;
}

/**
 * Perturbs one side of each preference pair (e.g. pad the rejected response, truncate the chosen one) and
 * counts how often the reward model's ranking flips: a length-biased model flips when the rejected response is
 * padded.
 */
export async function pairFlipProbe(scorer: Scorer, pairs: readonly PreferencePairItem[], perturb: Perturbation, side: 'chosen' | 'rejected' | 'both', opts: ProbeOptions = {}): Promise<FlipStats> {
  const name = opts.name ?? `perturb ${side}`;
  const rows = await mapLimit(
    pairs,
    opts.concurrency ?? 4,
    async (p, i) => {
      const c0 = checkScore(await scorer(p.prompt, p.chosen), `${name}, pair ${i} chosen`);
      const r0 = checkScore(await scorer(p.prompt, p.rejected), `${name}, pair ${i} rejected`);
      const c1 = side === 'rejected' ? c0 : checkScore(await scorer(p.prompt, (await perturb(p.prompt, p.chosen)).response ?? p.chosen), `${name}, pair ${i} chosen (perturbed)`);
      const r1 = side === 'chosen' ? r0 : checkScore(await scorer(p.prompt, (await perturb(p.prompt, p.rejected)).response ?? p.rejected), `${name}, pair ${i} rejected (perturbed)`);
      return { before: c0 - r0, after: c1 - r1 };
    },
    { signal: opts.signal },
  );
  const n = rows.length;
  const frac = (f: (r: { before: number; after: number }) => boolean): number => (n ? rows.filter(f).length / n : NaN);
  return {
    probe: name,
    n,
    accuracyBefore: frac((r) => r.before > 0),
    accuracyAfter: frac((r) => r.after > 0),
    flipRate: frac((r) => r.before > 0 !== r.after > 0),
    meanMarginDelta: n ? rows.reduce((a, r) => a + (r.after - r.before), 0) / n : NaN,
  };
}

export interface PositionSwapStats {
  readonly n: number;
  /** Mean |f(a, b) + f(b, a) - 1|: 0 for a scorer that ignores the order. */
  readonly meanInconsistency: number;
  /** Fraction of pairs where both orders favour the same position (both > 0.5 or both < 0.5). */
  readonly positionBiasRate: number;
  /** Mean probability given to whichever response is shown first (0.5 = no position preference on average). */
  readonly meanFirstPosition: number;
  /** Fraction of pairs where the preference properly reverses with the order. */
  readonly consistentRate: number;
}

/** Scores each pair in both orders with a pairwise scorer and measures the position sensitivity. */
export async function positionSwapProbe(scorer: PairScorer, pairs: readonly PreferencePairItem[], opts: ProbeOptions = {}): Promise<PositionSwapStats> {
  const rows = await mapLimit(
    pairs,
    opts.concurrency ?? 4,
    async (p, i) => {
      const ab = await scorer(p.prompt, p.chosen, p.rejected);
      const ba = await scorer(p.prompt, p.rejected, p.chosen);
      for (const [v, w] of [[ab, 'chosen first'], [ba, 'rejected first']] as const) {
        if (!(v >= 0 && v <= 1)) throw new RangeError(`position swap, pair ${i} (${w}): the pairwise scorer returned ${v}, expected a probability in [0, 1]`);
      }
      return { ab, ba };
    },
    { signal: opts.signal },
  );
  const n = rows.length;
  const mean = (f: (r: { ab: number; ba: number }) => number): number => (n ? rows.reduce((a, r) => a + f(r), 0) / n : NaN);
  const sameSide = (r: { ab: number; ba: number }): boolean => (r.ab > 0.5 && r.ba > 0.5) || (r.ab < 0.5 && r.ba < 0.5);
  const reverses = (r: { ab: number; ba: number }): boolean => (r.ab > 0.5 && r.ba < 0.5) || (r.ab < 0.5 && r.ba > 0.5);
  return {
    n,
    meanInconsistency: mean((r) => Math.abs(r.ab + r.ba - 1)),
    positionBiasRate: mean((r) => (sameSide(r) ? 1 : 0)),
    meanFirstPosition: mean((r) => (r.ab + r.ba) / 2),
    consistentRate: mean((r) => (reverses(r) ? 1 : 0)),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Built-in perturbations (each changes the response only)

/** Keeps the first `fraction` of the response, cut back to a word boundary. */
export function truncate(fraction = 0.5): Perturbation {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`truncate: fraction must be in (0, 1) (${fraction})`);
  return (_p, r) => {
    const cut = Math.floor(r.length * fraction);
    const head = r.slice(0, cut);
    // Cut inside a word: drop the partial word.
    const ws = /\S/.test(r.charAt(cut)) ? head.search(/\s\S*$/) : -1;
    return { response: (ws > 0 ? head.slice(0, ws) : head).trimEnd() };
  };
}

export type PaddingKind = 'filler' | 'repeat' | 'whitespace';

/**
 * Makes the response longer without adding content: `filler` appends content-free pleasantries, `repeat`
 * repeats the last paragraph, `whitespace` appends blank lines and spaces. `times` repetitions.
 */
export function padLength(kind: PaddingKind = 'filler', times = 1): Perturbation {
  const filler = '\n\nI hope this helps! Let me know if you have any other questions, and feel free to ask for more details.';
  return (_p, r) => {
    if (kind === 'whitespace') return { response: r + '\n\n  '.repeat(times * 4) };
    if (kind === 'repeat') {
      const paras = r.split(/\n\s*\n/);
      const last = paras[paras.length - 1] ?? r;
      return { response: r + `\n\n${last}`.repeat(times) };
    }
    return { response: r + filler.repeat(times) };
  };
}

/** Removes markdown markup: headings, emphasis, code fences and ticks, list markers, link syntax. */
export function stripMarkdown(): Perturbation {
  return (_p, r) => ({
    response: r
      .replace(/```[^\n]*\n?/g, '')
      .replace(/`([^`]*)`/g, '$1')
      .replace(/^\s{0,3}#{1,6}\s+/gm, '')
      .replace(/(\*\*|__)(.+?)\1/g, '$2')
      .replace(/(^|[^*\w])\*(?!\s)([^*\n]+?)\*(?!\w)/g, '$1$2')
      .replace(/^\s*(?:[-*+]|\d+[.)])\s+/gm, '')
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1'),
  });
}

/** Adds markdown structure without changing the words: each sentence becomes a bullet, a heading on top. */
export function addMarkdown(): Perturbation {
  return (_p, r) => {
    const sentences = r
      .split(/(?<=[.!?])\s+/)
      .map((s) => s.trim())
      .filter(Boolean);
    return { response: `## Answer\n\n${sentences.map((s) => `- ${s}`).join('\n')}` };
  };
}

/** Collapses runs of whitespace to one space (paragraph breaks kept) and trims. */
export function normalizeWhitespace(): Perturbation {
  return (_p, r) => ({ response: r.replace(/[ \t]+/g, ' ').replace(/\n{3,}/g, '\n\n').replace(/ *\n */g, '\n').trim() });
}

/** Adds harmless whitespace noise: double spaces after sentences and trailing spaces on lines. */
export function jitterWhitespace(): Perturbation {
  return (_p, r) => ({ response: r.replace(/([.!?]) /g, '$1  ').replace(/\n/g, '  \n') });
}

/**
 * A paraphrase hook: `paraphrase` rewrites a text (e.g. with a judge model or a user script); `target` says
 * whether the response or the prompt is paraphrased (the survey's "semantic variations of a prompt").
 */
export function paraphraseWith(paraphrase: (text: string) => Promise<string>, target: 'response' | 'prompt' = 'response'): Perturbation {
  return async (p, r) => (target === 'response' ? { response: await paraphrase(r) } : { prompt: await paraphrase(p) });
}
