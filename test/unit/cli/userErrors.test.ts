/**
 * What a user sees when something goes wrong: an expected error (a device that is not there, a model folder
 * without weights, a data path that is a folder) is its message, once, with no stack; an unexpected error is printed
 * with its stack, which in the production bundle points into the TypeScript source through the shipped source map.
 * Repeated ids in eval data are warned about with both lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { probeDevices } from '../../../src/engine/runtime/devices';
import { describeError, formatError, UserError } from '../../../src/util/errors';
import { writeTinyHfFolder } from '../engine/models/tinyModels';
import { alignment } from './cliCapture';

const STACK_LINE = /^\s+at /m;
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'cli-user-errors-'));
const count = (text: string, part: string): number => text.split(part).length - 1;

function sftFile(dir: string, rows = 4): string {
  const file = path.join(dir, 'sft.jsonl');
  fs.writeFileSync(file, Array.from({ length: rows }, (_, i) => JSON.stringify({ prompt: `say ${i}`, completion: ` ok ${i}` })).join('\n') + '\n');
  return file;
}

function pairsFile(dir: string, ids: readonly string[]): string {
  const file = path.join(dir, 'pairs.jsonl');
  fs.writeFileSync(file, ids.map((id, i) => JSON.stringify({ id, prompt: `item ${i}`, chosen: ' yes', rejected: ' no' })).join('\n') + '\n');
  return file;
}

test('an expected error is its message alone; an unexpected one shows its stack', () => {
  assert.deepEqual(describeError(new UserError('fix this')), { message: 'fix this' });
  assert.equal(formatError(new UserError('fix this', 'more')), 'fix this\nmore');
  const bug = formatError(new TypeError('x is undefined'));
  assert.match(bug, /^TypeError: x is undefined\n\s+at /);
  assert.equal(count(bug, 'x is undefined'), 1);
});

test('a spec asking for a device that is not here prints the message once, without a stack', async (t) => {
  const wanted = (await probeDevices()).find((d) => !d.available && d.device !== 'cpu');
  if (!wanted) return t.skip('every device works on this machine');
  const dir = tmp();
  const spec = path.join(dir, 'spec.json');
  fs.writeFileSync(spec, JSON.stringify({ method: 'sft', model: { kind: 'hf', path: writeTinyHfFolder('gpt2') }, data: { path: sftFile(dir), evalSplit: 0 }, device: wanted.device, maxSteps: 1, batchSize: 2 }));
  const r = await alignment('train', spec, '--run-dir', path.join(dir, 'run'));
  assert.equal(r.code, 1, r.err);
  assert.equal(count(r.err, `device '${wanted.device}' is not available`), 1, r.err);
  assert.equal(count(r.err, 'To use it:'), 1, r.err);
  assert.doesNotMatch(r.err, STACK_LINE);
});

test('a model folder without weights is a message naming the folder, in train and in eval', async () => {
  const dir = tmp();
  const model = writeTinyHfFolder('gpt2');
  fs.rmSync(path.join(model, 'model.safetensors'));
  const data = sftFile(dir);
  const r = await alignment('train', '--method', 'sft', '--data', data, '--model', model, '--steps', '1', '--run-dir', path.join(dir, 'run'));
  assert.equal(r.code, 1, r.err);
  assert.ok(r.err.includes(model), r.err);
  assert.doesNotMatch(r.err, STACK_LINE);
  assert.doesNotMatch(r.err, /SafetensorsError/);
  const e = await alignment('eval', model, '--data', pairsFile(dir, ['a', 'b']));
  assert.equal(e.code, 1, e.err);
  assert.ok(e.err.includes(model), e.err);
  assert.doesNotMatch(e.err, STACK_LINE);
});

test('--data pointing at a folder says so, naming it, in train and in eval', async () => {
  const dir = tmp();
  const folder = path.join(dir, 'data');
  fs.mkdirSync(folder);
  const r = await alignment('train', '--method', 'sft', '--data', folder, '--steps', '1', '--run-dir', path.join(dir, 'run'));
  assert.equal(r.code, 1, r.err);
  assert.ok(r.err.includes(`${folder} is a folder; pass a .jsonl or .json file`), r.err);
  assert.doesNotMatch(r.err, STACK_LINE);
  assert.doesNotMatch(r.err, /EISDIR/);
  const e = await alignment('eval', writeTinyHfFolder('gpt2'), '--data', folder);
  assert.notEqual(e.code, 0);
  assert.ok(e.err.includes(`${folder} is a folder; pass a .jsonl or .json file`), e.err);
  assert.doesNotMatch(e.err, STACK_LINE);
});

test('alignment eval warns about repeated ids, naming the id and both lines', async () => {
  const dir = tmp();
  const data = pairsFile(dir, ['a', 'b', 'a']);
  const r = await alignment('eval', writeTinyHfFolder('gpt2'), '--data', data, '--json');
  assert.equal(r.code, 0, r.err);
  assert.ok(r.err.includes(`warning: ${data}:3: duplicate id "a" (first on line 1)`), r.err);
});

test('the production CLI ships source maps, and an unexpected error prints a stack into the TypeScript source', () => {
  const out = tmp();
  const root = path.resolve(__dirname, '../../..');
  const built = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--production', '--outdir', out], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(built.status, 0, built.stderr);
  for (const b of ['cliMain', 'sessionMain', 'sessionWorker', 'extension']) assert.ok(fs.existsSync(path.join(out, `${b}.js.map`)), `${b}.js.map`);
  assert.doesNotMatch(fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8'), /^[^#!]*\.map\s*$/m, '.vscodeignore leaves the maps in the VSIX');
  // A bug inside the bundle, run through the real entry (dist/cli.js): fs.existsSync throws while `eval` looks for
  // the model folder.
  const inject = path.join(out, 'inject.js');
  fs.writeFileSync(inject, `const fs = require('node:fs'); const real = fs.existsSync; fs.existsSync = (p) => { if (String(p).includes('some-model')) throw new Error('injected bug'); return real(p); };`);
  const r = spawnSync(process.execPath, ['-r', inject, path.join(out, 'cli.js'), 'eval', 'some-model', '--data', 'x.jsonl'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^error: Error: injected bug\n\s+at /);
  assert.match(r.stderr, /src\/cli\/main\.ts:\d+/, r.stderr);
});
