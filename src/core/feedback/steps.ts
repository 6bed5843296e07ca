/**
 * Splitting a multi-step output into steps for inter-temporal (step-level, PRM800K-style) labels.
 *
 * Rules (each step is a [start, end) range of UTF-16 offsets into the text, trimmed of surrounding whitespace,
 * in text order, never overlapping, never empty):
 *  - `numbered`: a step starts at each line that opens with a step marker (`1.`, `1)`, `(1)`, `Step 1:`,
 *    `Step 1.`, `Step 1 -`, case-insensitive) and runs to just before the next marker line, so continuation lines
 *    belong to their step. Text before the first marker (a preamble) is a step of its own.
 *  - `paragraphs`: blocks separated by one or more blank lines.
 *  - `lines`: every non-blank line.
 *  - `sentences`: text up to and including `.`, `!` or `?` (plus closing quotes/brackets) followed by whitespace
 *    or the end. Abbreviations such as "e.g. x" split too; decimals such as 3.5 do not (no whitespace follows),
 *    and a list marker such as "1." stays with the sentence after it.
 *  - `auto`: the first of numbered, paragraphs, lines that gives at least 2 steps, else sentences.
 */

export type StepRule = 'auto' | 'numbered' | 'paragraphs' | 'lines' | 'sentences';
export type ConcreteStepRule = Exclude<StepRule, 'auto'>;

export const STEP_RULES: readonly StepRule[] = ['auto', 'numbered', 'paragraphs', 'lines', 'sentences'];

export interface TextStep {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

export interface StepSplit {
  /** The rule that produced the steps (for `auto`, the one it chose). */
  readonly rule: ConcreteStepRule;
  readonly steps: readonly TextStep[];
}

const MARKER = /^[ \t]*(?:\(\d{1,3}\)|\d{1,3}[.)](?=\s|$)|step[ \t]+\d{1,3}\s*[:.)-])/i;

/** Trims the range [start, end) of `text` to its non-whitespace part; undefined when nothing is left. */
function trimmed(text: string, start: number, end: number): TextStep | undefined {
  while (start < end && /\s/.test(text[start])) start++;
  while (end > start && /\s/.test(text[end - 1])) end--;
  return end > start ? { start, end, text: text.slice(start, end) } : undefined;
}

function collect(text: string, bounds: readonly (readonly [number, number])[]): TextStep[] {
  const out: TextStep[] = [];
  for (const [s, e] of bounds) {
    const t = trimmed(text, s, e);
    if (t) out.push(t);
  }
  return out;
}

/** Start offsets of every line (after \n; \r\n ends are handled because \r is whitespace and gets trimmed). */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function byNumbered(text: string): TextStep[] {
  const starts = lineStarts(text);
  const cuts: number[] = [];
  for (const s of starts) {
    const nl = text.indexOf('\n', s);
    if (MARKER.test(text.slice(s, nl < 0 ? text.length : nl))) cuts.push(s);
  }
  if (cuts.length < 2) return [];
  const bounds: [number, number][] = [];
  if (cuts[0] > 0) bounds.push([0, cuts[0]]);
  cuts.forEach((c, i) => bounds.push([c, i + 1 < cuts.length ? cuts[i + 1] : text.length]));
  return collect(text, bounds);
}

function byParagraphs(text: string): TextStep[] {
  const bounds: [number, number][] = [];
  const sep = /\n[ \t\r]*\n\s*/g;
  let from = 0;
  for (const m of text.matchAll(sep)) {
    bounds.push([from, m.index ?? 0]);
    from = (m.index ?? 0) + m[0].length;
  }
  bounds.push([from, text.length]);
  return collect(text, bounds);
}

function byLines(text: string): TextStep[] {
  const starts = lineStarts(text);
  return collect(text, starts.map((s, i) => [s, i + 1 < starts.length ? starts[i + 1] - 1 : text.length] as const));
}

function bySentences(text: string): TextStep[] {
  const bounds: [number, number][] = [];
  const end = /[.!?]+["'”’)\]]*(?=\s|$)/g;
  let from = 0;
  for (const m of text.matchAll(end)) {
    const stop = (m.index ?? 0) + m[0].length;
    // A list marker such as "1." is not a sentence: it stays with the text that follows it.
    if (/^(?:\(?\d{1,3}[.)]|step\s+\d{1,3}[.])$/i.test(text.slice(from, stop).trim())) continue;
    bounds.push([from, stop]);
    from = stop;
  }
  bounds.push([from, text.length]);
  return collect(text, bounds);
}

const SPLITTERS: Record<ConcreteStepRule, (text: string) => TextStep[]> = {
  numbered: byNumbered,
  paragraphs: byParagraphs,
  lines: byLines,
  sentences: bySentences,
};

/**
 * Splits `text` into steps by `rule` (default `auto`, see the module comment). A text with no step boundary
 * gives one step (the whole trimmed text); a blank text gives none.
 */
export function splitSteps(text: string, rule: StepRule = 'auto'): StepSplit {
  if (rule !== 'auto') {
    const steps = SPLITTERS[rule](text);
    // `numbered` with fewer than two markers has no structure to follow: the whole text is one step.
    return { rule, steps: steps.length > 0 ? steps : collect(text, [[0, text.length]]) };
  }
  for (const r of ['numbered', 'paragraphs', 'lines'] as const) {
    const steps = SPLITTERS[r](text);
    if (steps.length >= 2) return { rule: r, steps };
  }
  return { rule: 'sentences', steps: bySentences(text) };
}

/** Parses a step rule name; undefined when it is not one. */
export function parseStepRule(x: unknown): StepRule | undefined {
  return typeof x === 'string' && (STEP_RULES as readonly string[]).includes(x) ? (x as StepRule) : undefined;
}
