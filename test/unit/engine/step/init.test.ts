import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/engine/rng';
import { initParams } from '../../../../src/engine/step/init';
import { gptParams } from '../../../../bench/engineGpt';

test('initParams is deterministic per seed, per-name streams, and follows each init rule', () => {
  const specs = gptParams({ vocab: 50, seq: 8, dim: 16, heads: 2, layers: 2 });
  const a = initParams(specs, new Rng(3));
  const b = initParams(specs, new Rng(3));
  const c = initParams(specs, new Rng(4));
  for (const s of specs) assert.deepEqual(a.get(s.name), b.get(s.name), s.name);
  assert.notDeepEqual(a.get('wte'), c.get('wte'));
  // Dropping a parameter does not change the others' values (streams are derived from names).
  const fewer = initParams(specs.filter((s) => s.name !== 'wpe'), new Rng(3));
  assert.deepEqual(fewer.get('h.0.attn.q.weight'), a.get('h.0.attn.q.weight'));
  assert.ok(a.get('h.0.ln_1.weight')!.every((x) => x === 1));
  assert.ok(a.get('h.0.attn.q.bias')!.every((x) => x === 0));
  const w = a.get('wte')!;
  const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
  assert.ok(Math.abs(std - 0.02) < 0.002, `wte std ${std}`);
  assert.throws(() => initParams([specs[0]!, specs[0]!], new Rng(1)), /duplicate parameter 'wte'/);
});
