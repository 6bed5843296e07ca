/**
 * Where a PPO run's value model starts: a reward-model reward of the policy's architecture gives its whole model
 * (as TRL loads the value model from the reward model); one of another architecture, or none, leaves the policy's
 * body with a fresh head, with a warning in the first case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveRunSpec, type RunSpec } from '../../../src/core/runs/spec';
import { getBuiltinModel } from '../../../src/engine/models/builtin';
import { saveHfModel } from '../../../src/engine/models/hfMapping';
import type { Weights } from '../../../src/engine/models/params';
import { buildModel } from '../../../src/engine/models/transformer';
import { valueModelStart } from '../../../src/session/onlinePpo';
import { tinyModel, tinyModelFolder } from '../training/trainerFixtures';

function ppoSpec(functions: unknown[]): RunSpec {
  const r = resolveRunSpec({ method: 'ppo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' }, outputDir: 'o', rewards: { functions } });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.spec;
}

test('the value model starts from a same-architecture reward model whole; else from the policy, warned', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ppo-value-'));
  const rm = tinyModel('score');
  const weights: Weights = new Map(rm.model.params.map((p) => [p.name, { shape: [...p.shape], data: rm.weights.get(p.name) as Float32Array }]));
  saveHfModel(path.join(dir, 'rm'), { ...rm.model.config, numLabels: 1 }, 'score', weights, { tokenizerFrom: tinyModelFolder() });
  const policy = tinyModel('lm').model;
  const warnings: string[] = [];
  const start = valueModelStart(ppoSpec([{ kind: 'reward_model', path: 'rm' }]), policy, dir, (m) => warnings.push(m));
  assert.ok(start);
  for (const p of rm.model.params) assert.deepEqual(start.get(p.name), rm.weights.get(p.name), p.name);
  assert.equal(warnings.length, 0);

  const builtin = getBuiltinModel(fs.mkdtempSync(path.join(os.tmpdir(), 'builtin-')));
  const other = buildModel(builtin.config, 'lm', { maxLength: 32 });
  assert.equal(valueModelStart(ppoSpec([{ kind: 'reward_model', path: 'rm', name: 'judge_rm' }]), other, dir, (m) => warnings.push(m)), undefined);
  assert.deepEqual(warnings, ['the value model starts from the policy with a fresh head: the reward model "judge_rm" has another architecture than the policy']);
  assert.equal(valueModelStart(ppoSpec([{ kind: 'regex', pattern: 'x' }]), policy, dir, (m) => warnings.push(m)), undefined);
  assert.equal(warnings.length, 1);
});
