import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliMain } from '../../../src/cli/main';
import { METHOD_CARDS } from '../../../src/core/methods';

async function capture(fn: () => Promise<number>): Promise<{ code: number; err: string; out: string }> {
  const err: string[] = [];
  const out: string[] = [];
  const e0 = process.stderr.write.bind(process.stderr);
  const o0 = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  try {
    return { code: await fn(), err: err.join(''), out: out.join('') };
  } finally {
    process.stderr.write = e0;
    process.stdout.write = o0;
  }
}

test('alignment train lists every bad field of a spec and starts nothing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-'));
  const spec = path.join(dir, 'spec.json');
  fs.writeFileSync(spec, JSON.stringify({ method: 'dpo', model: { kind: 'builtin' }, data: { path: 'x.jsonl', maxLength: -3 }, batchSize: 0, hyperparameters: { beta: -1, nope: 1 }, optimizer: { learningRate: 5 } }));
  const r = await capture(() => cliMain(['train', spec, '--run-dir', path.join(dir, 'run')]));
  assert.equal(r.code, 2);
  for (const field of ['data.maxLength', 'batchSize', 'hyperparameters.beta', 'hyperparameters.nope', 'optimizer.learningRate']) assert.match(r.err, new RegExp(`\\b${field.replace('.', '\\.')}:`), field);
  assert.ok(!fs.existsSync(path.join(dir, 'run', 'events.jsonl')));
});

test('alignment with an unknown command or method prints the usage', async () => {
  const a = await capture(() => cliMain(['frobnicate']));
  assert.equal(a.code, 2);
  assert.match(a.err, /unknown command "frobnicate"/);
  const b = await capture(() => cliMain(['train', '--method', 'nope', '--data', 'x.jsonl']));
  assert.equal(b.code, 2);
  assert.match(b.err, /--method: unknown method "nope"/);
});

test('alignment train refuses a method it does not offer (from flags or a spec file), before any run folder is written', async () => {
  const cwd = process.cwd();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-untrainable-'));
  process.chdir(dir);
  try {
    fs.writeFileSync('pairs.jsonl', JSON.stringify({ prompt: 'p', chosen: 'a', rejected: 'b' }) + '\n');
    const offered = METHOD_CARDS.filter((m) => m.trainable).map((m) => m.id).join(', ');
    const flags = await capture(() => cliMain(['train', '--method', 'xpo', '--data', 'pairs.jsonl']));
    assert.equal(flags.code, 2);
    assert.ok(flags.err.includes(`method: unknown method "xpo" (one of ${offered})`), flags.err);
    fs.writeFileSync('spec.json', JSON.stringify({ method: 'xpo', model: { kind: 'builtin' }, data: { path: 'pairs.jsonl' } }));
    const file = await capture(() => cliMain(['train', 'spec.json', '--run-dir', 'run']));
    assert.equal(file.code, 2);
    assert.match(file.err, /method: unknown method "xpo"/);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['pairs.jsonl', 'spec.json'], 'no run folder (.alignment/runs/... or --run-dir) was created');
  } finally {
    process.chdir(cwd);
  }
});
