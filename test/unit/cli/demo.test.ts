import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEMO_SCALES, runDemo, type DemoReport, type DemoScale } from '../../../src/cli/demo';
import { words } from '../../../src/training/demo/proxyReward';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-test-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// The whole pipeline at a toy size (the README demo is DEMO_SCALES.full): every stage runs for real, on a barely
// trained model, so this checks the plumbing and the report's shape, not that alignment helps.
const tiny: DemoScale = { ...DEMO_SCALES.quick, sftExamples: 200, sftSteps: 6, pairPrompts: 24, rmSteps: 2, dpoSteps: 2, evalPrompts: 8, trajectoryPoints: 1 };

test('a scaled-down demo runs every stage and writes report.json (finite headline figures) and report.html', async (t) => {
  const out = path.join(dir, 'out');
  const lines: string[] = [];
  const report = await runDemo({ outDir: out, cacheDir: path.join(dir, 'cache'), scale: tiny, threads: 1, log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => l.startsWith('7/7')), lines.join('\n'));
  t.diagnostic(`stage seconds: ${JSON.stringify(report.seconds)}`);

  const onDisk = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as DemoReport;
  for (const k of ['proxy_reward_sft', 'proxy_reward_aligned', 'win_rate_vs_sft', 'kl_to_sft'] as const) {
    assert.equal(typeof onDisk[k], 'number', k);
    assert.ok(Number.isFinite(onDisk[k]), `${k} = ${onDisk[k]}`);
    assert.equal(onDisk[k], report[k], k);
  }
  assert.ok(onDisk.win_rate_vs_sft >= 0 && onDisk.win_rate_vs_sft <= 1);
  assert.deepEqual(Object.keys(onDisk.policies).sort(), ['dpo', 'sft', 'simpo']);
  for (const [name, p] of Object.entries(onDisk.policies)) {
    for (const [k, v] of Object.entries(p)) assert.ok(Number.isFinite(v), `${name}.${k} = ${String(v)}`);
  }
  // The SFT policy against itself: same samples, every comparison a tie, no divergence.
  assert.equal(onDisk.policies['sft']?.win_rate_vs_sft, 0.5);
  assert.equal(onDisk.policies['sft']?.kl_to_sft, 0);
  // Start, one checkpoint and the end of DPO.
  assert.deepEqual(onDisk.dpo_trajectory.map((t) => t.step), [0, 1, 2]);
  assert.equal(onDisk.pairs.generated, tiny.pairPrompts);
  assert.equal(onDisk.pairs.used + onDisk.pairs.ties_dropped, tiny.pairPrompts);
  assert.ok(onDisk.samples.length > 0);

  const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  assert.match(html, /<svg/);
  assert.match(html, /Mean proxy reward/);
  for (const stage of ['sft', 'reward', 'dpo', 'simpo']) assert.ok(fs.existsSync(path.join(out, 'runs', stage, 'events.jsonl')), stage);

  // The SFT data mixes concise and chatty answers; the pairs' chosen side never has a lower proxy reward.
  const sft = fs.readFileSync(path.join(out, 'data', 'sft.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { completion: { content: string }[] });
  const lengths = sft.map((r) => words(r.completion[0]?.content ?? '').length);
  assert.equal(sft.length, tiny.sftExamples);
  assert.ok(new Set(lengths).size > 3);
});
