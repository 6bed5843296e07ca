import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEMO_SCALES, readEvents, runDemo, type DemoReport, type DemoScale } from '../../../src/cli/demo';
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
  // Each of the eight numbered steps is announced once (the online stages share 6/8).
  for (let n = 1; n <= 8; n++) assert.equal(lines.filter((l) => l.startsWith(`${n}/8 `)).length, 1, `${n}/8 in:\n${lines.join('\n')}`);
  assert.ok(lines.some((l) => l.startsWith('8/8 report')), lines.join('\n'));
  t.diagnostic(`stage seconds: ${JSON.stringify(report.seconds)}; CPU seconds: ${JSON.stringify(report.cpu_seconds)}`);

  const onDisk = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as DemoReport;
  for (const k of ['proxy_reward_sft', 'proxy_reward_aligned', 'win_rate_vs_sft', 'kl_to_sft'] as const) {
    assert.equal(typeof onDisk[k], 'number', k);
    assert.ok(Number.isFinite(onDisk[k]), `${k} = ${onDisk[k]}`);
    assert.equal(onDisk[k], report[k], k);
  }
  assert.ok(onDisk.win_rate_vs_sft >= 0 && onDisk.win_rate_vs_sft <= 1);
  assert.deepEqual(Object.keys(onDisk.policies).sort(), ['dpo', 'grpo', 'ppo', 'sft', 'simpo']);
  // Each online method's figures under its own keys, equal to its policy entry.
  assert.deepEqual(onDisk.online.map((o) => o.method), ['grpo', 'ppo']);
  const grpo = onDisk.policies['grpo'];
  const ppo = onDisk.policies['ppo'];
  assert.ok(grpo && ppo);
  assert.equal(onDisk.proxy_reward_grpo, grpo.proxy_reward);
  assert.equal(onDisk.win_rate_grpo_vs_sft, grpo.win_rate_vs_sft);
  assert.equal(onDisk.kl_grpo_to_sft, grpo.kl_to_sft);
  assert.equal(onDisk.proxy_reward_ppo, ppo.proxy_reward);
  assert.equal(onDisk.win_rate_ppo_vs_sft, ppo.win_rate_vs_sft);
  assert.equal(onDisk.kl_ppo_to_sft, ppo.kl_to_sft);
  // The best aligned policy is the one with the highest win rate among DPO, SimPO, GRPO and PPO.
  const aligned = ['dpo', 'simpo', 'grpo', 'ppo'].map((m) => ({ m, w: onDisk.policies[m]?.win_rate_vs_sft ?? NaN }));
  const top = Math.max(...aligned.map((a) => a.w));
  assert.equal(onDisk.best_win_rate_vs_sft, top);
  assert.equal(onDisk.policies[onDisk.best_method]?.win_rate_vs_sft, top, onDisk.best_method);
  assert.equal(onDisk.best_kl_to_sft, onDisk.policies[onDisk.best_method]?.kl_to_sft);
  for (const stage of ['sft', 'pairs', 'dpo', 'simpo', 'grpo', 'ppo', 'evaluation', 'total']) assert.ok((onDisk.cpu_seconds[stage] ?? 0) > 0, `cpu_seconds.${stage}`);
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
  for (const row of onDisk.samples) for (const k of ['prompt', 'reference', 'sft', 'dpo', 'simpo', 'grpo', 'ppo']) assert.equal(typeof row[k], 'string', k);

  const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  assert.match(html, /<svg/);
  assert.match(html, /Mean proxy reward/);
  assert.match(html, /Best aligned policy: (DPO|SIMPO|GRPO|PPO), win rate vs SFT \d\.\d{3} at KL to SFT -?\d+\.\d{3} nats/);
  assert.match(html, /GRPO: mean proxy reward of the rollouts/);
  assert.match(html, /<th>GRPO<\/th>/);
  assert.match(html, /PPO: reward-model score of the rollouts/);
  for (const stage of ['sft', 'reward', 'dpo', 'simpo', 'grpo', 'ppo']) assert.ok(fs.existsSync(path.join(out, 'runs', stage, 'events.jsonl')), stage);
  // GRPO trained its rollouts against the proxy reward on the pair prompts, each with its reference answer.
  const grpoEvents = readEvents(path.join(out, 'runs', 'grpo'));
  const rewards = grpoEvents.flatMap((e) => (e.type === 'metrics' && typeof e.params.metrics['rewards/proxy_reward/mean'] === 'number' ? [e.params.metrics['rewards/proxy_reward/mean']] : []));
  assert.equal(rewards.length, tiny.online[0]?.steps);
  const prompts = fs.readFileSync(path.join(out, 'data', 'prompts.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { prompt: { content: string }[]; answer: string });
  assert.equal(prompts.length, tiny.pairPrompts);
  assert.ok(prompts.every((p) => p.prompt[0]?.content && p.answer), 'every prompt has a reference answer');
  // The final norm's gain trained at its own learning rate, which the stage's spec carries.
  const grpoScale = tiny.online[0];
  assert.ok(grpoScale?.method === 'grpo' && grpoScale.finalNormLearningRate !== undefined);
  const grpoSpec = JSON.parse(fs.readFileSync(path.join(out, 'runs', 'grpo', 'spec.json'), 'utf8')) as { optimizer: { learningRate: number; paramGroups?: unknown } };
  assert.equal(grpoSpec.optimizer.learningRate, grpoScale.learningRate);
  assert.deepEqual(grpoSpec.optimizer.paramGroups, [{ params: ['model.norm.weight'], learningRate: grpoScale.finalNormLearningRate }]);
  // PPO was scored by the demo's reward model, which also started its value model.
  const ppoSpec = JSON.parse(fs.readFileSync(path.join(out, 'runs', 'ppo', 'spec.json'), 'utf8')) as { rewards: { functions: { kind: string; path: string }[] } };
  assert.deepEqual(ppoSpec.rewards.functions.map((f) => [f.kind, f.path]), [['reward_model', 'runs/reward']]);
  const ppoScores = readEvents(path.join(out, 'runs', 'ppo')).flatMap((e) => (e.type === 'metrics' ? [e.params.metrics['objective/scores']] : []));
  assert.ok(ppoScores.length > 0 && ppoScores.every((x) => Number.isFinite(x)), JSON.stringify(ppoScores));

  // The SFT data mixes concise and chatty answers; the pairs' chosen side never has a lower proxy reward.
  const sft = fs.readFileSync(path.join(out, 'data', 'sft.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { completion: { content: string }[] });
  const lengths = sft.map((r) => words(r.completion[0]?.content ?? '').length);
  assert.equal(sft.length, tiny.sftExamples);
  assert.ok(new Set(lengths).size > 3);
});
