import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMarkdown, parseInline, type Block, type Inline } from '../../../../webview/comparison/markdown';

/** Inline tree as plain data with the text resolved, for readable assertions. */
function show(src: string, xs: readonly Inline[]): unknown[] {
  return xs.map((x) => {
    switch (x.kind) {
      case 'text':
        return x.kind === 'text' ? src.slice(x.start, x.end) : '';
      case 'code':
        return { code: src.slice(x.start, x.end).split('').filter((_, k) => !x.omit?.includes(x.start + k)).join('') };
      case 'strong':
      case 'em':
        return { [x.kind]: show(src, x.children) };
      case 'link':
        return { link: show(src, x.children), href: x.href };
      case 'break':
        return '\n';
    }
  });
}

function blocks(src: string): unknown[] {
  return parseMarkdown(src).map((b: Block) => {
    switch (b.kind) {
      case 'paragraph':
      case 'quote':
        return { [b.kind]: show(src, b.inlines) };
      case 'heading':
        return { heading: b.level, text: show(src, b.inlines) };
      case 'code':
        return { code: src.slice(b.start, b.end), lang: b.lang };
      case 'listItem':
        return { item: show(src, b.inlines), ordered: b.ordered, depth: b.depth };
      case 'rule':
        return 'rule';
      case 'table':
        return { table: b.align, header: b.header.map((c) => show(src, c)), rows: b.rows.map((r) => r.map((c) => show(src, c))) };
    }
  });
}

test('inline: code, bold, italic, links; snake_case and lone asterisks stay text', () => {
  const src = 'Use `x < y` and **very *bold*** or _em_ see [docs](https://e.x) snake_case_name 2 * 3 * 4';
  assert.deepEqual(show(src, parseInline(src, 0, src.length)), [
    'Use ',
    { code: 'x < y' },
    ' and ',
    { strong: ['very ', { em: ['bold'] }] },
    ' or ',
    { em: ['em'] },
    ' see ',
    { link: ['docs'], href: 'https://e.x' },
    ' snake_case_name 2 * 3 * 4',
  ]);
});

test('inline: link targets may hold balanced parentheses', () => {
  const src = 'see [wiki](https://e.x/A_(b)) now';
  assert.deepEqual(show(src, parseInline(src, 0, src.length)), ['see ', { link: ['wiki'], href: 'https://e.x/A_(b)' }, ' now']);
});

test('inline: backslash escapes drop the backslash; unclosed markers are text', () => {
  const src = '\\*not em\\* and **open';
  assert.deepEqual(show(src, parseInline(src, 0, src.length)), ['*not em', '* and **open']);
});

test('blocks: headings, fenced code (kept verbatim, HTML included), lists with depth and continuation, quotes, rules, paragraphs', () => {
  const src = [
    '# Title',
    'Some text',
    'on two lines.',
    '',
    '```python',
    'print("<b>hi</b>")',
    '  indented',
    '```',
    '- first',
    '  continued',
    '  - nested',
    '1. one',
    '> quoted',
    '> more',
    '---',
    '<script>alert(1)</script>',
  ].join('\n');
  assert.deepEqual(blocks(src), [
    { heading: 1, text: ['Title'] },
    { paragraph: ['Some text', '\n', 'on two lines.'] },
    { code: 'print("<b>hi</b>")\n  indented', lang: 'python' },
    { item: ['first', '\n', 'continued'], ordered: false, depth: 0 },
    { item: ['nested'], ordered: false, depth: 1 },
    { item: ['one'], ordered: true, depth: 0 },
    { quote: ['quoted', '\n', 'more'] },
    'rule',
    { paragraph: ['<script>alert(1)</script>'] },
  ]);
});

test('blocks: an unclosed fence runs to the end; CRLF line ends are not part of the text; offsets index the source', () => {
  const src = 'a\r\n```\r\ncode\r\nmore';
  const b = parseMarkdown(src);
  assert.equal(b.length, 2);
  assert.equal(b[1].kind, 'code');
  if (b[1].kind === 'code') assert.equal(src.slice(b[1].start, b[1].end), 'code\r\nmore');
  if (b[0].kind === 'paragraph') assert.deepEqual(show(src, b[0].inlines), ['a']);
  assert.deepEqual(parseMarkdown(''), []);
});

test('tables: header, alignment from the delimiter row, inline markdown in cells, a table interrupting a paragraph', () => {
  const src = ['Scores:', '| Model | Score | Note |', '| :--- | :---: | ---: |', '| **A** | 0.9 | [doc](https://e.x) |', '| B | `x` |', '', 'after'].join('\n');
  assert.deepEqual(blocks(src), [
    { paragraph: ['Scores:'] },
    {
      table: ['left', 'center', 'right'],
      header: [['Model'], ['Score'], ['Note']],
      rows: [
        [[{ strong: ['A'] }], ['0.9'], [{ link: ['doc'], href: 'https://e.x' }]],
        [['B'], [{ code: 'x' }], []], // a short row is padded with empty cells
      ],
    },
    { paragraph: ['after'] },
  ]);
});

test('tables: no outer pipes, no alignment; a long row is cut to the header; the body ends at another block', () => {
  const src = ['a | b', '--- | ---', '1 | 2 | 3', 'no pipe here', '> quote'].join('\n');
  assert.deepEqual(blocks(src), [
    { table: [undefined, undefined], header: [['a'], ['b']], rows: [[['1'], ['2']], [['no pipe here'], []]] },
    { quote: ['quote'] },
  ]);
});

test('tables: escaped pipes stay in the cell, in text and in code spans; an unescaped pipe in a code span splits (GFM)', () => {
  const src = ['| expr | meaning |', '|---|---|', '| `a \\| b` | a or b \\| c |', '| `x | y` |'].join('\n');
  assert.deepEqual(blocks(src), [
    {
      table: [undefined, undefined],
      header: [['expr'], ['meaning']],
      rows: [
        [[{ code: 'a | b' }], ['a or b ', '| c']],
        [['`x'], ['y`']],
      ],
    },
  ]);
});

test('tables: Chinese in cells; every text piece is an offset range into the source', () => {
  const src = '| 问题 | 回答 |\n| --- | --- |\n| 天空为什么是蓝色的？ | 因为**瑞利散射** |';
  const [t] = parseMarkdown(src);
  assert.equal(t.kind, 'table');
  if (t.kind !== 'table') return;
  assert.deepEqual(show(src, t.header.flat()), ['问题', '回答']);
  assert.deepEqual(t.rows.map((r) => r.map((c) => show(src, c))), [[['天空为什么是蓝色的？'], ['因为', { strong: ['瑞利散射'] }]]]);
  const first = t.rows[0][0][0];
  assert.ok(first.kind === 'text' && first.start === src.indexOf('天空'), 'the cell text starts at its offset in the source');
});

test('tables: a malformed table stays a paragraph (cell count mismatch, no delimiter row, no pipes, bad delimiter)', () => {
  for (const src of ['| a | b |\n| --- |\n| 1 | 2 |', '| a | b |\n| 1 | 2 |', 'a b\n| --- | --- |', '| a | b |\n| -x- | --- |']) {
    const b = parseMarkdown(src);
    assert.ok(b.every((x) => x.kind === 'paragraph'), `${JSON.stringify(src)} gave ${b.map((x) => x.kind).join(', ')}`);
  }
});
