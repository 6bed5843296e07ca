/**
 * The generation model: prompt prefill, then the whole decode loop (an ONNX Loop over new tokens, with the KV
 * cache, the attention mask and each row's stop state as loop-carried values) and the sampling of every token
 * inside one onnxruntime call, so generating N tokens costs one call instead of N JavaScript round trips.
 *
 *   input_ids        int64   [batch, prompt_length]   left-padded prompts
 *   attention_mask   int64   [batch, prompt_length]   1 = token, 0 = padding
 *   steps            int64   []                       decode steps after the first token (max_new_tokens - 1)
 *   uniforms         float64 [max_new, batch]         u[s, b] in [0, 1): the draw of row b at step s
 *   stop_ids         int64   [n_stop]                 tokens that end a row (may hold -1 fillers)
 *   pad_id           int64   []                       fed (masked) by rows that are done
 *   vocab_limit      int64   [1]                      only ids below it can be produced
 *   greedy           bool    []                       argmax instead of sampling
 *   inv_temperature  float32 []                       1 / temperature (sampling only)
 *   truncate         bool    []                       top-k / top-p active: sample among sorted candidates
 *   top_k            int64   [1]                      candidates kept by top-k (vocab_limit when off)
 *   top_p            float64 []                       nucleus mass (1 = off)
 *   ->
 *   tokens           int64   [n, batch]               n = 1 + decode steps run; pad after a row's stop token
 *   logprobs         float64 [n, batch]               log p of each token (sampling.ts Pick.logprob); 0 after stop
 *
 * The loop ends early once every row has produced a stop token. A row that has stopped feeds pad_id with mask
 * 0 from the next step on (not attended to by anything), exactly as the step-by-step generator does, so a
 * row's tokens do not depend on when the other rows of its batch stop.
 *
 * Sampling follows sampling.ts pickToken (temperature -> top-k -> top-p -> inverse-CDF draw with the row's
 * uniform): the same candidates in the same order (TopK sorts ties by lower id, as pickToken does), so for the
 * same uniforms both pick the same token except where u lands within rounding of a boundary (see pickInGraph).
 */
import { ifElse, loopNode } from '../graph/control';
import { SESSION_EMIT, toOnnx } from '../graph/emit';
import { Graph, Tensor, graphOf } from '../graph/graph';
import * as op from '../graph/ops';
import { weightInitializers } from '../models/forwardGraph';
import { Weights } from '../models/params';
import { forward, KvPair, TransformerModel } from '../models/transformer';
import { lastPositionLogits } from './inferenceGraph';

/** The run-time sampling inputs of the decode model. */
interface SamplingInputs {
  readonly greedy: Tensor;
  readonly invTemperature: Tensor;
  readonly truncate: Tensor;
  readonly topK: Tensor;
  readonly topP: Tensor;
  readonly vocabLimit: Tensor;
  readonly stopIds: Tensor;
  readonly padId: Tensor;
}

/** A copy of outer-scope tensor `t` owned by `body`, so that ops on it are built inside `body`. */
function pin(body: Graph, t: Tensor): Tensor {
  return body.addNode('Identity', [t], {}, [{ shape: t.shape, dtype: t.dtype }], 'pin')[0];
}

/** Values and indices of the k largest entries of each row of x [B, V], sorted descending (ties: lower index first). */
function topK(x: Tensor, k: Tensor): [Tensor, Tensor] {
  const g = graphOf('TopK', [x, k]);
  const shape = [x.shape[0], 'top_k'];
  const attrs = { axis: { kind: 'int' as const, value: 1 }, largest: { kind: 'int' as const, value: 1 }, sorted: { kind: 'int' as const, value: 1 } };
  const [v, i] = g.addNode('TopK', [x, k], attrs, [{ shape, dtype: x.dtype }, { shape, dtype: 'int64' }], 'topk');
  return [v, i];
}

/**
 * Inverse-CDF draw: the first index j of each row of the non-negative weights w [B, n] whose running sum reaches
 * u * total (pickToken's sequential subtraction), capped at `last` [B, 1] for rounding at the end. Returns [B, 1].
 */
function drawIndex(w: Tensor, u: Tensor, last: Tensor): Tensor {
  const c = op.cumsum(w, 1);
  const threshold = op.mul(op.unsqueeze(u, [1]), op.max(c, [1], true)); // the running sum is monotone: max = total
  const below = op.sum(op.cast(op.less(c, threshold), 'int64'), [1], true);
  return op.minimum(below, last);
}

/** Sampling among the top-k / top-p candidates of lp [B, V] (log-probs at the temperature), as pickToken does. */
function truncatedDraw(lp: Tensor, u: Tensor, s: SamplingInputs): Tensor[] {
  const [vals32, ids] = topK(lp, s.topK);
  const vals = op.cast(vals32, 'float64');
  const q = op.exp(vals);
  // Top-p over the renormalized top-k set: keep a candidate while the mass before it is below p (the one that
  // crosses p is kept); p = 1 keeps all (pickToken skips the cut).
  const before = op.cumsum(op.div(q, op.sum(q, [1], true)), 1, { exclusive: true });
  const keep = op.or(op.less(before, s.topP), op.greaterEqual(s.topP, 1));
  const w = op.mul(q, op.cast(keep, 'float64'));
  const last = op.sub(op.sum(op.cast(keep, 'int64'), [1], true), 1);
  const j = drawIndex(w, u, last);
  return [op.squeeze(op.gatherElements(ids, j, 1), [1]), op.squeeze(op.gatherElements(vals, j, 1), [1])];
}

/** Sampling over all ids in id order (no truncation), as pickToken does; x [B, V] are the scaled logits, lp their log-softmax. */
function plainDraw(x: Tensor, lp: Tensor, u: Tensor): Tensor[] {
  const last = op.sub(op.unsqueeze(op.dim(x, 1), [0, 1]), 1); // [1, 1]
  const j = drawIndex(op.cast(op.softmax(x, 1), 'float64'), u, last);
  return [op.squeeze(j, [1]), op.squeeze(op.cast(op.gatherElements(lp, j, 1), 'float64'), [1])];
}

/**
 * Picks one token per row from logits [B, V] with uniforms u [B]: returns token [B] int64 and its log-prob [B]
 * float64. The vocabulary-wide passes (softmax, log-softmax, argmax) run in float32, onnxruntime's vectorized
 * kernels (a float64 pass over [64, 49152] logits costs tens of milliseconds a step); the running sums that the
 * draw compares with u are float64. Against pickToken's all-float64 math that moves probabilities by ~1e-7
 * relative, so a draw can differ only when u falls that close to a boundary between two tokens.
 */
function pickInGraph(name: string, logits: Tensor, u: Tensor, s: SamplingInputs): { token: Tensor; logprob: Tensor } {
  const g = graphOf('pick', [logits, u]);
  const limited = g.addNode('Slice', [logits, g.constant([0], 'int64'), s.vocabLimit, g.constant([1], 'int64')], {}, [{ shape: [logits.shape[0], 'vocab_limit'], dtype: 'float32' }], 'vlimit')[0];
  const [token, logprob] = ifElse(
    g,
    `${name}_greedy`,
    s.greedy,
    (b) => {
      const x = pin(b, limited);
      const tok = op.argmax(x, 1, true);
      return [op.squeeze(tok, [1]), op.squeeze(op.cast(op.gatherElements(op.logSoftmax(x, 1), tok, 1), 'float64'), [1])];
    },
    (b) => {
      const x = op.mul(pin(b, limited), s.invTemperature);
      const lp = op.logSoftmax(x, 1);
      return ifElse(b, `${name}_truncate`, s.truncate, (t) => truncatedDraw(pin(t, lp), u, s), (p) => plainDraw(pin(p, x), pin(p, lp), u));
    },
  );
  return { token, logprob };
}

/** Stop state of each row after picking `token` [B]: done [B] bool. */
function stopped(token: Tensor, stopIds: Tensor): Tensor {
  return op.greater(op.max(op.cast(op.equal(op.unsqueeze(token, [1]), op.unsqueeze(stopIds, [0])), 'int64'), [1]), 0);
}

/**
 * Builds the Loop body, one decode step: feeds each row's last token (mask 0 once the row is done) with the cache,
 * picks the next token with the step's uniforms. Body inputs: iteration, cond, carried (token, done, mask, then
 * each layer's keys and values, which grow by one position a step); outputs: cond (some row still running), the
 * carried values, and the token and log-prob scans.
 */
function decodeStep(body: Graph, model: TransformerModel, params: Map<string, Tensor>, uniforms: Tensor, s: SamplingInputs): void {
  const L = model.config.numLayers;
  const K = model.config.numKvHeads;
  const E = model.config.headDim;
  const iter = body.input('decode_iter', [], 'int64');
  body.input('decode_cond_in', [], 'bool');
  const prev = body.input('decode_token_in', ['batch'], 'int64');
  const doneIn = body.input('decode_done_in', ['batch'], 'bool');
  const maskIn = body.input('decode_mask_in', ['batch', 'cache_length'], 'int64');
  const past: KvPair[] = [];
  for (let i = 0; i < L; i++) {
    past.push({
      key: body.input(`decode_past_key_${i}`, ['batch', K, 'cache_length', E], 'float32'),
      value: body.input(`decode_past_value_${i}`, ['batch', K, 'cache_length', E], 'float32'),
    });
  }
  const mask = op.concat([maskIn, op.unsqueeze(op.cast(op.not(doneIn), 'int64'), [1])], 1);
  const out = forward(model, params, { ids: op.unsqueeze(prev, [1]), mask, past });
  const logits = op.squeeze(out.logits!, [1]);
  const u = op.gather(uniforms, op.add(iter, 1), 0);
  const pick = pickInGraph('decode_pick', logits, u, s);
  const token = op.where(doneIn, s.padId, pick.token);
  const logprob = op.where(doneIn, body.scalar(0, 'float64'), pick.logprob);
  const done = op.or(doneIn, stopped(token, s.stopIds));
  const more = op.greater(op.max(op.cast(op.not(done), 'int64'), [0]), 0);
  body.output('decode_cond_out', more);
  body.output('decode_token_out', token);
  body.output('decode_done_out', done);
  body.output('decode_mask_out', mask);
  out.present.forEach((kv, i) => {
    body.output(`decode_present_key_${i}`, kv.key);
    body.output(`decode_present_value_${i}`, kv.value);
  });
  body.output('decode_tokens_scan', token);
  body.output('decode_logprobs_scan', logprob);
}

/** Builds the generation model (see the file comment) with the weights baked in. */
export function buildDecodeOnnx(model: TransformerModel, weights: Weights): Uint8Array {
  if (model.head === 'score') throw new Error('buildDecodeOnnx: a reward model (head "score") does not generate');
  const g = new Graph();
  const params = weightInitializers(g, model, weights);
  const ids = g.input('input_ids', ['batch', 'prompt_length'], 'int64');
  const mask = g.input('attention_mask', ['batch', 'prompt_length'], 'int64');
  const steps = g.input('steps', [], 'int64');
  const uniforms = g.input('uniforms', ['max_new', 'batch'], 'float64');
  const s: SamplingInputs = {
    stopIds: g.input('stop_ids', ['n_stop'], 'int64'),
    padId: g.input('pad_id', [], 'int64'),
    vocabLimit: g.input('vocab_limit', [1], 'int64'),
    greedy: g.input('greedy', [], 'bool'),
    invTemperature: g.input('inv_temperature', [], 'float32'),
    truncate: g.input('truncate', [], 'bool'),
    topK: g.input('top_k', [1], 'int64'),
    topP: g.input('top_p', [], 'float64'),
  };
  // Prefill: the prompts' keys/values and the first token.
  const pre = forward(model, params, { ids, mask });
  const first = pickInGraph('prefill_pick', lastPositionLogits(model, params, pre.hidden, ids), op.gather(uniforms, g.scalar(0, 'int64'), 0), s);
  const done0 = stopped(first.token, s.stopIds);
  const body = g.subgraph('decode');
  decodeStep(body, model, params, uniforms, s);
  const initial = [first.token, done0, mask, ...pre.present.flatMap((kv) => [kv.key, kv.value])];
  const res = loopNode(g, 'decode', body, steps, initial);
  g.output('tokens', op.concat([op.unsqueeze(first.token, [0]), res.scans[0]], 0));
  g.output('logprobs', op.concat([op.unsqueeze(first.logprob, [0]), res.scans[1]], 0));
  return toOnnx(g, SESSION_EMIT);
}
