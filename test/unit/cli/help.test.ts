import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMMAND_NAMES } from '../../../src/cli/main';
import { alignment } from './cliCapture';

test('alignment --help lists every command with a one-line description, judge, eval-rm and devices included', async () => {
  for (const c of ['train', 'demo', 'eval', 'judge', 'eval-rm', 'devices']) assert.ok(COMMAND_NAMES.includes(c), c);
  for (const args of [['--help'], ['-h'], ['help']]) {
    const r = await alignment(...args);
    assert.equal(r.code, 0, args.join(' '));
    assert.equal(r.err, '');
    const section = r.out.slice(r.out.indexOf('commands:\n'), r.out.indexOf('\n\n', r.out.indexOf('commands:\n')));
    const listed = [...section.matchAll(/^ {2}([a-z-]+) +(\S.{15,})$/gm)].map((m) => m[1]);
    assert.equal(section.split('\n').length, COMMAND_NAMES.length + 1, 'one line per command');
    assert.deepEqual(listed, [...COMMAND_NAMES], `${args.join(' ')} lists each command once, with its description`);
    for (const c of COMMAND_NAMES) assert.match(r.out, new RegExp(`^ +alignment ${c} `, 'm'), `usage of ${c}`);
  }
});

test('each command has its own --help (and `alignment help <command>`), which starts nothing', async () => {
  const cwd = process.cwd();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-help-'));
  process.chdir(dir);
  try {
    for (const c of COMMAND_NAMES) {
      for (const args of [[c, '--help'], [c, '-h'], ['help', c], [c, 'some-file.jsonl', '--json', '--help']]) {
        const r = await alignment(...args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
        assert.match(r.out, new RegExp(`^alignment ${c}: \\S.+\\n\\nusage:\\n {2}alignment ${c} `), args.join(' '));
      }
    }
    assert.deepEqual(fs.readdirSync(dir), [], 'no run folder, demo output or label journal was written');
    const own = await alignment('eval', '--help');
    for (const o of ['--data FILE', '--reference DIR', '--max-length N', '--json']) assert.match(own.out, new RegExp(`^ {2}${o} +\\S`, 'm'), o);
  } finally {
    process.chdir(cwd);
  }
});

test('no command, an unknown command, or an unknown help topic: exit 2 with the list of commands', async () => {
  const none = await alignment();
  assert.equal(none.code, 2);
  assert.match(none.err, /give a command/);
  assert.match(none.err, /^ {2}eval-rm +\S/m);
  const typo = await alignment('evl', '--data', 'x');
  assert.equal(typo.code, 2);
  assert.match(typo.err, /unknown command "evl" \(did you mean eval\?\); the commands are train, demo, eval, judge, eval-rm/);
  const topic = await alignment('help', 'nope');
  assert.equal(topic.code, 2);
  assert.match(topic.err, /unknown command "nope"/);
});

test('bad options: every problem listed at once (unknown with a suggestion, missing or malformed values, stray arguments), then the usage', async () => {
  const r = await alignment('train', '--metod', 'dpo', '--dta', 'x.jsonl', '--steps', 'abc', '--lr', 'fast', '--json=yes', 'a.json', 'b.json', '--batch-size');
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  assert.match(r.err, /^alignment train: 7 problems with the arguments:\n/);
  for (const line of [
    '--metod: unknown option (did you mean --method?)',
    '--dta: unknown option (did you mean --data?)',
    '--steps: expected a whole number >= 1, got "abc"',
    '--lr: expected a number, got "fast"',
    '--json: a switch takes no value (got "yes")',
    '--batch-size: needs a value (N)',
    'unexpected argument "b.json" (train takes a run spec file)',
  ])
    assert.ok(r.err.includes(`\n  ${line}\n`), `${line}\n---\n${r.err}`);
  assert.match(r.err, /usage:\n {2}alignment train <spec\.json>/);

  const d = await alignment('demo', '--quik', '--threads', '0', 'extra');
  assert.equal(d.code, 2);
  assert.match(d.err, /--quik: unknown option \(did you mean --quick\?\)/);
  assert.match(d.err, /--threads: expected a whole number >= 1, got "0"/);
  assert.match(d.err, /unexpected argument "extra"/);

  const e = await alignment('eval', '--data', 'pairs.jsonl', '--data', 'other.jsonl', '--max-length', '-4');
  assert.equal(e.code, 2);
  assert.match(e.err, /--data: given more than once/);
  assert.match(e.err, /--max-length: expected a whole number >= 1, got "-4"/);
  assert.match(e.err, /missing a model folder or a run folder with final\//);

  // Flags that a spec file would silently override are refused, naming them.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-spec-'));
  const spec = path.join(dir, 'spec.json');
  fs.writeFileSync(spec, JSON.stringify({ method: 'dpo', model: { kind: 'builtin' }, data: { path: 'x.jsonl' } }));
  const s = await alignment('train', spec, '--lr', '0.1', '--steps', '3', '--run-dir', path.join(dir, 'run'));
  assert.equal(s.code, 2);
  assert.match(s.err, /--lr, --steps cannot be combined with a run spec file/);
  assert.ok(!fs.existsSync(path.join(dir, 'run')));

  // The judge commands parse their own options, and list every unknown one too.
  const j = await alignment('judge', 'data.jsonl', '--base-url', 'http://localhost:1', '--model', 'm', '--foo', '1', '--bar', '2');
  assert.equal(j.code, 2);
  assert.match(j.err, /judge: unknown options --foo, --bar \(valid: --base-url, /);
});
