/**
 * Fixtures for the trainer tests: a tiny Llama-style HF model folder (a byte-level BPE tokenizer trained on the
 * fixture texts, seeded weights), small learnable data sets, and a loop that trains a TrainerPlan for a few steps
 * on the engine's Trainer.
 *
 * The preference task: prompt "item N: say yes" prefers the reply "yes" over "no", "item N: say no" the reverse.
 * A model that ignores the prompt is right on half of the pairs, so held-out accuracy starts near 0.5 and must be
 * learned (from the prompt's last word) to go up.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Example, Message, PreferenceExample, SftExample, UnpairedExample } from '../../../src/core/datasets/examples';
import { parseHfConfig } from '../../../src/engine/models/config';
import { saveHfModel } from '../../../src/engine/models/hfMapping';
import { initWeights, type HeadKind } from '../../../src/engine/models/params';
import { buildModel, type TransformerModel } from '../../../src/engine/models/transformer';
import { trainByteLevelBpe, toTokenizerJson } from '../../../src/engine/tokenizer/bpeTrainer';
import { TextTokenizer } from '../../../src/engine/tokenizer/tokenizer';
import { ExampleOrder } from '../../../src/training/batching';
import type { TrainerPlan } from '../../../src/training/plan';
import { PlanEvaluator } from '../../../src/training/evaluate';
import { Trainer } from '../../../src/engine/step/trainer';
import type { HostTensor } from '../../../src/engine/runtime/tensor';
import type { Splits } from '../../../src/training/pairs';

export const CHATML =
  "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const TEXTS = ['item 1 2 3 4 5 6 7 8 9 10 11 12 say yes no', 'the cat sat on the mat. the dog ran.', 'user assistant hello there, how are you?'];

/** Writes a tiny Llama-style model folder (tokenizer + config + seeded weights) and returns its path. */
export function writeTinyModelFolder(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tiny-llama-'))): string {
  const bpe = trainByteLevelBpe(TEXTS.flatMap((t) => [t, t, t]), { vocabSize: 300, specialTokens: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'], minFrequency: 2 });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(toTokenizerJson(bpe)));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|im_end|>', pad_token: '<|endoftext|>', bos_token: null, chat_template: CHATML }));
  const tok = TextTokenizer.fromFolder(dir);
  const config = parseHfConfig(
    {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: Math.ceil(tok.vocabSize / 8) * 8,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      max_position_embeddings: 64,
      tie_word_embeddings: true,
      eos_token_id: tok.eosTokenId,
      pad_token_id: tok.padTokenId,
    },
    'tiny config',
  );
  saveHfModel(dir, config, 'lm', initWeights(config, 'lm', 3));
  return dir;
}

let shared: string | undefined;
/** One tiny model folder per test process. */
export function tinyModelFolder(): string {
  shared ??= writeTinyModelFolder();
  return shared;
}

export interface TinyModel {
  readonly model: TransformerModel;
  readonly weights: Map<string, Float32Array>;
  readonly tokenizer: TextTokenizer;
}

/** The tiny model with `head` (a score head is drawn fresh). */
export function tinyModel(head: HeadKind = 'lm', maxLength = 32): TinyModel {
  const dir = tinyModelFolder();
  const config = parseHfConfig(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')), 'tiny');
  const model = buildModel(config, head, { maxLength });
  const weights = new Map([...initWeights(config, head, 3)].map(([k, v]) => [k, v.data]));
  return { model, weights, tokenizer: TextTokenizer.fromFolder(dir) };
}

const src = (i: number) => ({ source: { file: 'fixture.jsonl', line: i + 1 }, id: `fixture.jsonl:${i + 1}` });
const user = (c: string): Message[] => [{ role: 'user', content: c }];
const assistant = (c: string): Message[] => [{ role: 'assistant', content: c }];

/** n yes/no preference pairs (conversational); `offset` numbers the items (use a different range for eval). */
export function yesNoPairs(n: number, offset = 0): PreferenceExample[] {
  return Array.from({ length: n }, (_, i): PreferenceExample => {
    const want = (i + offset) % 2 === 0 ? 'yes' : 'no';
    const other = want === 'yes' ? 'no' : 'yes';
    return { kind: 'preference', format: 'trl-preference', ...src(i + offset), style: 'conversational', prompt: user(`item ${1 + ((i + offset) % 12)}: say ${want}`), chosen: assistant(want), rejected: assistant(other) };
  });
}

/** The same pairs with pointwise ratings for regression: a reply "yes" is rated 8, "no" 2 (whatever the prompt). */
export function ratedPairs(n: number, offset = 0): PreferenceExample[] {
  const rate = (m: readonly Message[] | string): number => ((typeof m === 'string' ? m : m[0]?.content) === 'yes' ? 8 : 2);
  return yesNoPairs(n, offset).map((p) => ({ ...p, scores: { chosen: rate(p.chosen), rejected: rate(p.rejected) } }));
}

/** KTO examples: the right reply desirable, the wrong one undesirable. */
export function yesNoUnpaired(n: number, offset = 0): UnpairedExample[] {
  return yesNoPairs(n, offset).flatMap((p, i): UnpairedExample[] => {
    if (p.style !== 'conversational') return [];
    const good = i % 2 === 0;
    return [{ kind: 'unpaired', format: 'trl-unpaired', ...src(i + offset), style: 'conversational', prompt: p.prompt, completion: good ? p.chosen : p.rejected, label: good }];
  });
}

/** SFT examples: the right reply to each prompt. */
export function yesNoSft(n: number, offset = 0): SftExample[] {
  return yesNoPairs(n, offset).map((p): SftExample => (p.style === 'conversational' ? { kind: 'sft', format: 'trl-prompt-completion', id: p.id, source: p.source, style: 'conversational', prompt: p.prompt, completion: p.chosen } : (undefined as never)));
}

export function splits<E extends Example>(train: E[], evalSet: E[]): Splits<Example> {
  return { train, eval: evalSet };
}

export interface TrainResult {
  readonly losses: number[];
  readonly metrics: Record<string, number[]>;
  readonly before: Map<string, Float32Array>;
  readonly after: Map<string, Float32Array>;
  readonly evalBefore: Record<string, number>;
  readonly evalAfter: Record<string, number>;
}

/** Trains `plan` for `steps` optimizer steps (AdamW) and evaluates it before and after. */
export async function trainPlan(plan: TrainerPlan, steps: number, lr: number, opts: { weightDecay?: number; evaluate?: boolean } = {}): Promise<TrainResult> {
  const trainer = await Trainer.create(
    { forward: plan.forward, params: plan.params, batch: plan.batch, optim: { optimizer: { kind: 'adamw', lr, weightDecay: opts.weightDecay ?? 0 }, maxGradNorm: 1 }, stepsPerRun: 1 },
    { initialParams: plan.initialParams, device: 'cpu', threads: 1 },
  );
  const evaluator = opts.evaluate && plan.evalSize > 0 ? await PlanEvaluator.create(plan, { device: 'cpu', threads: 1 }) : undefined;
  try {
    const snapshot = async (): Promise<Map<string, Float32Array>> => new Map([...(await trainer.getParams())].map(([k, v]) => [k, new Float32Array(v.data)]));
    const ev = async (): Promise<Record<string, number>> => {
      if (!evaluator) return {};
      await evaluator.setWeights(await trainer.getParams());
      return evaluator.evaluate();
    };
    const before = await snapshot();
    const evalBefore = await ev();
    const order = new ExampleOrder(plan.trainSize, 1);
    const losses: number[] = [];
    const metrics: Record<string, number[]> = {};
    for (let s = 0; s < steps; s++) {
      const c = plan.collate('train', order.slice(s * plan.batchSize, plan.batchSize));
      const feeds: Record<string, HostTensor> = {};
      for (const [k, v] of Object.entries(c.fields)) feeds[k] = { ...v, shape: [1, 1, ...v.shape] };
      const r = await trainer.run(feeds);
      losses.push(r.losses[0] as number);
      for (const [m, vs] of Object.entries(r.metrics)) (metrics[m] ??= []).push(vs[0] as number);
    }
    return { losses, metrics, before, after: await snapshot(), evalBefore, evalAfter: await ev() };
  } finally {
    await evaluator?.dispose();
    await trainer.dispose();
  }
}

/** Largest absolute change of any trainable parameter. */
export function maxChange(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let m = 0;
  for (const [k, x] of a) {
    const y = b.get(k) as Float32Array;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs((x[i] as number) - (y[i] as number)));
  }
  return m;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}
