// DOM rendering of parsed markdown, with word-diff ranges highlighted inside the rendered text. Only text nodes
// are created from the source: no innerHTML anywhere, so model output can never inject markup or script.
import { parseMarkdown, type Align, type Cell, type Inline } from './markdown';
import type { Range } from './wordDiff';

/** Appends src[start, end) as text, wrapping the parts inside `marks` in <mark class="diff">. */
function appendText(parent: Node, src: string, start: number, end: number, marks: readonly Range[]): void {
  let at = start;
  for (const [ms, me] of marks) {
    if (me <= at) continue;
    if (ms >= end) break;
    const s = Math.max(ms, at);
    const e = Math.min(me, end);
    if (s > at) parent.appendChild(document.createTextNode(src.slice(at, s)));
    const m = document.createElement('mark');
    m.className = 'diff';
    m.textContent = src.slice(s, e);
    parent.appendChild(m);
    at = e;
  }
  if (at < end) parent.appendChild(document.createTextNode(src.slice(at, end)));
}

function renderInlines(parent: HTMLElement, src: string, inlines: readonly Inline[], marks: readonly Range[]): void {
  for (const x of inlines) {
    switch (x.kind) {
      case 'text':
        appendText(parent, src, x.start, x.end, marks);
        break;
      case 'code': {
        const c = document.createElement('code');
        let at = x.start;
        for (const skip of [...(x.omit ?? []), x.end]) {
          appendText(c, src, at, skip, marks);
          at = skip + 1;
        }
        parent.appendChild(c);
        break;
      }
      case 'strong':
      case 'em': {
        const e = document.createElement(x.kind);
        renderInlines(e, src, x.children, marks);
        parent.appendChild(e);
        break;
      }
      case 'link': {
        // Links are shown, not followed: the target is in the tooltip.
        const s = document.createElement('span');
        s.className = 'md-link';
        s.title = x.href;
        renderInlines(s, src, x.children, marks);
        parent.appendChild(s);
        break;
      }
      case 'break':
        parent.appendChild(document.createElement('br'));
        break;
    }
  }
}

/** A GFM table in a horizontally scrolling wrapper; a column's alignment is a data attribute the CSS reads. */
function renderTable(src: string, align: readonly Align[], header: readonly Cell[], rows: readonly (readonly Cell[])[], marks: readonly Range[]): HTMLElement {
  const row = (cells: readonly Cell[], tag: 'th' | 'td'): HTMLTableRowElement => {
    const tr = document.createElement('tr');
    cells.forEach((cell, c) => {
      const td = document.createElement(tag);
      const a = align[c];
      if (a) td.dataset.align = a;
      renderInlines(td, src, cell, marks);
      tr.appendChild(td);
    });
    return tr;
  };
  const table = document.createElement('table');
  const head = document.createElement('thead');
  head.appendChild(row(header, 'th'));
  table.appendChild(head);
  if (rows.length) {
    const body = document.createElement('tbody');
    for (const r of rows) body.appendChild(row(r, 'td'));
    table.appendChild(body);
  }
  const wrap = document.createElement('div');
  wrap.className = 'md-table';
  wrap.appendChild(table);
  return wrap;
}

/** Renders markdown `src` into a new element; `marks` are character ranges of `src` to highlight. */
export function renderMarkdown(src: string, marks: readonly Range[] = []): HTMLElement {
  const root = document.createElement('div');
  root.className = 'md';
  let list: HTMLElement | undefined;
  for (const b of parseMarkdown(src)) {
    if (b.kind !== 'listItem') list = undefined;
    switch (b.kind) {
      case 'paragraph': {
        const p = document.createElement('p');
        renderInlines(p, src, b.inlines, marks);
        root.appendChild(p);
        break;
      }
      case 'heading': {
        const h = document.createElement(`h${Math.min(6, b.level + 2)}` as 'h3');
        h.className = 'md-heading';
        renderInlines(h, src, b.inlines, marks);
        root.appendChild(h);
        break;
      }
      case 'code': {
        const pre = document.createElement('pre');
        pre.className = 'md-code';
        if (b.lang) pre.dataset.lang = b.lang;
        const code = document.createElement('code');
        appendText(code, src, b.start, b.end, marks);
        pre.appendChild(code);
        root.appendChild(pre);
        break;
      }
      case 'quote': {
        const q = document.createElement('blockquote');
        renderInlines(q, src, b.inlines, marks);
        root.appendChild(q);
        break;
      }
      case 'listItem': {
        if (!list) {
          list = document.createElement('div');
          list.className = 'md-list';
          root.appendChild(list);
        }
        const item = document.createElement('div');
        item.className = 'md-item';
        item.dataset.depth = String(Math.min(b.depth, 5));
        const marker = document.createElement('span');
        marker.className = 'md-marker';
        marker.textContent = b.ordered ? b.marker : '•';
        const body = document.createElement('span');
        renderInlines(body, src, b.inlines, marks);
        item.append(marker, body);
        list.appendChild(item);
        break;
      }
      case 'rule':
        root.appendChild(document.createElement('hr'));
        break;
      case 'table':
        root.appendChild(renderTable(src, b.align, b.header, b.rows, marks));
        break;
    }
  }
  return root;
}
