import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnOffThread } from '../../../../src/host/runs/offThreadSpawn';

test('starts a detached process from a worker thread: pid, working folder, stderr to the given descriptor, exit code', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spawn-'));
  const errPath = path.join(dir, 'stderr.log');
  const fd = fs.openSync(errPath, 'a');
  const code = "process.stderr.write('in ' + process.cwd()); process.exit(3)";
  const child = await spawnOffThread(process.execPath, ['-e', code], { cwd: dir, env: process.env, stderrFd: fd });
  fs.closeSync(fd);
  assert.ok(Number.isInteger(child.pid) && child.pid > 0);
  assert.deepEqual(await child.exited, { code: 3, signal: null });
  const text = fs.readFileSync(errPath, 'utf8');
  assert.equal(text, `in ${fs.realpathSync(dir)}`);
  fs.rmSync(dir, { recursive: true });
});

test('lowers the priority before reporting the start, reports a signal, and a command that cannot start is a rejection naming it', async () => {
  const fd = fs.openSync(os.devNull, 'a');
  const child = await spawnOffThread(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { cwd: os.tmpdir(), env: process.env, stderrFd: fd, niceness: 19 });
  // (19, the lowest priority, can always be set without privileges.)
  assert.equal(os.getPriority(child.pid), 19);
  process.kill(child.pid, 'SIGTERM');
  assert.deepEqual(await child.exited, { code: null, signal: 'SIGTERM' });
  await assert.rejects(spawnOffThread('/no/such/binary', [], { cwd: os.tmpdir(), env: process.env, stderrFd: fd }), /could not start \/no\/such\/binary: .*ENOENT/);
  fs.closeSync(fd);
});
