/**
 * Scores of the dashboard's samples (src/session/sampleScores.ts): the engine scorer's figures against a float64
 * computation of each method's formula on the plain-TypeScript reference forward, and the scores a real session
 * writes into its `samples` events (DPO with a reference, SimPO without).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveRunSpec, type RunSpec } from '../../../src/core/runs/spec';
import { seriesFromEvents } from '../../../src/core/runs/metricSeries';
import type { Weights } from '../../../src/engine/models/params';
import { referenceForward, referenceTokenLogprobs } from '../../support/reference/transformer';
import { parseSessionEvents, type SamplesParams } from '../../../src/protocol/session';
import { loadHfModel } from '../../../src/engine/models/hfMapping';
import { TextTokenizer } from '../../../src/engine/tokenizer/tokenizer';
import { encodePrompt } from '../../../src/training/encode';
import { loadRunCheckpoint } from '../../../src/session/checkpoints';
import { runSession } from '../../../src/session/runSession';
import { planSamples } from '../../../src/session/samples';
import { SampleScorer, sampleScoreRule } from '../../../src/session/sampleScores';
import { tinyModel } from '../training/trainerFixtures';
import { tinySpec, workspace } from './sessionFixtures';

/** Summed log pi(reply | prompt) in float64 on the reference forward. */
function float64Logp(m: ReturnType<typeof tinyModel>, weights: ReadonlyMap<string, Float32Array>, prompt: number[], reply: number[]): number {
  const w: Weights = new Map();
  for (const p of m.model.params) w.set(p.name, { shape: [...p.shape], data: weights.get(p.name) as Float32Array });
  const ids = [...prompt, ...reply];
  const out = referenceForward(m.model.config, 'lm', w, [ids]);
  const lp = referenceTokenLogprobs(out.logits as Float64Array, [ids], m.model.config.vocabSize)[0] as number[];
  // lp[t] = log p(ids[t+1] | ids[..t]): the reply's tokens are ids[prompt.length ..].
  return lp.slice(prompt.length - 1).reduce((s, x) => s + x, 0);
}

/** The tiny model's weights moved off the start: a policy that differs from its reference. */
function perturbed(weights: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  let k = 0;
  for (const [name, d] of weights) out.set(name, d.map((x) => x + 0.05 * Math.sin(++k * 0.7)));
  return out;
}

const PROMPTS = [
  [5, 17, 33, 2],
  [40, 41],
  [7, 8, 9, 10, 11, 12],
];
const REPLIES = [[60, 61, 62], [70], [80, 81, 82, 83, 84]];

function hp(over: Record<string, number>): Record<string, number> {
  return over;
}

test('DPO sample scores: beta * (log pi_theta - log pi_ref) summed over reply tokens, as the float64 reference computes it', async () => {
  const m = tinyModel('lm', 32);
  const policy = perturbed(m.weights);
  const rule = sampleScoreRule('dpo', hp({ beta: 0.1 }));
  assert.ok(rule);
  assert.equal(rule.kind, 'implicit-reward');
  assert.ok(rule.needsReference);
  assert.match(rule.label, /π_ref/);
  assert.match(rule.label, /β=0\.1/);
  const scorer = new SampleScorer(m.model, rule, { batch: 3, seqLen: 32, padId: 0 }, { threads: 1 });
  try {
    const { scores } = await scorer.score(PROMPTS, REPLIES, policy, m.weights);
    PROMPTS.forEach((p, i) => {
      const r = REPLIES[i] as number[];
      const want = 0.1 * (float64Logp(m, policy, p, r) - float64Logp(m, m.weights, p, r));
      const got = scores[i];
      assert.ok(got !== undefined && Number.isFinite(got), `score ${i} is finite`);
      assert.ok(Math.abs(want) > 1e-3, `the policy differs from its reference on reply ${i} (${want})`);
      assert.ok(Math.abs(got - want) <= 1e-4 + 1e-3 * Math.abs(want), `reply ${i}: ${got} vs float64 ${want}`);
    });
    // The reference scores itself 0.
    const same = await scorer.score(PROMPTS, REPLIES, m.weights, m.weights);
    for (const s of same.scores) assert.ok(s !== undefined && Math.abs(s) < 1e-5, `reference vs itself: ${s}`);
  } finally {
    await scorer.dispose();
  }
});

test('SimPO sample scores: beta / |y| * log pi_theta (no reference), as the float64 reference computes it', async () => {
  const m = tinyModel('lm', 32);
  const policy = perturbed(m.weights);
  const rule = sampleScoreRule('simpo', hp({ beta: 2, simpo_gamma: 0.5 }));
  assert.ok(rule);
  assert.equal(rule.kind, 'length-normalized-reward');
  assert.equal(rule.needsReference, false);
  const scorer = new SampleScorer(m.model, rule, { batch: 3, seqLen: 32, padId: 0 }, { threads: 1 });
  try {
    // The reference weights are never read by a reference-free rule: an empty map would fail if they were.
    const { scores, referenceLogps } = await scorer.score(PROMPTS, REPLIES, policy, new Map());
    assert.equal(referenceLogps, undefined);
    PROMPTS.forEach((p, i) => {
      const r = REPLIES[i] as number[];
      const want = (2 * float64Logp(m, policy, p, r)) / r.length;
      const got = scores[i];
      assert.ok(got !== undefined && Number.isFinite(got), `score ${i} is finite`);
      assert.ok(Math.abs(got - want) <= 1e-4 + 1e-3 * Math.abs(want), `reply ${i}: ${got} vs float64 ${want}`);
    });
  } finally {
    await scorer.dispose();
  }
});

test('every LM method has a score rule with a label; reward-model methods have none', () => {
  for (const method of ['dpo', 'kto', 'simpo', 'orpo', 'cpo', 'sft'] as const) {
    const r = sampleScoreRule(method, { beta: 0.25 });
    assert.ok(r, method);
    assert.ok(r.label.length > 0);
    assert.ok(Number.isFinite(r.score(-10, -12, 4)), method);
  }
  assert.equal(sampleScoreRule('cpo', { beta: 0.5 })?.score(-8, NaN, 4), -4);
  assert.equal(sampleScoreRule('sft', {})?.score(-8, NaN, 4), -2);
  assert.equal(sampleScoreRule('reward', {}), undefined);
  assert.throws(() => sampleScoreRule('dpo', {}), /hyperparameters\.beta/);
});

function resolve(raw: Record<string, unknown>): RunSpec {
  const r = resolveRunSpec(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

async function sessionSamples(method: 'dpo' | 'simpo', hyperparameters: Record<string, number>): Promise<SamplesParams[]> {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const spec = resolve(tinySpec(ws, runDir, { method, hyperparameters, maxSteps: 4, intervals: { logging: 2, eval: 0, checkpoint: 0, sample: 2 } }));
  const res = await runSession(spec, { runDir, cacheDir: ws.dir, threads: 1 });
  assert.equal(res.reason, 'completed', res.error);
  const parsed = parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8'));
  assert.deepEqual(parsed.warnings, []);
  const sets = parsed.events.flatMap((e) => (e.type === 'samples' ? [e.params] : []));
  // The dashboard's sets carry what the scores are.
  const dash = seriesFromEvents(parsed.events).samples;
  assert.deepEqual(dash.map((s) => s.scoreLabel), sets.map((s) => s.scoreLabel));
  fs.rmSync(ws.dir, { recursive: true, force: true });
  return sets;
}

test('a DPO session scores the policy and reference samples with the implicit reward at each checkpoint', async () => {
  const sets = await sessionSamples('dpo', { beta: 0.1 });
  assert.deepEqual(sets.map((s) => s.step), [2, 4]);
  for (const s of sets) {
    assert.equal(s.scoreKind, 'implicit-reward');
    assert.equal(s.scoreLabel, 'implicit reward β·log(π/π_ref), β=0.1');
    assert.ok(s.samples.length > 0);
    for (const row of s.samples) {
      assert.ok(Number.isFinite(row.scores?.policy), `policy score at step ${s.step}`);
      assert.ok(Number.isFinite(row.scores?.reference), `reference score at step ${s.step}`);
    }
  }
  // After training the policy has moved: some reply's implicit reward is no longer 0.
  assert.ok(sets.some((s) => s.samples.some((r) => Math.abs(r.scores?.policy ?? 0) > 1e-6 || Math.abs(r.scores?.reference ?? 0) > 1e-6)));
});

test('a SimPO session scores its samples with the length-normalized reward (no reference model needed)', async () => {
  const sets = await sessionSamples('simpo', { beta: 2 });
  assert.ok(sets.length > 0);
  for (const s of sets) {
    assert.equal(s.scoreKind, 'length-normalized-reward');
    assert.equal(s.scoreLabel, 'length-normalized reward β/|y|·log π, β=2');
    for (const row of s.samples) {
      // A log-prob is negative: beta times a mean token log-prob is below 0.
      assert.ok(Number.isFinite(row.scores?.policy) && (row.scores?.policy as number) < 0);
      assert.ok(Number.isFinite(row.scores?.reference) && (row.scores?.reference as number) < 0);
    }
  }
});

/** Greedy reply in float64 on the reference forward (argmax over the tokenizer's vocabulary, stop at EOS). */
function float64Greedy(cfg: Parameters<typeof referenceForward>[0], w: Weights, prompt: number[], maxNew: number, vocab: number, stop: readonly number[]): number[] {
  const out: number[] = [];
  const V = cfg.vocabSize;
  for (let k = 0; k < maxNew; k++) {
    const ids = [...prompt, ...out];
    const logits = referenceForward(cfg, 'lm', w, [ids]).logits as Float64Array;
    const o = (ids.length - 1) * V;
    let best = 0;
    for (let v = 1; v < vocab; v++) if ((logits[o + v] as number) > (logits[o + best] as number)) best = v;
    out.push(best);
    if (stop.includes(best)) break;
  }
  return out;
}

test('a DPO session\'s sample scores at a checkpoint equal beta * (log pi_theta - log pi_ref) computed in float64 from the checkpoint', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const spec = resolve(tinySpec(ws, runDir, { method: 'dpo', hyperparameters: { beta: 0.1 }, maxSteps: 4, intervals: { logging: 2, eval: 0, checkpoint: 2, sample: 2 } }));
  const res = await runSession(spec, { runDir, cacheDir: ws.dir, threads: 1 });
  assert.equal(res.reason, 'completed', res.error);
  const ev = parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).events;
  const set = ev.flatMap((e) => (e.type === 'samples' && e.params.step === 2 ? [e.params] : []))[0];
  assert.ok(set, 'samples at step 2');
  // The reference is the model folder's weights; the policy at step 2 is the step-2 checkpoint's parameters.
  const base = loadHfModel(ws.model);
  const tok = TextTokenizer.fromFolder(ws.model);
  const policy: Weights = new Map(base.weights);
  for (const [k, v] of loadRunCheckpoint(runDir, 2).state.params) if (policy.has(k)) policy.set(k, { shape: [...v.shape], data: v.data });
  const logp = (w: Weights, prompt: number[], reply: number[]): number => {
    const ids = [...prompt, ...reply];
    const lp = referenceTokenLogprobs(referenceForward(base.config, 'lm', w, [ids]).logits as Float64Array, [ids], base.config.vocabSize)[0] as number[];
    return lp.slice(prompt.length - 1).reduce((a, b) => a + b, 0);
  };
  // The fixture's prompts are one user turn each: the shown prompt is that turn's text.
  const prompts = set.samples.map((s) => encodePrompt(tok, [{ role: 'user', content: s.prompt }]));
  const plan = planSamples(prompts, spec.data.maxLength);
  const stop = [tok.eosTokenId, base.config.eosTokenId].flat().filter((x): x is number => typeof x === 'number');
  let largest = 0;
  set.samples.forEach((s, i) => {
    const prompt = plan.prompts[i] as number[];
    for (const [who, w] of [['policy', policy], ['reference', base.weights]] as const) {
      const reply = float64Greedy(base.config, w, prompt, plan.maxNewTokens, tok.vocabSize, stop);
      // The float64 greedy reply is the one the session generated (so the same tokens are scored).
      assert.equal(tok.decode(reply, { skipSpecialTokens: true }), s[who], `${who} reply ${i}`);
      const want = 0.1 * (logp(policy, prompt, reply) - logp(base.weights, prompt, reply));
      const got = s.scores?.[who];
      assert.ok(got !== undefined && Math.abs(got - want) <= 1e-4 + 1e-3 * Math.abs(want), `${who} ${i}: ${got} vs float64 ${want}`);
      largest = Math.max(largest, Math.abs(want));
    }
  });
  // Two steps at lr 1e-2 move the policy: the comparison is not 0 against 0.
  assert.ok(largest > 1e-3, `largest implicit reward ${largest}`);
  fs.rmSync(ws.dir, { recursive: true, force: true });
});
