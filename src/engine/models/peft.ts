/**
 * LoRA adapters in Hugging Face PEFT's folder format (adapter_config.json + adapter_model.safetensors), so an
 * adapter trained here loads with `PeftModel.from_pretrained(base, dir)` and a PEFT adapter trained elsewhere
 * loads here.
 *
 * PEFT names: base_model.model.<HF module path>.lora_A.weight [r, in] and .lora_B.weight [r -> out: out, r];
 * ours: <module>.lora_A [in, r], <module>.lora_B [r, out] (so both transpose). The scale is alpha / r
 * (alpha / sqrt(r) with use_rslora). Llama-family models only: GPT-2 fuses q, k, v into one c_attn module,
 * which one PEFT LoRA of rank r cannot express for three separate adapters (save the merged model instead).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSafetensors, SafeTensor, writeFileAtomic, writeSafetensors } from '../io/safetensors';
import { ParamTensor, Weights } from './params';
import { buildModel, LoraConfig, LoraModule, mergeLora, TransformerModel } from './transformer';
import { loadHfModel, saveHfModel } from './hfMapping';
import { UserError } from '../../util/errors';
import { ModelConfig } from './config';

const HF_MODULE: Record<string, string> = {
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj',
};
const OUR_PATH: Record<string, string> = { q: 'attn.q', k: 'attn.k', v: 'attn.v', o: 'attn.o', gate: 'mlp.gate', up: 'mlp.up', down: 'mlp.down' };

function transpose(t: ParamTensor): Float32Array {
  const [r, c] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j];
  return out;
}

function requireLlama(cfg: ModelConfig, where: string): void {
  if (cfg.family !== 'llama') {
    throw new Error(`${where}: PEFT adapter files are supported for Llama-family models (llama, qwen2); for ${cfg.modelType}, merge the adapter (mergeLora) and save the full model`);
  }
}

/**
 * Writes `dir/adapter_config.json` and `dir/adapter_model.safetensors` for the LoRA tensors in `weights`
 * (plus the trained score head as PEFT's modules_to_save, for reward models).
 */
export function savePeftAdapter(dir: string, model: TransformerModel, weights: Weights, baseModelNameOrPath = ''): void {
  const lora = model.lora;
  if (!lora) throw new Error('savePeftAdapter: the model has no LoRA adapters');
  requireLlama(model.config, 'savePeftAdapter');
  const tensors = new Map<string, SafeTensor>();
  for (let i = 0; i < model.config.numLayers; i++) {
    for (const m of lora.modules) {
      const ours = `layers.${i}.${OUR_PATH[m]}`;
      const hf = `base_model.model.model.layers.${i}.${HF_MODULE[m]}`;
      for (const ab of ['lora_A', 'lora_B'] as const) {
        const t = weights.get(`${ours}.${ab}`);
        if (!t) throw new Error(`savePeftAdapter: missing ${ours}.${ab}`);
        tensors.set(`${hf}.${ab}.weight`, { dtype: 'F32', shape: [t.shape[1], t.shape[0]], data: transpose(t) });
      }
    }
  }
  const modulesToSave: string[] = [];
  if (model.head === 'score' && model.params.some((p) => p.name === 'score.weight' && p.trainable)) {
    const s = weights.get('score.weight');
    if (!s) throw new Error('savePeftAdapter: missing score.weight');
    tensors.set('base_model.model.score.modules_to_save.weight', { dtype: 'F32', shape: [s.shape[1], s.shape[0]], data: transpose(s) });
    modulesToSave.push('score');
  }
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
  const cfg = {
    peft_type: 'LORA',
    task_type: model.head === 'score' ? 'SEQ_CLS' : 'CAUSAL_LM',
    base_model_name_or_path: baseModelNameOrPath,
    r: lora.rank,
    lora_alpha: lora.alpha,
    lora_dropout: 0.0,
    target_modules: lora.modules.map((m) => HF_MODULE[m].split('.')[1]),
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    use_rslora: false,
    modules_to_save: modulesToSave.length ? modulesToSave : null,
  };
  writeFileAtomic(path.join(dir, 'adapter_config.json'), JSON.stringify(cfg, null, 2) + '\n');
}

/**
 * Loads a PEFT LoRA adapter folder for `config`: returns the model (with the adapter's rank, alpha and targets)
 * and the adapter tensors in our layout (to add to the base weights). Errors name the file and the tensor.
 */
export function loadPeftAdapter(dir: string, config: ModelConfig, head: 'lm' | 'score' = 'lm'): { model: TransformerModel; adapters: Weights } {
  requireLlama(config, 'loadPeftAdapter');
  const cfgFile = path.join(dir, 'adapter_config.json');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${cfgFile}: cannot read adapter config: ${(e as Error).message}`);
  }
  if (raw.peft_type !== 'LORA') throw new Error(`${cfgFile}: peft_type ${JSON.stringify(raw.peft_type)} is not supported (only LORA)`);
  const r = raw.r;
  const alpha = raw.lora_alpha ?? r;
  if (typeof r !== 'number' || typeof alpha !== 'number') throw new Error(`${cfgFile}: "r" and "lora_alpha" must be numbers`);
  if (raw.rank_pattern && Object.keys(raw.rank_pattern as object).length) throw new Error(`${cfgFile}: per-module rank_pattern is not supported`);
  if (raw.alpha_pattern && Object.keys(raw.alpha_pattern as object).length) throw new Error(`${cfgFile}: per-module alpha_pattern is not supported`);
  if (raw.fan_in_fan_out === true) throw new Error(`${cfgFile}: fan_in_fan_out adapters are not supported for Llama-family models`);
  const targets = raw.target_modules;
  const targetList = typeof targets === 'string' ? (targets === 'all-linear' ? ['all-linear'] : [targets]) : Array.isArray(targets) ? (targets as string[]) : null;
  if (!targetList) throw new Error(`${cfgFile}: "target_modules" must be a list of module names`);
  // With rsLoRA (Kalajdzievski 2023) the scale is alpha / sqrt(r); express it through alpha' = alpha * sqrt(r).
  const effAlpha = raw.use_rslora === true ? alpha * Math.sqrt(r) : alpha;
  const loraCfg: LoraConfig = { rank: r, alpha: effAlpha, targetModules: targetList, trainHead: head === 'score' };
  const model = buildModel(config, head, { lora: loraCfg });
  const file = path.join(dir, 'adapter_model.safetensors');
  const st = readSafetensors(file).tensors;
  const adapters: Weights = new Map();
  const problems: string[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    for (const m of model.lora!.modules as LoraModule[]) {
      const hf = `base_model.model.model.layers.${i}.${HF_MODULE[m]}`;
      for (const ab of ['lora_A', 'lora_B'] as const) {
        const name = `${hf}.${ab}.weight`;
        const t = st.get(name) ?? st.get(`${hf}.${ab}.default.weight`);
        const spec = model.params.find((p) => p.name === `layers.${i}.${OUR_PATH[m]}.${ab}`)!;
        const want = [spec.shape[1], spec.shape[0]];
        if (!t) problems.push(`missing ${name} [${want.join(', ')}]`);
        else if (t.shape.length !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1]) problems.push(`${name}: expected [${want.join(', ')}], found [${t.shape.join(', ')}]`);
        else if (!(t.data instanceof Float32Array)) problems.push(`${name}: dtype ${t.dtype} is not a float type`);
        else adapters.set(spec.name, { shape: [...spec.shape], data: transpose({ shape: t.shape, data: t.data }) });
      }
    }
  }
  if (problems.length) throw new Error(`${file}: adapter does not match the model:\n  ${problems.join('\n  ')}`);
  return { model, adapters };
}

/**
 * A PEFT LoRA adapter folder (a LoRA run's checkpoint or `<run>/adapter`) merged into its base model and saved as a
 * plain Hugging Face folder in `outDir`: W' = W + (alpha / r) A B for every adapted module, and for reward models
 * the adapter's trained score head (PEFT's modules_to_save). `baseDir` defaults to the adapter's
 * base_model_name_or_path. Tokenizer files come from the adapter folder when it has them, else from the base.
 */
export function mergePeftFolder(adapterDir: string, outDir: string, baseDir?: string): { base: string } {
  const cfgFile = path.join(adapterDir, 'adapter_config.json');
  let raw: { base_model_name_or_path?: unknown; task_type?: unknown };
  try {
    raw = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as typeof raw;
  } catch (e) {
    throw new UserError(`${cfgFile}: cannot read the adapter config (is ${adapterDir} a LoRA checkpoint?): ${(e as Error).message}`);
  }
  const base = baseDir ?? (typeof raw.base_model_name_or_path === 'string' && raw.base_model_name_or_path ? raw.base_model_name_or_path : undefined);
  if (!base || !fs.existsSync(path.join(base, 'config.json'))) {
    throw new UserError(`${cfgFile}: the base model ${base ? `"${base}" is not a model folder here` : 'is not named'}; give it with --base <model folder>`);
  }
  const head = raw.task_type === 'SEQ_CLS' ? 'score' : 'lm';
  const loaded = loadHfModel(base, head);
  const { model, adapters } = loadPeftAdapter(adapterDir, loaded.config, head);
  const weights: Weights = new Map([...loaded.weights, ...adapters]);
  if (head === 'score') {
    const s = readSafetensors(path.join(adapterDir, 'adapter_model.safetensors')).tensors.get('base_model.model.score.modules_to_save.weight');
    if (s && s.data instanceof Float32Array) weights.set('score.weight', { shape: [s.shape[1] as number, s.shape[0] as number], data: transpose({ shape: s.shape, data: s.data }) });
  }
  const hasTokenizer = fs.existsSync(path.join(adapterDir, 'tokenizer.json'));
  saveHfModel(outDir, loaded.config, head, mergeLora(model, weights), { tokenizerFrom: hasTokenizer ? adapterDir : base });
  return { base };
}
