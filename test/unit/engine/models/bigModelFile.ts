/**
 * Test helper: a Hugging Face Llama folder whose single model.safetensors has about `targetBytes` of float32
 * weights, written without ever holding them in memory: the header by hand, the file extended to its full size
 * (a sparse file: the unwritten bytes read as zeros), and random values written into a few windows of each tensor.
 * The windows are what a test checks after loading. Layout: 1 layer, hidden 2048, 16 heads, 4 kv heads, tied
 * embeddings, with the vocabulary sized so that the embedding makes up the rest of `targetBytes`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../../../../src/engine/rng';

/** Values written at element `start` of HF tensor `tensor` (HF layout). */
export interface SampleWindow {
  tensor: string;
  start: number;
  values: number[];
}

export interface BigModelFile {
  dir: string;
  file: string;
  fileBytes: number;
  vocabSize: number;
  hiddenSize: number;
  samples: SampleWindow[];
}

const D = 2048;
const HEADS = 16;
const KV_HEADS = 4;
const HEAD_DIM = D / HEADS;
const FFN = 256;
const WINDOW = 256;

/** HF tensor names and shapes of the layout above, embedding first (so it starts at data offset 0). */
function tensorShapes(vocab: number): [string, number[]][] {
  const l = 'model.layers.0.';
  return [
    ['model.embed_tokens.weight', [vocab, D]],
    [l + 'input_layernorm.weight', [D]],
    [l + 'self_attn.q_proj.weight', [HEADS * HEAD_DIM, D]],
    [l + 'self_attn.k_proj.weight', [KV_HEADS * HEAD_DIM, D]],
    [l + 'self_attn.v_proj.weight', [KV_HEADS * HEAD_DIM, D]],
    [l + 'self_attn.o_proj.weight', [D, HEADS * HEAD_DIM]],
    [l + 'post_attention_layernorm.weight', [D]],
    [l + 'mlp.gate_proj.weight', [FFN, D]],
    [l + 'mlp.up_proj.weight', [FFN, D]],
    [l + 'mlp.down_proj.weight', [D, FFN]],
    ['model.norm.weight', [D]],
  ];
}

/** Element offsets sampled in a tensor of `n` elements: its start, end, and both sides of the 1 GiB and 2 GiB marks. */
function windowStarts(n: number): number[] {
  const marks = [0, n - WINDOW, 2 ** 28 - WINDOW / 2, 2 ** 29 - WINDOW / 2, Math.floor(n / 2)];
  return [...new Set(marks.filter((s) => s >= 0 && s + WINDOW <= n))];
}

function writeConfig(dir: string, vocab: number): void {
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: vocab,
    hidden_size: D,
    intermediate_size: FFN,
    num_hidden_layers: 1,
    num_attention_heads: HEADS,
    num_key_value_heads: KV_HEADS,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
}

/** Writes the folder (see the module comment) into `dir` and returns what was written where. */
export function writeBigModelFolder(dir: string, targetBytes: number, seed = 3): BigModelFile {
  const rest = tensorShapes(0).slice(1).reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
  const vocab = Math.max(1, Math.ceil((targetBytes / 4 - rest) / D));
  const shapes = tensorShapes(vocab);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const offsets = new Map<string, number>();
  let off = 0;
  for (const [name, shape] of shapes) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'F32', shape, data_offsets: [off, off + bytes] };
    offsets.set(name, off);
    off += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  json = Buffer.concat([json, Buffer.alloc((8 - (json.byteLength % 8)) % 8, 0x20)]);
  const dataStart = 8 + json.byteLength;
  const file = path.join(dir, 'model.safetensors');
  const fd = fs.openSync(file, 'w');
  const samples: SampleWindow[] = [];
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.byteLength));
    fs.writeSync(fd, len, 0, 8, 0);
    fs.writeSync(fd, json, 0, json.byteLength, 8);
    fs.ftruncateSync(fd, dataStart + off);
    const rng = new Rng(seed);
    for (const [name, shape] of shapes) {
      for (const start of windowStarts(shape.reduce((a, b) => a * b, 1))) {
        const values = rng.fillNormal(new Float32Array(WINDOW), 0, 1);
        fs.writeSync(fd, values, 0, values.byteLength, dataStart + offsets.get(name)! + 4 * start);
        samples.push({ tensor: name, start, values: Array.from(values) });
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  writeConfig(dir, vocab);
  return { dir, file, fileBytes: dataStart + off, vocabSize: vocab, hiddenSize: D, samples };
}

/** Our parameter name and element index for element `i` of HF tensor `tensor` [out, in] (Linear weights transpose). */
export function oursAt(tensor: string, shape: readonly number[], i: number): { name: string; index: number } {
  const names: Record<string, string> = {
    'model.embed_tokens.weight': 'embed.weight',
    'model.norm.weight': 'norm_f.weight',
    'model.layers.0.input_layernorm.weight': 'layers.0.norm1.weight',
    'model.layers.0.post_attention_layernorm.weight': 'layers.0.norm2.weight',
  };
  if (names[tensor]) return { name: names[tensor], index: i };
  const m = /self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj/.exec(tensor);
  if (!m) throw new Error(`oursAt: unknown tensor ${tensor}`);
  const name = m[1] ? `layers.0.attn.${m[1]}.weight` : `layers.0.mlp.${m[2]}.weight`;
  const [out, inDim] = shape;
  const r = Math.floor(i / inDim);
  const c = i % inDim;
  if (r >= out) throw new Error('oursAt: index outside the tensor');
  return { name, index: c * out + r };
}

/** The HF shape of `tensor` in a folder of vocabulary `vocab`. */
export function hfShapeOf(tensor: string, vocab: number): number[] {
  const s = tensorShapes(vocab).find(([n]) => n === tensor);
  if (!s) throw new Error(`hfShapeOf: unknown tensor ${tensor}`);
  return s[1];
}

/** The sampled windows that `weights` (ours, as loaded) do not hold exactly, as readable lines (empty = all match). */
export function sampleMismatches(big: BigModelFile, weights: ReadonlyMap<string, { data: Float32Array }>): string[] {
  const bad: string[] = [];
  for (const s of big.samples) {
    const shape = hfShapeOf(s.tensor, big.vocabSize);
    s.values.forEach((v, k) => {
      const at = oursAt(s.tensor, shape, s.start + k);
      const got = weights.get(at.name)?.data[at.index];
      if (got !== v && bad.length < 5) bad.push(`${s.tensor}[${s.start + k}] -> ${at.name}[${at.index}]: expected ${v}, got ${got}`);
    });
  }
  return bad;
}
