/**
 * Where the candidates, the prompt and similarity triplets live in a dataset record, for the feedback types that
 * need more than a chosen/rejected pair (k-way ranking, feature traces, improvements, step labels, proxy rewards,
 * similarity queries). Candidates are named by field paths (see fieldPath.ts) so journal entries point back into
 * the record.
 */
import { candidateText } from './fieldPath';

/** One output of a record: its field path and its text (as {@link candidateText} reads it). */
export interface CandidateRef {
  readonly key: string;
  readonly text: string;
}

/** Single-output fields, in the order they are offered. */
export const SINGLE_CANDIDATE_FIELDS: readonly string[] = ['chosen', 'rejected', 'completion', 'response'];

/**
 * Array fields holding k outputs. An element is a string, a message, a message list, or (UltraFeedback style) an
 * object whose `response` or `text` field is the output: its key is then `completions[i].response`.
 */
export const MULTI_CANDIDATE_FIELDS: readonly string[] = ['completions', 'responses', 'outputs', 'candidates'];

const ELEMENT_TEXT_FIELDS = ['response', 'text'] as const;

/** Every candidate output of `record`, single fields first, then array fields in element order. */
export function recordCandidates(record: Readonly<Record<string, unknown>>): CandidateRef[] {
  const out: CandidateRef[] = [];
  for (const f of SINGLE_CANDIDATE_FIELDS) {
    const t = candidateText(record[f]);
    if (t !== undefined) out.push({ key: f, text: t });
  }
  for (const f of MULTI_CANDIDATE_FIELDS) {
    const arr = record[f];
    if (!Array.isArray(arr)) continue;
    arr.forEach((el: unknown, i) => {
      const t = candidateText(el);
      if (t !== undefined) {
        out.push({ key: `${f}[${i}]`, text: t });
        return;
      }
      if (typeof el !== 'object' || el === null || Array.isArray(el)) return;
      for (const sub of ELEMENT_TEXT_FIELDS) {
        const st = candidateText((el as Record<string, unknown>)[sub]);
        if (st !== undefined) {
          out.push({ key: `${f}[${i}].${sub}`, text: st });
          return;
        }
      }
    });
  }
  return out;
}

function isMessageList(x: unknown): x is { role?: unknown; content: string }[] {
  return Array.isArray(x) && x.length > 0 && x.every((m) => typeof m === 'object' && m !== null && typeof (m as { content?: unknown }).content === 'string');
}

/** Prompt fields, in the order they are looked up (`instruction` is UltraFeedback's). */
export const PROMPT_FIELDS: readonly string[] = ['prompt', 'instruction', 'question', 'input'];

/**
 * The prompt text of a record: the first of {@link PROMPT_FIELDS} that is text (for a message list, its last
 * message: the turn the outputs answer). Without one, in TRL's implicit-prompt form (chosen is a whole
 * conversation), the content of the message before chosen's last. Empty string when there is none.
 */
export function promptText(record: Readonly<Record<string, unknown>>): string {
  for (const f of PROMPT_FIELDS) {
    const t = candidateText(record[f]);
    if (t !== undefined) return t;
  }
  const chosen = record.chosen;
  if (isMessageList(chosen) && chosen.length >= 2) return chosen[chosen.length - 2].content;
  return '';
}

/** Field paths of a similarity triplet inside a record. */
export interface TripletKeys {
  readonly anchor: string;
  readonly a: string;
  readonly b: string;
}

/** Accepted anchor field names. */
export const TRIPLET_ANCHOR_FIELDS: readonly string[] = ['anchor', 'query'];
/** Accepted (a, b) field name pairs, tried in order. */
export const TRIPLET_PAIR_FIELDS: readonly (readonly [string, string])[] = [
  ['a', 'b'],
  ['option_a', 'option_b'],
  ['candidate_a', 'candidate_b'],
];

/**
 * The similarity triplet of a record: an anchor field (`anchor` or `query`) and a pair (`a`/`b`,
 * `option_a`/`option_b` or `candidate_a`/`candidate_b`), each holding text (a string, a message or a message
 * list). Undefined when the record is not a triplet.
 */
export function detectTriplet(record: Readonly<Record<string, unknown>>): TripletKeys | undefined {
  const anchor = TRIPLET_ANCHOR_FIELDS.find((f) => candidateText(record[f]) !== undefined);
  if (!anchor) return undefined;
  const pair = TRIPLET_PAIR_FIELDS.find(([a, b]) => candidateText(record[a]) !== undefined && candidateText(record[b]) !== undefined);
  return pair ? { anchor, a: pair[0], b: pair[1] } : undefined;
}

/**
 * Why a record that looks like a triplet (it has an anchor field) is not one; undefined when it is a triplet or
 * does not try to be one.
 */
export function tripletProblem(record: Readonly<Record<string, unknown>>): string | undefined {
  const anchorField = TRIPLET_ANCHOR_FIELDS.find((f) => record[f] !== undefined);
  if (!anchorField || detectTriplet(record)) return undefined;
  if (candidateText(record[anchorField]) === undefined) return `field "${anchorField}" must be text (a string, a message or a message list)`;
  const names = TRIPLET_PAIR_FIELDS.map(([a, b]) => `${a}/${b}`).join(', ');
  return `a similarity triplet needs two text fields beside "${anchorField}": one of ${names}`;
}
