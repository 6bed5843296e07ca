/**
 * Generation benchmark: greedy decoding tokens/s with a KV cache on the built-in tiny model (Llama architecture,
 * about 3.5M parameters), at batch 1 and batch 16, through the engine's Generator (onnxruntime CPU in a runtime
 * worker) against PyTorch CPU (bench/generate_torch.py, Debian's python3-torch) on the same checkpoint, prompts,
 * new-token count and threads.
 *
 *   node --import tsx bench/generate.ts            (npm run bench -- generate)
 *
 * Environment knobs [defaults]: BENCH_THREADS [all cores], BENCH_NEW_TOKENS [64], BENCH_RUNS [3] (best of).
 * Writes bench-results/generate.json: ours/pytorch tokens per second per batch size, ratio_b1 and ratio_b16
 * (ours / pytorch; > 1 means faster), the same per CPU-second (ratio_cpu_*), and whether both produced the same greedy tokens for the first prompt.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureBuiltinModel } from '../src/engine/models/builtin';
import { loadHfModel } from '../src/engine/models/hfMapping';
import { buildModel } from '../src/engine/models/transformer';
import { Generator } from '../src/engine/generate/generator';
import { TextTokenizer } from '../src/engine/tokenizer/tokenizer';
import { generateDemoDialogues } from '../src/engine/tokenizer/demoCorpus';

const repoRoot = path.resolve(__dirname, '..');
const env = (name: string, dflt: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
};
const THREADS = env('BENCH_THREADS', typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
const NEW_TOKENS = env('BENCH_NEW_TOKENS', 64);
const RUNS = env('BENCH_RUNS', 3);
const PYTHON = '/usr/bin/python3'; // Debian's interpreter, where python3-torch lives
const BATCHES = [1, 16];

function log(msg: string): void {
  process.stderr.write(`[bench generate] ${msg}\n`);
}

function blasInUse(): string {
  const r = spawnSync('update-alternatives', ['--query', 'libblas.so.3-x86_64-linux-gnu'], { encoding: 'utf8' });
  const m = /^Value: (.*)$/m.exec(r.stdout ?? '');
  return m ? m[1] : 'unknown';
}

async function main(): Promise<void> {
  const outDir = path.join(repoRoot, 'bench-results');
  fs.mkdirSync(outDir, { recursive: true });
  const modelDir = ensureBuiltinModel(path.join(outDir, '.cache'));
  const loaded = loadHfModel(modelDir, 'lm');
  const tok = TextTokenizer.fromFolder(modelDir);
  const model = buildModel(loaded.config, 'lm');
  // Chat prompts from the demo corpus (different lengths, so batch 16 is left-padded).
  const prompts = generateDemoDialogues(16, 99).map((d) => tok.encodeChat([d.messages[0]], { addGenerationPrompt: true }));
  const pad = loaded.config.padTokenId ?? 0;
  const batches: Record<string, number[][]> = {};
  for (const b of BATCHES) batches[String(b)] = prompts.slice(0, b);

  // --- PyTorch baseline
  const check = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (check.status !== 0) {
    throw new Error(`PyTorch is not importable by ${PYTHON}: install it with 'apt-get install -y python3-torch libopenblas0-openmp' (the baseline must run in the same benchmark)`);
  }
  const specFile = path.join(outDir, '.generate-prompts.json');
  fs.writeFileSync(specFile, JSON.stringify({ batches, new_tokens: NEW_TOKENS, pad, runs: RUNS }));
  log(`PyTorch baseline (${THREADS} threads, BLAS ${blasInUse()})...`);
  const py = spawnSync(PYTHON, [path.join(__dirname, 'generate_torch.py'), '--model', modelDir, '--prompts', specFile, '--threads', String(THREADS)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(THREADS) },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (py.status !== 0) throw new Error(`generate_torch.py failed:\n${py.stderr}`);
  const torchRes = JSON.parse(py.stdout.trim().split('\n').pop()!) as {
    threads: number;
    torch: string;
    batches: Record<string, { seconds: number; tokens_per_s: number; cpu_seconds: number; tokens_per_cpu_s: number; first_row: number[] }>;
  };

  // --- ours
  log(`engine (${THREADS} threads)...`);
  const gen = await Generator.create(model, loaded.weights, { threads: THREADS, device: 'cpu' });
  const ours: Record<string, { seconds: number; tokens_per_s: number; cpu_seconds: number; tokens_per_cpu_s: number; first_row: number[] }> = {};
  try {
    for (const b of BATCHES) {
      const ps = batches[String(b)];
      await gen.generate(ps, { maxNewTokens: 4, greedy: true, stopTokens: [] }); // warm-up
      let best = Infinity;
      let bestCpu = Infinity;
      let first: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const t0 = process.hrtime.bigint();
        const c0 = process.cpuUsage(); // user + system CPU of all threads of this process (incl. the runtime worker)
        const res = await gen.generate(ps, { maxNewTokens: NEW_TOKENS, greedy: true, stopTokens: [], padTokenId: pad });
        const dt = Number(process.hrtime.bigint() - t0) / 1e9;
        const c = process.cpuUsage(c0);
        best = Math.min(best, dt);
        bestCpu = Math.min(bestCpu, (c.user + c.system) / 1e6);
        first = res[0].tokens;
      }
      const n = b * NEW_TOKENS;
      ours[String(b)] = { seconds: best, tokens_per_s: n / best, cpu_seconds: bestCpu, tokens_per_cpu_s: n / bestCpu, first_row: first };
    }
  } finally {
    await gen.dispose();
  }

  const result = {
    model: `${modelDir} (${loaded.config.numLayers} layers, d ${loaded.config.hiddenSize}, vocab ${loaded.config.vocabSize})`,
    threads: THREADS,
    new_tokens: NEW_TOKENS,
    runs: RUNS,
    blas: blasInUse(),
    torch: torchRes.torch,
    ours_tokens_per_s_b1: ours['1'].tokens_per_s,
    ours_tokens_per_s_b16: ours['16'].tokens_per_s,
    pytorch_tokens_per_s_b1: torchRes.batches['1'].tokens_per_s,
    pytorch_tokens_per_s_b16: torchRes.batches['16'].tokens_per_s,
    ratio_b1: ours['1'].tokens_per_s / torchRes.batches['1'].tokens_per_s,
    ratio_b16: ours['16'].tokens_per_s / torchRes.batches['16'].tokens_per_s,
    // Tokens per CPU-second: less sensitive to other load on a shared machine than wall time.
    ratio_cpu_b1: ours['1'].tokens_per_cpu_s / torchRes.batches['1'].tokens_per_cpu_s,
    ratio_cpu_b16: ours['16'].tokens_per_cpu_s / torchRes.batches['16'].tokens_per_cpu_s,
    load_average_1min: os.loadavg()[0],
    same_greedy_tokens_b1: JSON.stringify(ours['1'].first_row) === JSON.stringify(torchRes.batches['1'].first_row),
    same_greedy_tokens_b16: JSON.stringify(ours['16'].first_row) === JSON.stringify(torchRes.batches['16'].first_row),
  };
  fs.writeFileSync(path.join(outDir, 'generate.json'), JSON.stringify(result, null, 2) + '\n');
  fs.rmSync(specFile, { force: true });
  console.log(
    `generate: batch 1 ours ${result.ours_tokens_per_s_b1.toFixed(0)} tok/s vs PyTorch ${result.pytorch_tokens_per_s_b1.toFixed(0)} tok/s (ratio ${result.ratio_b1.toFixed(2)}); ` +
      `batch 16 ours ${result.ours_tokens_per_s_b16.toFixed(0)} tok/s vs PyTorch ${result.pytorch_tokens_per_s_b16.toFixed(0)} tok/s (ratio ${result.ratio_b16.toFixed(2)}); ` +
      `same greedy tokens: b1 ${result.same_greedy_tokens_b1}, b16 ${result.same_greedy_tokens_b16}`,
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
