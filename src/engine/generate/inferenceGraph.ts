/**
 * The inference ONNX model with a KV cache: what generation runs, and what `exportInferenceOnnx` writes for
 * plain onnxruntime users. Inputs and outputs follow Hugging Face Optimum's decoder naming:
 *
 *   input_ids                   int64   [batch, sequence_length]                       new tokens
 *   attention_mask              int64   [batch, past_sequence_length+sequence_length]  1 = token, 0 = padding,
 *                                                                                      over cached + new tokens
 *   past_key_values.<i>.key     float32 [batch, K, past_sequence_length, E]            per layer i; length 0 at
 *   past_key_values.<i>.value   float32 [batch, K, past_sequence_length, E]            the first call
 *   ->
 *   logits                      float32 [batch, sequence_length, V]   (or [batch, V] for the last token only)
 *   present.<i>.key / .value    float32 [batch, K, past_sequence_length+sequence_length, E]  feed back as past
 *
 * Position ids are cumsum(attention_mask) - 1 inside the graph, so left-padded batches need no extra input.
 */
import * as path from 'node:path';
import { Graph, Tensor } from '../graph/graph';
import { toOnnx } from '../graph/emit';
import * as op from '../graph/ops';
import { writeFileAtomic } from '../io/safetensors';
import { weightInitializers } from '../models/forwardGraph';
import { Weights } from '../models/params';
import { forward, KvPair, lmHead, ParamLookup, TransformerModel } from '../models/transformer';

export const BATCH_DIM = 'batch';
export const SEQ_DIM = 'sequence_length';
export const PAST_DIM = 'past_sequence_length';
/** The attention mask's length dim: the name the cache concat gives, so shapes line up in the graph. */
export const TOTAL_DIM = `${PAST_DIM}+${SEQ_DIM}`;

export interface InferenceGraphOptions {
  /** 'all': logits [batch, seq, V] (Optimum's layout); 'last': [batch, V] for the last position only (cheaper). */
  logits?: 'all' | 'last';
}

/** Builds the KV-cache inference model with the weights baked in. */
export function buildInferenceOnnx(model: TransformerModel, weights: Weights, opts: InferenceGraphOptions = {}): Uint8Array {
  if (model.head === 'score') throw new Error('buildInferenceOnnx: a reward model (head "score") does not generate; use buildScoringOnnx');
  const cfg = model.config;
  const g = new Graph();
  const params = weightInitializers(g, model, weights);
  const ids = g.input('input_ids', [BATCH_DIM, SEQ_DIM], 'int64');
  const mask = g.input('attention_mask', [BATCH_DIM, TOTAL_DIM], 'int64');
  const past: KvPair[] = [];
  for (let i = 0; i < cfg.numLayers; i++) {
    past.push({
      key: g.input(`past_key_values.${i}.key`, [BATCH_DIM, cfg.numKvHeads, PAST_DIM, cfg.headDim], 'float32'),
      value: g.input(`past_key_values.${i}.value`, [BATCH_DIM, cfg.numKvHeads, PAST_DIM, cfg.headDim], 'float32'),
    });
  }
  const out = forward(model, params, { ids, mask, past });
  const logits = (opts.logits ?? 'all') === 'last' ? lastPositionLogits(model, params, out.hidden, ids) : out.logits!;
  g.output('logits', logits);
  out.present.forEach((kv, i) => {
    g.output(`present.${i}.key`, kv.key);
    g.output(`present.${i}.value`, kv.value);
  });
  return toOnnx(g);
}

/** LM logits [batch, V] at the last position of hidden [batch, seq, D] (seq = ids' run-time length): the head runs on that position only. */
export function lastPositionLogits(model: TransformerModel, params: ParamLookup, hidden: Tensor, ids: Tensor): Tensor {
  const lastIdx = op.sub(op.dim(ids, 1), 1);
  return lmHead(model, params, op.gather(hidden, lastIdx, 1));
}

/** ONNX protobuf files cannot exceed 2 GiB without external data, which this exporter does not write. */
const PROTOBUF_LIMIT = 2 ** 31 - 1;

/**
 * Writes `<dir>/model.onnx` (KV-cache inference model, full logits, Optimum's I/O names) so that any
 * onnxruntime user can run the policy without this project. Returns the file path.
 */
export function exportInferenceOnnx(model: TransformerModel, weights: Weights, dir: string): string {
  let bytes = 0;
  for (const w of weights.values()) bytes += w.data.byteLength;
  if (bytes > PROTOBUF_LIMIT - 64 * 1024 * 1024) {
    throw new Error(`exportInferenceOnnx: ${(bytes / 2 ** 30).toFixed(2)} GiB of weights exceed the 2 GiB ONNX protobuf limit (external-data export is not supported); export the safetensors folder instead`);
  }
  const file = path.join(dir, 'model.onnx');
  writeFileAtomic(file, buildInferenceOnnx(model, weights, { logits: 'all' }));
  return file;
}
