/**
 * The session process (dist/session.js) reports a user's mistake as an error event with the message alone (no
 * stack in `detail`), and reads a run spec that starts with a BOM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sessionMain } from '../../../src/session/main';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o0 = process.stdout.write.bind(process.stdout);
  const e0 = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array, ...rest: never[]) => (typeof s === 'string' ? (out.push(s), true) : o0(s, ...rest))) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array, ...rest: never[]) => (typeof s === 'string' ? (err.push(s), true) : e0(s, ...rest))) as typeof process.stderr.write;
  try {
    return { code: await sessionMain(argv), out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = o0;
    process.stderr.write = e0;
  }
}

test('a spec with a BOM whose data path is a folder: one error event, the message alone', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-main-'));
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  const spec = path.join(dir, 'spec.json');
  fs.writeFileSync(spec, '\ufeff' + JSON.stringify({ method: 'dpo', model: { kind: 'builtin' }, data: { path: data } }));
  const r = await run(['--spec', spec, '--run-dir', path.join(dir, 'run')]);
  assert.equal(r.code, 1, r.err);
  const errors = r.out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; params: { message: string; detail?: string } }).filter((e) => e.type === 'error');
  assert.equal(errors.length, 1, r.out);
  assert.equal(errors[0]?.params.message, `data.path: ${data} is a folder; pass a .jsonl or .json file`);
  assert.equal(errors[0]?.params.detail, undefined);
});

test('a wrong model path is a plain message (does not exist / no config.json), no stack, and marked expected', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-main-'));
  const data = path.join(dir, 'pairs.jsonl');
  fs.writeFileSync(data, JSON.stringify({ prompt: 'p', chosen: ' a', rejected: ' b' }) + '\n');
  const empty = path.join(dir, 'empty-model');
  fs.mkdirSync(empty);
  const cases: [string, string][] = [
    [path.join(dir, 'no-such-model'), `model.path: ${path.join(dir, 'no-such-model')} does not exist (give a Hugging Face model folder, or "builtin")`],
    [empty, `model.path: ${empty} is not a Hugging Face model folder: it has no config.json`],
  ];
  for (const [model, message] of cases) {
    const spec = path.join(dir, 'spec.json');
    fs.writeFileSync(spec, JSON.stringify({ method: 'dpo', model: { kind: 'hf', path: model }, data: { path: data, evalSplit: 0 } }));
    const r = await run(['--spec', spec, '--run-dir', path.join(dir, `run-${path.basename(model)}`)]);
    assert.equal(r.code, 1, r.err);
    const errors = r.out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; params: { message: string; detail?: string; expected?: boolean } }).filter((e) => e.type === 'error');
    assert.deepEqual(errors.map((e) => [e.params.message, e.params.detail, e.params.expected]), [[message, undefined, true]]);
    assert.doesNotMatch(r.err, /^\s+at /m);
  }
});
