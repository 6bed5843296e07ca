import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInspectionFile } from '../../../../src/core/eval/inspectionFile';

const response = (text: string, reward: number) => ({ text, reward, emptyPrefix: 0, canonicalReward: reward, tokens: [{ id: 1, start: 0, end: text.length, reward }], spans: [{ start: 0, end: text.length, text, reward, word: true }], outside: 0, truncated: false });
const record = (id: string, line: number, c: number, r: number) => JSON.stringify({ recordId: id, line, promptMean: (c + r) / 2, chosen: response('yes', c), rejected: response('no', r) });

test('an inspect-rm file as an evaluation: scored pairs, and examples worst-ranked first; a bad later line is reported', () => {
  const text = [record('a', 1, 2, 1), record('b', 2, 0, 3), '{"recordId": 1}', record('c', 4, 1, 1)].join('\n') + '\n';
  const f = parseInspectionFile(text, 'r.jsonl');
  assert.ok(f);
  assert.deepEqual(f.pairs.map((p) => [p.id, p.chosen, p.rejected, p.chosenLength]), [['a', 2, 1, 3], ['b', 0, 3, 3], ['c', 1, 1, 3]]);
  assert.deepEqual(f.examples.map((x) => [x.recordId, x.margin]), [['b', -3], ['c', 0], ['a', 1]]);
  assert.equal(f.skipped.length, 1);
  assert.match(f.skipped[0]!, /^r\.jsonl:3: record\./);
});

test('a scores file is not an inspection file', () => {
  assert.equal(parseInspectionFile('{"id": "a", "chosen_reward": 1, "rejected_reward": 0}\n', 's.jsonl'), undefined);
  assert.equal(parseInspectionFile('\n', 'e.jsonl'), undefined);
});
