import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onlyCorruptCheckpoints } from '../../../../src/host/runs/corruptCheckpoints';

test('a run needs the restart question only when its checkpoints were all moved aside as unreadable', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corrupt-'));
  assert.deepEqual(await onlyCorruptCheckpoints(dir), [], 'no checkpoints folder');
  fs.mkdirSync(path.join(dir, 'checkpoints', 'corrupt-step-58'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'checkpoints', 'corrupt-step-56'));
  fs.mkdirSync(path.join(dir, 'checkpoints', '.step-60.tmp-123'));
  assert.deepEqual(await onlyCorruptCheckpoints(dir), ['corrupt-step-56', 'corrupt-step-58']);
  fs.mkdirSync(path.join(dir, 'checkpoints', 'step-2'));
  assert.deepEqual(await onlyCorruptCheckpoints(dir), [], 'a readable checkpoint is left: resume from it');
  fs.rmSync(dir, { recursive: true });
});
