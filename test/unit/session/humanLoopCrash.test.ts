/**
 * kill -9 of a session with a person in the middle of a round: every decision recorded before the kill is kept
 * and trained on, the resumed session does not sample the waiting batch again, and the run finishes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listRounds, openRoundLabels, readBatch, readRoundPairs, roundDecisions, roundPaths, SIMULATED_LABELER_SOURCE } from '../../../src/core/runs/rounds';
import { HeadlessLabeler } from '../../../src/cli/humanLabels';
import { promptRows } from './onlineFixtures';
import { REPO, workspace } from './sessionFixtures';
import { humanSpec, runWithLabeler, vowelDecide } from './humanFixtures';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('kill -9 while round 1 waits with two of four pairs labeled: the labels survive and the resumed run trains on them', async () => {
  const ws = workspace(promptRows(6));
  const runDir = path.join(ws.dir, 'run');
  const specFile = path.join(ws.dir, 'spec.json');
  const spec = humanSpec(ws, runDir, { prefetch_next_batch: false });
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src', 'session', 'main.ts'), '--spec', specFile, '--run-dir', runDir], { cwd: REPO, env: { ...process.env, ALIGNMENT_THREADS: '1' } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  // The person labels the first two pairs of round 1 once it is published; then the session is killed.
  const firstTwo = new HeadlessLabeler(runDir, (p) => (/-p[01]$/.test(p.id) ? vowelDecide(p) : undefined), { writerId: 'labeler', source: SIMULATED_LABELER_SOURCE, annotator: 'sim' });
  for (let i = 0; i < 600 && firstTwo.count < 2; i++) {
    if (listRounds(runDir).includes(1)) firstTwo.labelOnce();
    await sleep(100);
  }
  assert.equal(firstTwo.count, 2, stderr);
  const pairsBefore = fs.readFileSync(roundPaths(runDir, 1).pairs, 'utf8');
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assert.equal(readBatch(runDir, 1).state, 'waiting');
  const store = openRoundLabels(runDir, 1, 'reader');
  const before = [...roundDecisions(store.view(), readRoundPairs(runDir, 1)).person.values()];
  store.close();
  assert.equal(before.length, 2);

  // Resume with the same labeler writer id (its lock was the dead process's; it is taken over), labeling the rest.
  const res = await runWithLabeler(spec, runDir, vowelDecide);
  assert.equal(res.reason, 'completed', res.error);
  assert.equal(fs.readFileSync(roundPaths(runDir, 1).pairs, 'utf8'), pairsBefore, 'the waiting batch was not sampled again');
  const b = readBatch(runDir, 1);
  assert.equal(b.closed?.human, 4);
  const used = JSON.parse(fs.readFileSync(path.join(roundPaths(runDir, 1).dir, 'used.json'), 'utf8')) as { labels: { entryId: string }[] };
  for (const d of before.filter((x) => x.preferred !== null)) assert.ok(used.labels.some((l) => l.entryId === d.entryId), `decision ${d.entryId} made before the kill was trained on`);
  assert.deepEqual(listRounds(runDir), [1, 2]);
});
