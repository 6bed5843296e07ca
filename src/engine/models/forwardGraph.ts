/**
 * Ready-made forward-only ONNX models (no KV cache) for scoring: LM logits, per-token log-probs, reward scores.
 * Weights are baked in as initializers, or left as graph inputs (one per parameter, named as in paramSpecs)
 * when the caller feeds them (e.g. the current policy's weights after each training run).
 */
import { Graph, Tensor } from '../graph/graph';
import { toOnnx } from '../graph/emit';
import { checkWeights } from './hfMapping';
import { Weights } from './params';
import { forward, pooledScores, tokenLogprobs, TransformerModel } from './transformer';

/** Adds every parameter of `model` to `g` as an initializer holding `weights`. */
export function weightInitializers(g: Graph, model: TransformerModel, weights: Weights): Map<string, Tensor> {
  const adapters = model.params.filter((p) => p.name.endsWith('.lora_A') || p.name.endsWith('.lora_B'));
  if (adapters.length === 0) checkWeights(model.config, model.head, weights, 'weightInitializers');
  const m = new Map<string, Tensor>();
  for (const p of model.params) {
    const w = weights.get(p.name);
    if (!w) throw new Error(`weightInitializers: no values for parameter "${p.name}"`);
    m.set(p.name, g.initializer(p.name, w.data, p.shape, 'float32'));
  }
  return m;
}

/** Adds every parameter of `model` to `g` as a graph input. */
export function weightInputs(g: Graph, model: TransformerModel): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const p of model.params) m.set(p.name, g.input(p.name, p.shape, 'float32'));
  return m;
}

export interface ScoringGraphOptions {
  /** Batch size and sequence length (static). */
  batch: number;
  seq: number;
  /** Bake weights in (default) or take them as inputs. */
  weights?: Weights;
}

/**
 * A forward model: inputs `input_ids` [B, T] int64 and `attention_mask` [B, T] int64; outputs by head:
 *   lm       -> `logits` [B, T, V], `logprobs` [B, T-1] (log p of each next token; 0-masking is the caller's)
 *   score    -> `scores` [B, T, L], `rewards` [B, L] (at the last real token)
 *   lm+value -> `logits`, `logprobs`, `values` [B, T]
 */
export function buildScoringOnnx(model: TransformerModel, opts: ScoringGraphOptions): Uint8Array {
  const g = new Graph();
  const params = opts.weights ? weightInitializers(g, model, opts.weights) : weightInputs(g, model);
  const ids = g.input('input_ids', [opts.batch, opts.seq], 'int64');
  const mask = g.input('attention_mask', [opts.batch, opts.seq], 'int64');
  const out = forward(model, params, { ids, mask });
  if (out.logits) {
    g.output('logits', out.logits);
    if (opts.seq >= 2) g.output('logprobs', tokenLogprobs(out.logits, ids));
  }
  if (out.scores) {
    g.output('scores', out.scores);
    g.output('rewards', pooledScores(out.scores, mask));
  }
  if (out.values) g.output('values', out.values);
  return toOnnx(g);
}
