import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsyncDir, writeFileDurable } from '../../../src/util/durable';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'durable-'));

test('writeFileDurable replaces the file whole and leaves no temp files behind', () => {
  const dir = tmp();
  const out = join(dir, 'train.jsonl');
  writeFileSync(out, 'old\n');
  writeFileDurable(out, 'new\n');
  assert.equal(readFileSync(out, 'utf8'), 'new\n');
  writeFileDurable(out, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...readFileSync(out)], [1, 2, 3]);
  assert.deepEqual(readdirSync(dir), ['train.jsonl']);
});

test('writeFileDurable creates the folder and applies the mode', () => {
  const out = join(tmp(), 'a', 'b', 'c.bin');
  writeFileDurable(out, new Uint8Array(70_000).fill(7), 0o600);
  assert.equal(readFileSync(out).length, 70_000);
  if (process.platform !== 'win32') assert.equal(statSync(out).mode & 0o777, 0o600);
});

test('a failed write throws the underlying error and leaves the old file and no temp file', () => {
  const dir = tmp();
  const out = join(dir, 'train.jsonl');
  writeFileSync(out, 'old\n');
  assert.throws(() => writeFileDurable(join(out, 'cannot', 'be', 'inside', 'a', 'file'), 'x'), (e: NodeJS.ErrnoException) => typeof e.code === 'string');
  // The rename fails (a folder stands at the target): the temp file is removed, the folder stays.
  const blocked = join(dir, 'blocked');
  writeFileDurable(join(blocked, 'inner'), 'x');
  assert.throws(() => writeFileDurable(blocked, 'y'));
  assert.equal(readFileSync(out, 'utf8'), 'old\n');
  assert.deepEqual(readdirSync(dir).sort(), ['blocked', 'train.jsonl']);
});

test('fsyncDir tolerates a folder it cannot open', () => {
  assert.doesNotThrow(() => fsyncDir(join(tmp(), 'missing')));
  assert.doesNotThrow(() => fsyncDir(tmp()));
});
