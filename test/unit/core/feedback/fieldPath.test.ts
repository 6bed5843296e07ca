import { test } from 'node:test';
import assert from 'node:assert/strict';
import { candidateText, getFieldPath, parseFieldPath, textSha1, withCandidateText } from '../../../../src/core/feedback/fieldPath';

test('field paths: parse dots and indexes, reject malformed paths', () => {
  assert.deepEqual(parseFieldPath('chosen'), ['chosen']);
  assert.deepEqual(parseFieldPath('prompt[0].content'), ['prompt', 0, 'content']);
  assert.deepEqual(parseFieldPath('a.b[2][3].c'), ['a', 'b', 2, 3, 'c']);
  for (const bad of ['', '.a', 'a..b', 'a[x]', 'a[1', '[0]x']) assert.equal(parseFieldPath(bad), undefined, bad);
});

test('field paths: get values; missing steps give undefined', () => {
  const rec = { prompt: [{ role: 'user', content: 'hi' }], responses: ['x', 'y'] };
  assert.equal(getFieldPath(rec, 'prompt[0].content'), 'hi');
  assert.equal(getFieldPath(rec, 'responses[1]'), 'y');
  assert.equal(getFieldPath(rec, 'responses[2]'), undefined);
  assert.equal(getFieldPath(rec, 'prompt.content'), undefined);
  assert.equal(getFieldPath(rec, 'nope[0]'), undefined);
});

test('candidate text of strings, messages and message lists; replacing it copies', () => {
  const conv = [
    { role: 'user', content: 'q' },
    { role: 'assistant', content: 'a' },
  ];
  assert.equal(candidateText('s'), 's');
  assert.equal(candidateText(conv), 'a');
  assert.equal(candidateText(conv[0]), 'q');
  assert.equal(candidateText(42), undefined);
  assert.equal(candidateText([]), undefined);
  assert.deepEqual(withCandidateText(conv, 'b'), [conv[0], { role: 'assistant', content: 'b' }]);
  assert.equal(conv[1].content, 'a');
  assert.equal(withCandidateText('s', 't'), 't');
  assert.equal(textSha1('abc'), 'sha1:a9993e364706816aba3e25717850c26c9cd0d89d'); // FIPS 180 test vector
});
