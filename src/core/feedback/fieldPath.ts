/**
 * Field paths name candidates and spans inside a dataset record: `chosen`, `responses[2]`, `prompt[0].content`.
 */
import { createHash } from 'node:crypto';

const SEGMENT = /([^.[\]]+)|\[(\d+)\]/g;

/** Splits `a.b[2].c` into ['a', 'b', 2, 'c']; undefined for a malformed path. */
export function parseFieldPath(p: string): (string | number)[] | undefined {
  const out: (string | number)[] = [];
  let consumed = 0;
  for (const m of p.matchAll(SEGMENT)) {
    const gap = p.slice(consumed, m.index);
    const isIndex = m[2] !== undefined;
    // a name starts the path or follows a dot; an index follows a segment directly
    const ok = isIndex ? gap === '' && out.length > 0 : out.length === 0 ? gap === '' : gap === '.';
    if (!ok) return undefined;
    out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
    consumed = (m.index ?? 0) + m[0].length;
  }
  return consumed === p.length && out.length > 0 ? out : undefined;
}

/** The value at a field path, or undefined when any step is missing. */
export function getFieldPath(obj: unknown, p: string): unknown {
  const segs = parseFieldPath(p);
  if (!segs) return undefined;
  let cur: unknown = obj;
  for (const s of segs) {
    if (typeof s === 'number') {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[s];
    } else {
      if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
      cur = (cur as Record<string, unknown>)[s];
    }
  }
  return cur;
}

function isMessage(x: unknown): x is { role: string; content: string } {
  return typeof x === 'object' && x !== null && typeof (x as { content?: unknown }).content === 'string';
}

/**
 * The text of a candidate value: a string itself; a message its content; a message list the content of its last
 * message (in TRL's conversational formats a completion is a list holding the assistant's turn).
 */
export function candidateText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isMessage(value)) return value.content;
  if (Array.isArray(value) && value.length > 0 && value.every(isMessage)) return (value[value.length - 1] as { content: string }).content;
  return undefined;
}

/** `value` with its text (as {@link candidateText} reads it) replaced by `text`; the original is not changed. */
export function withCandidateText(value: unknown, text: string): unknown {
  if (typeof value === 'string') return text;
  if (isMessage(value)) return { ...value, content: text };
  if (Array.isArray(value) && value.length > 0 && value.every(isMessage)) {
    return value.map((m, i) => (i === value.length - 1 ? { ...(m as object), content: text } : m));
  }
  return undefined;
}

/** `sha1:` + hex SHA-1 of the UTF-8 text (used to pin an improvement to the original it edits). */
export function textSha1(text: string): string {
  return `sha1:${createHash('sha1').update(text, 'utf8').digest('hex')}`;
}
