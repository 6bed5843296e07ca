/**
 * Cross-check against an independent PyTorch implementation written from transformers' conventions
 * (hf_torch_reference.py reads the HF folder with HF names and layouts). Runs where Debian's python3-torch is
 * installed; skipped (with the reason) elsewhere. The float64 TypeScript reference shares this engine's weight
 * mapping, so this is the check that the mapping itself follows Hugging Face's conventions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { loadHfModel } from '../../../../src/engine/models/hfMapping';
import { buildScoringOnnx } from '../../../../src/engine/models/forwardGraph';
import { buildModel } from '../../../../src/engine/models/transformer';
import { i64Rows, runOnnx, writeTinyHfFolder } from './tinyModels';

const PYTHON = '/usr/bin/python3';
const torchOk = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const skip = torchOk ? false : `PyTorch not importable by ${PYTHON} (apt-get install python3-torch to run this check)`;

for (const kind of ['gpt2', 'llama-gqa-untied', 'qwen2-bias-tied'] as const) {
  test(`${kind}: ONNX logits match an independent PyTorch implementation of the HF checkpoint`, { skip }, async () => {
    const dir = writeTinyHfFolder(kind);
    const rows = [
      [3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46, 26, 43, 38, 32, 79, 50, 28, 84, 19],
      [27, 18, 28, 18, 28, 45, 90, 45, 23, 53, 60, 28, 74, 71, 35, 26, 62, 49, 77, 57],
    ];
    const py = spawnSync(PYTHON, [path.join(__dirname, 'hf_torch_reference.py'), dir, JSON.stringify(rows)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(py.status, 0, py.stderr);
    const torchLogits = (JSON.parse(py.stdout) as { logits: number[] }).logits;
    const loaded = loadHfModel(dir);
    const out = await runOnnx(buildScoringOnnx(buildModel(loaded.config, 'lm'), { batch: 2, seq: 20, weights: loaded.weights }), {
      input_ids: i64Rows(rows),
      attention_mask: i64Rows(rows.map((r) => r.map(() => 1))),
    });
    const ours = out.logits.data as Float32Array;
    assert.equal(ours.length, torchLogits.length);
    let d = 0;
    for (let i = 0; i < ours.length; i++) d = Math.max(d, Math.abs(ours[i] - torchLogits[i]));
    assert.ok(d < 1e-4, `max |ours - torch| = ${d}`);
  });
}
