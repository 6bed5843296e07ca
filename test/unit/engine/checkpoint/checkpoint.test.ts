import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CheckpointError, loadCheckpoint, saveCheckpoint } from '../../../../src/engine/checkpoint/checkpoint';
import { writeSafetensors } from '../../../../src/engine/io/safetensors';
import { Rng } from '../../../../src/engine/rng';
import { gptTrainer } from '../step/gptTrainer';
import { loadCorpus, windows } from '../step/tinyCorpus';

const corpus = loadCorpus();
const optim = { optimizer: { kind: 'adamw' as const, lr: 5e-3, weightDecay: 0.05 }, schedule: { kind: 'cosine' as const, warmupSteps: 3, totalSteps: 30 }, maxGradNorm: 1 };
const K = 5;
const B = 4;

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-test-'));
}

test('resuming from a checkpoint reproduces the uninterrupted loss trajectory exactly', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'step-10.safetensors');
  // Uninterrupted: 4 runs of K steps.
  const full: number[] = [];
  {
    const tr = await gptTrainer({ K, B, optim, seed: 9 });
    const data = new Rng(123).derive('data');
    for (let r = 0; r < 4; r++) {
      const w = windows(corpus, data, K, 1, B, 16);
      full.push(...(await tr.step(w)).losses);
    }
    await tr.dispose();
  }
  // Interrupted after 2 runs: checkpoint (params, AdamW moments, counters, data RNG), then a fresh process-like
  // restart that loads it into a trainer initialized from a different seed.
  const resumed: number[] = [];
  {
    const tr = await gptTrainer({ K, B, optim, seed: 9 });
    const data = new Rng(123).derive('data');
    for (let r = 0; r < 2; r++) resumed.push(...(await tr.step(windows(corpus, data, K, 1, B, 16))).losses);
    saveCheckpoint(file, { state: await tr.state(), rng: { data: data.state() }, config: { optim, K, B }, extra: { epoch: 0 } });
    await tr.dispose();
  }
  assert.deepEqual(fs.readdirSync(dir), ['step-10.safetensors'], 'no temp files left behind');
  {
    const ck = loadCheckpoint(file);
    assert.equal(ck.state.step, 10);
    assert.equal(ck.state.updates, 10);
    assert.deepEqual(ck.extra, { epoch: 0 });
    assert.deepEqual(ck.config, JSON.parse(JSON.stringify({ optim, K, B })));
    assert.ok(ck.state.buffers.has('exp_avg.wte') && ck.state.buffers.has('exp_avg_sq.h.1.mlp.c_proj.bias'));
    const tr = await gptTrainer({ K, B, optim, seed: 777 });
    await tr.setState(ck.state);
    assert.equal(tr.stepsDone, 10);
    const data = Rng.fromState(ck.rng['data']!);
    for (let r = 0; r < 2; r++) {
      const res = await tr.step(windows(corpus, data, K, 1, B, 16));
      assert.deepEqual(res.steps, Array.from({ length: K }, (_, i) => 10 + r * K + i + 1));
      resumed.push(...res.losses);
    }
    await tr.dispose();
  }
  assert.equal(resumed.length, full.length);
  for (let i = 0; i < full.length; i++) assert.ok(Math.abs(resumed[i]! - full[i]!) <= 1e-6, `step ${i + 1}: resumed ${resumed[i]} vs uninterrupted ${full[i]}`);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a truncated checkpoint is a clear error naming the file', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'ckpt.safetensors');
  const tr = await gptTrainer({ K: 1, B: 2, optim });
  saveCheckpoint(file, { state: await tr.state(), rng: {}, config: null, extra: null });
  await tr.dispose();
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 1000));
  assert.throws(() => loadCheckpoint(file), (e: unknown) => e instanceof CheckpointError && e.message.includes(file) && /truncat|shorter|beyond|exceed|end of/i.test(e.message));
  fs.writeFileSync(file, bytes.subarray(0, 5));
  assert.throws(() => loadCheckpoint(file), (e: unknown) => e instanceof CheckpointError && e.message.includes(file));
  assert.throws(() => loadCheckpoint(path.join(dir, 'missing.safetensors')), /missing\.safetensors: file not found/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a safetensors file that is not a training checkpoint, or has bad metadata, is rejected clearly', () => {
  const dir = tmpDir();
  const plain = path.join(dir, 'model.safetensors');
  writeSafetensors(plain, { w: { dtype: 'F32', shape: [2], data: new Float32Array(2) } });
  assert.throws(() => loadCheckpoint(plain), /model\.safetensors: not a training checkpoint/);
  const bad = path.join(dir, 'bad.safetensors');
  writeSafetensors(bad, { w: { dtype: 'F32', shape: [2], data: new Float32Array(2) } }, {
    format: 'alignment-studio/train-checkpoint@1', step: 'x', updates: '0', optimizer: 'adamw', params: '["w"]', rng: '{}', config: 'null', extra: 'null',
  });
  assert.throws(() => loadCheckpoint(bad), /bad\.safetensors: metadata field 'step' must be a non-negative integer/);
  const missing = path.join(dir, 'missing-param.safetensors');
  writeSafetensors(missing, { w: { dtype: 'F32', shape: [2], data: new Float32Array(2) } }, {
    format: 'alignment-studio/train-checkpoint@1', step: '1', updates: '1', optimizer: 'adamw', params: '["w","v"]', rng: '{}', config: 'null', extra: 'null',
  });
  assert.throws(() => loadCheckpoint(missing), /parameter 'v' is listed in metadata but has no tensor/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('loading a checkpoint into a model of another shape names the tensor and both shapes', async () => {
  const tr = await gptTrainer({ K: 1, B: 2, optim });
  const other = await gptTrainer({ K: 1, B: 2, optim, cfg: { vocab: 96, seq: 16, dim: 16, heads: 2, layers: 2 } });
  try {
    const st = await tr.state();
    await assert.rejects(other.setState(st), /state: 'wte' has shape \[96, 32\], this model needs \[96, 16\]/);
  } finally {
    await tr.dispose();
    await other.dispose();
  }
});
