import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspectFailure, runInspection } from '../../../../src/core/eval/inspectRunner';
import type { RecordInspection } from '../../../../src/protocol/rewardInspection';

const response = { text: 'hi', reward: 1, emptyPrefix: 0.5, canonicalReward: 0.25, tokens: [{ id: 3, start: 0, end: 2, reward: 0.5 }], spans: [{ start: 0, end: 2, text: 'hi', reward: 0.5, word: true }], outside: 0, truncated: false };
const record = (recordId: string): RecordInspection => ({ recordId, line: 1, promptMean: 0.75, chosen: response, rejected: { ...response, reward: 0.5, canonicalReward: -0.25 } });

/** A stand-in CLI: prints `lines` on stdout, `err` on stderr, exits with `code`. */
function fake(lines: readonly string[], err = '', code = 0) {
  const script = `process.stdout.write(${JSON.stringify(lines.join('\n'))}); process.stderr.write(${JSON.stringify(err)}); process.exit(${code});`;
  return { command: process.execPath, commandArgs: ['-e', script, '--'] };
}

test('runInspection returns the validated records in the order asked', async () => {
  const got = await runInspection(fake([JSON.stringify(record('b')), JSON.stringify(record('a'))]), '/rm', '/data.jsonl', ['a', 'b']);
  assert.deepEqual(got.map((r) => r.recordId), ['a', 'b']);
});

test("runInspection rejects with the CLI's own message, an invalid line, or a missing record", async () => {
  const msg = 'inspect-rm: /p is not a reward model: its head is "lm"';
  await assert.rejects(runInspection(fake([], `loading\nerror: ${msg}\n`, 1), '/p', '/d', ['a']), (e: Error) => e.message === msg);
  await assert.rejects(runInspection(fake(['{"recordId": 3}']), '/rm', '/d', ['a']), /printed an invalid record: record\./);
  await assert.rejects(runInspection(fake([JSON.stringify(record('b'))]), '/rm', '/d', ['a']), /returned no record "a"/);
  assert.equal(inspectFailure('out of memory\n', null, 'SIGKILL'), 'reward inspection was stopped (SIGKILL): out of memory');
});
