/**
 * SFT packing: several sequences in one row with a block-diagonal causal mask and positions restarting per
 * sequence must compute exactly what each sequence computes alone in its own row (float64: to 1e-10), gradients
 * included; the packed SFT trainer reports its counts and its loss goes down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Graph, type Tensor } from '../../../src/engine/graph/graph';
import * as op from '../../../src/engine/graph/ops';
import { grad } from '../../../src/engine/graph/autodiff';
import { toOnnx } from '../../../src/engine/graph/emit';
import { parseHfConfig } from '../../../src/engine/models/config';
import { initWeights } from '../../../src/engine/models/params';
import { buildModel, logprobs, type TransformerModel } from '../../../src/engine/models/transformer';
import { padPackedRows, padRows, type PackedRow, type Row } from '../../../src/training/batching';
import { buildPlan, describePacking } from '../../../src/training/build';
import { PlanEvaluator } from '../../../src/training/evaluate';
import { resolveRunSpec } from '../../../src/core/runs/spec';
import { parseSessionEvents } from '../../../src/protocol/session';
import { runSession } from '../../../src/session/runSession';
import { OrtModel, type FeedValue } from '../engine/graph/ortRun';
import { gradCheck, type InputSpec } from '../engine/graph/gradcheck';
import { maxChange, mean, splits, tinyModel, trainPlan, yesNoSft } from './trainerFixtures';
import { workspace } from '../session/sessionFixtures';

// A tiny GPT-2 (learned positions: a wrong position id changes the result) small enough for finite differences.
const T = 8;
const V = 12;
function tinyGpt2(): { model: TransformerModel; weights: Map<string, Float64Array> } {
  const config = parseHfConfig(
    { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: V, n_embd: 4, n_layer: 1, n_head: 2, n_positions: T, n_inner: 8, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5 },
    'tiny gpt2',
  );
  const model = buildModel(config, 'lm', { maxLength: T });
  const weights = new Map([...initWeights(config, 'lm', 5)].map(([k, v]) => [k, Float64Array.from(v.data, (x) => x * 4)]));
  return { model, weights };
}

// Three sequences (every token scored, as SFT without completion-only loss): A and B share the first packed row.
const SEQS = [
  [1, 5, 7],
  [2, 9, 3, 4],
  [6, 1, 8, 10, 11, 2],
];
const ROWS: Row[] = SEQS.map((ids) => ({ ids, scored: ids.map(() => true) }));
const PACKED: PackedRow[] = [
  { ids: [...SEQS[0]!, ...SEQS[1]!], scored: [...SEQS[0]!, ...SEQS[1]!].map(() => true), boundaries: [0, 3, 7] },
  { ids: SEQS[2]!, scored: SEQS[2]!.map(() => true), boundaries: [0, 6] },
];
// Where each sequence's per-token log-probs sit: [row, first predicted position t (predicts t + 1), count].
const PACKED_AT = [
  [0, 0, 2],
  [0, 3, 3],
  [1, 0, 5],
];

const i64 = (d: BigInt64Array, n: number): FeedValue => ({ data: d, dims: [n, T] });

/** float64 per-token log-probs [N, T-1] of rows (packed when `seg` is fed) and d(sum of them)/d(every weight). */
async function run64(model: TransformerModel, weights: Map<string, Float64Array>, n: number, feeds: { ids: BigInt64Array; mask: BigInt64Array; cmask: BigInt64Array; seg?: BigInt64Array }) {
  const g = new Graph('packing64');
  const params = new Map<string, Tensor>();
  for (const p of model.params) params.set(p.name, g.input(`p.${p.name}`, p.shape, 'float64'));
  const ids = g.input('ids', [n, T], 'int64');
  const mask = g.input('mask', [n, T], 'int64');
  const cmask = g.input('cmask', [n, T], 'int64');
  const seg = feeds.seg ? g.input('seg', [n, T], 'int64') : undefined;
  const lp = logprobs(model, params, ids, mask, cmask, seg);
  g.output('lp', lp.perToken);
  const names = model.params.map((p) => p.name);
  grad(op.sum(lp.sum), names.map((k) => params.get(k) as Tensor)).forEach((t, i) => g.output(`g.${names[i]}`, t));
  const m = await OrtModel.load(toOnnx(g), 'basic');
  try {
    const f: Record<string, FeedValue> = { ids: i64(feeds.ids, n), mask: i64(feeds.mask, n), cmask: i64(feeds.cmask, n) };
    if (feeds.seg) f.seg = i64(feeds.seg, n);
    for (const p of model.params) f[`p.${p.name}`] = { data: weights.get(p.name) as Float64Array, dims: p.shape };
    const r = await m.run(f);
    return { lp: r.lp!.data as Float64Array, grads: new Map(names.map((k) => [k, r[`g.${k}`]!.data as Float64Array])) };
  } finally {
    await m.release();
  }
}

/** Sum of per-token log-probs of `count` positions from `t0` in row `row`. */
function span(lp: Float64Array | Float32Array, row: number, t0: number, count: number): number {
  let s = 0;
  for (let t = t0; t < t0 + count; t++) s += lp[row * (T - 1) + t] as number;
  return s;
}

test('packing collation: segments per sequence, 0 on padding; the first token of each packed sequence is unscored', () => {
  const r = padPackedRows(PACKED, T, 0);
  assert.deepEqual([...r.segments].map(Number), [1, 1, 1, 2, 2, 2, 2, 0, 1, 1, 1, 1, 1, 1, 0, 0]);
  assert.deepEqual([...r.cmask].map(Number), [0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0]);
  assert.deepEqual([...r.mask].map(Number), [1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0]);
  assert.equal(r.tokens, 13);
  assert.throws(() => padPackedRows([{ ...PACKED[0]!, boundaries: [0, 3, 6] }], T, 0), /boundaries \[0, 3, 6\] do not span its 7 tokens/);
});

test('a packed batch gives each sequence exactly its unpacked log-probs and gradients (float64, 1e-10); without segments it does not', async () => {
  const { model, weights } = tinyGpt2();
  const u = padRows(ROWS, T, 0);
  const p = padPackedRows(PACKED, T, 0);
  const unpacked = await run64(model, weights, 3, u);
  const packed = await run64(model, weights, 2, { ...p, seg: p.segments });
  const diffs = PACKED_AT.map(([row, t0, count], k) => {
    const alone = span(unpacked.lp, k, 0, SEQS[k]!.length - 1);
    const inPack = span(packed.lp, row as number, t0 as number, count as number);
    assert.ok(Math.abs(alone) > 1, `sequence ${k}: a meaningful log-prob (${alone})`);
    return Math.abs(alone - inPack);
  });
  assert.ok(Math.max(...diffs) < 1e-10, `per-sequence |packed - unpacked| ${diffs.map((d) => d.toExponential(2))}`);
  // The packed rows score exactly the tokens the separate rows score (none across a boundary).
  assert.ok(Math.abs(span(packed.lp, 0, 2, 1)) === 0, 'the last token of A does not predict the first token of B');
  // Gradients of the summed log-likelihood: the same through the packed mask as through separate rows.
  let gmax = 0;
  let gscale = 0;
  for (const [k, a] of unpacked.grads) {
    const b = packed.grads.get(k) as Float64Array;
    for (let i = 0; i < a.length; i++) {
      gmax = Math.max(gmax, Math.abs((a[i] as number) - (b[i] as number)));
      gscale = Math.max(gscale, Math.abs(a[i] as number));
    }
  }
  assert.ok(gscale > 1e-3 && gmax / gscale < 1e-10, `gradient max diff ${gmax} (scale ${gscale})`);
  // Negative control: the same packed rows with a plain causal mask let B attend to A, and B's log-probs change.
  const leaky = await run64(model, weights, 2, { ids: p.ids, mask: p.mask, cmask: p.cmask });
  assert.ok(Math.abs(span(leaky.lp, 0, 3, 3) - span(unpacked.lp, 1, 0, 3)) > 1e-3, 'without the block-diagonal mask and position reset the result differs');
});

test('gradient check through the packed (block-diagonal) mask: every weight against float64 finite differences', async () => {
  const { model, weights } = tinyGpt2();
  const p = padPackedRows(PACKED, T, 0);
  const names = model.params.map((x) => x.name);
  const i64spec = (d: BigInt64Array): InputSpec => ({ shape: [2, T], dtype: 'int64', gen: { values: [...d].map(Number) } });
  const specs: InputSpec[] = [i64spec(p.ids), i64spec(p.mask), i64spec(p.cmask), i64spec(p.segments), ...model.params.map((x): InputSpec => ({ shape: x.shape, gen: { values: [...(weights.get(x.name) as Float64Array)] } }))];
  const res = await gradCheck(specs, (ids, mask, cmask, seg, ...w) => {
    const params = new Map(names.map((k, i) => [k, w[i] as Tensor]));
    return logprobs(model, params, ids as Tensor, mask as Tensor, cmask as Tensor, seg as Tensor).perToken;
  });
  assert.ok(res.gradErr < 1e-6, `max relative gradient error ${res.gradErr.toExponential(2)} (per weight: ${res.perInput.slice(4).map((e, i) => `${names[i]} ${e.toExponential(1)}`).join(', ')})`);
});

test('packed SFT plan: the same eval loss and token accuracy as unpacked rows, and packing counts', async () => {
  const m = tinyModel('lm', 64);
  const data = splits(yesNoSft(6), yesNoSft(6, 50));
  const common = { hyperparameters: {}, model: m.model, weights: m.weights, tokenizer: m.tokenizer, examples: data, limits: { maxLength: 64 } };
  const plain = buildPlan({ ...common, method: 'sft', batchSize: 6 });
  const packed = buildPlan({ ...common, method: 'sft', hyperparameters: { packing: true }, batchSize: 2 });
  assert.equal(plain.packing, undefined);
  const pk = packed.packing;
  assert.ok(pk, 'packing summary');
  // 12 conversations of ~19 tokens: 3 per 64-token pack.
  assert.equal(pk.examples, 12);
  assert.equal(pk.train.examples, 6);
  assert.equal(pk.train.packs, packed.plan.trainSize);
  assert.equal(pk.eval.packs, packed.plan.evalSize);
  assert.equal(pk.packs, pk.train.packs + pk.eval.packs);
  assert.ok(pk.packs < pk.examples, `${pk.packs} packs for ${pk.examples} examples`);
  assert.equal(packed.plan.seqLen, pk.rowLength);
  assert.ok(pk.rowLength <= 64);
  assert.ok(pk.paddingFraction >= 0 && pk.paddingFraction < 0.5, `padding ${pk.paddingFraction}`);
  assert.equal(pk.truncated, 0);
  assert.ok(Math.abs(pk.paddingFraction - (1 - pk.tokens / (pk.packs * pk.rowLength))) < 1e-12);
  assert.match(describePacking(pk, 2), /^packing: 12 examples into \d+ packs of \d+ tokens \(train 6 into \d+, eval 6 into \d+\), \d+ tokens, padding \d+\.\d%, 0 truncated/);
  // One eval batch each (6 rows vs every pack): the token-mean loss is the same computation.
  assert.equal(pk.eval.packs, 2, 'the eval split fits one packed batch');
  const evalOf = async (plan: typeof plain.plan): Promise<Record<string, number>> => {
    const ev = await PlanEvaluator.create(plan, { device: 'cpu', threads: 1 });
    try {
      await ev.setWeights(new Map([...m.weights].map(([k, v]) => [k, { shape: [], data: v }])));
      return await ev.evaluate();
    } finally {
      await ev.dispose();
    }
  };
  const a = await evalOf(plain.plan);
  const b = await evalOf(packed.plan);
  assert.ok((a.loss as number) > 1, `loss ${a.loss}`);
  for (const k of ['loss', 'mean_token_accuracy', 'entropy', 'num_tokens']) assert.ok(Math.abs((a[k] as number) - (b[k] as number)) < 1e-5 * Math.max(1, Math.abs(a[k] as number)), `${k}: unpacked ${a[k]}, packed ${b[k]}`);
});

test('SFT with packing: the loss goes down, parameters change, metrics finite', async () => {
  const m = tinyModel('lm', 64);
  const built = buildPlan({ method: 'sft', hyperparameters: { packing: true }, model: m.model, weights: m.weights, tokenizer: m.tokenizer, examples: splits(yesNoSft(24), yesNoSft(6, 101)), limits: { maxLength: 64 }, batchSize: 2 });
  assert.ok(built.packing && built.packing.train.packs < 24);
  const r = await trainPlan(built.plan, 20, 1e-2, { evaluate: true });
  assert.ok(r.losses.every(Number.isFinite));
  assert.ok(mean(r.losses.slice(-4)) < 0.6 * mean(r.losses.slice(0, 3)), `loss ${r.losses.map((x) => x.toFixed(3))}`);
  assert.ok((r.evalAfter['loss'] as number) < (r.evalBefore['loss'] as number));
  assert.ok(maxChange(r.before, r.after) > 1e-4);
  for (const k of ['mean_token_accuracy', 'entropy', 'num_tokens']) assert.ok((r.metrics[k] ?? []).every(Number.isFinite), k);
});

test('a packed SFT session reports its packing counts in events.jsonl, next to the other data-preparation counts', async () => {
  const rows = Array.from({ length: 16 }, (_, i) => JSON.stringify({ prompt: [{ role: 'user', content: `item ${1 + (i % 12)}: say yes` }], completion: [{ role: 'assistant', content: 'yes' }] }));
  const ws = workspace(rows);
  const runDir = path.join(ws.dir, 'run');
  const r = resolveRunSpec({
    method: 'sft',
    model: { kind: 'hf', path: ws.model },
    data: { path: ws.data, maxLength: 64, evalSplit: 0.25 },
    hyperparameters: { packing: true },
    batchSize: 2,
    maxSteps: 2,
    optimizer: { learningRate: 1e-2 },
    intervals: { logging: 1, eval: 0, checkpoint: 0, sample: 0 },
    outputDir: runDir,
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const res = await runSession(r.spec, { runDir, cacheDir: ws.dir, threads: 1 });
  assert.equal(res.reason, 'completed', res.error);
  const ev = parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).events;
  const w = ev.find((e) => e.type === 'warning' && e.params.message.startsWith('packing:'));
  assert.ok(w && w.type === 'warning', 'a packing event');
  const m = /^packing: 16 examples into (\d+) packs of (\d+) tokens \(train 12 into (\d+), eval 4 into (\d+)\), (\d+) tokens, padding ([\d.]+)%, 0 truncated/.exec(w.params.message);
  assert.ok(m, w.params.message);
  const started = ev.find((e) => e.type === 'started');
  assert.ok(started?.type === 'started');
  assert.deepEqual(started.params.examples, { train: Number(m[3]), eval: Number(m[4]) }, 'the session trains on packs');
  const metrics = ev.filter((e) => e.type === 'metrics');
  assert.ok(metrics.length === 2 && metrics.every((e) => e.type === 'metrics' && Number.isFinite(e.params.metrics['loss'])));
});
