/**
 * Data problems are errors or visible reports, never silent: a folder or a missing path is an error naming it,
 * lines that are not UTF-8 are skipped with file:line (never trained on as U+FFFD), repeated ids are reported with
 * both lines in the editor's wording, and a score that is not a number names its row's file:line and field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DatasetFormatError, loadDatasetFile } from '../../../../src/core/datasets/formats';
import { scanJsonl } from '../../../../src/core/datasets/jsonlScan';
import { isUserError } from '../../../../src/util/errors';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'load-problems-'));
const row = (i: number, extra: Record<string, unknown> = {}): string => JSON.stringify({ prompt: `q${i}`, chosen: `good ${i}`, rejected: `bad ${i}`, ...extra });

test('a folder passed as the data file is an error that names it and says what to pass', async () => {
  const dir = tmp();
  await assert.rejects(loadDatasetFile(dir), (e: unknown) => {
    assert.ok(e instanceof DatasetFormatError && isUserError(e));
    assert.equal(e.message, `${dir} is a folder; pass a .jsonl or .json file`);
    return true;
  });
  await assert.rejects(loadDatasetFile(path.join(dir, 'nope.jsonl')), /nope\.jsonl does not exist/);
});

test('Latin-1 lines are skipped with file:line and the bad byte, never decoded to U+FFFD', async () => {
  const file = path.join(tmp(), 'latin1.jsonl');
  const latin1 = Buffer.from(`{"prompt": "caf\xe9?", "chosen": "oui", "rejected": "non"}`, 'latin1');
  fs.writeFileSync(file, Buffer.concat([Buffer.from(row(1) + '\n'), latin1, Buffer.from('\n' + row(3) + '\n')]));
  const r = await loadDatasetFile(file);
  assert.equal(r.examples.length, 2);
  assert.ok(!JSON.stringify(r.examples).includes('\ufffd'));
  assert.equal(r.skipped.length, 1);
  assert.equal(r.skipped[0]?.where, `${file}:2`);
  assert.match(r.skipped[0]?.reason ?? '', /not valid UTF-8: bad byte 0xe9 .*save it as UTF-8/);
  // The editor's scanner names the same byte.
  const scan = await scanJsonl(file);
  assert.ok(r.skipped[0]?.reason.startsWith(scan.diagnostics.find((d) => d.code === 'invalid-utf8')?.message ?? '?'));
});

test('a file with only non-UTF-8 rows, or a JSON array with one, is an error naming file:line', async () => {
  const dir = tmp();
  const all = path.join(dir, 'all.jsonl');
  fs.writeFileSync(all, Buffer.from(`{"prompt": "\xe9", "chosen": "a", "rejected": "b"}\n`, 'latin1'));
  await assert.rejects(loadDatasetFile(all), (e: Error) => e instanceof DatasetFormatError && e.message.includes(`${all}:1`) && /not valid UTF-8/.test(e.message));
  const arr = path.join(dir, 'arr.json');
  fs.writeFileSync(arr, Buffer.from(`[\n${row(1)},\n{"prompt": "\xe9", "chosen": "a", "rejected": "b"}\n]\n`, 'latin1'));
  await assert.rejects(loadDatasetFile(arr), (e: Error) => e.message.includes(`${arr}:3`) && /not valid UTF-8/.test(e.message));
});

test('a BOM is not a problem', async () => {
  const file = path.join(tmp(), 'bom.jsonl');
  fs.writeFileSync(file, '\ufeff' + row(1) + '\n' + row(2) + '\n');
  const r = await loadDatasetFile(file);
  assert.equal(r.examples.length, 2);
  assert.equal(r.skipped.length, 0);
});

test('repeated ids are reported with both lines, worded as the editor does', async () => {
  const file = path.join(tmp(), 'dup.jsonl');
  fs.writeFileSync(file, [row(1, { id: 'a' }), row(2, { id: 'b' }), row(3, { id: 'a' }), row(4, { id: 7 }), row(5, { id: 7 })].join('\n') + '\n');
  const r = await loadDatasetFile(file);
  assert.deepEqual(r.duplicates.map((d) => d.message), [`${file}:3: duplicate id "a" (first on line 1)`, `${file}:5: duplicate id "7" (first on line 4)`]);
  const scan = await scanJsonl(file);
  const editor = scan.diagnostics.filter((d) => d.code === 'duplicate-id').map((d) => `${file}:${d.line}: ${d.message}`);
  for (const [i, d] of r.duplicates.entries()) assert.ok(editor[i]?.startsWith(d.message), `${editor[i]} starts with ${d.message}`);
  // Rows without an id never count as duplicates, even with the same content.
  fs.writeFileSync(file, [row(1), row(1)].join('\n') + '\n');
  assert.equal((await loadDatasetFile(file)).duplicates.length, 0);
});

test('a score that is not a number makes its row bad, named by file:line and field', async () => {
  const file = path.join(tmp(), 'scores.jsonl');
  fs.writeFileSync(file, [row(1, { id: 'r1', score_chosen: 8, score_rejected: 2 }), row(2, { id: 'r2', score_chosen: '4.5', score_rejected: 1 }), row(3, { score_chosen: 5, score_rejected: null })].join('\n') + '\n');
  const r = await loadDatasetFile(file);
  assert.deepEqual(r.skipped.map((s) => [s.where, s.field, s.reason]), [[`${file}:2`, 'score_chosen', 'expected a number, got "4.5"']]);
  assert.deepEqual(r.examples.map((e) => (e.kind === 'preference' ? e.scores : null)), [{ chosen: 8, rejected: 2 }, undefined]);
});
