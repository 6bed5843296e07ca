/**
 * The one implicit-reward function (src/training/shared.ts): its three kinds on hand-computed values, the graph
 * form equal to the float64 form bit for bit (what the trainers log is what the dashboard shows), and the table
 * of which method has which reward.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METHOD_CARDS } from '../../../src/core/methods';
import { Graph } from '../../../src/engine/graph/graph';
import { toOnnx } from '../../../src/engine/graph/emit';
import { IMPLICIT_REWARD_KINDS, hasImplicitReward, implicitReward, implicitRewardRule, type ImplicitRewardKind } from '../../../src/training/shared';
import { OrtModel } from '../engine/graph/ortRun';

const policy = [-10.3, -3.1, -55.123456789, -0.001];
const ref = [-12.7, -2.9, -40.1, -0.002];
const tokens = [4, 1, 17, 3];
const KINDS: readonly ImplicitRewardKind[] = ['log-ratio', 'mean-token', 'summed'];

test('implicit rewards on numbers: beta (l - l_ref), beta l / |y|, beta l', () => {
  assert.equal(implicitReward({ kind: 'log-ratio', beta: 0.5 }, { policy: -10, ref: -12, tokens: 4 }), 1);
  assert.equal(implicitReward({ kind: 'mean-token', beta: 2 }, { policy: -10, tokens: 4 }), -5);
  assert.equal(implicitReward({ kind: 'summed', beta: 0.25 }, { policy: -10 }), -2.5);
  assert.throws(() => implicitReward({ kind: 'log-ratio', beta: 1 }, { policy: -1, tokens: 1 }), /l_ref/);
  assert.throws(() => implicitReward({ kind: 'mean-token', beta: 1 }, { policy: -1 }), /\|y\|/);
});

test('implicit rewards as a float64 graph equal the same rewards on numbers, bit for bit', async () => {
  const g = new Graph();
  const input = (name: string) => g.input(name, [policy.length], 'float64');
  const terms = { policy: input('policy'), ref: input('ref'), tokens: input('tokens') };
  for (const kind of KINDS) g.output(kind, implicitReward({ kind, beta: 0.3 }, terms));
  const model = await OrtModel.load(toOnnx(g), 'basic');
  const dims = [policy.length];
  const r = await model.run({ policy: { data: Float64Array.from(policy), dims }, ref: { data: Float64Array.from(ref), dims }, tokens: { data: Float64Array.from(tokens), dims } });
  await model.release();
  for (const kind of KINDS) {
    const want = policy.map((p, i) => implicitReward({ kind, beta: 0.3 }, { policy: p, ref: ref[i], tokens: tokens[i] }));
    assert.deepEqual(Array.from(r[kind]?.data as Float64Array), want, kind);
  }
});

test('every trainable preference method has an implicit reward; the rule carries its kind and beta', () => {
  const preference = METHOD_CARDS.filter((c) => c.trainable && c.family === 'direct-preference').map((c) => c.id);
  assert.deepEqual([...preference].sort(), Object.keys(IMPLICIT_REWARD_KINDS).sort());
  assert.ok(preference.every(hasImplicitReward));
  assert.ok(!hasImplicitReward('sft') && !hasImplicitReward('reward'));
  assert.deepEqual(implicitRewardRule('orpo', 0.2), { kind: 'mean-token', beta: 0.2 });
});
