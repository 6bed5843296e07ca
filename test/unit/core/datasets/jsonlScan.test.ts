import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlIndex, canonicalJson, contentId, firstInvalidUtf8, scanJsonl, type JsonlDiagnostic } from '../../../../src/core/datasets/jsonlScan';
import { REAL_DATA_SKIP, realDataFile } from '../../../support/realData';

function tmpFile(name: string, data: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'jsonl-scan-'));
  const f = join(dir, name);
  writeFileSync(f, data);
  return f;
}

const line = (o: unknown): string => JSON.stringify(o);
const pair = (id: string, extra: Record<string, unknown> = {}): string => line({ id, prompt: 'p ' + id, chosen: 'c ' + id, rejected: 'r ' + id, ...extra });

test('real data: dpo_en_demo.trl.jsonl scans with 300 records, 0 diagnostics, ids from the id field', { skip: REAL_DATA_SKIP }, async () => {
  const r = await scanJsonl(realDataFile('dpo_en_demo.trl.jsonl'));
  assert.equal(r.lineCount, 300);
  assert.equal(r.records.length, 300);
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.records[0].id, 'dpo-en-000');
  assert.equal(r.records[299].id, 'dpo-en-299');
  assert.equal(r.records[299].line, 300);
  assert.ok(r.records.every((x) => x.valid));
  const first = r.index.readRecord(0);
  assert.ok(first.ok);
  assert.ok(Array.isArray(first.record.value.prompt), 'conversational prompt is a message list');
});

test('real data: kto_en_demo.trl.jsonl scans clean as unpaired and fails the preference shape on every line', { skip: REAL_DATA_SKIP }, async () => {
  const file = realDataFile('kto_en_demo.trl.jsonl');
  const unpaired = await scanJsonl(file, { shape: 'unpaired' });
  assert.equal(unpaired.records.length, 300);
  assert.deepEqual(unpaired.diagnostics, []);
  const asPairs = await scanJsonl(file, { shape: 'preference' });
  assert.equal(asPairs.diagnostics.length, 300);
  assert.ok(asPairs.diagnostics.every((d) => d.code === 'missing-field' && /"chosen", "rejected"/.test(d.message)));
});

/** A file with one bad-input kind per line; returns the file and the expected diagnostics (line, code). */
function badFile(maxRecordBytes = 1024 * 1024): { file: string; expected: [number, string][] } {
  const big = line({ id: 'big', prompt: 'p', chosen: 'x'.repeat(maxRecordBytes + 10), rejected: 'r' });
  const utf8Bad = Buffer.concat([Buffer.from('{"id":"u","prompt":"caf'), Buffer.from([0xc3, 0x28]), Buffer.from('","chosen":"c","rejected":"r"}')]);
  const parts: (string | Buffer)[] = [
    pair('a'), // 1 ok
    '', // 2 blank: skipped silently
    '{"id":"b","prompt":"p","chosen":"c",}', // 3 invalid JSON (trailing comma)
    '[1,2,3]', // 4 not an object
    line({ id: 'c', prompt: 'p', chosen: 'c' }), // 5 missing rejected
    utf8Bad, // 6 not UTF-8
    big, // 7 over 1 MB
    pair('a'), // 8 duplicate id of line 1
    line({ id: 'd', prompt: 'p', chosen: 42, rejected: 'r' }), // 9 chosen mistyped
    line({ id: 'e', chosen: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }], rejected: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'b' }] }), // 10 implicit prompt: ok
    pair('f') + '\r', // 11 CRLF: ok
    line({ prompt: 'same', chosen: 'c', rejected: 'r' }), // 12 no id -> hash
    line({ rejected: 'r', chosen: 'c', prompt: 'same' }), // 13 same content, other key order -> duplicate
    line({ id: { x: 1 }, prompt: 'p', chosen: 'c', rejected: 'r' }), // 14 id of the wrong type: warning, hash id
    '{"id":"g","prompt":"p","chosen":"c","rejected":"r"', // 15 truncated JSON, last line, no newline
  ];
  const data = Buffer.concat(parts.map((p, i) => Buffer.concat([typeof p === 'string' ? Buffer.from(p) : p, Buffer.from(i === parts.length - 1 ? '' : '\n')])));
  return {
    file: tmpFile('bad.jsonl', data),
    expected: [
      [3, 'invalid-json'],
      [4, 'not-an-object'],
      [5, 'missing-field'],
      [6, 'invalid-utf8'],
      [7, 'record-too-large'],
      [8, 'duplicate-id'],
      [9, 'invalid-field'],
      [13, 'duplicate-id'],
      [14, 'invalid-id'],
      [15, 'invalid-json'],
    ],
  };
}

test('scanner: one diagnostic per bad-input kind, on the right 1-based line, never throwing', async () => {
  const { file, expected } = badFile();
  const r = await scanJsonl(file);
  assert.deepEqual(
    r.diagnostics.map((d) => [d.line, d.code]),
    expected,
  );
  assert.ok(r.diagnostics.every((d) => d.file === file && d.message.length > 0));
  const by = (l: number): JsonlDiagnostic => r.diagnostics.find((d) => d.line === l) as JsonlDiagnostic;
  // columns: the trailing comma of line 3 is at character 37; the bad byte of line 6 after `{"id":"u","prompt":"caf`
  assert.equal(by(3).column, 37);
  assert.equal(by(6).column, '{"id":"u","prompt":"caf'.length + 1);
  assert.match(by(6).message, /0xc3/);
  assert.match(by(5).message, /missing field "rejected"/);
  assert.match(by(7).message, /over the 1 MiB limit/);
  assert.match(by(8).message, /first on line 1/);
  assert.match(by(9).message, /"chosen"/);
  assert.equal(by(9).column, '{"id":"d","prompt":"p",'.length + 1);
  assert.match(by(13).message, /same content as line 12/);
  assert.equal(by(15).column, '{"id":"g","prompt":"p","chosen":"c","rejected":"r"'.length + 1);
  assert.equal(by(14).severity, 'warning');
  assert.equal(by(3).severity, 'error');
  // records: lines that parsed into objects, with final ids
  assert.deepEqual(
    r.records.map((x) => [x.line, x.id, x.valid]),
    [
      [1, 'a', true],
      [5, 'c', false],
      [8, 'a#2', true],
      [9, 'd', false],
      [10, 'e', true],
      [11, 'f', true],
      [12, contentId({ prompt: 'same', chosen: 'c', rejected: 'r' }), true],
      [13, contentId({ prompt: 'same', chosen: 'c', rejected: 'r' }) + '#2', true],
      [14, contentId({ id: { x: 1 }, prompt: 'p', chosen: 'c', rejected: 'r' }), true],
    ],
  );
  // after the scan, reads give final ids and the id lookup works
  const dupIdx = r.index.indexOfId('a#2');
  assert.equal(dupIdx, 6);
  const dup = r.index.readRecord(dupIdx as number);
  assert.ok(dup.ok && dup.record.id === 'a#2' && dup.record.line === 8);
});

test('scanner: tiny read chunks give exactly the same index and diagnostics as large ones', async () => {
  const maxRecordBytes = 300;
  const { file, expected } = badFile(maxRecordBytes);
  const big = await scanJsonl(file, { maxRecordBytes });
  assert.deepEqual(big.diagnostics.map((d) => [d.line, d.code]), expected);
  for (const chunkBytes of [1, 7, 64]) {
    const small = await scanJsonl(file, { chunkBytes, maxRecordBytes });
    assert.deepEqual(small.diagnostics, big.diagnostics, `chunkBytes ${chunkBytes}`);
    assert.deepEqual(small.records, big.records, `chunkBytes ${chunkBytes}`);
  }
});

test('index: record i is read without a scan; blank lines, BOM and CRLF are handled; out-of-range throws RangeError', async () => {
  const file = tmpFile('bom.jsonl', '\ufeff' + pair('x') + '\r\n\r\n   \n' + pair('y') + '\r\n');
  const idx = await JsonlIndex.build(file);
  assert.equal(idx.count, 2);
  assert.equal(idx.lineNumber(0), 1);
  assert.equal(idx.lineNumber(1), 4);
  assert.equal(idx.idsFinal, false);
  const y = idx.readRecord(1);
  assert.ok(y.ok);
  assert.equal(y.record.id, 'y');
  assert.equal(y.record.bytes, Buffer.byteLength(pair('y')));
  const x = idx.readRecord(0);
  assert.ok(x.ok && x.record.id === 'x', 'BOM is not part of the first record');
  assert.throws(() => idx.readRecord(2), RangeError);
  assert.equal(idx.isStale(), false);
  writeFileSync(file, readFileSync(file, 'utf8') + pair('z') + '\n');
  assert.equal(idx.isStale(), true);
});

test('scanner: maxRecordBytes is configurable and oversized lines are never parsed', async () => {
  const file = tmpFile('max.jsonl', pair('a') + '\n' + pair('b', { note: 'y'.repeat(200) }) + '\n');
  const r = await scanJsonl(file, { maxRecordBytes: 100 });
  assert.deepEqual(r.diagnostics.map((d) => [d.line, d.code]), [[2, 'record-too-large']]);
  const idx = r.index;
  const read = idx.readRecord(1, { maxRecordBytes: 100 });
  assert.equal(read.ok, false);
});

test('scanner: shape any accepts any object; unpaired requires a boolean label', async () => {
  const file = tmpFile('u.jsonl', [line({ id: 1, foo: 'bar' }), line({ id: 2, prompt: 'p', completion: 'c', label: 'yes' })].join('\n'));
  const any = await scanJsonl(file, { shape: 'any' });
  assert.deepEqual(any.diagnostics, []);
  assert.deepEqual(any.records.map((r) => r.id), ['1', '2']);
  const unpaired = await scanJsonl(file, { shape: 'unpaired' });
  assert.deepEqual(unpaired.diagnostics.map((d) => [d.line, d.code]), [
    [1, 'missing-field'],
    [2, 'invalid-field'],
  ]);
});

test('scanner: an empty file and a file of blank lines have no records and no diagnostics', async () => {
  for (const data of ['', '\n\n  \n']) {
    const r = await scanJsonl(tmpFile('e.jsonl', data));
    assert.equal(r.lineCount, 0);
    assert.deepEqual(r.records, []);
    assert.deepEqual(r.diagnostics, []);
  }
});

test('content ids: canonical JSON ignores key order but not values', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
  assert.equal(contentId({ a: 1, b: 2 }), contentId({ b: 2, a: 1 }));
  assert.notEqual(contentId({ a: 1 }), contentId({ a: 2 }));
  assert.match(contentId({}), /^sha1:[0-9a-f]{40}$/);
});

test('firstInvalidUtf8 finds overlongs, surrogates, truncated sequences and stray continuation bytes', () => {
  const at = (...b: number[]): number => firstInvalidUtf8(Uint8Array.from(b));
  assert.equal(at(0x61, 0xe2, 0x82, 0xac), 4); // "a€" valid
  assert.equal(at(0xf0, 0x9f, 0x98, 0x80), 4); // emoji valid
  assert.equal(at(0x61, 0x80), 1); // stray continuation
  assert.equal(at(0xc0, 0xaf), 0); // overlong
  assert.equal(at(0x61, 0x62, 0xed, 0xa0, 0x80), 2); // UTF-16 surrogate
  assert.equal(at(0x61, 0xe2, 0x82), 1); // truncated
  assert.equal(at(0xf4, 0x90, 0x80, 0x80), 0); // above U+10FFFF
});
