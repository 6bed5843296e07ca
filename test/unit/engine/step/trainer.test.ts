import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as op from '../../../../src/engine/graph/ops';
import { Tensor } from '../../../../src/engine/graph/graph';
import { Rng } from '../../../../src/engine/rng';
import { NonFiniteStepError, Trainer } from '../../../../src/engine/step/trainer';
import type { HostTensor } from '../../../../src/engine/runtime/tensor';
import { gptTrainer } from './gptTrainer';
import { loadCorpus, windows } from './tinyCorpus';

const corpus = loadCorpus();

test('a small GPT\'s loss decreases on a tiny character corpus (AdamW, warmup + cosine, clipping)', async () => {
  const K = 10;
  const tr = await gptTrainer({
    K,
    B: 8,
    optim: { optimizer: { kind: 'adamw', lr: 1e-2, weightDecay: 0.01 }, schedule: { kind: 'cosine', warmupSteps: 5, totalSteps: 80 }, maxGradNorm: 1 },
  });
  try {
    const rng = new Rng(42).derive('data');
    const losses: number[] = [];
    for (let r = 0; r < 8; r++) {
      const w = windows(corpus, rng, K, 1, 8, 16);
      const res = await tr.step({ ids: w.ids, targets: w.targets });
      losses.push(...res.losses);
      assert.deepEqual(res.steps, Array.from({ length: K }, (_, i) => r * K + i + 1));
    }
    const first = losses[0]!;
    const last = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
    assert.ok(Math.abs(first - Math.log(96)) < 0.3, `initial loss ${first} should be near ln(96) = ${Math.log(96)}`);
    assert.ok(last < first - 1.2, `loss should fall: first ${first.toFixed(3)}, mean of last 10 ${last.toFixed(3)}`);
    const st = await tr.state();
    assert.equal(st.step, 80);
    assert.equal(st.updates, 80);
    assert.ok([...st.params.values()].every((p) => p.data.every(Number.isFinite)));
  } finally {
    await tr.dispose();
  }
});

test('gradient accumulation: 2 micro-batches of B/2 equal 1 batch of B (mean losses)', async () => {
  const optim = { optimizer: { kind: 'adamw' as const, lr: 3e-3 }, maxGradNorm: 1 };
  const K = 3;
  const whole = await gptTrainer({ K, B: 8, optim });
  const split = await gptTrainer({ K, A: 2, B: 4, optim });
  try {
    const w = windows(corpus, new Rng(5), K, 1, 8, 16);
    // Same tokens: [K, 1, 8, T] viewed as [K, 2, 4, T] (row-major, the halves are rows 0-3 and 4-7).
    const asSplit = (t: HostTensor): HostTensor => ({ ...t, shape: [K, 2, 4, 16] });
    const a = await whole.step({ ids: w.ids, targets: w.targets });
    const b = await split.step({ ids: asSplit(w.ids), targets: asSplit(w.targets) });
    for (let k = 0; k < K; k++) {
      assert.ok(Math.abs(a.losses[k]! - b.losses[k]!) < 1e-5, `loss ${k}: ${a.losses[k]} vs ${b.losses[k]}`);
      assert.ok(Math.abs(a.gradNorms[k]! - b.gradNorms[k]!) < 1e-4 * a.gradNorms[k]!, `grad norm ${k}: ${a.gradNorms[k]} vs ${b.gradNorms[k]}`);
    }
    const pa = await whole.getParams();
    const pb = await split.getParams();
    let maxd = 0;
    for (const [n, t] of pa) for (let i = 0; i < t.data.length; i++) maxd = Math.max(maxd, Math.abs(t.data[i]! - pb.get(n)!.data[i]!));
    // Each AdamW update moves a weight by about lr = 3e-3; the two runs must agree far below that.
    assert.ok(maxd < 1e-4, `params differ by ${maxd}`);
  } finally {
    await whole.dispose();
    await split.dispose();
  }
});

function quadTrainer(K: number): Promise<Trainer> {
  return Trainer.create(
    {
      params: [{ name: 'w', shape: [2, 3] }, { name: 'b', shape: [3] }],
      batch: [{ name: 'x', shape: [3], dtype: 'float32' }],
      forward: (p: Readonly<Record<string, Tensor>>, bt: Readonly<Record<string, Tensor>>) => {
        const y = op.add(op.sum(p['w']!, [0]), p['b']!);
        const d = op.sub(y, bt['x']!);
        return { loss: op.sum(op.mul(d, d)) };
      },
      optim: { optimizer: { kind: 'adamw', lr: 0.1 } },
      stepsPerRun: K,
    },
    { device: 'cpu', threads: 1, initialParams: { w: new Float32Array(6).fill(0.5), b: new Float32Array(3) } },
  );
}

test('a NaN in the loss is reported with its step number and that update is skipped', async () => {
  const K = 4;
  const tr = await quadTrainer(K);
  const ref = await quadTrainer(K);
  try {
    const x = Float32Array.from({ length: K * 3 }, (_, i) => i / 10);
    const bad = x.slice();
    bad[2 * 3 + 1] = NaN; // step 3 of the run
    await assert.rejects(
      tr.step({ x: { dtype: 'float32', shape: [K, 1, 3], data: bad } }),
      (e: unknown) => {
        assert.ok(e instanceof NonFiniteStepError);
        assert.deepEqual(e.steps, [3]);
        assert.match(e.message, /step 3/);
        assert.ok(Number.isNaN(e.result.losses[2]!) && Number.isFinite(e.result.losses[3]!));
        return true;
      },
    );
    const st = await tr.state();
    assert.equal(st.step, 4);
    assert.equal(st.updates, 3);
    assert.ok([...st.params.values()].every((p) => p.data.every(Number.isFinite)));
    // Equivalent run without step 3's data: steps 1, 2, 4 only. AdamW's t counts applied updates, so the
    // parameters match a run that simply never saw step 3 (the schedule is constant here).
    const ref3 = await quadTrainer(3);
    try {
      const skip = Float32Array.from([...x.slice(0, 6), ...x.slice(9, 12)]);
      await ref3.step({ x: { dtype: 'float32', shape: [3, 1, 3], data: skip } });
      const a = (await tr.getParams()).get('w')!.data;
      const b = (await ref3.getParams()).get('w')!.data;
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-6, `w[${i}] ${a[i]} vs ${b[i]}`);
    } finally {
      await ref3.dispose();
    }
    // Training continues normally afterwards.
    const ok = await tr.step({ x: { dtype: 'float32', shape: [K, 1, 3], data: x } });
    assert.deepEqual(ok.steps, [5, 6, 7, 8]);
  } finally {
    await tr.dispose();
    await ref.dispose();
  }
});

test('batch and parameter errors name the field and the expected shape', async () => {
  const tr = await quadTrainer(2);
  try {
    await assert.rejects(tr.step({}), /batch: missing field 'x' \(shape \[2, 1, 3\], float32\)/);
    await assert.rejects(tr.step({ x: { dtype: 'float32', shape: [1, 1, 3], data: new Float32Array(3) } }), /batch\.x: shape \[1, 1, 3\], expected \[2, 1, 3\]/);
    await assert.rejects(tr.step({ x: { dtype: 'int64', shape: [2, 1, 3], data: new BigInt64Array(6) } }), /batch\.x: dtype int64, expected float32/);
    await assert.rejects(tr.setParams({ w: new Float32Array(6) }), /setParams: missing parameter 'b'/);
    await assert.rejects(tr.setParams({ w: new Float32Array(5), b: new Float32Array(3) }), /parameter 'w' has 5 values, shape \[2, 3\] needs 6/);
  } finally {
    await tr.dispose();
  }
  await assert.rejects(
    Trainer.create(
      { params: [{ name: 'w', shape: [2] }], batch: [], forward: (p) => ({ loss: op.sum(p['w']!) }), optim: { optimizer: { kind: 'sgd', lr: 0.1 } }, stepsPerRun: 1 },
      { device: 'cpu', initialParams: {} },
    ),
    /initialParams: missing parameter 'w'/,
  );
});

test('frozen parameters are read by the forward but never updated or checkpointed', async () => {
  // loss = Σ (w ⊙ s − x)², s frozen: w converges to x / s, s stays as given.
  const tr = await Trainer.create(
    {
      params: [{ name: 'w', shape: [3] }, { name: 's', shape: [3], trainable: false }],
      batch: [{ name: 'x', shape: [3], dtype: 'float32' }],
      forward: (p: Readonly<Record<string, Tensor>>, b: Readonly<Record<string, Tensor>>) => {
        const d = op.sub(op.mul(p['w']!, p['s']!), b['x']!);
        return { loss: op.sum(op.mul(d, d)) };
      },
      optim: { optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.5 } },
      stepsPerRun: 50,
    },
    { device: 'cpu', threads: 1, initialParams: { w: new Float32Array(3), s: Float32Array.of(1, 2, 4) } },
  );
  try {
    const x = new Float32Array(50 * 3);
    for (let k = 0; k < 50; k++) x.set([1, 1, 1], k * 3);
    await tr.step({ x: { dtype: 'float32', shape: [50, 1, 3], data: x } });
    const st = await tr.state();
    assert.deepEqual([...st.params.keys()], ['w']);
    const w = st.params.get('w')!.data;
    [1, 0.5, 0.25].forEach((want, i) => assert.ok(Math.abs(w[i]! - want) < 1e-3, `w[${i}] = ${w[i]}, expected ${want}`));
    assert.deepEqual([...st.buffers.keys()], ['momentum_buffer.w']);
  } finally {
    await tr.dispose();
  }
});

test('a session without the memory arena (large models) trains to the same parameters, bit for bit', async () => {
  const run = async (memoryArena: boolean): Promise<Float32Array> => {
    const tr = await Trainer.create(
      {
        params: [{ name: 'w', shape: [4, 3] }, { name: 's', shape: [3], trainable: false }],
        batch: [{ name: 'x', shape: [3], dtype: 'float32' }],
        forward: (p: Readonly<Record<string, Tensor>>, b: Readonly<Record<string, Tensor>>) => {
          const d = op.sub(op.mul(op.sum(p['w']!, [0]), p['s']!), b['x']!);
          return { loss: op.sum(op.mul(d, d)) };
        },
        optim: { optimizer: { kind: 'adamw', lr: 0.05, weightDecay: 0.01 } },
        stepsPerRun: 5,
      },
      { device: 'cpu', threads: 1, memoryArena, initialParams: { w: Float32Array.from({ length: 12 }, (_, i) => i / 10 - 0.5), s: Float32Array.of(1, 2, 4) } },
    );
    try {
      await tr.step({ x: { dtype: 'float32', shape: [5, 1, 3], data: Float32Array.from({ length: 15 }, (_, i) => (i % 3) - 1) } });
      return (await tr.state()).params.get('w')!.data;
    } finally {
      await tr.dispose();
    }
  };
  const on = await run(true);
  const off = await run(false);
  assert.ok(on.some((v, i) => v !== Float32Array.from({ length: 12 }, (_, j) => j / 10 - 0.5)[i]), 'the parameters moved');
  assert.deepEqual([...off], [...on]);
});
