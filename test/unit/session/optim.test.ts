/**
 * optimizer.paramGroups from the run spec to the engine: the spec reader's checks, the names resolved against the run's
 * model (safetensors or engine names), and a session run in which the group's own learning rate is the one applied.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveRunSpec, type RunSpec } from '../../../src/core/runs/spec';
import { loadHfModel } from '../../../src/engine/models/hfMapping';
import { buildModel } from '../../../src/engine/models/transformer';
import { specOptim } from '../../../src/session/optim';
import { runSession } from '../../../src/session/runSession';
import { tinyModel } from '../training/trainerFixtures';
import { tinySpec, workspace } from './sessionFixtures';

function spec(optimizer: Record<string, unknown>, over: Record<string, unknown> = {}): RunSpec {
  const ws = workspace();
  const r = resolveRunSpec(tinySpec(ws, path.join(ws.dir, 'run'), { optimizer: { learningRate: 1e-2, ...optimizer }, ...over }));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.spec;
}

function problems(optimizer: Record<string, unknown>): string[] {
  const ws = workspace();
  const r = resolveRunSpec(tinySpec(ws, path.join(ws.dir, 'run'), { optimizer: { learningRate: 1e-2, ...optimizer } }));
  assert.ok(!r.ok);
  return r.problems.map((p) => `${p.path}: ${p.reason}`);
}

test('the spec reader names each bad field of optimizer.paramGroups', () => {
  assert.deepEqual(problems({ paramGroups: {} }), ['optimizer.paramGroups: expected a list of {"params": [names], "learningRate": number}']);
  assert.deepEqual(problems({ paramGroups: [{ params: [], learningRate: 0.1 }] }), ['optimizer.paramGroups[0].params: expected a non-empty list of parameter names']);
  assert.deepEqual(problems({ paramGroups: [{ params: ['a'] }] }), ['optimizer.paramGroups[0].learningRate: missing']);
  assert.deepEqual(problems({ paramGroups: [{ params: ['a'], learningRate: 0.1 }, { params: ['b'], learningRate: 2, lr: 1 }] }), ['optimizer.paramGroups[1].lr: unknown field', 'optimizer.paramGroups[1].learningRate: must be in (0, 1)']);
});

test('paramGroups resolve safetensors and engine names to the model\'s parameters; unknown, frozen or repeated names are errors naming the group', () => {
  const { model } = tinyModel('lm');
  const rm = { config: model.config, head: 'lm' as const, model, label: 'tiny' };
  const s = spec({ paramGroups: [{ params: ['model.norm.weight'], learningRate: 0.5 }, { params: ['layers.0.norm1.weight'], learningRate: 1e-3 }], schedule: 'cosine', warmupRatio: 0.5 });
  const o = specOptim(s, 6, rm);
  assert.deepEqual(o.paramGroups, [{ params: ['norm_f.weight'], lr: 0.5 }, { params: ['layers.0.norm1.weight'], lr: 1e-3 }]);
  assert.deepEqual(o.schedule, { kind: 'cosine', warmupSteps: 3, totalSteps: 6 });
  assert.deepEqual(specOptim(spec({}), 6, rm).paramGroups, undefined);

  assert.throws(() => specOptim(spec({ paramGroups: [{ params: ['model.nope.weight'], learningRate: 0.1 }] }), 6, rm), /optimizer\.paramGroups\[0\]\.params: tiny has no parameter 'model\.nope\.weight'/);
  assert.throws(() => specOptim(spec({ paramGroups: [{ params: ['norm_f.weight'], learningRate: 0.1 }, { params: ['model.norm.weight'], learningRate: 0.2 }] }), 6, rm), /paramGroups\[1\]\.params: 'model\.norm\.weight' is in optimizer\.paramGroups\[0\] too/);
  const lora = buildModel(model.config, 'lm', { lora: { rank: 2, alpha: 4, targetModules: ['q_proj'] }, maxLength: 32 });
  const loraSpec = spec({ paramGroups: [{ params: ['model.norm.weight'], learningRate: 0.1 }] }, { lora: { r: 2 } });
  assert.throws(() => specOptim(loraSpec, 6, { ...rm, model: lora }), /paramGroups\[0\]\.params: 'model\.norm\.weight' is not trained in this run \(LoRA trains only the adapters\)/);
});

test('a DPO session trains a param group at its own learning rate: the final norm at 1e-9 stays put while the layer norms at 1e-2 move', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const s = spec({ weightDecay: 0, paramGroups: [{ params: ['model.norm.weight'], learningRate: 1e-9 }] }, { outputDir: runDir, intervals: { logging: 2, eval: 0, checkpoint: 0, sample: 0 } });
  const res = await runSession(s, { runDir, cacheDir: ws.dir, threads: 1 });
  assert.equal(res.reason, 'completed', res.error);
  const before = loadHfModel(ws.model, 'lm').weights;
  const after = loadHfModel(path.join(runDir, 'final'), 'lm').weights;
  const moved = (n: string): number => {
    const a = before.get(n)!.data;
    const b = after.get(n)!.data;
    return Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
  };
  assert.ok(moved('norm_f.weight') < 1e-6, `norm_f moved ${moved('norm_f.weight')}`);
  assert.ok(moved('layers.0.norm1.weight') > 1e-3, `layers.0.norm1 moved ${moved('layers.0.norm1.weight')}`);
  fs.rmSync(ws.dir, { recursive: true, force: true });
});
