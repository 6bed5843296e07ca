/**
 * Engine benchmark: training steps per second of a small GPT (6 layers, d 384, 6 heads, vocab 4096, seq 128,
 * batch 16, about 12M parameters, AdamW + clipping + warmup/cosine) on onnxruntime CPU through the engine's
 * K-steps-per-run trainer, against the same model, optimizer and thread count in PyTorch CPU
 * (bench/engine_torch.py, Debian's python3-torch on OpenBLAS).
 *
 *   node --import tsx bench/engine.ts            (npm run bench -- engine)
 *
 * Runs the comparison at one thread and at BENCH_THREADS (all cores by default). At each thread count both
 * sides stay loaded (our Trainer, PyTorch in a server process) and are timed in alternating rounds of K steps,
 * so that both see the same load from other work on the machine; each side is measured in wall time and in
 * CPU time (process CPU seconds per step: less disturbed by other work than wall time, and at one thread the
 * fairest figure, with no thread pool spinning at barriers). Then one step of each side is profiled at one
 * thread to show where the time goes.
 *
 * Environment knobs (defaults in brackets): BENCH_THREADS [all cores], BENCH_K [4] steps per round,
 * BENCH_ROUNDS [3] timed rounds per side, BENCH_WARMUP [2] untimed rounds per side before them (the engine's first
 * run of a session touches its memory for the first time and ran 2.5x slower than from the second run on; PyTorch gets
 * the same rounds), BENCH_PROFILE [1] profile one step of each side (a steady-state one, after the warm-up runs)
 * (0 to skip), BENCH_SINGLE_THREAD [1] also compare at 1 thread (0: only at BENCH_THREADS), BENCH_GEMMS [1] time
 * every GEMM of the step alone on both sides at 1 thread (onnxruntime's MLAS vs PyTorch's OpenBLAS, same shapes
 * and transposes, preallocated outputs) and split each side's step into GEMMs and the rest, BENCH_SMALL=1 for
 * a tiny model (smoke).
 *
 * Writes bench-results/engine.json: ours_steps_per_s, pytorch_steps_per_s, ratio (ours / pytorch, wall) and
 * cpu_time_ratio at BENCH_THREADS; by_threads (wall and CPU-time ratios per thread count, and the spread of
 * the per-round CPU-time ratios); time_breakdown (kernel time by kind and the top op types of our step,
 * PyTorch's top ops); gemms (per-GEMM times on both sides, GEMM seconds per step and the rest of the step);
 * details (both sides' raw figures, BLAS, load average).
 */

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as readline from 'node:readline';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../src/engine/rng';
import type { HostTensor } from '../src/engine/runtime/tensor';
import { initParams } from '../src/engine/step/init';
import { Trainer } from '../src/engine/step/trainer';
import { gptLoss, gptParams, type GptConfig } from './engineGpt';
import { baselineEnv, describeBaseline, fairBaseline, PYTHON, type FairBaseline } from './fairBaseline';
import { summarizeProfile, type ProfileSummary } from './ortProfile';
import { GEMM_COPIES, gemmFlops, oursGemmTimer, stepGemms, type GemmCase } from './engineGemms';

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
const K = env('BENCH_K', 4);
const ROUNDS = Math.max(1, env('BENCH_ROUNDS', 3));
const WARMUP = Math.max(1, env('BENCH_WARMUP', 2));
const PROFILE = env('BENCH_PROFILE', 1) === 1;
/** Also compare at one thread: 1 (default) yes, 0 only at THREADS. */
const SINGLE = env('BENCH_SINGLE_THREAD', 1);
/** Time the step's GEMMs one by one on both sides at 1 thread: 1 (default) yes, 0 no. */
const GEMMS = env('BENCH_GEMMS', 1) === 1;
const LR = 3e-4;

function log(msg: string): void {
  process.stderr.write(`[bench engine] ${msg}\n`);
}

// ---------------------------------------------------------------------------------------------------------
// PyTorch side (installed and configured by bench/fairBaseline.ts).

interface TorchInfo {
  torch: string;
  threads: number;
  params: number;
  blas_build: string;
  blas_loaded: string;
  parallel_info: string;
}

interface TorchProfile {
  total_ms: number;
  matmul_ms: number;
  top_ops_ms: Record<string, number>;
}

/** bench/engine_torch.py in --serve mode: the model stays loaded; one JSON line answers each command line. */
class TorchWorker {
  private readonly lines: AsyncIterableIterator<string>;
  private stderr = '';

  private constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    this.lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
    proc.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
  }

  /** Starts PyTorch at `threads` threads in the fair baseline's configuration; resolves after its warm-up step. */
  static async start(fb: FairBaseline, threads: number, scheduleSteps: number): Promise<TorchWorker> {
    const args = [
      path.join(repoRoot, 'bench', 'engine_torch.py'),
      `--vocab=${CFG.vocab}`, `--seq=${CFG.seq}`, `--dim=${CFG.dim}`, `--heads=${CFG.heads}`, `--layers=${CFG.layers}`,
      `--batch=${BATCH}`, `--threads=${threads}`, '--warmup=1', `--steps=${scheduleSteps}`, `--lr=${LR}`, '--serve',
    ];
    const w = new TorchWorker(spawn(PYTHON, args, { env: baselineEnv({ coretype: fb.chosen.coretype, threads }) }));
    await w.next('start');
    return w;
  }

  private async next(what: string): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error(`engine_torch.py ended during '${what}': ${this.stderr.trim().slice(-1500)}`);
    const v = JSON.parse(r.value) as Record<string, unknown>;
    if (typeof v['error'] === 'string') throw new Error(`engine_torch.py: ${v['error']}`);
    return v;
  }

  async request<T>(cmd: string): Promise<T> {
    this.proc.stdin.write(`${cmd}\n`);
    return (await this.next(cmd)) as T;
  }

  async stop(): Promise<void> {
    this.proc.stdin.end();
    if (this.proc.exitCode === null) await new Promise((res) => this.proc.once('exit', res));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Engine side.

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

/** The engine's trainer for the benchmark model: K steps per run, AdamW, clipping, warmup + cosine. */
async function createOurs(k: number, totalSteps: number, threads: number, profilePrefix?: string): Promise<{ tr: Trainer; compileAndLoadS: number }> {
  const params = gptParams(CFG);
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
  return { tr, compileAndLoadS: (performance.now() - t0) / 1000 };
}

/** One timed run of K steps: wall and process CPU seconds (the runtime's worker thread is in this process). */
async function timedRun(tr: Trainer, rng: Rng, k: number): Promise<{ wall: number; cpu: number; losses: number[] }> {
  const batch = randomBatch(rng, k);
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const res = await tr.step(batch);
  const wall = (performance.now() - w0) / 1000;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6, losses: res.losses };
}

interface Side {
  seconds_per_step: number;
  cpu_seconds_per_step: number;
  steps_per_s: number;
  steps_timed: number;
  /** Per-round CPU seconds per step. */
  rounds_cpu_s_per_step: number[];
  losses: number[];
}

/** One thread count's comparison. */
interface Comparison {
  threads: number;
  K: number;
  rounds: number;
  ours: Side & { compile_and_load_s: number };
  pytorch: Side | null;
  /** Wall-clock: ours steps/s over PyTorch steps/s. */
  ratio: number | null;
  /** CPU time: PyTorch CPU-s/step over ours (higher = ours does the step with less CPU work). */
  cpu_time_ratio: number | null;
  /** min / median / max over rounds of the per-round CPU-time ratio (both sides timed back to back). */
  cpu_time_ratio_rounds: { min: number; median: number; max: number } | null;
}

function side(walls: number[], cpus: number[], k: number, losses: number[]): Side {
  const steps = walls.length * k;
  const wall = walls.reduce((a, b) => a + b, 0);
  return {
    seconds_per_step: wall / steps,
    cpu_seconds_per_step: cpus.reduce((a, b) => a + b, 0) / steps,
    steps_per_s: steps / wall,
    steps_timed: steps,
    rounds_cpu_s_per_step: cpus.map((c) => c / k),
    losses,
  };
}

async function compare(threads: number, fb: FairBaseline | null): Promise<{ c: Comparison; info: TorchInfo | null; error?: string }> {
  log(`${threads} thread(s): loading both sides, then ${WARMUP} untimed and ${ROUNDS} timed alternating rounds of ${K} steps each...`);
  const totalSteps = K * (ROUNDS + WARMUP) + 1;
  const { tr, compileAndLoadS } = await createOurs(K, totalSteps, threads);
  let torch: TorchWorker | null = null;
  let error: string | undefined;
  let info: TorchInfo | null = null;
  const rng = new Rng(1);
  const ours = { walls: [] as number[], cpus: [] as number[], losses: [] as number[] };
  const pt = { walls: [] as number[], cpus: [] as number[], losses: [] as number[] };
  try {
    if (fb) {
      try {
        torch = await TorchWorker.start(fb, threads, totalSteps);
        info = await torch.request<TorchInfo>('info');
      } catch (e) {
        error = (e as Error).message.slice(0, 2000);
      }
    }
    for (let r = 0; r < WARMUP; r++) {
      ours.losses.push(...(await timedRun(tr, rng, K)).losses);
      try {
        if (torch) pt.losses.push(...(await torch.request<{ losses: number[] }>(`steps ${K}`)).losses);
      } catch (e) {
        error ??= (e as Error).message.slice(0, 2000);
        torch = null;
      }
    }
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which side goes first, so neither always follows the other's cache footprint.
      const order = r % 2 === 0 ? ['ours', 'torch'] : ['torch', 'ours'];
      for (const who of order) {
        if (who === 'ours') {
          const x = await timedRun(tr, rng, K);
          ours.walls.push(x.wall);
          ours.cpus.push(x.cpu);
          ours.losses.push(...x.losses);
        } else if (torch) {
          try {
            const x = await torch.request<{ wall: number; cpu: number; losses: number[] }>(`steps ${K}`);
            pt.walls.push(x.wall);
            pt.cpus.push(x.cpu);
            pt.losses.push(...x.losses);
          } catch (e) {
            error ??= (e as Error).message.slice(0, 2000);
            torch = null;
          }
        }
      }
      const o = ours.cpus[ours.cpus.length - 1] as number;
      const t = pt.cpus[pt.cpus.length - 1];
      log(`  round ${r + 1}: engine ${(o / K).toFixed(2)} CPU-s/step${t !== undefined ? `, pytorch ${(t / K).toFixed(2)} CPU-s/step` : ''}`);
    }
  } finally {
    await tr.dispose();
    await torch?.stop();
  }
  const o = { ...side(ours.walls, ours.cpus, K, ours.losses), compile_and_load_s: compileAndLoadS };
  const p = pt.cpus.length === ROUNDS ? side(pt.walls, pt.cpus, K, pt.losses) : null;
  const perRound = p ? p.rounds_cpu_s_per_step.map((c, i) => c / (o.rounds_cpu_s_per_step[i] as number)).sort((a, b) => a - b) : null;
  return {
    c: {
      threads,
      K,
      rounds: ROUNDS,
      ours: o,
      pytorch: p,
      ratio: p ? p.seconds_per_step / o.seconds_per_step : null,
      cpu_time_ratio: p ? p.cpu_seconds_per_step / o.cpu_seconds_per_step : null,
      cpu_time_ratio_rounds: perRound ? { min: perRound[0] as number, median: perRound[Math.floor(perRound.length / 2)] as number, max: perRound[perRound.length - 1] as number } : null,
    },
    info,
    ...(error ? { error } : {}),
  };
}

interface GemmRow {
  name: string;
  shape: string;
  /** Times per step on each side (differ only for the q, k, v projections, see bench/engineGpt.ts). */
  per_step: { ours: number; pytorch: number };
  ours_ms: number;
  pytorch_ms: number | null;
  ours_gflops: number;
  pytorch_gflops: number | null;
}

interface GemmSummary {
  threads: 1;
  rounds: number;
  cases: GemmRow[];
  /** Sum over each side's own step GEMMs of count x CPU time per GEMM. */
  ours_gemm_s_per_step: number;
  pytorch_gemm_s_per_step: number | null;
  /**
   * The 1-thread step's CPU time (fastest round) minus its GEMMs: everything else (elementwise, normalization,
   * softmax, data movement, optimizer).
   */
  ours_rest_s_per_step: number | null;
  pytorch_rest_s_per_step: number | null;
}

/**
 * Every GEMM of one step, alone, on both sides at 1 thread, in alternating rounds (fastest round's CPU time
 * per GEMM).
 * Shows how much of the step-time difference is the GEMM library and how much is the rest of the step.
 */
async function compareGemms(fb: FairBaseline | null, oneThread: Comparison | undefined): Promise<GemmSummary> {
  const cases = stepGemms(CFG, BATCH);
  // Shapes that occur under several names (q, k, v and the attention output projection) are timed once.
  const keyOf = (c: GemmCase): string => JSON.stringify({ batch: c.batch, m: c.m, k: c.k, n: c.n, transA: c.transA, transB: c.transB, copies: GEMM_COPIES });
  const unique = [...new Map(cases.map((c) => [keyOf(c), c])).values()];
  const slot = new Map(unique.map((c, i) => [keyOf(c), i]));
  const rounds = Math.max(ROUNDS, 5);
  log(`GEMMs of one step, each alone at 1 thread (${unique.length} shapes, ${rounds} alternating rounds, fastest round kept)...`);
  const ours = await oursGemmTimer(unique, 1);
  let torch: TorchWorker | null = null;
  if (fb) {
    try {
      torch = await TorchWorker.start(fb, 1, 4);
    } catch (e) {
      log(`pytorch GEMM timing unavailable: ${(e as Error).message.slice(0, 300)}`);
    }
  }
  // About 0.05 s of work per measurement (at a nominal 80 GFLOP/s); a call is GEMM_COPIES GEMMs. Other work
  // on this machine only ever adds time, so the fastest of the rounds is each side's figure.
  const calls = (c: GemmCase): number => Math.max(1, Math.round(0.05 / ((GEMM_COPIES * gemmFlops(c)) / 80e9)));
  const o: number[][] = unique.map(() => []);
  const p: number[][] = unique.map(() => []);
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [i, c] of unique.entries()) {
        const sides = r % 2 === 0 ? ['ours', 'torch'] : ['torch', 'ours'];
        for (const who of sides) {
          if (who === 'ours') (o[i] as number[]).push((await ours.time(i, calls(c))).cpu);
          else if (torch) {
            try {
              (p[i] as number[]).push((await torch.request<{ cpu: number }>(`gemm ${keyOf(c)} ${calls(c)}`)).cpu);
            } catch (e) {
              log(`pytorch GEMM timing failed: ${(e as Error).message.slice(0, 300)}`);
              torch = null;
            }
          }
        }
      }
    }
  } finally {
    await ours.dispose();
    await torch?.stop();
  }
  const rows: GemmRow[] = cases.map((c) => {
    const i = slot.get(keyOf(c)) as number;
    const om = Math.min(...(o[i] as number[]));
    const pm = (p[i] as number[]).length === rounds ? Math.min(...(p[i] as number[])) : null;
    const t = (x: boolean): string => (x ? 'ᵀ' : '');
    return {
      name: c.name,
      shape: `${c.batch > 1 ? `${c.batch} x ` : ''}[${c.m} x ${c.k}]${t(c.transA)} [${c.k} x ${c.n}]${t(c.transB)}`,
      per_step: c.perStep,
      ours_ms: om * 1000,
      pytorch_ms: pm === null ? null : pm * 1000,
      ours_gflops: gemmFlops(c) / om / 1e9,
      pytorch_gflops: pm === null ? null : gemmFlops(c) / pm / 1e9,
    };
  });
  const sum = (f: (r: GemmRow) => number | null, count: (r: GemmRow) => number): number | null => {
    let s = 0;
    for (const r of rows) {
      const v = f(r);
      if (v === null) return null;
      s += (count(r) * v) / 1000;
    }
    return s;
  };
  const og = sum((r) => r.ours_ms, (r) => r.per_step.ours) as number;
  const pg = sum((r) => r.pytorch_ms, (r) => r.per_step.pytorch);
  return {
    threads: 1,
    rounds,
    cases: rows,
    ours_gemm_s_per_step: og,
    pytorch_gemm_s_per_step: pg,
    // Fastest round of the step minus fastest GEMMs: the same estimator on both terms.
    ours_rest_s_per_step: oneThread ? Math.min(...oneThread.ours.rounds_cpu_s_per_step) - og : null,
    pytorch_rest_s_per_step: oneThread?.pytorch && pg !== null ? Math.min(...oneThread.pytorch.rounds_cpu_s_per_step) - pg : null,
  };
}

/** onnxruntime's per-kernel profile of one step of ours at one thread (kernel times at one thread add up to the step). */
async function profileOurs(): Promise<ProfileSummary | undefined> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-prof-'));
  const { tr } = await createOurs(1, WARMUP + 1, 1, path.join(dir, 'ort'));
  let profile: ProfileSummary | undefined;
  try {
    const rng = new Rng(2);
    for (let r = 0; r <= WARMUP; r++) await timedRun(tr, rng, 1); // the profile summary reads the last run
    await tr.endProfiling();
    const f = fs.readdirSync(dir).find((n) => n.endsWith('.json'));
    if (f) profile = summarizeProfile(path.join(dir, f), tr.compiled.groups.map((g) => g.size), 1);
  } finally {
    await tr.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (profile) {
    log(`engine, kernel time of one step at 1 thread by kind: ${Object.entries(profile.by_kind_pct).map(([k, v]) => `${k} ${v}%`).join(', ')}`);
    log(`  top ops: ${profile.top_ops.map((o) => `${o.op} ${o.pct}%`).join(', ')}; flat-buffer ops (optimizer, views, grad concat) ${((100 * profile.flat_buffer_ms) / Math.max(1, profile.total_ms)).toFixed(1)}%`);
  }
  return profile;
}

/** torch.profiler's self time per op over one step of the baseline at one thread. */
async function profileTorch(fb: FairBaseline): Promise<TorchProfile | null> {
  let w: TorchWorker | null = null;
  try {
    w = await TorchWorker.start(fb, 1, WARMUP + 2);
    for (let r = 0; r < WARMUP; r++) await w.request(`steps 1`); // the same warm-up as our profiled step
    const p = (await w.request<{ profile: TorchProfile }>('profile')).profile;
    log(`pytorch, one step at 1 thread: matmul ${((100 * p.matmul_ms) / Math.max(1e-9, p.total_ms)).toFixed(1)}%; top ops ${Object.entries(p.top_ops_ms).slice(0, 8).map(([k, v]) => `${k} ${((100 * v) / p.total_ms).toFixed(1)}%`).join(', ')}`);
    return p;
  } catch (e) {
    log(`pytorch profile failed: ${(e as Error).message.slice(0, 300)}`);
    return null;
  } finally {
    await w?.stop();
  }
}

async function main(): Promise<void> {
  const load0 = os.loadavg()[0] ?? 0;
  const cores = os.cpus().length;
  const threadCounts = [...new Set([1, THREADS])].filter((t) => SINGLE !== 0 || t === THREADS);
  log(`model: ${JSON.stringify(CFG)} batch ${BATCH}, threads ${threadCounts.join(' and ')}, K ${K}, ${ROUNDS} rounds; load average ${load0.toFixed(1)} on ${cores} cores`);

  let fb: FairBaseline | null = null;
  let torchError: string | undefined;
  try {
    fb = await fairBaseline({ threadCounts });
  } catch (e) {
    torchError = (e as Error).message;
  }

  const comparisons: Comparison[] = [];
  let torchInfo: TorchInfo | null = null;
  for (const t of threadCounts) {
    const { c, info, error } = await compare(t, fb);
    comparisons.push(c);
    torchInfo ??= info;
    torchError ??= error;
  }
  // Where the time goes: onnxruntime's per-kernel profile and PyTorch's profiler, one step each at one thread.
  const profile = PROFILE ? await profileOurs() : undefined;
  const torchProfile = PROFILE && fb ? await profileTorch(fb) : null;
  let gemms: GemmSummary | null = null;
  if (GEMMS) {
    gemms = await compareGemms(fb, comparisons.find((c) => c.threads === 1));
    for (const r of gemms.cases) {
      log(`  ${r.name.padEnd(24)} ${r.shape.padEnd(34)} per step ${r.per_step.ours}/${r.per_step.pytorch}: engine ${r.ours_ms.toFixed(2)} ms (${r.ours_gflops.toFixed(0)} GFLOP/s)${r.pytorch_ms === null ? '' : `, pytorch ${r.pytorch_ms.toFixed(2)} ms (${(r.pytorch_gflops as number).toFixed(0)} GFLOP/s)`}`);
    }
  }
  report({ load0, cores, fb, comparisons, torchInfo, torchError, profile, torchProfile, gemms });
}

interface Report {
  load0: number;
  cores: number;
  fb: FairBaseline | null;
  comparisons: Comparison[];
  torchInfo: TorchInfo | null;
  torchError: string | undefined;
  profile: ProfileSummary | undefined;
  torchProfile: TorchProfile | null;
  gemms: GemmSummary | null;
}

/** bench-results/engine.json's object. */
function resultJson(r: Report) {
  const { load0, cores, fb, comparisons, torchInfo, torchError, profile, torchProfile, gemms } = r;
  const load1 = os.loadavg()[0] ?? 0;
  const blasOk = torchInfo ? /openblas/i.test(torchInfo.blas_loaded) : false;
  const busy = load0 > cores || load1 > cores;
  const perThreads = comparisons.map((c) => ({
    threads: c.threads,
    ours_s_per_step: c.ours.seconds_per_step,
    ours_cpu_s_per_step: c.ours.cpu_seconds_per_step,
    pytorch_s_per_step: c.pytorch?.seconds_per_step ?? null,
    pytorch_cpu_s_per_step: c.pytorch?.cpu_seconds_per_step ?? null,
    ratio: c.ratio,
    cpu_time_ratio: c.cpu_time_ratio,
    cpu_time_ratio_rounds: c.cpu_time_ratio_rounds,
  }));
  // Each side at its own fastest thread count (of those compared): the fair headline.
  const fastest = (f: (c: Comparison) => number | null): Comparison | null =>
    comparisons.filter((c) => f(c) !== null).sort((a, b) => (f(a) as number) - (f(b) as number))[0] ?? null;
  const ours = fastest((c) => c.ours.seconds_per_step) as Comparison;
  const torch = fastest((c) => c.pytorch?.seconds_per_step ?? null);
  const head = comparisons.find((c) => c.threads === THREADS) as Comparison;
  return {
    ours_steps_per_s: ours.ours.steps_per_s,
    ours_threads: ours.threads,
    pytorch_steps_per_s: torch?.pytorch?.steps_per_s ?? null,
    pytorch_threads: torch?.threads ?? null,
    ratio: torch?.pytorch ? ours.ours.steps_per_s / torch.pytorch.steps_per_s : null,
    cpu_time_ratio: head.cpu_time_ratio,
    threads: THREADS,
    baseline: fb,
    by_threads: perThreads,
    time_breakdown: {
      engine: profile ? { threads: profile.threads, total_ms: profile.total_ms, by_kind_pct: profile.by_kind_pct, top_ops: profile.top_ops } : null,
      pytorch: torchProfile
        ? {
          threads: 1,
          total_ms: Math.round(torchProfile.total_ms),
          matmul_pct: Math.round((1000 * torchProfile.matmul_ms) / Math.max(1e-9, torchProfile.total_ms)) / 10,
          top_ops: Object.entries(torchProfile.top_ops_ms).map(([o, ms]) => ({ op: o, ms: Math.round(ms), pct: Math.round((1000 * ms) / Math.max(1e-9, torchProfile!.total_ms)) / 10 })),
        }
        : null,
    },
    gemms,
    details: {
      model: { ...CFG, batch: BATCH, params: gptParams(CFG).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0) },
      comparisons,
      pytorch_info: torchInfo,
      ort_profile: profile ?? null,
      pytorch_error: torchError ?? null,
      blas: { setup: fb?.setup ?? null, torch_loaded: torchInfo?.blas_loaded ?? null, openblas: blasOk },
      load_average: { start: load0, end: load1, cores },
      note: busy
        ? 'the machine was busy with other work during this run (load average above the core count): wall-clock figures are disturbed, multi-threaded ones most (thread pools spin at barriers when descheduled); cpu_time_ratio at 1 thread is the steadier comparison'
        : 'machine not oversubscribed during the run',
    },
  };
}
/** Writes bench-results/engine.json and prints the figures, the baseline's configuration and where the time goes. */
function report(r: Report): void {
  const { fb, torchInfo, torchError, profile, torchProfile, gemms } = r;
  const result = resultJson(r);
  const { load_average: load } = result.details;
  fs.mkdirSync(path.join(repoRoot, 'bench-results'), { recursive: true });
  fs.writeFileSync(path.join(repoRoot, 'bench-results', 'engine.json'), JSON.stringify(result, null, 2) + '\n');
  const fmt = (x: number | null, d = 3): string => (x === null ? 'n/a' : x.toFixed(d));
  for (const c of result.by_threads) {
    console.log(
      `engine ${c.threads} thread${c.threads > 1 ? 's' : ''}: ours ${fmt(c.ours_s_per_step, 2)} s/step (${fmt(c.ours_cpu_s_per_step, 2)} CPU-s) | pytorch ${fmt(c.pytorch_s_per_step, 2)} s/step (${fmt(c.pytorch_cpu_s_per_step, 2)} CPU-s) | ratio ${fmt(c.ratio)}x wall, ${fmt(c.cpu_time_ratio)}x CPU time${c.cpu_time_ratio_rounds ? ` (rounds ${fmt(c.cpu_time_ratio_rounds.min, 2)}-${fmt(c.cpu_time_ratio_rounds.max, 2)})` : ''} (target >= 1.0)`,
    );
  }
  if (result.ratio !== null) console.log(`engine: ours ${fmt(result.ours_steps_per_s, 2)} steps/s (${result.ours_threads} threads) vs pytorch ${fmt(result.pytorch_steps_per_s, 2)} steps/s (${result.pytorch_threads} threads): ratio ${fmt(result.ratio)}x, each side at its fastest thread count (goal 1.3x)`);
  if (fb) console.log(describeBaseline(fb));
  if (profile) console.log(`engine time at 1 thread: ${Object.entries(profile.by_kind_pct).map(([k, v]) => `${k} ${v}%`).join(', ')}`);
  if (torchProfile) console.log(`pytorch time at 1 thread: matmul ${result.time_breakdown.pytorch?.matmul_pct}%`);
  if (gemms) {
    const f = (x: number | null): string => (x === null ? 'n/a' : `${x.toFixed(2)} s`);
    console.log(
      `one step at 1 thread, CPU time: GEMMs (each timed alone) engine ${f(gemms.ours_gemm_s_per_step)} | pytorch ${f(gemms.pytorch_gemm_s_per_step)}; ` +
        `everything else engine ${f(gemms.ours_rest_s_per_step)} | pytorch ${f(gemms.pytorch_rest_s_per_step)}`,
    );
  }
  if (!result.details.blas.openblas && torchInfo) console.log(`WARNING: PyTorch did not load OpenBLAS (${torchInfo.blas_loaded}); the ratio is not meaningful`);
  if (torchError) console.log(`WARNING: PyTorch baseline failed: ${torchError}`);
  if (load.start > load.cores || load.end > load.cores) console.log(`NOTE: load average ${load.start.toFixed(1)} -> ${load.end.toFixed(1)} on ${load.cores} cores during this run: wall-clock figures are disturbed by other work`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
