/**
 * Generation benchmark: greedy decoding tokens/s with a KV cache at batch 1, 16 and 64, through the engine's
 * Generator (the whole decode in one onnxruntime call, src/engine/generate/decodeGraph.ts) against PyTorch CPU
 * (bench/generate_torch.py, Debian's python3-torch) on the same checkpoint, prompts and new-token count, for
 *   - the built-in tiny model (Llama architecture, about 3.7M parameters), and
 *   - a model with SmolLM2-135M's exact shape (30 layers, hidden 576, 9 heads, 3 KV heads, intermediate 1536,
 *     vocab 49,152; random weights written once as a Hugging Face folder and loaded by the project's loader,
 *     since speed depends on shape only and no checkpoint can be downloaded here).
 *
 *   node --import tsx bench/generate.ts            (npm run bench -- generate)
 *
 * Fair baseline: PyTorch runs in its best configuration for this machine, per batch size: the fastest of 1..N
 * threads and of the OpenBLAS core types (OpenBLAS's own detection, SkylakeX, Haswell and whatever the
 * environment forces) whose float32 GEMM is correct against float64; the core type is set only in the baseline's
 * own command. The engine likewise runs at its fastest thread count. Then BENCH_ROUNDS rounds alternate ours and
 * the baseline (the machine is shared), and the ratio is of the medians.
 *
 * Environment knobs [defaults]: BENCH_ROUNDS [3], BENCH_NEW_TOKENS [64] (built-in), BENCH_NEW_TOKENS_135M [24],
 * BENCH_MODELS [builtin,smollm2-135m-shape].
 * Writes bench-results/generate.json: ratio_b1 / ratio_b16 / ratio_b64 (ours / PyTorch, > 1 = faster) for the
 * built-in model at the top level, the same under `models` for each model, with every round, the chosen
 * configurations, the calibration figures of the others, and where the engine's time goes (op profile).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureBuiltinModel } from '../src/engine/models/builtin';
import { loadHfModel, saveHfModel } from '../src/engine/models/hfMapping';
import { parseHfConfig } from '../src/engine/models/config';
import { initWeights } from '../src/engine/models/params';
import { buildModel } from '../src/engine/models/transformer';
import { Generator } from '../src/engine/generate/generator';
import { TextTokenizer } from '../src/engine/tokenizer/tokenizer';
import { generateDemoDialogues } from '../src/engine/tokenizer/demoCorpus';
import { baselineEnv, describeBaseline, fairBaseline, FairBaseline, median, PYTHON, sweepThreads } from './fairBaseline';
import { summarizeProfile, ProfileSummary } from './ortProfile';

const repoRoot = path.resolve(__dirname, '..');
const env = (name: string, dflt: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
};
const NPROC = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
const ROUNDS = env('BENCH_ROUNDS', 3);
const BATCHES = [1, 16, 64];
/** Decode steps of the calibration runs that pick each side's configuration. */
const CALIBRATION_TOKENS = 8;
/** Calibration runs per configuration (the best counts). */
const CALIBRATION_RUNS = 2;
/** A baseline calibration run longer than this many times the first one is stopped (see calibrateTorch). */
const CALIBRATION_TIMEOUT = 3;

function log(msg: string): void {
  process.stderr.write(`[bench generate] ${msg}\n`);
}

interface ModelCase {
  readonly name: string;
  readonly dir: string;
  readonly newTokens: number;
}

/** A Hugging Face folder with SmolLM2-135M's exact config and random weights (written once, then reused). */
function smolLm2ShapeFolder(cacheDir: string): string {
  const dir = path.join(cacheDir, 'smollm2-135m-shape');
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return dir;
  const config = parseHfConfig(
    {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: 49152,
      hidden_size: 576,
      intermediate_size: 1536,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      max_position_embeddings: 8192,
      rms_norm_eps: 1e-5,
      rope_theta: 100000,
      rope_scaling: null,
      hidden_act: 'silu',
      tie_word_embeddings: true,
      attention_bias: false,
      mlp_bias: false,
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: 2,
      initializer_range: 0.041666666666666664,
    },
    'SmolLM2-135M-shaped config',
  );
  const tmp = `${dir}.tmp-${process.pid}`;
  saveHfModel(tmp, config, 'lm', initWeights(config, 'lm', 0));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return dir;
}

/** A PyTorch configuration: thread count and OpenBLAS core type (AUTO = OpenBLAS's own detection). */
interface TorchConfig {
  readonly threads: number;
  readonly coretype: string;
}

interface TorchRun {
  readonly batches: Record<string, { tokens_per_s: number; tokens_per_cpu_s: number; first_row: number[] }>;
  readonly torch: string;
}

const configName = (c: TorchConfig): string => `${c.threads}t/${c.coretype}`;

/**
 * Runs the PyTorch baseline once in configuration `c` (the core type is set in this command's environment only).
 * With `timeoutMs`, a run that takes longer is stopped and null returned.
 */
function runTorch(mc: ModelCase, specFile: string, c: TorchConfig, batches: readonly number[], newTokens: number, runs: number, timeoutMs?: number): TorchRun | null {
  const args = [path.join(__dirname, 'generate_torch.py'), '--model', mc.dir, '--prompts', specFile, '--threads', String(c.threads)];
  args.push('--batches', batches.join(','), '--new-tokens', String(newTokens), '--runs', String(runs));
  const py = spawnSync(PYTHON, args, { encoding: 'utf8', env: baselineEnv(c), maxBuffer: 64 * 1024 * 1024, ...(timeoutMs ? { timeout: Math.ceil(timeoutMs) } : {}) });
  if (timeoutMs && py.signal) return null;
  if (py.status !== 0) throw new Error(`generate_torch.py (${configName(c)}) failed:\n${py.stderr}`);
  return JSON.parse(py.stdout.trim().split('\n').pop()!) as TorchRun;
}

/** Greedy generation of `newTokens` per prompt (no stop tokens), timed: tokens/s and the first row's tokens. */
async function oursRun(gen: Generator, prompts: readonly number[][], newTokens: number, pad: number): Promise<{ tokS: number; tokCpuS: number; first: number[] }> {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage(); // user + system CPU of all threads of this process (the runtime worker included)
  const res = await gen.generate(prompts, { maxNewTokens: newTokens, greedy: true, stopTokens: [], padTokenId: pad });
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const n = prompts.length * newTokens;
  return { tokS: n / dt, tokCpuS: n / ((c.user + c.system) / 1e6), first: res[0].tokens };
}

/** The engine's tokens/s per batch at each thread count (short runs), and the fastest thread count per batch. */
async function calibrateOurs(gens: ReadonlyMap<number, Generator>, batches: Record<string, number[][]>, pad: number): Promise<{ best: Record<string, number>; figures: Record<string, Record<string, number>> }> {
  const figures: Record<string, Record<string, number>> = {};
  const best: Record<string, number> = {};
  for (const b of BATCHES) {
    figures[b] = {};
    for (const [t, gen] of gens) {
      await oursRun(gen, batches[b], 2, pad); // warm-up
      let best = 0;
      for (let r = 0; r < CALIBRATION_RUNS; r++) best = Math.max(best, (await oursRun(gen, batches[b], CALIBRATION_TOKENS, pad)).tokS);
      figures[b][`${t}t`] = best;
    }
    best[b] = [...gens.keys()].reduce((x, y) => (figures[b][`${y}t`] > figures[b][`${x}t`] ? y : x));
  }
  return { best, figures };
}

/**
 * PyTorch's tokens/s per batch at 1..N threads with the fair baseline's core type (the benchmark's own workload,
 * short runs, interleaved rounds via fairBaseline's sweepThreads), and the fastest thread count per batch.
 */
async function calibrateTorch(mc: ModelCase, specFile: string, fb: FairBaseline): Promise<{ best: Record<string, TorchConfig>; figures: Record<string, Record<string, number>>; torch: string }> {
  const runs: Record<string, Record<string, number[]>> = {};
  let torch = '';
  const counts = Array.from({ length: NPROC }, (_, i) => i + 1);
  // On a loaded machine an OpenMP run with more threads than free cores can take many times longer: a
  // configuration still running after CALIBRATION_TIMEOUT x the first (1-thread) run is stopped and counts as 0.
  let firstSeconds = 0;
  await sweepThreads(counts, CALIBRATION_RUNS, async (threads) => {
    const c = { threads, coretype: fb.chosen.coretype };
    const t0 = Date.now();
    const r = runTorch(mc, specFile, c, BATCHES, CALIBRATION_TOKENS, 1, firstSeconds ? CALIBRATION_TIMEOUT * firstSeconds * 1000 : undefined);
    const seconds = (Date.now() - t0) / 1000;
    firstSeconds ||= seconds;
    if (r) torch = r.torch;
    for (const b of BATCHES) ((runs[b] ??= {})[`${threads}t`] ??= []).push(r ? r.batches[b].tokens_per_s : 0);
    log(`  pytorch ${configName(c)}: ${r ? `${BATCHES.map((b) => `b${b} ${r.batches[b].tokens_per_s.toFixed(0)}`).join(', ')} tok/s` : `stopped after ${seconds.toFixed(0)} s (${CALIBRATION_TIMEOUT}x the first run)`}`);
    return seconds;
  });
  const figures: Record<string, Record<string, number>> = {};
  const best: Record<string, TorchConfig> = {};
  for (const b of BATCHES) {
    figures[b] = Object.fromEntries(counts.map((t) => [`${t}t`, median(runs[b][`${t}t`])]));
    const t = counts.reduce((x, y) => (figures[b][`${y}t`] > figures[b][`${x}t`] ? y : x));
    best[b] = { threads: t, coretype: fb.chosen.coretype };
  }
  return { best, figures, torch };
}

/** Where the engine's time goes: onnxruntime's kernel profile of one generation at one thread (after a warm-up). */
async function profileOurs(mc: ModelCase, batch: number[][], pad: number): Promise<ProfileSummary & { run: string }> {
  const loaded = loadHfModel(mc.dir, 'lm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'generate-prof-'));
  const gen = await Generator.create(buildModel(loaded.config, 'lm'), loaded.weights, { threads: 1, device: 'cpu', profilePrefix: path.join(dir, 'ort') });
  try {
    await oursRun(gen, batch, 2, pad);
    await oursRun(gen, batch, mc.newTokens, pad);
    await gen.endProfiling();
    const file = fs.readdirSync(dir).find((n) => n.endsWith('.json'));
    if (!file) throw new Error('onnxruntime wrote no profile');
    return { run: `one generation: batch ${batch.length}, ${mc.newTokens} new tokens, 1 thread`, ...summarizeProfile(path.join(dir, file), [], 1) };
  } finally {
    await gen.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Calibrates both sides, then alternates timed rounds of ours and the chosen baseline; ratios of the medians. */
async function benchModel(mc: ModelCase, prompts: readonly number[][], outDir: string, fb: FairBaseline): Promise<Record<string, unknown>> {
  const loaded = loadHfModel(mc.dir, 'lm');
  const pad = loaded.config.padTokenId ?? 0;
  const batches: Record<string, number[][]> = {};
  for (const b of BATCHES) batches[b] = prompts.slice(0, b);
  const specFile = path.join(outDir, `.generate-prompts-${mc.name}.json`);
  fs.writeFileSync(specFile, JSON.stringify({ batches, pad }));
  const gens = new Map<number, Generator>();
  try {
    for (let t = 1; t <= NPROC; t++) gens.set(t, await Generator.create(buildModel(loaded.config, 'lm'), loaded.weights, { threads: t, device: 'cpu' }));
    log(`${mc.name}: calibrating (${CALIBRATION_TOKENS} new tokens per run)...`);
    const ours = await calibrateOurs(gens, batches, pad);
    log(`  ours: ${BATCHES.map((b) => `b${b} ${JSON.stringify(ours.figures[b])}`).join('; ')}`);
    const torch = await calibrateTorch(mc, specFile, fb);
    const rounds: Record<string, { ours: number[]; pytorch: number[]; ours_per_cpu_s: number[]; pytorch_per_cpu_s: number[] }> = {};
    const same: Record<string, boolean> = {};
    for (const b of BATCHES) rounds[b] = { ours: [], pytorch: [], ours_per_cpu_s: [], pytorch_per_cpu_s: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const firstRows: Record<string, number[]> = {};
      for (const b of BATCHES) {
        const o = await oursRun(gens.get(ours.best[b])!, batches[b], mc.newTokens, pad);
        rounds[b].ours.push(o.tokS);
        rounds[b].ours_per_cpu_s.push(o.tokCpuS);
        firstRows[b] = o.first;
      }
      for (const c of new Set(BATCHES.map((b) => configName(torch.best[b])))) {
        const bs = BATCHES.filter((b) => configName(torch.best[b]) === c);
        const t = runTorch(mc, specFile, torch.best[bs[0]], bs, mc.newTokens, 1)!;
        for (const b of bs) {
          rounds[b].pytorch.push(t.batches[b].tokens_per_s);
          rounds[b].pytorch_per_cpu_s.push(t.batches[b].tokens_per_cpu_s);
          same[b] = JSON.stringify(t.batches[b].first_row) === JSON.stringify(firstRows[b]);
        }
      }
      log(`  round ${r + 1}/${ROUNDS}: ${BATCHES.map((b) => `b${b} ours ${rounds[b].ours[r].toFixed(0)} / pytorch ${rounds[b].pytorch[r].toFixed(0)}`).join(', ')} tok/s`);
    }
    const res: Record<string, unknown> = {
      model: `${mc.name}: ${loaded.config.numLayers} layers, d ${loaded.config.hiddenSize}, ${loaded.config.numHeads} heads, ${loaded.config.numKvHeads} kv heads, vocab ${loaded.config.vocabSize}`,
      new_tokens: mc.newTokens,
      prompt_lengths: prompts.slice(0, 64).map((p) => p.length),
    };
    for (const b of BATCHES) {
      res[`ratio_b${b}`] = median(rounds[b].ours) / median(rounds[b].pytorch);
      res[`ours_tokens_per_s_b${b}`] = median(rounds[b].ours);
      res[`pytorch_tokens_per_s_b${b}`] = median(rounds[b].pytorch);
      // Tokens per CPU-second: less sensitive to other load on a shared machine than wall time.
      res[`ratio_cpu_b${b}`] = median(rounds[b].ours_per_cpu_s) / median(rounds[b].pytorch_per_cpu_s);
    }
    Object.assign(res, {
      rounds,
      same_greedy_tokens: same,
      ours_threads: ours.best,
      pytorch_config: Object.fromEntries(BATCHES.map((b) => [b, configName(torch.best[b])])),
      torch: torch.torch,
      calibration: { ours: ours.figures, pytorch: torch.figures },
    });
    return res;
  } finally {
    for (const g of gens.values()) await g.dispose();
    fs.rmSync(specFile, { force: true });
  }
}

async function main(): Promise<void> {
  const outDir = path.join(repoRoot, 'bench-results');
  fs.mkdirSync(outDir, { recursive: true });
  // PyTorch (installed if missing), its fastest correct OpenBLAS core type, what the environment forces.
  const fb = await fairBaseline();
  const cache = path.join(outDir, '.cache');
  const builtinDir = ensureBuiltinModel(cache);
  const tok = TextTokenizer.fromFolder(builtinDir);
  // Chat prompts from the demo corpus (different lengths, so batches are left-padded); their ids are below
  // 2048, so they are valid for both models.
  const prompts = generateDemoDialogues(64, 99).map((d) => tok.encodeChat([d.messages[0]], { addGenerationPrompt: true }));
  const wanted = (process.env.BENCH_MODELS ?? 'builtin,smollm2-135m-shape').split(',');
  const cases: ModelCase[] = [];
  if (wanted.includes('builtin')) cases.push({ name: 'builtin', dir: builtinDir, newTokens: env('BENCH_NEW_TOKENS', 64) });
  if (wanted.includes('smollm2-135m-shape')) cases.push({ name: 'smollm2-135m-shape', dir: smolLm2ShapeFolder(cache), newTokens: env('BENCH_NEW_TOKENS_135M', 24) });
  const models: Record<string, Record<string, unknown>> = {};
  const write = (): void => {
    const head = models.builtin ?? Object.values(models)[0];
    const result = { ratio_b1: head.ratio_b1, ratio_b16: head.ratio_b16, ratio_b64: head.ratio_b64, rounds: ROUNDS, cpus: NPROC, baseline: fb, load_average_1min: os.loadavg()[0], models };
    fs.writeFileSync(path.join(outDir, 'generate.json'), JSON.stringify(result, null, 2) + '\n');
  };
  for (const mc of cases) {
    models[mc.name] = await benchModel(mc, prompts, outDir, fb);
    log(`${mc.name}: where the engine's time goes (profile at batch 16)...`);
    models[mc.name].ours_profile = await profileOurs(mc, prompts.slice(0, 16), loadHfModel(mc.dir, 'lm').config.padTokenId ?? 0);
    write(); // after each model, so a long run keeps what it measured
  }
  console.log(describeBaseline(fb));
  for (const [name, m] of Object.entries(models)) {
    console.log(`generate ${name}: ${BATCHES.map((b) => `b${b} ours ${(m[`ours_tokens_per_s_b${b}`] as number).toFixed(0)} vs PyTorch ${(m[`pytorch_tokens_per_s_b${b}`] as number).toFixed(0)} tok/s (${(m[`ratio_b${b}`] as number).toFixed(2)}x, ${(m.pytorch_config as Record<string, string>)[b]})`).join('; ')}`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
