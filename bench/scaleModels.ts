/**
 * Real-model shapes for bench/scale.ts: SmolLM2-135M and Qwen2.5-0.5B configs (their config.json's shape
 * fields), random weights written as a Hugging Face folder (config.json + model.safetensors in HF tensor names),
 * and one side of the benchmark, our LoRA-DPO training step, run from that folder through the project's own
 * loading (loadHfModel -> buildModel with LoRA -> createDpoPlan -> Trainer), as the extension trains.
 *
 * Each side runs in its own process (runOursChild), so its peak RSS is its own: the parent never holds weights.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeSafetensors } from '../src/engine/io/safetensors';
import { parseHfConfig } from '../src/engine/models/config';
import { loadHfModel, toHfTensors } from '../src/engine/models/hfMapping';
import { initParams, initWeights } from '../src/engine/models/params';
import { buildModel } from '../src/engine/models/transformer';
import { Rng } from '../src/engine/rng';
import type { HostTensor } from '../src/engine/runtime/tensor';
import { Trainer } from '../src/engine/step/trainer';
import { createDpoPlan, dpoConfig } from '../src/training/dpo';
import type { EncodedPair } from '../src/training/encode';
import { summarizeProfile, type ProfileSummary } from './ortProfile';

export interface ScaleModel {
  readonly name: string;
  /**
   * Gradient checkpointing (TransformerModel.gradientCheckpointing) in our step. On for both shapes: at 4 pairs
   * x 512 tokens the kept activations of all blocks do not fit (135M without it peaked at 15.0 GB RSS; the
   * attention probabilities alone are layers x 8 rows x heads x 512 x 512 floats: 2.3 GB for 135M, 2.8 GB for
   * 0.5B).
   */
  readonly checkpoint: boolean;
  /** config.json as the published model has it (the fields that set its shape and math). */
  readonly config: Record<string, unknown>;
}

export const SCALE_MODELS: readonly ScaleModel[] = [
  {
    name: 'SmolLM2-135M',
    checkpoint: true,
    config: {
      architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', hidden_size: 576, intermediate_size: 1536,
      num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, vocab_size: 49152, max_position_embeddings: 8192,
      rms_norm_eps: 1e-5, rope_theta: 100000, rope_scaling: null, attention_bias: false, mlp_bias: false, tie_word_embeddings: true,
      bos_token_id: 0, eos_token_id: 0, torch_dtype: 'float32',
    },
  },
  {
    name: 'Qwen2.5-0.5B',
    checkpoint: true,
    config: {
      architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_act: 'silu', hidden_size: 896, intermediate_size: 4864,
      num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, vocab_size: 151936, max_position_embeddings: 32768,
      rms_norm_eps: 1e-6, rope_theta: 1000000, use_sliding_window: false, sliding_window: 32768, max_window_layers: 24, tie_word_embeddings: true,
      bos_token_id: 151643, eos_token_id: 151643, torch_dtype: 'float32',
    },
  },
];

/**
 * Small models of the same two architectures (llama; qwen2 with q/k/v bias) for checking the benchmark end to
 * end in seconds (BENCH_MODELS=smoke-llama,smoke-qwen2); not part of the default run.
 */
export const SMOKE_MODELS: readonly ScaleModel[] = SCALE_MODELS.map((m) => ({
  name: `smoke-${m.config['model_type'] as string}`,
  checkpoint: m.checkpoint,
  config: { ...m.config, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 512 },
}));

/** The LoRA both sides train: PEFT's usual DPO setup on every linear of the blocks. */
export const SCALE_LORA = { r: 16, alpha: 32, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] } as const;
/** B pairs of T tokens: a prompt of PROMPT tokens, then chosen / rejected completions filling the row. */
export const SCALE_BATCH = { pairs: 4, seq: 512, prompt: 128 } as const;
export const SCALE_OPTIM = { lr: 5e-6, beta: 0.1, maxGradNorm: 1, weightDecay: 0 } as const;

/** Writes `dir` (config.json + model.safetensors, HF names, float32) with seeded random weights, once. */
export function writeScaleModel(dir: string, m: ScaleModel): void {
  if (fs.existsSync(path.join(dir, 'model.safetensors')) && fs.existsSync(path.join(dir, 'config.json'))) return;
  const cfg = parseHfConfig(m.config, `${m.name} config`);
  const weights = initWeights(cfg, 'lm', 0);
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, 'model.safetensors'), toHfTensors(cfg, 'lm', weights), { format: 'pt' });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(m.config, null, 2) + '\n');
}

/** The benchmark's pairs: random tokens (speed depends on shape only), every row exactly T real tokens. */
export function scalePairs(vocab: number, seed = 1): EncodedPair[] {
  const rng = new Rng(seed);
  const toks = (n: number): number[] => Array.from({ length: n }, () => rng.int(vocab));
  const c = SCALE_BATCH.seq - SCALE_BATCH.prompt;
  return Array.from({ length: SCALE_BATCH.pairs }, (_, i) => ({ id: `p${i}`, prompt: toks(SCALE_BATCH.prompt), chosen: toks(c), rejected: toks(c) }));
}

export interface SideResult {
  /** Seconds of each step, the first one the warm-up. */
  readonly step_s: number[];
  /** CPU seconds of the whole process in each step (every thread; at 1 thread less sensitive to the machine's load). */
  readonly step_cpu_s: number[];
  readonly losses: number[];
  readonly peak_rss_gb: number;
  /** Phases outside the steps (load, compile) and where a step's time goes. */
  readonly phases_s: Record<string, number>;
  readonly breakdown: unknown;
}

/** Our side, in this process: load the folder, build the LoRA-DPO plan and trainer, run `steps` steps. */
export async function runOurs(dir: string, steps: number, threads: number, profile: boolean, checkpoint: boolean): Promise<SideResult> {
  const t0 = performance.now();
  const profileDir = profile ? fs.mkdtempSync(path.join(os.tmpdir(), 'scale-prof-')) : undefined;
  const loaded = loadHfModel(dir, 'lm');
  const model = { ...buildModel(loaded.config, 'lm', { maxLength: SCALE_BATCH.seq, lora: { rank: SCALE_LORA.r, alpha: SCALE_LORA.alpha, targetModules: SCALE_LORA.targets } }), gradientCheckpointing: checkpoint };
  const weights = new Map<string, Float32Array>();
  for (const [k, v] of loaded.weights) weights.set(k, v.data);
  for (const [k, v] of initParams(model.params.filter((p) => !weights.has(p.name)), 0)) weights.set(k, v.data);
  const tLoad = performance.now();
  const plan = createDpoPlan(
    { model, weights, batchSize: SCALE_BATCH.pairs, seqLen: SCALE_BATCH.seq, padId: 0, data: { train: scalePairs(loaded.config.vocabSize), eval: [] } },
    { ...dpoConfig({ beta: SCALE_OPTIM.beta }), precomputeRefLogProbs: false },
  );
  const tr = await Trainer.create(
    {
      forward: plan.forward,
      params: plan.params,
      batch: plan.batch,
      optim: { optimizer: { kind: 'adamw', lr: SCALE_OPTIM.lr, weightDecay: SCALE_OPTIM.weightDecay }, schedule: { kind: 'constant', warmupSteps: 0 }, maxGradNorm: SCALE_OPTIM.maxGradNorm },
      stepsPerRun: 1,
    },
    { initialParams: plan.initialParams, device: 'cpu', threads, ...(profileDir ? { profilePrefix: path.join(profileDir, 'ort') } : {}) },
  );
  weights.clear(); // the runtime holds its own copy from here
  const tCompile = performance.now();
  const step_s: number[] = [];
  const step_cpu_s: number[] = [];
  const losses: number[] = [];
  let breakdown: ProfileSummary | null = null;
  try {
    const c = plan.collate('train', [0, 1, 2, 3]);
    const batch: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(c.fields)) batch[k] = { ...v, shape: [1, 1, ...v.shape] } as HostTensor;
    for (let s = 0; s < steps; s++) {
      const w0 = performance.now();
      const c0 = process.cpuUsage();
      const r = await tr.step(batch);
      step_s.push((performance.now() - w0) / 1000);
      const c = process.cpuUsage(c0);
      step_cpu_s.push((c.user + c.system) / 1e6);
      losses.push(...r.losses);
    }
    if (profileDir) {
      await tr.endProfiling();
      const f = fs.readdirSync(profileDir).find((n) => n.endsWith('.json'));
      if (f) breakdown = summarizeProfile(path.join(profileDir, f), tr.compiled.groups.map((g) => g.size), threads);
    }
  } finally {
    await tr.dispose();
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  }
  return {
    step_s,
    step_cpu_s,
    losses,
    peak_rss_gb: (process.resourceUsage().maxRSS * 1024) / 1e9,
    phases_s: { load: (tLoad - t0) / 1000, compile_and_session: (tCompile - tLoad) / 1000 },
    breakdown: breakdown ? { profiled: 'the last step, onnxruntime kernel time', by_kind_pct: breakdown.by_kind_pct, top_ops: breakdown.top_ops } : null,
  };
}

/**
 * Calls an export of this module in a child node process (so that its memory, and its peak RSS, are its own)
 * and resolves with the JSON of its result.
 */
export function inChild<T>(fn: 'runOurs' | 'writeScaleModel', args: readonly unknown[]): Promise<T> {
  const code = `import(${JSON.stringify(path.join(__dirname, 'scaleModels.ts'))}).then(async (m) => { ` +
    `const mod = m.${fn} ? m : m.default; const r = await mod.${fn}(...${JSON.stringify(args)}); process.stdout.write(JSON.stringify(r ?? null) + "\\n"); })` +
    `.catch((e) => { console.error(e && e.stack || e); process.exit(1); });`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (rc) => {
      if (rc !== 0) return reject(new Error(`${fn} (child process) exited ${rc}`));
      resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as T);
    });
  });
}
