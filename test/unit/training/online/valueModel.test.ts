/**
 * PPO's value model: its start (the policy's body with a fresh seeded head, or a reward model of the same
 * architecture whole), and its alignment: the value of completion token j is read at the position that predicts it,
 * so it depends on the tokens before j and not on token j itself (V(s_t) is a function of the state, not the action).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getBuiltinModel } from '../../../../src/engine/models/builtin';
import { buildModel } from '../../../../src/engine/models/transformer';
import { fitsValueModel, initialValueWeights, valueModelOf, ValueScorer } from '../../../../src/training/online/valueModel';

const builtin = getBuiltinModel(fs.mkdtempSync(path.join(os.tmpdir(), 'builtin-')));
const policy = buildModel(builtin.config, 'lm', { maxLength: 32 });
const weights = new Map([...builtin.weights].map(([k, v]) => [k, v.data]));

test('value model start: the policy body and a fresh seeded head; or a same-architecture reward model whole', () => {
  const vm = valueModelOf(policy);
  assert.equal(vm.head, 'score');
  assert.deepEqual(vm.params.find((p) => p.name === 'score.weight')?.shape, [builtin.config.hiddenSize, 1]);
  const a = initialValueWeights(vm, weights, 7);
  for (const p of vm.params) if (p.name !== 'score.weight') assert.deepEqual(a.get(p.name), weights.get(p.name), p.name);
  const head = a.get('score.weight') as Float32Array;
  assert.deepEqual(initialValueWeights(vm, weights, 7).get('score.weight'), head, 'seeded');
  const std = Math.sqrt(head.reduce((s, x) => s + x * x, 0) / head.length);
  assert.ok(std > 0.01 && std < 0.04, `fresh head std ${std}`);
  const rm = new Map([...a].map(([k, v]) => [k, v.map((x) => x + 1)]));
  assert.ok(fitsValueModel(vm, rm));
  const b = initialValueWeights(vm, weights, 7, rm);
  for (const p of vm.params) assert.deepEqual(b.get(p.name), rm.get(p.name), p.name);
  const other = new Map(rm);
  other.set('embed.weight', new Float32Array(3));
  assert.equal(fitsValueModel(vm, other), false);
  assert.throws(() => initialValueWeights(vm, weights, 7, other), /"embed.weight" has \d+ values, its source 3/);
});

test('the value of completion token j is read where token j is predicted: it does not depend on token j', async () => {
  const vm = valueModelOf(policy);
  const scorer = await ValueScorer.create(vm, { rows: 3, seqLen: 12, padId: 0 }, { threads: 1 });
  try {
    await scorer.setWeights(initialValueWeights(vm, weights, 3));
    const promptIds = [5, 17, 30, 2];
    const [a, b, c] = await scorer.score([
      { promptIds, completionIds: [40, 41, 42, 43] },
      { promptIds, completionIds: [40, 41, 99, 43] },
      { promptIds, completionIds: [40, 41] },
    ]);
    const close = (x: number | undefined, y: number | undefined): boolean => Math.abs((x as number) - (y as number)) < 1e-5;
    // Token 2 differs between a and b: the values of tokens 0..2 agree, token 3's (which sees token 2) does not.
    for (const j of [0, 1, 2]) assert.ok(close(a?.[j], b?.[j]), `token ${j}: ${a?.[j]} vs ${b?.[j]}`);
    assert.ok(!close(a?.[3], b?.[3]), 'token 3 sees token 2');
    // A shorter completion gets the same values for the tokens it shares (causal, right padding ignored).
    for (const j of [0, 1]) assert.ok(close(a?.[j], c?.[j]), `prefix token ${j}`);
  } finally {
    await scorer.dispose();
  }
});
