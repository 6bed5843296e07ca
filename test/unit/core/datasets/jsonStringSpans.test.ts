import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectionToFieldSpan, stringValueSpans } from '../../../../src/core/datasets/jsonStringSpans';

test('string values are found with their field paths, keys are not values', () => {
  const line = JSON.stringify({ id: 'x1', prompt: [{ role: 'user', content: 'Hi there' }], chosen: 'A "quoted" answer', n: 3 });
  const spans = stringValueSpans(line);
  assert.deepEqual(spans.map((s) => [s.path, s.value]), [
    ['id', 'x1'],
    ['prompt[0].role', 'user'],
    ['prompt[0].content', 'Hi there'],
    ['chosen', 'A "quoted" answer'],
  ]);
  for (const s of spans) assert.equal(JSON.parse(line.slice(s.rawStart, s.rawEnd)), s.value);
});

test('a raw selection maps to decoded offsets, across escapes', () => {
  const line = JSON.stringify({ prompt: 'Say "hello"\nthen stop', chosen: 'ok' });
  const word = 'then';
  const rawStart = line.indexOf(word);
  const span = selectionToFieldSpan(line, rawStart, rawStart + word.length);
  assert.ok(span);
  assert.equal(span.field, 'prompt');
  assert.equal(span.text, 'then');
  assert.equal('Say "hello"\nthen stop'.slice(span.start, span.end), 'then');
});

test('a selection that spans two fields or touches a key is refused; invalid JSON gives nothing', () => {
  const line = JSON.stringify({ a: 'one', b: 'two' });
  assert.equal(selectionToFieldSpan(line, line.indexOf('one'), line.indexOf('two') + 3), undefined);
  assert.equal(selectionToFieldSpan(line, 2, 3), undefined);
  assert.deepEqual(stringValueSpans('{"a": '), []);
});
