import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { planSamples } from '../../../src/session/samples';

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

test('sample prompts longer than the positions left for the reply keep their end', () => {
  // 64 positions (the built-in model at data.maxLength 64): 32 new tokens at most, 32 for the prompt.
  const long = range(1000, 90);
  const short = range(1, 10);
  const p = planSamples([long, short], 64, 48);
  assert.equal(p.maxNewTokens, 32);
  assert.deepEqual(p.prompts[0], range(1000 + 90 - 32, 32));
  assert.deepEqual(p.prompts[1], short);
  assert.deepEqual(p.cut, [58, 0]);
  for (const ids of p.prompts) assert.ok(ids.length + p.maxNewTokens <= 64);
});

test('a roomy model generates the requested length and cuts nothing', () => {
  const p = planSamples([range(0, 100)], 512, 48);
  assert.equal(p.maxNewTokens, 48);
  assert.deepEqual(p.cut, [0]);
  assert.equal(p.prompts[0]?.length, 100);
  // A prompt exactly at the budget fits whole.
  const q = planSamples([range(0, 80)], 128, 48);
  assert.deepEqual(q.cut, [0]);
  assert.equal(q.prompts[0]?.length + q.maxNewTokens, 128);
});

test('even a tiny model keeps at least one prompt token and one new token', () => {
  const p = planSamples([range(0, 5)], 2, 48);
  assert.equal(p.maxNewTokens, 1);
  assert.deepEqual(p.prompts[0], [4]);
});
