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
        return { code: src.slice(x.start, x.end) };
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
