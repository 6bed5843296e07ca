/**
 * Engine benchmark: training steps per second of a small GPT (6 layers, d 384, 6 heads, vocab 4096, seq 128,
 * batch 16, about 12M parameters, AdamW + clipping + warmup/cosine) on onnxruntime CPU through the engine's
 * K-steps-per-run trainer, against the same model, optimizer and thread count in PyTorch CPU
 * (bench/engine_torch.py, Debian's python3-torch on OpenBLAS).
 *
 *   node --import tsx bench/engine.ts            (npm run bench -- engine)
 *
 * Environment knobs (defaults in brackets): BENCH_THREADS [all cores], BENCH_K [8], BENCH_RUNS [2] timed runs
 * of K steps, BENCH_TORCH_STEPS [6] timed PyTorch steps, BENCH_K1_RUNS [2] timed K=1 runs (set 0 to skip),
 * BENCH_PROFILE [1] onnxruntime op profile of one K=1 run (0 to skip), BENCH_SINGLE_THREAD [2] also compare
 * at 1 thread (0 never, 1 always, 2 when the load average exceeds the core count), BENCH_SMALL=1 for a tiny
 * model (smoke).
 *
 * Writes bench-results/engine.json: ours_steps_per_s, pytorch_steps_per_s, ratio (ours / pytorch), and
 * details: threads, K, BLAS, CPU seconds per step on both sides (less sensitive to other load on the machine
 * than wall time), K=1 vs K steps per run, and onnxruntime's time per op type.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../src/engine/rng';
import type { HostTensor } from '../src/engine/runtime/tensor';
import { initParams } from '../src/engine/train/init';
import { Trainer } from '../src/engine/train/trainer';
import { gptLoss, gptParams, type GptConfig } from './engineGpt';

const repoRoot = path.resolve(__dirname, '..');
const env = (name: string, dflt: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
};

const SMALL = process.env['BENCH_SMALL'] === '1';
const CFG: GptConfig = SMALL ? { vocab: 512, seq: 32, dim: 64, heads: 2, layers: 2 } : { vocab: 4096, seq: 128, dim: 384, heads: 6, layers: 6 };
const BATCH = SMALL ? 4 : 16;
const THREADS = env('BENCH_THREADS', typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
const K = env('BENCH_K', 8);
const RUNS = env('BENCH_RUNS', 2);
const K1_RUNS = env('BENCH_K1_RUNS', 2);
const TORCH_STEPS = env('BENCH_TORCH_STEPS', 6);
const PROFILE = env('BENCH_PROFILE', 1) === 1;
/** Also compare at one thread: 0 never, 1 always, 2 (default) when the machine is oversubscribed. */
const SINGLE = env('BENCH_SINGLE_THREAD', 2);
const PYTHON = '/usr/bin/python3'; // Debian's interpreter, where python3-torch installs (not a pyenv shim)
const LR = 3e-4;

function log(msg: string): void {
  process.stderr.write(`[bench engine] ${msg}\n`);
}

// ---------------------------------------------------------------------------------------------------------
// PyTorch side: install if missing, check the BLAS.

function sh(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function ensureTorch(): { ok: boolean; note: string } {
  if (sh(PYTHON, ['-c', 'import torch']).ok) return { ok: true, note: 'python3-torch present' };
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) return { ok: false, note: `PyTorch is not importable by ${PYTHON} and this is not root: run 'apt-get install -y python3-torch libopenblas0-openmp'` };
  log('installing python3-torch and libopenblas0-openmp with apt-get (one time)...');
  const upd = sh('apt-get', ['update']);
  if (!upd.ok) return { ok: false, note: `apt-get update failed: ${upd.out.slice(-500)}` };
  const inst = spawnSync('apt-get', ['install', '-y', 'python3-torch', 'libopenblas0-openmp'], { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (inst.status !== 0) return { ok: false, note: `apt-get install failed: ${(inst.stderr ?? '').slice(-500)}` };
  return sh(PYTHON, ['-c', 'import torch']).ok ? { ok: true, note: 'installed python3-torch' } : { ok: false, note: 'python3-torch installed but torch does not import' };
}

/**
 * Makes sure the system libblas.so.3 is OpenBLAS (Debian's PyTorch links the generic libblas.so.3; the
 * reference BLAS behind it is several times slower and would make the ratio meaningless).
 */
function ensureOpenBlas(): string {
  const name = 'libblas.so.3-x86_64-linux-gnu';
  const q = sh('update-alternatives', ['--query', name]);
  if (!q.ok) return `update-alternatives --query ${name} failed (${q.out.trim().slice(0, 200)})`;
  const value = /^Value: (.*)$/m.exec(q.out)?.[1] ?? '';
  if (value.includes('openblas')) return `libblas.so.3 -> ${value}`;
  const alt = /^Alternative: (.*openblas.*)$/m.exec(q.out)?.[1];
  if (!alt) return `libblas.so.3 -> ${value} (no OpenBLAS alternative installed: apt-get install libopenblas0-openmp)`;
  const set = sh('update-alternatives', ['--set', name, alt]);
  return set.ok ? `libblas.so.3 switched to ${alt}` : `libblas.so.3 -> ${value}; switching to ${alt} failed: ${set.out.trim()}`;
}

interface TorchResult {
  torch: string;
  threads: number;
  params: number;
  steps_timed: number;
  seconds_per_step: number;
  cpu_seconds_per_step: number;
  steps_per_s: number;
  losses: number[];
  blas_build: string;
  blas_loaded: string;
}

function runTorch(threads: number, steps: number): TorchResult {
  const args = [
    path.join(repoRoot, 'bench', 'engine_torch.py'),
    `--vocab=${CFG.vocab}`, `--seq=${CFG.seq}`, `--dim=${CFG.dim}`, `--heads=${CFG.heads}`, `--layers=${CFG.layers}`,
    `--batch=${BATCH}`, `--threads=${threads}`, '--warmup=1', `--steps=${steps}`, `--lr=${LR}`,
  ];
  const out = execFileSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 16 << 20, env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
  return JSON.parse(out.trim().split('\n').pop() as string) as TorchResult;
}

// ---------------------------------------------------------------------------------------------------------
// Engine side.

interface OursResult {
  K: number;
  steps_timed: number;
  seconds_per_step: number;
  cpu_seconds_per_step: number;
  /** onnxruntime's own time inside run(), per step (excludes the thread hand-off). */
  ort_seconds_per_step: number;
  compile_and_load_s: number;
  losses: number[];
}

function randomBatch(rng: Rng, k: number): Record<string, HostTensor> {
  const n = k * BATCH * CFG.seq;
  const ids = new BigInt64Array(n);
  const targets = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    ids[i] = BigInt(rng.int(CFG.vocab));
    targets[i] = BigInt(rng.int(CFG.vocab));
  }
  return {
    ids: { dtype: 'int64', shape: [k, 1, BATCH, CFG.seq], data: ids },
    targets: { dtype: 'int64', shape: [k, 1, BATCH, CFG.seq], data: targets },
  };
}

async function runOurs(k: number, runs: number, profilePrefix?: string, threads = THREADS): Promise<OursResult & { flatSizes: number[] }> {
  const params = gptParams(CFG);
  const totalSteps = k * (runs + 1);
  const t0 = performance.now();
  const tr = await Trainer.create(
    {
      params,
      batch: [
        { name: 'ids', shape: [BATCH, CFG.seq], dtype: 'int64' },
        { name: 'targets', shape: [BATCH, CFG.seq], dtype: 'int64' },
      ],
      forward: (p, b) => ({ loss: gptLoss(CFG, p, b['ids'] as never, b['targets'] as never) }),
      optim: {
        optimizer: { kind: 'adamw', lr: LR, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
        schedule: { kind: 'cosine', warmupSteps: Math.max(1, Math.floor(totalSteps / 10)), totalSteps },
        maxGradNorm: 1,
      },
      stepsPerRun: k,
    },
    { device: 'cpu', threads, initialParams: initParams(params, new Rng(0)), ...(profilePrefix ? { profilePrefix } : {}) },
  );
  const compileAndLoad = (performance.now() - t0) / 1000;
  const rng = new Rng(1);
  const losses: number[] = [];
  try {
    losses.push(...(await tr.step(randomBatch(rng, k))).losses); // warm-up run (first-run allocations)
    let wall = 0;
    let cpu = 0;
    let ort = 0;
    for (let r = 0; r < runs; r++) {
      const batch = randomBatch(rng, k);
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      const res = await tr.step(batch);
      wall += (performance.now() - w0) / 1000;
      const c = process.cpuUsage(c0);
      cpu += (c.user + c.system) / 1e6;
      ort += res.runMs / 1000;
      losses.push(...res.losses);
    }
    if (profilePrefix) await tr.endProfiling();
    const steps = k * runs;
    return { flatSizes: tr.compiled.groups.map((g) => g.size), K: k, steps_timed: steps, seconds_per_step: wall / steps, cpu_seconds_per_step: cpu / steps, ort_seconds_per_step: ort / steps, compile_and_load_s: compileAndLoad, losses };
  } finally {
    await tr.dispose();
  }
}

interface ProfileSummary {
  total_ms: number;
  /** GEMMs: MatMul, FusedMatMul, Gemm. */
  matmul_ms: number;
  /**
   * Kernels over the flat parameter buffers (an input is 1-D of a group's size): the optimizer update,
   * slicing the parameter views, concatenating the gradients and the gradient norm.
   */
  flat_buffer_ms: number;
  by_op_ms: Record<string, number>;
}

/** onnxruntime profile -> milliseconds per op type (Loop/If excluded: their bodies' kernels are listed themselves). */
function summarizeProfile(file: string, flatSizes: readonly number[]): ProfileSummary {
  type Ev = { cat?: string; name: string; dur: number; args?: { op_name?: string; input_type_shape?: Record<string, number[]>[] } };
  const events = JSON.parse(fs.readFileSync(file, 'utf8')) as Ev[];
  const by: Record<string, number> = {};
  let matmul = 0;
  let flat = 0;
  for (const e of events) {
    const opName = e.args?.op_name;
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !opName || opName === 'Loop' || opName === 'If') continue;
    const ms = e.dur / 1000;
    by[opName] = (by[opName] ?? 0) + ms;
    if (/MatMul|Gemm/.test(opName)) matmul += ms;
    const shapes = (e.args?.input_type_shape ?? []).flatMap((o) => Object.values(o));
    if (shapes.some((sh) => sh.length === 1 && flatSizes.includes(sh[0] as number))) flat += ms;
  }
  const total = Object.values(by).reduce((a, b) => a + b, 0);
  const sorted = Object.fromEntries(Object.entries(by).sort((a, b) => b[1] - a[1]).map(([kk, v]) => [kk, Math.round(v)]));
  return { total_ms: Math.round(total), matmul_ms: Math.round(matmul), flat_buffer_ms: Math.round(flat), by_op_ms: sorted };
}

async function main(): Promise<void> {
  const load0 = os.loadavg()[0] ?? 0;
  log(`model: ${JSON.stringify(CFG)} batch ${BATCH}, threads ${THREADS}, K ${K}; load average ${load0.toFixed(1)} on ${os.cpus().length} cores`);

  const torchSetup = ensureTorch();
  const blasAlt = torchSetup.ok ? ensureOpenBlas() : 'not checked';
  log(`${torchSetup.note}; ${blasAlt}`);

  log(`engine: K=${K}, ${RUNS} timed run(s) after one warm-up run...`);
  const ours = await runOurs(K, RUNS);
  log(`engine K=${K}: ${ours.seconds_per_step.toFixed(2)} s/step wall, ${ours.cpu_seconds_per_step.toFixed(2)} CPU-s/step`);

  let oursK1: OursResult | undefined;
  if (K1_RUNS > 0 && K !== 1) {
    oursK1 = await runOurs(1, K1_RUNS);
    log(`engine K=1: ${oursK1.seconds_per_step.toFixed(2)} s/step wall`);
  }

  let profile: ProfileSummary | undefined;
  if (PROFILE) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-prof-'));
    const r = await runOurs(1, 1, path.join(dir, 'ort'));
    const f = fs.readdirSync(dir).find((n) => n.endsWith('.json'));
    if (f) profile = summarizeProfile(path.join(dir, f), r.flatSizes);
    fs.rmSync(dir, { recursive: true, force: true });
    if (profile) {
      const pct = (x: number): string => `${((100 * x) / Math.max(1, profile!.total_ms)).toFixed(1)}%`;
      log(`onnxruntime kernel time over 2 K=1 steps: matmul ${pct(profile.matmul_ms)}, flat-buffer ops (optimizer, views, grad concat) ${pct(profile.flat_buffer_ms)}; by op ${JSON.stringify(profile.by_op_ms)}`);
    }
  }

  let torch: TorchResult | undefined;
  let torchError: string | undefined;
  if (torchSetup.ok) {
    log(`pytorch: 1 warm-up + ${TORCH_STEPS} timed steps...`);
    try {
      torch = runTorch(THREADS, TORCH_STEPS);
      log(`pytorch: ${torch.seconds_per_step.toFixed(2)} s/step wall, ${torch.cpu_seconds_per_step.toFixed(2)} CPU-s/step, BLAS ${torch.blas_loaded}`);
    } catch (e) {
      torchError = (e as Error).message.slice(0, 2000);
    }
  } else {
    torchError = torchSetup.note;
  }

  // On an oversubscribed machine, multi-threaded runs mostly measure how each runtime's thread pool copes
  // with being descheduled (OpenMP and onnxruntime both spin at barriers). One thread on each side has no
  // barriers, so that comparison is added as the steadier one.
  let single: { ours_steps_per_s: number; pytorch_steps_per_s: number | null; ratio: number | null; cpu_time_ratio: number | null; ours: OursResult; pytorch: TorchResult | null } | null = null;
  const busy = load0 > os.cpus().length;
  if (THREADS > 1 && (SINGLE === 1 || (SINGLE === 2 && busy)) && torchSetup.ok) {
    log(`single-thread comparison (${busy ? 'machine oversubscribed' : 'requested'}): engine K=${K}, then pytorch...`);
    const o1 = await runOurs(K, 1, undefined, 1);
    let t1: TorchResult | null = null;
    try {
      t1 = runTorch(1, Math.max(2, Math.floor(TORCH_STEPS / 2)));
    } catch (e) {
      log(`single-thread pytorch failed: ${(e as Error).message.slice(0, 300)}`);
    }
    single = {
      ours_steps_per_s: 1 / o1.seconds_per_step,
      pytorch_steps_per_s: t1 ? t1.steps_per_s : null,
      ratio: t1 ? 1 / o1.seconds_per_step / t1.steps_per_s : null,
      cpu_time_ratio: t1 ? t1.cpu_seconds_per_step / o1.cpu_seconds_per_step : null,
      ours: o1,
      pytorch: t1,
    };
    log(`single thread: engine ${o1.seconds_per_step.toFixed(2)} s/step (${o1.cpu_seconds_per_step.toFixed(2)} CPU-s), pytorch ${t1 ? `${t1.seconds_per_step.toFixed(2)} s/step (${t1.cpu_seconds_per_step.toFixed(2)} CPU-s)` : 'n/a'}`);
  }

  const load1 = os.loadavg()[0] ?? 0;
  const oursSps = 1 / ours.seconds_per_step;
  const torchSps = torch ? torch.steps_per_s : null;
  const blasOk = torch ? /openblas/i.test(torch.blas_loaded) : false;
  const result = {
    ours_steps_per_s: oursSps,
    pytorch_steps_per_s: torchSps,
    ratio: torchSps ? oursSps / torchSps : null,
    cpu_time_ratio: torch ? torch.cpu_seconds_per_step / ours.cpu_seconds_per_step : null,
    details: {
      model: { ...CFG, batch: BATCH, params: gptParams(CFG).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0) },
      threads: THREADS,
      K,
      ours,
      ours_k1: oursK1 ?? null,
      k_speedup: oursK1 ? oursK1.seconds_per_step / ours.seconds_per_step : null,
      ort_profile_k1: profile ?? null,
      single_thread: single,
      pytorch: torch ?? null,
      pytorch_error: torchError ?? null,
      blas: { alternative: blasAlt, torch_loaded: torch?.blas_loaded ?? null, openblas: blasOk },
      load_average: { start: load0, end: load1, cores: os.cpus().length },
      note: load0 > os.cpus().length || load1 > os.cpus().length
        ? 'the machine was busy with other work during this run (load average above the core count): wall-clock figures are disturbed; cpu_time_ratio is the steadier comparison'
        : 'machine not oversubscribed during the run',
    },
  };
  fs.mkdirSync(path.join(repoRoot, 'bench-results'), { recursive: true });
  fs.writeFileSync(path.join(repoRoot, 'bench-results', 'engine.json'), JSON.stringify(result, null, 2) + '\n');
  const fmt = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(3));
  console.log(`engine: ${fmt(oursSps)} steps/s (K=${K}, ${THREADS} threads) | pytorch: ${fmt(torchSps)} steps/s | ratio ${fmt(result.ratio)}x (target >= 1.0) | CPU-time ratio ${fmt(result.cpu_time_ratio)}x`);
  if (!blasOk && torch) console.log(`WARNING: PyTorch did not load OpenBLAS (${torch.blas_loaded}); the ratio is not meaningful`);
  if (torchError) console.log(`WARNING: PyTorch baseline failed: ${torchError}`);
  if (single) console.log(`single thread: engine ${fmt(single.ours_steps_per_s)} steps/s | pytorch ${fmt(single.pytorch_steps_per_s)} steps/s | ratio ${fmt(single.ratio)}x | CPU-time ratio ${fmt(single.cpu_time_ratio)}x`);
  if (busy) console.log(`NOTE: load average ${load0.toFixed(1)} on ${os.cpus().length} cores during this run: wall-clock figures are disturbed by other work`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
