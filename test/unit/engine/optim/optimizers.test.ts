/**
 * In-graph AdamW / SGD (flat buffers, K steps per ONNX Loop) against float64 references of torch's formulas.
 *
 * The model is a weighted quadratic per parameter tensor, loss = mean_b Σ_j c_j (p_j − x_bj)², whose gradient
 * 2 c_j (p_j − mean_b x_bj) the reference computes exactly, so every difference is the optimizer's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as op from '../../../../src/engine/graph/ops';
import { Tensor } from '../../../../src/engine/graph/graph';
import type { OptimConfig } from '../../../../src/engine/optim/config';
import { lrMultiplier } from '../../../../src/engine/optim/schedule';
import { Rng } from '../../../../src/engine/rng';
import { Trainer, type StepResult } from '../../../../src/engine/step/trainer';
import type { HostTensor } from '../../../../src/engine/runtime/tensor';
import { refAdamWStep, refClip, refLr, refSgdStep, type RefAdamW, type RefSgd } from './reference';

const SHAPES: Record<string, number[]> = { w: [3, 4], emb: [2, 5], b: [5] }; // w, emb decay (rank 2); b no decay
const NAMES = Object.keys(SHAPES);
const B = 4;
const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);

function coefs(name: string): Float64Array {
  const n = size(SHAPES[name]!);
  return Float64Array.from({ length: n }, (_, i) => 0.5 + ((i * 7 + name.length) % 5) * 0.4);
}

function forward(p: Readonly<Record<string, Tensor>>, b: Readonly<Record<string, Tensor>>) {
  let loss: Tensor | undefined;
  for (const n of NAMES) {
    const c = p[n]!.graph.constant(Float32Array.from(coefs(n)), 'float32', SHAPES[n]!);
    const d = op.sub(op.unsqueeze(p[n]!, [0]), b[`x_${n}`]!); // [B, ...]
    const term = op.mul(op.sum(op.mul(op.mul(d, d), op.unsqueeze(c, [0]))), 1 / B);
    loss = loss ? op.add(loss, term) : term;
  }
  return { loss: loss!, metrics: { first: op.mean(p['w']!) } };
}

function makeData(rng: Rng, steps: number, scale: number): Record<string, Float64Array[]> {
  const out: Record<string, Float64Array[]> = {};
  for (const n of NAMES) out[n] = Array.from({ length: steps }, () => rng.fillNormal(new Float64Array(B * size(SHAPES[n]!)), 0, scale));
  return out;
}

async function runGraph(optim: OptimConfig, init: Record<string, Float64Array>, data: Record<string, Float64Array[]>, steps: number, K: number, flatGroupTarget?: number) {
  const tr = await Trainer.create(
    {
      ...(flatGroupTarget ? { flatGroupTarget } : {}),
      params: NAMES.map((n) => ({ name: n, shape: SHAPES[n]! })),
      batch: NAMES.map((n) => ({ name: `x_${n}`, shape: [B, ...SHAPES[n]!], dtype: 'float32' as const })),
      forward,
      optim,
      stepsPerRun: K,
    },
    { device: 'cpu', threads: 1, initialParams: Object.fromEntries(NAMES.map((n) => [n, Float32Array.from(init[n]!)])) },
  );
  const results: StepResult[] = [];
  try {
    for (let r = 0; r < steps / K; r++) {
      const batch: Record<string, HostTensor> = {};
      for (const n of NAMES) {
        const per = B * size(SHAPES[n]!);
        const buf = new Float32Array(K * per);
        for (let k = 0; k < K; k++) buf.set(data[n]![r * K + k]!, k * per);
        batch[`x_${n}`] = { dtype: 'float32', shape: [K, 1, B, ...SHAPES[n]!], data: buf };
      }
      results.push(await tr.step(batch));
    }
    return { results, params: await tr.getParams(), state: await tr.state(), groups: tr.compiled.groups.map((g) => g.name) };
  } finally {
    await tr.dispose();
  }
}

function refGrads(p: Record<string, Float64Array>, data: Record<string, Float64Array[]>, step: number): { grads: Float64Array[]; loss: number } {
  let loss = 0;
  const grads = NAMES.map((n) => {
    const c = coefs(n);
    const x = data[n]![step]!;
    const m = c.length;
    const g = new Float64Array(m);
    for (let j = 0; j < m; j++) {
      let mean = 0;
      for (let b = 0; b < B; b++) {
        const d = p[n]![j]! - Math.fround(x[b * m + j]!);
        loss += (c[j]! * d * d) / B;
        mean += Math.fround(x[b * m + j]!) / B;
      }
      g[j] = 2 * c[j]! * (p[n]![j]! - mean);
    }
    return g;
  });
  return { grads, loss };
}

function maxAbsDiff(a: Float32Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

// One flat group per kind (the default target), and several per kind (a target of 8 elements puts w, emb
// and b in groups of their own): the update, the clipping norm over all groups and the weight-decay split
// must not depend on how the parameters are grouped.
for (const [target, groups] of [[undefined, ['decay.0', 'no_decay.0']], [8, ['decay.0', 'decay.1', 'no_decay.0']]] as const) {
test(`AdamW (weight decay, warmup + cosine, clipping) matches torch's formula in float64 over 20 steps (groups ${groups.join(', ')})`, async () => {
  const rng = new Rng(11);
  const init = Object.fromEntries(NAMES.map((n) => [n, Float64Array.from(rng.fillNormal(new Float32Array(size(SHAPES[n]!)), 0, 1))]));
  const data = makeData(rng, 20, 1);
  const cfg: RefAdamW = { lr: 0.05, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const schedule = { kind: 'cosine' as const, warmupSteps: 3, totalSteps: 20, minLrRatio: 0.1 };
  const maxGradNorm = 14;
  const got = await runGraph({ optimizer: { kind: 'adamw', ...cfg }, schedule, maxGradNorm }, init, data, 20, 4, target);
  assert.deepEqual(got.groups, groups);

  // Reference trajectory.
  const p = Object.fromEntries(NAMES.map((n) => [n, Float64Array.from(init[n]!)]));
  const m = NAMES.map((n) => new Float64Array(size(SHAPES[n]!)));
  const v = NAMES.map((n) => new Float64Array(size(SHAPES[n]!)));
  const losses: number[] = [];
  const norms: number[] = [];
  const lrs: number[] = [];
  let clipped = 0;
  for (let t = 0; t < 20; t++) {
    const { grads, loss } = refGrads(p, data, t);
    const norm = refClip(grads, maxGradNorm);
    if (norm > maxGradNorm) clipped++;
    const lr = refLr(cfg.lr, schedule, t);
    NAMES.forEach((n, i) => refAdamWStep(cfg, lr, t + 1, p[n]!, grads[i]!, m[i]!, v[i]!, SHAPES[n]!.length >= 2));
    losses.push(loss);
    norms.push(norm);
    lrs.push(lr);
  }
  assert.ok(clipped >= 3 && clipped < 20, `clipping should be active on some steps, was on ${clipped}`);
  const gotLosses = got.results.flatMap((r) => r.losses);
  const gotNorms = got.results.flatMap((r) => r.gradNorms);
  const gotLrs = got.results.flatMap((r) => r.lrs);
  for (let t = 0; t < 20; t++) {
    assert.ok(Math.abs(gotLosses[t]! - losses[t]!) <= 1e-5 * (1 + losses[t]!), `loss step ${t + 1}: ${gotLosses[t]} vs ${losses[t]}`);
    assert.ok(Math.abs(gotNorms[t]! - norms[t]!) <= 1e-5 * (1 + norms[t]!), `grad norm step ${t + 1}: ${gotNorms[t]} vs ${norms[t]}`);
    assert.ok(Math.abs(gotLrs[t]! - lrs[t]!) <= 1e-7 + 1e-6 * lrs[t]!, `lr step ${t + 1}: ${gotLrs[t]} vs ${lrs[t]}`);
  }
  // 20 updates of size ~lr=0.05 each: float32 vs float64 must agree far below one update.
  NAMES.forEach((n, i) => {
    const d = maxAbsDiff(got.params.get(n)!.data, p[n]!);
    assert.ok(d < 2e-5, `param ${n} maxdiff ${d}`);
    assert.ok(maxAbsDiff(got.state.buffers.get(`exp_avg.${n}`)!.data, m[i]!) < 2e-5, `exp_avg.${n}`);
    assert.ok(maxAbsDiff(got.state.buffers.get(`exp_avg_sq.${n}`)!.data, v[i]!) < 1e-4, `exp_avg_sq.${n}`);
  });
  assert.equal(got.state.step, 20);
  assert.equal(got.state.updates, 20);
  // metric: mean of w before each step's update
  assert.equal(got.results[0]!.metrics['first']!.length, 4);
});
}

for (const sgd of [
  { lr: 0.05, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
  { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0.01 },
  { lr: 0.05, momentum: 0.8, dampening: 0.3, nesterov: false, weightDecay: 0.02 },
] as RefSgd[]) {
  test(`SGD momentum=${sgd.momentum} nesterov=${sgd.nesterov} dampening=${sgd.dampening} wd=${sgd.weightDecay} matches torch's formula`, async () => {
    const rng = new Rng(3);
    const init = Object.fromEntries(NAMES.map((n) => [n, Float64Array.from(rng.fillNormal(new Float32Array(size(SHAPES[n]!)), 0, 1))]));
    const data = makeData(rng, 12, 0.5);
    const schedule = { kind: 'linear' as const, warmupSteps: 2, totalSteps: 12 };
    const got = await runGraph({ optimizer: { kind: 'sgd', ...sgd }, schedule }, init, data, 12, 3);
    const p = Object.fromEntries(NAMES.map((n) => [n, Float64Array.from(init[n]!)]));
    const bufs = NAMES.map((n) => new Float64Array(size(SHAPES[n]!)));
    for (let t = 0; t < 12; t++) {
      const { grads } = refGrads(p, data, t);
      const lr = refLr(sgd.lr, schedule, t);
      NAMES.forEach((n, i) => refSgdStep(sgd, lr, t === 0, p[n]!, grads[i]!, sgd.momentum ? bufs[i] : undefined, SHAPES[n]!.length >= 2));
    }
    for (const n of NAMES) {
      const d = maxAbsDiff(got.params.get(n)!.data, p[n]!);
      assert.ok(d < 1e-5, `param ${n} maxdiff ${d}`);
    }
    assert.equal(got.state.buffers.size, sgd.momentum ? NAMES.length : 0);
  });
}

// Param groups with their own lr (torch: AdamW([{'params': [w]}, {'params': [b], 'lr': 0.5}, {'params': [emb], 'lr': 0.004}], lr=0.05)):
// each parameter follows the reference at its group's lr times the schedule, while clipping still uses the norm over all
// parameters. The group lrs are 10x and 1/12.5x the base, so a group run at the base lr would miss by many updates.
for (const kind of ['adamw', 'sgd'] as const) {
  test(`${kind} param groups: each group's parameters update at the group's own lr (float64 reference, 12 steps)`, async () => {
    const rng = new Rng(5);
    const init = Object.fromEntries(NAMES.map((n) => [n, Float64Array.from(rng.fillNormal(new Float32Array(size(SHAPES[n]!)), 0, 1))]));
    const data = makeData(rng, 12, 1);
    const lrOf: Record<string, number> = { w: 0.05, b: 0.5, emb: 0.004 };
    const adam: RefAdamW = { lr: 0.05, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
    const sgd: RefSgd = { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0.01 };
    const schedule = { kind: 'cosine' as const, warmupSteps: 2, totalSteps: 12 };
    const maxGradNorm = 10;
    const paramGroups = [{ params: ['b'], lr: lrOf['b']! }, { params: ['emb'], lr: lrOf['emb']! }];
    const optimizer = kind === 'adamw' ? { kind, ...adam } : { kind, ...sgd };
    const got = await runGraph({ optimizer, paramGroups, schedule, maxGradNorm }, init, data, 12, 4);
    assert.deepEqual(got.groups, ['decay.0', 'no_decay.pg1.0', 'decay.pg2.0']);

    const p = Object.fromEntries(NAMES.map((n) => [n, Float64Array.from(init[n]!)]));
    const m = NAMES.map((n) => new Float64Array(size(SHAPES[n]!)));
    const v = NAMES.map((n) => new Float64Array(size(SHAPES[n]!)));
    let clipped = 0;
    for (let t = 0; t < 12; t++) {
      const { grads } = refGrads(p, data, t);
      if (refClip(grads, maxGradNorm) > maxGradNorm) clipped++;
      NAMES.forEach((n, i) => {
        const lr = refLr(lrOf[n]!, schedule, t);
        const decay = SHAPES[n]!.length >= 2;
        if (kind === 'adamw') refAdamWStep(adam, lr, t + 1, p[n]!, grads[i]!, m[i]!, v[i]!, decay);
        else refSgdStep(sgd, lr, t === 0, p[n]!, grads[i]!, m[i]!, decay);
      });
    }
    assert.ok(clipped >= 1, 'clipping should be active on some steps');
    // The lrs scan reports the base lr.
    got.results.flatMap((r) => r.lrs).forEach((lr, t) => assert.ok(Math.abs(lr - refLr(0.05, schedule, t)) <= 1e-8, `lr step ${t + 1}`));
    for (const n of NAMES) {
      const d = maxAbsDiff(got.params.get(n)!.data, p[n]!);
      assert.ok(d < 2e-5, `param ${n} maxdiff ${d}`);
    }
  });
}

test('param groups that name an unknown, frozen or repeated parameter are clear errors', async () => {
  const { compileTrainStep } = await import('../../../../src/engine/step/compile');
  const spec = {
    params: [{ name: 'w', shape: [2] }, { name: 'f', shape: [2], trainable: false }],
    batch: [{ name: 'x', shape: [2], dtype: 'float32' as const }],
    forward: (p: Readonly<Record<string, Tensor>>, b: Readonly<Record<string, Tensor>>) => ({ loss: op.sum(op.mul(op.mul(p['w']!, p['f']!), b['x']!)) }),
    stepsPerRun: 1,
  };
  const optimizer = { kind: 'adamw' as const, lr: 1e-3 };
  assert.throws(() => compileTrainStep({ ...spec, optim: { optimizer, paramGroups: [{ params: ['nope'], lr: 1e-2 }] } }), /paramGroups\[0\]\.params: 'nope' is not a trainable parameter/);
  assert.throws(() => compileTrainStep({ ...spec, optim: { optimizer, paramGroups: [{ params: ['f'], lr: 1e-2 }] } }), /'f' is not a trainable parameter/);
  assert.throws(() => compileTrainStep({ ...spec, optim: { optimizer, paramGroups: [{ params: ['w'], lr: 1e-2 }, { params: ['w'], lr: 1 }] } }), /paramGroups\[1\]\.params: 'w' is in an earlier group too/);
  assert.throws(() => compileTrainStep({ ...spec, optim: { optimizer, paramGroups: [{ params: ['w'], lr: -1 }] } }), /paramGroups\[0\]\.lr/);
  assert.throws(() => compileTrainStep({ ...spec, optim: { optimizer, paramGroups: [{ params: [], lr: 1 }] } }), /paramGroups\[0\]\.params: expected a non-empty list/);
});

test('schedule multipliers follow HF semantics', () => {
  const cos = { kind: 'cosine' as const, warmupSteps: 10, totalSteps: 110 };
  assert.equal(lrMultiplier(cos, 0), 0);
  assert.equal(lrMultiplier(cos, 5), 0.5);
  assert.equal(lrMultiplier(cos, 10), 1);
  assert.ok(Math.abs(lrMultiplier(cos, 60) - 0.5) < 1e-12);
  assert.equal(lrMultiplier(cos, 110), 0);
  assert.equal(lrMultiplier(cos, 500), 0); // clamped past the end
  assert.ok(Math.abs(lrMultiplier({ ...cos, minLrRatio: 0.1 }, 110) - 0.1) < 1e-12);
  const lin = { kind: 'linear' as const, warmupSteps: 0, totalSteps: 100 };
  assert.equal(lrMultiplier(lin, 0), 1);
  assert.equal(lrMultiplier(lin, 25), 0.75);
  assert.equal(lrMultiplier(lin, 100), 0);
  assert.equal(lrMultiplier(lin, 150), 0);
  assert.equal(lrMultiplier({ kind: 'constant' }, 1000), 1);
  assert.equal(lrMultiplier({ kind: 'constant', warmupSteps: 4 }, 1), 0.25);
});

test('bad optimizer configs are clear errors naming the field', async () => {
  const spec = {
    params: [{ name: 'w', shape: [2] }],
    batch: [{ name: 'x', shape: [2], dtype: 'float32' as const }],
    forward: (p: Readonly<Record<string, Tensor>>, b: Readonly<Record<string, Tensor>>) => ({ loss: op.sum(op.mul(p['w']!, b['x']!)) }),
    stepsPerRun: 1,
  };
  const { compileTrainStep } = await import('../../../../src/engine/step/compile');
  assert.throws(() => compileTrainStep({ ...spec, optim: { optimizer: { kind: 'adamw', lr: -1 } } }), /optim\.optimizer\.lr/);
  assert.throws(() => compileTrainStep({ ...spec, optim: { optimizer: { kind: 'adamw', lr: 1e-3, beta2: 1 } } }), /beta2/);
  assert.throws(() => compileTrainStep({ ...spec, optim: { optimizer: { kind: 'sgd', lr: 1e-3, nesterov: true } } }), /nesterov/);
  assert.throws(() => compileTrainStep({ ...spec, optim: { optimizer: { kind: 'adamw', lr: 1e-3 }, schedule: { kind: 'cosine', warmupSteps: 5, totalSteps: 3 } } }), /warmupSteps/);
  assert.throws(() => compileTrainStep({ ...spec, stepsPerRun: 0, optim: { optimizer: { kind: 'adamw', lr: 1e-3 } } }), /stepsPerRun/);
});
