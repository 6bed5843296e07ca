/**
 * Real-model scale: one LoRA-DPO training step (4 pairs x 512 tokens, LoRA r 16 / alpha 32 on q, k, v, o, gate,
 * up, down; reference = the base model in the same step; AdamW, clipping at 1) on models with the exact shapes
 * of SmolLM2-135M and Qwen2.5-0.5B (random weights written as Hugging Face folders: no checkpoints can be
 * downloaded here, and speed depends on shape only), ours (bench/scaleModels.ts, the project's own loading and
 * DPO plan) against the same LoRA-DPO step in PyTorch (bench/scale_torch.py) at its fair configuration
 * (bench/fairBaseline.ts).
 *
 *   node --import tsx bench/scale.ts            (npm run bench -- scale)
 *
 * Both sides checkpoint each block's activations (recompute in the backward) where the model's ScaleModel says
 * so: ours through TransformerModel.gradientCheckpointing, PyTorch through torch.utils.checkpoint per layer.
 * Each side runs in its own process (peak RSS is that process's own), one after the other: a 0.5B step cannot
 * hold two models in this machine's memory at once, so rounds are not interleaved; the load average is recorded.
 * Environment knobs [defaults]: BENCH_MODELS [all: SmolLM2-135M,Qwen2.5-0.5B], BENCH_STEPS [4] (the first is
 * the warm-up, the row times the fastest of the rest; 1 times that one step, for a machine too loaded for more,
 * and says so in the row), BENCH_THREADS [the baseline's chosen thread count, used by both sides], BENCH_PROFILE [1]
 * (onnxruntime profile of our steps, for the breakdown); BENCH_MODELS=smoke-llama,smoke-qwen2 checks the whole
 * benchmark on two-layer models of both architectures in seconds.
 *
 * Writes bench-results/scale.json (rows of models not run this time are kept from the file): per model `model`,
 * `ours_s_per_step`, `pytorch_s_per_step`, `ratio` (PyTorch s/step over ours: > 1 means ours is faster), the same
 * in CPU seconds per step (`cpu_ratio`, less sensitive to a shared machine's load), `peak_rss_gb`, `pytorch_peak_rss_gb`, where the time goes on
 * each side, and the baseline's configuration.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { baselineEnv, describeBaseline, fairBaseline, PYTHON, runPythonJson } from './fairBaseline';
import { inChild, SCALE_BATCH, SCALE_LORA, SCALE_MODELS, SCALE_OPTIM, scalePairs, SMOKE_MODELS, type SideResult } from './scaleModels';
import { collatePairs } from '../src/training/pairs';

const repoRoot = path.resolve(__dirname, '..');
const outDir = path.join(repoRoot, 'bench-results');
const STEPS = Math.max(1, Number(process.env['BENCH_STEPS'] || 4));
const PROFILE = process.env['BENCH_PROFILE'] !== '0';
const MODELS = (process.env['BENCH_MODELS'] || SCALE_MODELS.map((m) => m.name).join(',')).split(',');

function log(msg: string): void {
  process.stderr.write(`[bench scale] ${msg}\n`);
}

/** The pairs as PyTorch reads them: the collated [2B, T] ids and completion mask, the rows ours trains on. */
function writePairs(file: string, vocab: number): void {
  const c = collatePairs(scalePairs(vocab), SCALE_BATCH.seq, 0);
  const rows = (t: BigInt64Array): number[][] => Array.from({ length: 2 * SCALE_BATCH.pairs }, (_, i) => Array.from(t.subarray(i * SCALE_BATCH.seq, (i + 1) * SCALE_BATCH.seq), Number));
  fs.writeFileSync(file, JSON.stringify({ ids: rows(c.fields['ids']?.data as BigInt64Array), cmask: rows(c.fields['cmask']?.data as BigInt64Array) }));
}

/**
 * The fastest step after the warm-up (each side's steady state: PyTorch's steps kept getting faster over the
 * first three, 137, 91 and 47 s at the SmolLM2-135M shape, so a median would count part of its warm-up); with
 * BENCH_STEPS=1 the one step (warm-up included, flagged in the row).
 */
const timed = (r: { step_s: number[] }): number => Math.min(...(r.step_s.length > 1 ? r.step_s.slice(1) : r.step_s));
const timedCpu = (r: { step_cpu_s: number[] }): number => timed({ step_s: r.step_cpu_s });

/**
 * The rows of an earlier bench-results/scale.json for models this run does not measure (BENCH_MODELS names a
 * subset; smoke rows are not kept), so running one model at a time fills the file; each row keeps its own
 * measured_at and load average.
 */
function keptRows(measured: readonly string[]): { model: string }[] {
  const file = path.join(outDir, 'scale.json');
  if (!fs.existsSync(file)) return [];
  try {
    const prev = JSON.parse(fs.readFileSync(file, 'utf8')) as { models?: { model: string }[] };
    return (prev.models ?? []).filter((r) => !measured.includes(r.model) && SCALE_MODELS.some((m) => m.name === r.model));
  } catch {
    return [];
  }
}

/** One model's row of scale.json; `torch` is the baseline's result or why it has none. */
function scaleRow(m: { name: string; checkpoint: boolean }, ours: SideResult, torch: SideResult | { error: string }, load: { start: number; end: number }) {
  const o = timed(ours);
  const p = 'error' in torch ? null : timed(torch);
  const pCpu = 'error' in torch ? null : timedCpu(torch);
  return {
    model: m.name,
    ours_s_per_step: o,
    pytorch_s_per_step: p,
    ratio: p === null ? null : p / o,
    // CPU seconds per step (every thread of each side's process): less sensitive to other work on the machine.
    ours_cpu_s_per_step: timedCpu(ours),
    pytorch_cpu_s_per_step: pCpu,
    cpu_ratio: pCpu === null ? null : pCpu / timedCpu(ours),
    peak_rss_gb: ours.peak_rss_gb,
    pytorch_peak_rss_gb: 'error' in torch ? null : torch.peak_rss_gb,
    pytorch_error: 'error' in torch ? torch.error : null,
    first_losses: { ours: ours.losses[0], pytorch: 'error' in torch ? null : torch.losses[0] },
    gradient_checkpointing: m.checkpoint,
    timed_step_includes_warmup: STEPS === 1,
    measured_at: new Date().toISOString(),
    load_average: load,
    ours: { step_s: ours.step_s, phases_s: ours.phases_s, where_time_goes: ours.breakdown },
    pytorch: 'error' in torch ? null : { step_s: torch.step_s, where_time_goes_s: torch.phases_s },
  };
}

async function main(): Promise<void> {
  const load0 = os.loadavg()[0] ?? 0;
  const fb = await fairBaseline();
  const threads = Number(process.env['BENCH_THREADS'] || fb.chosen.threads);
  log(`${describeBaseline(fb)}; both sides at ${threads} thread(s), ${STEPS} steps each (first is warm-up)`);
  const rows = [];
  for (const name of MODELS) {
    const m = [...SCALE_MODELS, ...SMOKE_MODELS].find((x) => x.name === name);
    if (!m) throw new Error(`BENCH_MODELS: unknown model ${name} (one of ${[...SCALE_MODELS, ...SMOKE_MODELS].map((x) => x.name).join(', ')})`);
    const dir = path.join(outDir, '.cache', `scale-${m.name}`);
    const loadStart = os.loadavg()[0] ?? 0;
    log(`${m.name}: writing random weights to ${dir} (once)...`);
    await inChild('writeScaleModel', [dir, m]);
    const pairsFile = path.join(dir, 'pairs.json');
    writePairs(pairsFile, m.config['vocab_size'] as number);
    log(`${m.name}: ours, ${STEPS} LoRA-DPO steps...`);
    const ours = await inChild<SideResult>('runOurs', [dir, STEPS, threads, PROFILE, m.checkpoint]);
    log(`  ours: steps ${ours.step_s.map((s) => s.toFixed(1)).join(', ')} s, peak RSS ${ours.peak_rss_gb.toFixed(2)} GB`);
    log(`${m.name}: PyTorch, ${STEPS} LoRA-DPO steps...`);
    const args = [path.join(__dirname, 'scale_torch.py'), `--model=${dir}`, `--pairs=${pairsFile}`, `--threads=${threads}`, `--steps=${STEPS}`,
      `--rank=${SCALE_LORA.r}`, `--alpha=${SCALE_LORA.alpha}`, `--targets=${SCALE_LORA.targets.join(',')}`, `--lr=${SCALE_OPTIM.lr}`, `--beta=${SCALE_OPTIM.beta}`, `--checkpoint=${m.checkpoint ? 1 : 0}`];
    // A baseline that fails (at 0.5B PyTorch's full logits can exceed this machine's memory) is a result too: the
    // row records why, with no ratio, and the other models still run.
    const torch = await runPythonJson<SideResult>(args, baselineEnv({ coretype: fb.chosen.coretype, threads })).catch((e: unknown) => ({ error: (e as Error).message }));
    log('error' in torch ? `  pytorch failed: ${torch.error.split('\n')[0]}` : `  pytorch: steps ${torch.step_s.map((s) => s.toFixed(1)).join(', ')} s, peak RSS ${torch.peak_rss_gb.toFixed(2)} GB`);
    rows.push(scaleRow(m, ours, torch, { start: loadStart, end: os.loadavg()[0] ?? 0 }));
    // Written after each model, so a long run that is stopped keeps the models it finished.
    const result = {
      models: [...keptRows(rows.map((r) => r.model)), ...rows],
      setup: { batch: SCALE_BATCH, lora: SCALE_LORA, optimizer: SCALE_OPTIM, steps: STEPS, threads, python: PYTHON },
      baseline: fb,
      load_average: { start: load0, end: os.loadavg()[0] ?? 0, cores: os.cpus().length },
    };
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'scale.json'), JSON.stringify(result, null, 2) + '\n');
  }
  for (const r of rows) {
    const vs = r.pytorch_s_per_step === null || r.ratio === null ? `pytorch failed (${r.pytorch_error?.split('\n')[0]})` : `pytorch ${r.pytorch_s_per_step.toFixed(1)} s, ratio ${r.ratio.toFixed(2)}x (target >= 1.0)`;
    console.log(`scale ${r.model} LoRA-DPO step (${SCALE_BATCH.pairs} pairs x ${SCALE_BATCH.seq} tokens, ${threads} thread(s)): ours ${r.ours_s_per_step.toFixed(1)} s, ${vs}; peak RSS ours ${r.peak_rss_gb.toFixed(2)} GB, pytorch ${r.pytorch_peak_rss_gb?.toFixed(2) ?? '-'} GB`);
    const bk = r.ours.where_time_goes as { by_kind_pct?: Record<string, number> } | null;
    if (bk?.by_kind_pct) console.log(`  ours, where the time goes: ${Object.entries(bk.by_kind_pct).map(([k, v]) => `${k} ${v}%`).join(', ')}`);
    if (r.pytorch) console.log(`  pytorch, where the time goes: ${Object.entries(r.pytorch.where_time_goes_s).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}`);
  }
  console.log(describeBaseline(fb));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
