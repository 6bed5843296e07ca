import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/engine/rng';

test('xoshiro128** matches the reference output for state {1,2,3,4}', () => {
  // First outputs of the reference C implementation (xoshiro128starstar.c) from s = {1, 2, 3, 4}.
  const r = Rng.fromState({ algorithm: 'xoshiro128**', s: [1, 2, 3, 4] });
  const got = Array.from({ length: 10 }, () => r.nextUint32());
  assert.deepEqual(got, [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804]);
});

test('same seed gives the same init and data order; different seeds differ', () => {
  const a = new Rng(1234);
  const b = new Rng(1234);
  const c = new Rng(1235);
  const wa = a.fillNormal(new Float32Array(64), 0, 0.02);
  const wb = b.fillNormal(new Float32Array(64), 0, 0.02);
  const wc = c.fillNormal(new Float32Array(64), 0, 0.02);
  assert.deepEqual(wa, wb);
  assert.notDeepEqual(wa, wc);
  assert.deepEqual(a.permutation(50), b.permutation(50));
});

test('state round-trips through JSON and continues the same stream', () => {
  const a = new Rng(7);
  for (let i = 0; i < 13; i++) a.nextUint32();
  const saved = JSON.parse(JSON.stringify(a.state()));
  const b = Rng.fromState(saved);
  assert.deepEqual(Array.from({ length: 20 }, () => a.uniform()), Array.from({ length: 20 }, () => b.uniform()));
});

test('derive gives independent named streams without advancing the parent', () => {
  const a = new Rng(99);
  const before = a.state();
  const x = a.derive('init').nextUint32();
  const y = a.derive('data').nextUint32();
  assert.deepEqual(a.state(), before);
  assert.notEqual(x, y);
  assert.equal(new Rng(99).derive('init').nextUint32(), x);
});

test('distributions have the right moments and ranges', () => {
  const r = new Rng(5);
  const n = 20000;
  const u = r.fillUniform(new Float64Array(n), -1, 3);
  assert.ok(u.every((x) => x >= -1 && x < 3));
  const mu = u.reduce((s, x) => s + x, 0) / n;
  assert.ok(Math.abs(mu - 1) < 0.05, `uniform mean ${mu}`);
  const z = r.fillNormal(new Float64Array(n), 2, 0.5);
  const zm = z.reduce((s, x) => s + x, 0) / n;
  const zv = z.reduce((s, x) => s + (x - zm) ** 2, 0) / n;
  assert.ok(Math.abs(zm - 2) < 0.02 && Math.abs(Math.sqrt(zv) - 0.5) < 0.02, `normal mean ${zm} std ${Math.sqrt(zv)}`);
  const t = r.fillTruncNormal(new Float64Array(n), 0, 1, 2);
  assert.ok(t.every((x) => Math.abs(x) <= 2));
  const counts = new Array<number>(7).fill(0);
  for (let i = 0; i < 7000; i++) counts[r.int(7)]! += 1;
  assert.ok(counts.every((c) => c > 850 && c < 1150), `int(7) counts ${counts.join(',')}`);
  assert.deepEqual([...r.permutation(100)].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
});

test('bad seeds and corrupt states are clear errors', () => {
  assert.throws(() => new Rng(-1), /non-negative safe integer/);
  assert.throws(() => new Rng(1.5), /non-negative safe integer/);
  assert.throws(() => Rng.fromState({ algorithm: 'xoshiro128**', s: [0, 0, 0, 0] }), /all-zero/);
  assert.throws(() => Rng.fromState(JSON.parse('{"algorithm":"xoshiro128**","s":[1,2]}')), /invalid RNG state/);
});
