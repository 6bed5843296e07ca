/**
 * A run's data problems are visible: repeated ids are a warning naming the id and both lines (as the editor's
 * diagnostics word them), non-UTF-8 lines are skipped rows with file:line, and a data path that is a folder is an
 * error that names it and the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveRunSpec, type RunSpec } from '../../../src/core/runs/spec';
import { loadSplit } from '../../../src/session/data';
import { EventSink } from '../../../src/session/events';
import { SessionInputError } from '../../../src/session/types';

function specFor(data: string): RunSpec {
  const r = resolveRunSpec({ method: 'dpo', model: { kind: 'builtin' }, data: { path: data, evalSplit: 0 }, outputDir: 'o' });
  assert.ok(r.ok);
  return r.spec;
}

function warningsOf(sink: EventSink): string[] {
  const out: string[] = [];
  sink.on((e) => {
    if (e.type === 'warning') out.push(e.params.message);
  });
  return out;
}

const row = (id: string, i: number): string => JSON.stringify({ id, prompt: `q${i}`, chosen: `good ${i}`, rejected: `bad ${i}` });

test('repeated ids in training data are a warning with the id and both lines', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-data-'));
  const file = path.join(dir, 'pairs.jsonl');
  fs.writeFileSync(file, [row('x', 1), row('y', 2), row('x', 3)].join('\n') + '\n');
  const sink = new EventSink(undefined);
  const warnings = warningsOf(sink);
  const split = await loadSplit(specFor(file), dir, sink);
  assert.equal(split.train.length, 3);
  assert.deepEqual(warnings, [`1 row repeats an earlier row's id:\n${file}:3: duplicate id "x" (first on line 1)`]);
});

test('non-UTF-8 lines are skipped rows with file:line; a folder is an error naming data.path', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-data-'));
  const file = path.join(dir, 'pairs.jsonl');
  fs.writeFileSync(file, Buffer.concat([Buffer.from(row('a', 1) + '\n'), Buffer.from(`{"prompt": "na\xefve", "chosen": "a", "rejected": "b"}\n`, 'latin1')]));
  const sink = new EventSink(undefined);
  const warnings = warningsOf(sink);
  const split = await loadSplit(specFor(file), dir, sink);
  assert.equal(split.train.length, 1);
  assert.match(warnings.join('\n'), new RegExp(`1 of 2 rows skipped:\\n${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: not valid UTF-8: bad byte 0xef`));
  await assert.rejects(loadSplit(specFor(dir), dir, new EventSink(undefined)), (e: Error) => e instanceof SessionInputError && e.message === `data.path: ${dir} is a folder; pass a .jsonl or .json file`);
});
