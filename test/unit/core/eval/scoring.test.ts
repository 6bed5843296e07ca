import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PreferenceExample } from '../../../../src/core/datasets/examples';
import { loadDatasetFile } from '../../../../src/core/datasets/formats';
import { buildEvaluationReport, parseScores } from '../../../../src/core/eval/report';
import { epicDistance } from '../../../../src/core/eval/rewardDistance';
import { formatScores, scoreGrid, scorePreferencePairs } from '../../../../src/core/eval/scoring';
import { REAL_DATA_SKIP, realDataFile } from '../../../support/realData';

describe('scoring evaluation data', () => {
  it('scores the shared DPO demo pairs, round-trips the scores file and builds a report', { skip: REAL_DATA_SKIP }, async () => {
    const loaded = await loadDatasetFile(realDataFile('dpo_en_demo.trl.jsonl'));
    const examples = loaded.examples.filter((e): e is PreferenceExample => e.kind === 'preference').slice(0, 40);
    // A length "reward model": its accuracy is the fraction of pairs whose chosen answer is longer.
    const progress: number[] = [];
    const scored = await scorePreferencePairs(async (_p, r) => r.length / 100, examples, { onProgress: (d) => progress.push(d) });
    assert.equal(scored.length, 40);
    assert.equal(progress[progress.length - 1], 40);
    const longerChosen = scored.filter((s) => (s.chosenLength ?? 0) > (s.rejectedLength ?? 0)).length;
    const parsed = parseScores(formatScores(scored), 'scores.jsonl');
    assert.deepEqual(parsed.skipped, []);
    assert.equal(parsed.pairs.length, 40);
    const report = buildEvaluationReport({ title: 'length', pairs: parsed.pairs });
    assert.equal(report.accuracy.micro, longerChosen / 40);
    // Reward is length / 100, so its correlation with length is exactly 1.
    assert.ok(report.length && Math.abs((report.length.pearson ?? 0) - 1) < 1e-12);
  });

  it('scores a prompt x response grid in place and names a bad score', async () => {
    const items = [
      { prompt: 'a', responses: ['x', 'xx', 'xxx'] },
      { prompt: 'bb', responses: ['y', 'yyyy'] },
    ];
    const grid = await scoreGrid(async (p, r) => r.length + p.length, items, { concurrency: 2 });
    assert.deepEqual(grid, [[2, 3, 4], [3, 6]]);
    // Same rewards up to a per-prompt shift: EPIC 0.
    assert.ok(epicDistance(grid, await scoreGrid(async (_p, r) => r.length, items)) < 1e-6);
    await assert.rejects(scoreGrid(async () => Infinity, items), /prompt 0, response 0: the scorer returned Infinity/);
  });
});
