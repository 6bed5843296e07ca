import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadHfModel } from '../../../../src/engine/models/hfMapping';
import { buildScoringOnnx } from '../../../../src/engine/models/forwardGraph';
import { initParams, Weights } from '../../../../src/engine/models/params';
import { referenceForward } from '../../../support/reference/transformer';
import { buildModel, logprobs, mergeLora, trainableParams } from '../../../../src/engine/models/transformer';
import { Trainer } from '../../../../src/engine/step/trainer';
import { i64 } from '../../../../src/engine/runtime/tensor';
import * as op from '../../../../src/engine/graph/ops';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSafetensors, writeSafetensors } from '../../../../src/engine/io/safetensors';
import { loadPeftAdapter, savePeftAdapter } from '../../../../src/engine/models/peft';
import { i64Rows, runOnnx, tmpDir, writeTinyHfFolder } from './tinyModels';

function withAdapters(model: ReturnType<typeof buildModel>, base: Weights, seed: number): Weights {
  const adapters = model.params.filter((p) => p.name.endsWith('.lora_A') || p.name.endsWith('.lora_B'));
  // Non-zero B so the adapter changes the output (PEFT's init has B = 0).
  const w = initParams(
    adapters.map((p) => ({ ...p, init: { kind: 'normal' as const, std: 0.3 } })),
    seed,
  );
  return new Map([...base, ...w]);
}

for (const kind of ['llama-gqa-untied', 'gpt2'] as const) {
  test(`${kind}: LoRA model output == merged model output == reference on merged weights`, async () => {
    const loaded = loadHfModel(writeTinyHfFolder(kind));
    const model = buildModel(loaded.config, 'lm', { lora: { rank: 4, alpha: 8, targetModules: kind === 'gpt2' ? ['c_attn', 'c_proj'] : ['q_proj', 'v_proj', 'down_proj'] } });
    // Only adapters are trainable; base weights are frozen.
    const trainable = trainableParams(model).map((p) => p.name);
    assert.ok(trainable.length > 0 && trainable.every((n) => n.endsWith('.lora_A') || n.endsWith('.lora_B')));
    assert.equal(model.lora!.scale, 2);
    const weights = withAdapters(model, loaded.weights, 5);
    const rows = [[3, 9, 27, 81, 4, 12]];
    const mask = [[1, 1, 1, 1, 1, 1]];
    const feeds = { input_ids: i64Rows(rows), attention_mask: i64Rows(mask) };
    const adapted = await runOnnx(buildScoringOnnx(model, { batch: 1, seq: 6, weights }), feeds);
    const merged = mergeLora(model, weights);
    const plain = buildModel(loaded.config, 'lm');
    const mergedOut = await runOnnx(buildScoringOnnx(plain, { batch: 1, seq: 6, weights: merged }), feeds);
    const base = await runOnnx(buildScoringOnnx(plain, { batch: 1, seq: 6, weights: loaded.weights }), feeds);
    const ref = referenceForward(loaded.config, 'lm', merged, rows, mask).logits!;
    const a = adapted.logits.data as Float32Array;
    const m = mergedOut.logits.data as Float32Array;
    const b = base.logits.data as Float32Array;
    let dMerged = 0;
    let dRef = 0;
    let dBase = 0;
    for (let i = 0; i < a.length; i++) {
      dMerged = Math.max(dMerged, Math.abs(a[i] - m[i]));
      dRef = Math.max(dRef, Math.abs(a[i] - ref[i]));
      dBase = Math.max(dBase, Math.abs(a[i] - b[i]));
    }
    assert.ok(dMerged < 1e-4, `adapter vs merged: ${dMerged}`);
    assert.ok(dRef < 1e-4, `adapter vs float64 reference of merged weights: ${dRef}`);
    assert.ok(dBase > 1e-2, `the adapter must change the output (diff to base ${dBase})`);
    // Merging with zero B (fresh PEFT init) gives back the base weights exactly.
    const fresh = new Map([...loaded.weights, ...initParams(model.params.filter((p) => p.trainable), 1)]);
    for (const [n, t] of mergeLora(model, fresh)) assert.deepEqual(t.data, loaded.weights.get(n)!.data, n);
  });
}

test('LoRA errors name the bad target module and list valid ones', () => {
  const loaded = loadHfModel(writeTinyHfFolder('llama-gqa-untied'));
  assert.throws(() => buildModel(loaded.config, 'lm', { lora: { rank: 4, alpha: 8, targetModules: ['c_fc'] } }), /"c_fc" does not exist in a llama model; use one of: q_proj, k_proj/);
  assert.throws(() => buildModel(loaded.config, 'lm', { lora: { rank: 0, alpha: 8, targetModules: ['q'] } }), /rank must be a positive integer/);
});

test('LoRA SFT with the K-step training compiler: loss falls, base weights stay frozen', async () => {
  const loaded = loadHfModel(writeTinyHfFolder('qwen2-bias-tied'));
  const model = buildModel(loaded.config, 'lm', { lora: { rank: 4, alpha: 16, targetModules: ['all-linear'] } });
  const B = 2;
  const T = 8;
  const K = 4;
  const init = new Map<string, Float32Array>();
  for (const [n, t] of loaded.weights) init.set(n, t.data);
  for (const [n, t] of initParams(trainableParams(model), 3)) init.set(n, t.data);
  const trainer = await Trainer.create(
    {
      forward: (params, batch) => {
        const lp = logprobs(model, params, batch.ids, batch.mask);
        return { loss: op.neg(op.div(op.sum(lp.sum), op.sum(lp.count))) };
      },
      params: model.params,
      batch: [
        { name: 'ids', shape: [B, T], dtype: 'int64' },
        { name: 'mask', shape: [B, T], dtype: 'int64' },
      ],
      optim: { optimizer: { kind: 'adamw', lr: 1e-2, weightDecay: 0 } },
      stepsPerRun: K,
    },
    { initialParams: init, threads: 1, device: 'cpu' },
  );
  try {
    const row = [5, 6, 7, 8, 9, 10, 11, 12];
    const ids = i64([K, 1, B, T], Array.from({ length: K * B }, () => row).flat());
    const mask = i64([K, 1, B, T], new Array<number>(K * B * T).fill(1));
    const r1 = await trainer.step({ ids, mask });
    const r2 = await trainer.step({ ids, mask });
    const losses = [...r1.losses, ...r2.losses];
    assert.ok(losses.every(Number.isFinite));
    assert.ok(losses[losses.length - 1] < losses[0] - 0.05, `loss should fall: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
    const after = await trainer.getParams();
    const bName = 'layers.0.attn.q.lora_B';
    assert.ok(after.get(bName)!.data.some((x) => x !== 0), 'adapter B moved away from zero');
    assert.ok(!after.has('layers.0.attn.q.weight'), 'base weights are not trainable parameters');
  } finally {
    await trainer.dispose();
  }
});

test('PEFT adapter folder: save then load gives the same adapters; PEFT names and layouts; GPT-2 is refused clearly', () => {
  const loaded = loadHfModel(writeTinyHfFolder('llama-gqa-untied'));
  const model = buildModel(loaded.config, 'lm', { lora: { rank: 4, alpha: 8, targetModules: ['q_proj', 'down_proj'] } });
  const weights = withAdapters(model, loaded.weights, 8);
  const dir = tmpDir('peft-');
  savePeftAdapter(dir, model, weights, 'tiny-llama');
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
  assert.equal(cfg.peft_type, 'LORA');
  assert.equal(cfg.r, 4);
  assert.equal(cfg.lora_alpha, 8);
  assert.deepEqual(cfg.target_modules, ['q_proj', 'down_proj']);
  const st = readSafetensors(path.join(dir, 'adapter_model.safetensors')).tensors;
  const a = st.get('base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight')!;
  assert.deepEqual(a.shape, [4, 32]); // PEFT: lora_A [r, in]
  assert.deepEqual(st.get('base_model.model.model.layers.0.mlp.down_proj.lora_B.weight')!.shape, [32, 4]); // lora_B [out, r]
  const back = loadPeftAdapter(dir, loaded.config);
  assert.deepEqual(back.model.lora!.modules, ['q', 'down']);
  assert.equal(back.model.lora!.scale, 2);
  for (const [n, t] of back.adapters) assert.deepEqual(t.data, weights.get(n)!.data, n);
  assert.equal(back.adapters.size, 2 * 2 * 2);
  const g = loadHfModel(writeTinyHfFolder('gpt2'));
  const gm = buildModel(g.config, 'lm', { lora: { rank: 2, alpha: 2, targetModules: ['c_attn'] } });
  assert.throws(() => savePeftAdapter(tmpDir('peft-g-'), gm, withAdapters(gm, g.weights, 1)), /for gpt2, merge the adapter/);
  // A wrongly shaped adapter file names the tensor and both shapes.
  st.set('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', { dtype: 'F32', shape: [4, 31], data: new Float32Array(124) });
  writeSafetensors(path.join(dir, 'adapter_model.safetensors'), st);
  assert.throws(() => loadPeftAdapter(dir, loaded.config), /layers\.0\.self_attn\.q_proj\.lora_A\.weight: expected \[4, 32\], found \[4, 31\]/);
});
