import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { proxyScorerId, scoreWithProxy, type ProxyScoringItem } from '../../../../src/core/feedback/proxyScoring';
import { UntrustedWorkspaceError } from '../../../../src/core/judges/proxyJudge';
import { FeedbackStore, type FeedbackInput } from '../../../../src/core/feedback/store';

const dir = mkdtempSync(join(tmpdir(), 'proxyscoring-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const items: ProxyScoringItem[] = [
  { recordId: 'r1', line: 1, target: 'chosen', prompt: 'p', response: 'four' },
  { recordId: 'r1', line: 1, target: 'rejected', prompt: 'p', response: 'no' },
  { recordId: 'r2', line: 2, target: 'completions[0].response', prompt: 'q', response: 'fail me' },
];

describe('scoreWithProxy', () => {
  it('refuses in an untrusted workspace before running anything, and records nothing', async () => {
    const marker = join(dir, 'ran.txt');
    const mod = join(dir, 'sideEffect.js');
    writeFileSync(mod, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran'); exports.score = () => 1;`);
    const recorded: unknown[] = [];
    await assert.rejects(scoreWithProxy(items, { modulePath: mod, trusted: false, record: (x) => recorded.push(x) }), UntrustedWorkspaceError);
    assert.deepEqual(recorded, []);
    assert.equal(existsSync(marker), false, 'the scorer module was never loaded');
  });

  it('scores every item into proxyReward entries, reports failures with their line, and skips done items', async () => {
    const mod = join(dir, 'len scorer.js');
    writeFileSync(mod, "exports.score = (prompt, response) => { if (response.startsWith('fail')) throw new Error('bad response'); return response.length + prompt.length / 10; };");
    const store = FeedbackStore.open({ datasetPath: join(dir, 'data.jsonl'), writerId: 'w1', annotator: 'tester' });
    try {
      const report = await scoreWithProxy(items, { modulePath: mod, trusted: true, root: dir, record: (x: FeedbackInput<'proxyReward'>) => store.record(x) });
      assert.equal(report.scored, 2);
      assert.equal(report.failures.length, 1);
      assert.equal(report.failures[0].line, 2);
      assert.match(report.failures[0].message, /bad response/);
      assert.match(report.scorer.scorer, /^len scorer\.js#score@[0-9a-f]{12}$/);
      assert.equal(report.scorer.source, 'program:len_scorer.js');
      const got = store.view().currentOfType('r1', 'proxyReward').map((e) => [e.payload.target, e.payload.score, e.source]);
      assert.deepEqual(got.sort(), [['chosen', 4.1, 'program:len_scorer.js'], ['rejected', 2.1, 'program:len_scorer.js']]);

      const again = await scoreWithProxy(items, {
        modulePath: mod, trusted: true, root: dir, record: (x) => store.record(x),
        skip: (it, id) => store.view().currentOfType(it.recordId, 'proxyReward').some((e) => e.payload.scorer === id.scorer && e.payload.target === it.target),
      });
      assert.equal(again.skipped, 2);
      assert.equal(again.scored, 0);
      // an edited scorer is a different scorer
      writeFileSync(mod, 'exports.score = () => 0;');
      assert.notEqual(proxyScorerId(mod, 'score', dir).scorer, report.scorer.scorer);
    } finally {
      store.close();
    }
  });

  it('stops after maxFailures and when cancelled', async () => {
    const mod = join(dir, 'throws.js');
    writeFileSync(mod, "exports.score = () => { throw new Error('nope'); };");
    const many = Array.from({ length: 20 }, (_, i) => ({ ...items[0], recordId: `r${i}` }));
    const r = await scoreWithProxy(many, { modulePath: mod, trusted: true, maxFailures: 3, record: () => undefined });
    assert.equal(r.failures.length, 3);
    assert.equal(r.stopped, 'too-many-failures');
    const ac = new AbortController();
    ac.abort();
    const c = await scoreWithProxy(many, { modulePath: mod, trusted: true, record: () => undefined, signal: ac.signal });
    assert.equal(c.stopped, 'cancelled');
    assert.equal(c.failures.length, 0);
  });
});
