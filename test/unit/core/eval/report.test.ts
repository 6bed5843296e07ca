import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { perturbationProbe, padLength } from '../../../../src/core/eval/perturbation';
import { buildEvaluationReport, parseScores } from '../../../../src/core/eval/report';
import { rewardDistanceMatrix } from '../../../../src/core/eval/rewardDistance';
import { EvalShowReport } from '../../../../src/protocol/evaluation';

const text = [
  '{"section":"chat","chosen_reward":1.5,"rejected_reward":0.2,"chosen_length":120,"rejected_length":40}',
  '{"section":"chat","chosen_reward":-0.5,"rejected_reward":0.5,"chosen_length":30,"rejected_length":90}',
  '',
  '{"section":"safety","tags":["refusal"],"chosen_reward":2,"rejected_reward":-2,"chosen_length":60,"rejected_length":200}',
  'not json',
  '{"section":"chat","chosen_reward":"high","rejected_reward":0}',
  '{"section":5,"chosen_reward":1,"rejected_reward":0}',
].join('\n');

describe('evaluation report', () => {
  it('parses a scores file and names every skipped line and field', () => {
    const r = parseScores(text, 'scores.jsonl');
    assert.equal(r.pairs.length, 3);
    assert.deepEqual(r.skipped, [
      'scores.jsonl:5: not valid JSON',
      'scores.jsonl:6: field "chosen_reward" must be a finite number',
      'scores.jsonl:7: field "section" must be a string',
    ]);
    assert.deepEqual(r.pairs[2].tags, ['refusal']);
  });

  it('builds a report that passes the panel protocol validator', async () => {
    const { pairs, skipped } = parseScores(text, 'scores.jsonl');
    const grid = [
      [1, 2, 3],
      [0, 1, 5],
    ];
    const probe = await perturbationProbe(async (_p, r) => r.length, [{ prompt: 'q', response: 'abc' }], padLength('filler'), { name: 'padding' });
    const report = buildEvaluationReport({
      title: 'rm-small',
      source: 'scores.jsonl',
      pairs,
      skipped,
      calibrationBins: 5,
      histogramBins: 4,
      distances: [{ metric: 'EPIC', matrix: rewardDistanceMatrix({ a: grid, b: grid.map((r) => r.map((x) => 2 * x + 1)) }) }],
      probes: [probe],
    });
    assert.deepEqual(EvalShowReport.problems(EvalShowReport.create(report)), []);
    assert.equal(report.n, 3);
    assert.equal(report.accuracy.overall, (0.5 + 1) / 2);
    assert.deepEqual(report.accuracy.sections.map((s) => s.name), ['chat', 'safety']);
    assert.equal(report.calibration.bins.length, 5);
    assert.equal(report.histogram.chosen.reduce((a, b) => a + b, 0), 3);
    assert.equal(report.length?.n, 6);
    assert.equal(report.probes[0].name, 'padding');
    assert.equal(report.skipped.length, 3);
  });

  it('reports nulls, not NaN, for an empty scores file', () => {
    const report = buildEvaluationReport({ title: 'empty', pairs: [] });
    assert.equal(report.accuracy.overall, null);
    assert.equal(report.calibration.ece, null);
    assert.equal(report.length, null);
    assert.deepEqual(EvalShowReport.problems(EvalShowReport.create(report)), []);
  });
});
