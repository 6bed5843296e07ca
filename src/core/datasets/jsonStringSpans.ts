/**
 * Where each string value of a one-line JSON record sits in the raw text, with its field path
 * (`prompt`, `chosen[0].content`, ...). Lets a selection made in the editor's raw JSONL line become an
 * importance span on the decoded field text.
 */

export interface StringValueSpan {
  /** Field path in the fieldPath.ts notation: `a.b[0].c`. */
  readonly path: string;
  /** Raw offsets in the line: from the opening quote to just after the closing quote. */
  readonly rawStart: number;
  readonly rawEnd: number;
  /** The decoded string. */
  readonly value: string;
}

type Frame = { kind: 'object'; key: string | undefined; expectKey: boolean } | { kind: 'array'; index: number };

function pathOf(stack: Frame[]): string {
  let p = '';
  for (const f of stack) {
    if (f.kind === 'object') p += p ? `.${f.key ?? ''}` : (f.key ?? '');
    else p += `[${f.index}]`;
  }
  return p;
}

/** Lists the string VALUES (not keys) of a JSON text with their raw positions. Returns [] for invalid JSON. */
export function stringValueSpans(text: string): StringValueSpan[] {
  try {
    JSON.parse(text);
  } catch {
    return [];
  }
  const out: StringValueSpan[] = [];
  const stack: Frame[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '{') {
      stack.push({ kind: 'object', key: undefined, expectKey: true });
      i++;
    } else if (c === '[') {
      stack.push({ kind: 'array', index: 0 });
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top?.kind === 'array') top.index++;
      else if (top?.kind === 'object') top.expectKey = true;
      i++;
    } else if (c === ':') {
      const top = stack[stack.length - 1];
      if (top?.kind === 'object') top.expectKey = false;
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const raw = text.slice(i, j + 1);
      const value = JSON.parse(raw) as string;
      const top = stack[stack.length - 1];
      if (top?.kind === 'object' && top.expectKey) top.key = value;
      else out.push({ path: pathOf(stack), rawStart: i, rawEnd: j + 1, value });
      i = j + 1;
    } else {
      i++;
    }
  }
  return out;
}

/**
 * Maps a raw selection [start, end) in the line to a span of one string value's decoded text.
 * Undefined when the selection is not inside a single string value.
 */
export function selectionToFieldSpan(text: string, start: number, end: number): { field: string; start: number; end: number; text: string } | undefined {
  const span = stringValueSpans(text).find((s) => start > s.rawStart && end < s.rawEnd && start < end);
  if (!span) return undefined;
  // Decoded offset of a raw position = length of the decoded prefix of the literal's body.
  const decodedAt = (raw: number) => (JSON.parse(`"${text.slice(span.rawStart + 1, raw).replace(/\\$/, '')}"`) as string).length;
  const s = decodedAt(start);
  const e = decodedAt(end);
  return { field: span.path, start: s, end: e, text: span.value.slice(s, e) };
}
