import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenize, wordDiff, type Range } from '../../../../webview/comparison/wordDiff';

const pieces = (s: string, rs: Range[]): string[] => rs.map(([a, b]) => s.slice(a, b));

test('tokenize: words (any script), digits and single punctuation marks; whitespace dropped', () => {
  assert.deepEqual(
    tokenize('Hello, wörld 42!  日本').map((t) => t.text),
    ['Hello', ',', 'wörld', '42', '!', '日本'],
  );
  const t = tokenize('  ab  c');
  assert.deepEqual([t[0].start, t[0].end, t[1].start], [2, 4, 6]);
});

test('wordDiff marks only the words that differ, merging adjacent changes', () => {
  const a = 'The cat sat on the mat.';
  const b = 'The big dog sat on the mat!';
  const d = wordDiff(a, b);
  assert.equal(d.exact, true);
  assert.deepEqual(pieces(a, d.a), ['cat', '.']);
  assert.deepEqual(pieces(b, d.b), ['big dog', '!']);
  // tokens: a = The cat sat on the mat . (7), b = The big dog sat on the mat ! (8); common: The sat on the mat (5)
  assert.equal(d.similarity, (2 * 5) / 15);
  assert.equal(wordDiff('x y', 'p q').similarity, 0);
});

test('wordDiff: identical texts have no changes; whitespace-only differences are ignored; empty vs text', () => {
  assert.deepEqual(wordDiff('same words here', 'same words here'), { a: [], b: [], exact: true, similarity: 1 });
  assert.deepEqual(wordDiff('a  b\nc', 'a b c'), { a: [], b: [], exact: true, similarity: 1 });
  assert.equal(wordDiff('', '').similarity, 1);
  const d = wordDiff('', 'new text');
  assert.deepEqual(d.a, []);
  assert.deepEqual(pieces('new text', d.b), ['new text']);
});

test('wordDiff finds a longest common subsequence (moved words are changes on both sides)', () => {
  const a = 'one two three four five';
  const b = 'two three one four five';
  const d = wordDiff(a, b);
  // LCS = two three four five (length 4): "one" is changed on both sides
  assert.deepEqual(pieces(a, d.a), ['one']);
  assert.deepEqual(pieces(b, d.b), ['one']);
});

test('wordDiff above the cell limit keeps the common prefix/suffix and marks the middle', () => {
  const a = 'start x1 x2 x3 end';
  const b = 'start y1 y2 end';
  const d = wordDiff(a, b, 4);
  assert.equal(d.exact, false);
  assert.equal(d.similarity, (2 * 2) / 9);
  assert.deepEqual(pieces(a, d.a), ['x1 x2 x3']);
  assert.deepEqual(pieces(b, d.b), ['y1 y2']);
});

test('tokenize: Chinese splits into words with Intl.Segmenter, not one token per run of characters', () => {
  assert.deepEqual(tokenize('天空为什么是蓝色的？').map((t) => t.text), ['天空', '为什么', '是', '蓝色', '的', '？']);
  assert.deepEqual(tokenize('用 Python 写代码').map((t) => t.text), ['用', 'Python', '写', '代码']);
});

test('tokenize without a segmenter: Han characters one at a time, Latin words whole', () => {
  assert.deepEqual(tokenize('蓝色 sky！', null).map((t) => t.text), ['蓝', '色', 'sky', '！']);
  const t = tokenize('ab蓝色', null);
  assert.deepEqual(t.map((x) => [x.text, x.start]), [['ab', 0], ['蓝', 2], ['色', 3]]);
});

test('wordDiff on Chinese marks only the words that differ', () => {
  const a = '因为瑞利散射，蓝光被散射得更多。';
  const b = '因为海洋的反射，蓝光被散射得更多。';
  const d = wordDiff(a, b);
  const changed = pieces(a, d.a).join('');
  assert.ok(changed.length > 0 && changed.length <= '瑞利散射'.length, `only the differing words of a are marked: ${JSON.stringify(pieces(a, d.a))}`);
  assert.ok(!pieces(b, d.b).join('').includes('蓝光'), 'shared words are not marked');
  assert.ok(d.similarity > 0.5, `similarity ${d.similarity}`);
});
