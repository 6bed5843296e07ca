// A small, safe markdown reader for model outputs: fenced code, headings, lists, quotes, rules, GFM tables,
// paragraphs, and inline code / bold / italic / links. It produces a tree whose text pieces are [start, end) offsets into the
// source, so the renderer can lay word-diff highlights over rendered text. Raw HTML is never interpreted: the
// renderer only ever creates text nodes from these ranges. No DOM here: unit-tested under Node.

export type Inline =
  | { readonly kind: 'text'; readonly start: number; readonly end: number }
  // `omit`: offsets inside [start, end) not shown (the backslash of `\|` in a table cell's code span, GFM).
  | { readonly kind: 'code'; readonly start: number; readonly end: number; readonly omit?: readonly number[] }
  | { readonly kind: 'strong' | 'em'; readonly children: Inline[] }
  | { readonly kind: 'link'; readonly children: Inline[]; readonly href: string }
  | { readonly kind: 'break' };

export type Block =
  | { readonly kind: 'paragraph'; readonly inlines: Inline[] }
  | { readonly kind: 'heading'; readonly level: number; readonly inlines: Inline[] }
  | { readonly kind: 'code'; readonly lang: string; readonly start: number; readonly end: number }
  | { readonly kind: 'quote'; readonly inlines: Inline[] }
  | { readonly kind: 'listItem'; readonly ordered: boolean; readonly marker: string; readonly depth: number; readonly inlines: Inline[] }
  | { readonly kind: 'rule' }
  | { readonly kind: 'table'; readonly align: readonly Align[]; readonly header: readonly Cell[]; readonly rows: readonly (readonly Cell[])[] };

/** A table column's alignment from its delimiter cell: `:---` left, `:---:` center, `---:` right, `---` none. */
export type Align = 'left' | 'center' | 'right' | undefined;
/** A table cell: its inline markdown (offsets into the source, like every other text piece). */
export type Cell = readonly Inline[];

interface Line {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

function splitLines(src: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  for (;;) {
    const nl = src.indexOf('\n', start);
    const end = nl < 0 ? src.length : nl;
    const raw = src.slice(start, end);
    const trimmedEnd = raw.endsWith('\r') ? end - 1 : end;
    out.push({ start, end: trimmedEnd, text: src.slice(start, trimmedEnd) });
    if (nl < 0) break;
    start = nl + 1;
  }
  return out;
}

const FENCE = /^( {0,3})(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const LIST = /^(\s*)([-*+]|\d{1,9}[.)])\s+/;
const QUOTE = /^ {0,3}>\s?/;

/** Parses `src` into blocks whose text is given as offsets into `src`. */
export function parseMarkdown(src: string): Block[] {
  const lines = splitLines(src);
  const blocks: Block[] = [];
  let para: Line[] = [];
  const flush = (): void => {
    if (para.length) blocks.push({ kind: 'paragraph', inlines: inlineLines(src, para.map((l) => [l.start, l.end])) });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = FENCE.exec(line.text);
    if (fence) {
      flush();
      const marker = fence[2];
      let j = i + 1;
      while (j < lines.length && !new RegExp(`^ {0,3}${marker[0] === '`' ? '`' : '~'}{${marker.length},}\\s*$`).test(lines[j].text)) j++;
      const body = lines.slice(i + 1, j);
      blocks.push({ kind: 'code', lang: fence[3], start: body.length ? body[0].start : line.end, end: body.length ? body[body.length - 1].end : line.end });
      i = j; // skip the closing fence (or run to the end when unclosed)
      continue;
    }
    if (line.text.trim() === '') {
      flush();
      continue;
    }
    const h = HEADING.exec(line.text);
    if (h) {
      flush();
      const at = line.start + line.text.indexOf(h[2], h[1].length);
      blocks.push({ kind: 'heading', level: h[1].length, inlines: parseInline(src, at, at + h[2].length) });
      continue;
    }
    if (RULE.test(line.text)) {
      flush();
      blocks.push({ kind: 'rule' });
      continue;
    }
    const li = LIST.exec(line.text);
    if (li) {
      flush();
      // The item runs on over following lines that are indented past the marker and are not items themselves.
      const body: [number, number][] = [[line.start + li[0].length, line.end]];
      while (i + 1 < lines.length && lines[i + 1].text.trim() !== '' && !LIST.exec(lines[i + 1].text) && /^\s{2,}/.test(lines[i + 1].text) && !FENCE.test(lines[i + 1].text)) {
        i++;
        const ind = /^\s*/.exec(lines[i].text)?.[0].length ?? 0;
        body.push([lines[i].start + ind, lines[i].end]);
      }
      const marker = li[2];
      blocks.push({ kind: 'listItem', ordered: /\d/.test(marker), marker, depth: Math.floor(li[1].replace(/\t/g, '    ').length / 2), inlines: inlineLines(src, body) });
      continue;
    }
    const q = QUOTE.exec(line.text);
    if (q) {
      flush();
      const body: [number, number][] = [[line.start + q[0].length, line.end]];
      while (i + 1 < lines.length) {
        const next = QUOTE.exec(lines[i + 1].text);
        if (!next) break;
        i++;
        body.push([lines[i].start + next[0].length, lines[i].end]);
      }
      blocks.push({ kind: 'quote', inlines: inlineLines(src, body) });
      continue;
    }
    const table = tableAt(src, lines, i);
    if (table) {
      flush();
      blocks.push(table.block);
      i = table.last;
      continue;
    }
    para.push(line);
  }
  flush();
  return blocks;
}

/** Whether a line opens a block other than a paragraph: it ends a table's body (GFM). */
function opensBlock(text: string): boolean {
  return text.trim() === '' || FENCE.test(text) || HEADING.test(text) || RULE.test(text) || QUOTE.test(text) || LIST.test(text);
}

/**
 * The [start, end) source ranges of a table row's cells, trimmed: split at every `|` not escaped by a backslash
 * (GFM splits inside code spans too), a leading and a trailing pipe dropped. `pipes` counts the splitting pipes.
 */
function splitRow(src: string, line: Line): { cells: [number, number][]; pipes: number } {
  const bars: number[] = [];
  for (let k = line.start; k < line.end; k++) {
    if (src[k] === '\\') k++;
    else if (src[k] === '|') bars.push(k);
  }
  let from = line.start;
  let to = line.end;
  while (from < to && /\s/.test(src[from])) from++;
  while (to > from && /\s/.test(src[to - 1])) to--;
  const inner = bars.filter((b) => b >= from && b < to);
  // Each cell starts after a boundary pipe; without a leading pipe the first cell starts at the text.
  const bounds = inner[0] === from ? [...inner] : [from - 1, ...inner];
  if (bounds.length > 1 && bounds[bounds.length - 1] === to - 1) {
    bounds.pop(); // a trailing pipe closes the row, it opens no cell
    to--;
  }
  const cells: [number, number][] = bounds.map((b, n) => {
    let s = b + 1;
    let e = n + 1 < bounds.length ? bounds[n + 1] : to;
    while (s < e && /\s/.test(src[s])) s++;
    while (e > s && /\s/.test(src[e - 1])) e--;
    return [s, e];
  });
  return { cells, pipes: inner.length };
}

const DELIMITER_CELL = /^:?-+:?$/;

/** The alignments of a delimiter row (`| :--- | :---: | ---: |`), or undefined when the line is not one. */
function delimiterRow(src: string, line: Line): Align[] | undefined {
  const { cells, pipes } = splitRow(src, line);
  const texts = cells.map(([s, e]) => src.slice(s, e).replace(/\s+/g, ''));
  if (pipes === 0 || !texts.every((t) => DELIMITER_CELL.test(t))) return undefined;
  return texts.map((t) => (t.startsWith(':') && t.endsWith(':') ? 'center' : t.endsWith(':') ? 'right' : t.startsWith(':') ? 'left' : undefined));
}

/** A cell's inline markdown; inside its code spans `\|` shows as `|` (GFM), elsewhere the escape drops the backslash. */
function cellInlines(src: string, [s, e]: [number, number]): Inline[] {
  const unescape = (x: Inline): Inline => {
    if (x.kind === 'code') {
      const omit: number[] = [];
      for (let k = x.start; k + 1 < x.end; k++) if (src[k] === '\\' && src[k + 1] === '|') omit.push(k);
      return omit.length ? { ...x, omit } : x;
    }
    if (x.kind === 'strong' || x.kind === 'em' || x.kind === 'link') return { ...x, children: x.children.map(unescape) };
    return x;
  };
  return parseInline(src, s, e).map(unescape);
}

/**
 * A GFM table whose header row is lines[i]: the next line must be a delimiter row with as many cells as the header
 * has (else no table: the lines stay a paragraph). Body rows run to a blank line or another block; a short row is
 * padded with empty cells and a long one cut to the header's width. `last` is the index of the table's last line.
 */
function tableAt(src: string, lines: readonly Line[], i: number): { block: Block; last: number } | undefined {
  const next = lines[i + 1];
  if (!next || !lines[i].text.includes('|')) return undefined;
  const align = delimiterRow(src, next);
  const head = splitRow(src, lines[i]);
  if (!align || head.pipes === 0 || head.cells.length !== align.length) return undefined;
  const row = (cells: [number, number][]): Cell[] => align.map((_, c) => (cells[c] ? cellInlines(src, cells[c]) : []));
  const rows: Cell[][] = [];
  let last = i + 1;
  while (last + 1 < lines.length && !opensBlock(lines[last + 1].text)) rows.push(row(splitRow(src, lines[++last]).cells));
  return { block: { kind: 'table', align, header: row(head.cells), rows }, last };
}

function inlineLines(src: string, ranges: [number, number][]): Inline[] {
  const out: Inline[] = [];
  ranges.forEach(([s, e], i) => {
    if (i > 0) out.push({ kind: 'break' });
    out.push(...parseInline(src, s, e));
  });
  return out;
}

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && /[\p{L}\p{N}]/u.test(c);
}

/** What an inline rule found at a position: a node (text before it ends there), and where scanning goes on. */
interface Step {
  readonly node?: Inline;
  readonly next: number;
}

/** Inline markdown of src[start, end). */
export function parseInline(src: string, start: number, end: number): Inline[] {
  const out: Inline[] = [];
  let textStart = start;
  const pushText = (to: number): void => {
    if (to > textStart) out.push({ kind: 'text', start: textStart, end: to });
  };
  let i = start;
  while (i < end) {
    if (src[i] === '\\' && i + 1 < end && /[\\`*_[\]()#>+\-.!|]/.test(src[i + 1])) {
      // Backslash escape: drop the backslash, keep the next character as text.
      pushText(i);
      textStart = i + 1;
      i += 2;
      continue;
    }
    const step = inlineAt(src, i, end);
    if (step.node) {
      pushText(i);
      out.push(step.node);
      textStart = step.next;
    }
    i = step.next;
  }
  pushText(end);
  return out;
}

/** The inline construct that starts at src[i], or how far to step past a marker that opens none. */
function inlineAt(src: string, i: number, end: number): Step {
  const c = src[i];
  if (c === '`') return codeSpan(src, i, end);
  if ((c === '*' || c === '_') && src[i + 1] === c) return strong(src, i, end, c);
  if (c === '*' || c === '_') return emphasis(src, i, end, c);
  if (c === '[') return link(src, i, end) ?? { next: i + 1 };
  return { next: i + 1 };
}

/** A code span closed by a run of as many backticks as opened it. */
function codeSpan(src: string, i: number, end: number): Step {
  let n = 1;
  while (src[i + n] === '`' && i + n < end) n++;
  const close = src.indexOf('`'.repeat(n), i + n);
  if (close >= 0 && close + n <= end && close > i + n) return { node: { kind: 'code', start: i + n, end: close }, next: close + n };
  return { next: i + n };
}

/** `**strong**` or `__strong__`, not opened or closed next to a space. */
function strong(src: string, i: number, end: number, c: string): Step {
  let close = src.indexOf(c + c, i + 2);
  // In a run of three (`***` ending `**a *b***`) the strong closes on the last two.
  while (close >= 0 && src[close + 2] === c && close + 2 < end) close++;
  if (close > i + 2 && close + 2 <= end && !/\s/.test(src[i + 2]) && !/\s/.test(src[close - 1])) {
    return { node: { kind: 'strong', children: parseInline(src, i + 2, close) }, next: close + 2 };
  }
  return { next: i + 2 };
}

/** `*em*` or `_em_`; `_` inside a word (snake_case) is not emphasis. */
function emphasis(src: string, i: number, end: number, c: string): Step {
  const opens = !/\s/.test(src[i + 1] ?? ' ') && !(c === '_' && isWordChar(src[i - 1]));
  let close = -1;
  if (opens) {
    for (let k = i + 1; k < end; k++) {
      const after = k + 1 < end ? src[k + 1] : undefined;
      if (src[k] === c && after !== c && src[k - 1] !== c && !/\s/.test(src[k - 1]) && !(c === '_' && isWordChar(after))) {
        close = k;
        break;
      }
    }
  }
  if (close > i + 1) return { node: { kind: 'em', children: parseInline(src, i + 1, close) }, next: close + 1 };
  return { next: i + 1 };
}

/** `[text](href)` on one line; undefined when the `[` opens no link. */
function link(src: string, i: number, end: number): Step | undefined {
  const closeText = src.indexOf('](', i + 1);
  // The target ends at the ')' that balances its '(' (URLs may contain parentheses).
  let closeHref = -1;
  for (let k = closeText + 2, depth = 0; closeText >= 0 && k < end; k++) {
    if (src[k] === '(') depth++;
    else if (src[k] === ')' && depth-- === 0) {
      closeHref = k;
      break;
    }
  }
  if (closeText > i + 1 && closeHref >= 0 && closeHref < end && !src.slice(i + 1, closeText).includes('\n')) {
    return { node: { kind: 'link', children: parseInline(src, i + 1, closeText), href: src.slice(closeText + 2, closeHref).trim() }, next: closeHref + 1 };
  }
  return undefined;
}
