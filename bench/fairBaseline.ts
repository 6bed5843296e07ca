/**
 * Fair PyTorch baselines for the benchmarks: each baseline runs in the fastest configuration this machine
 * allows, and every benchmark records which one that was and what the others measured.
 *
 * PyTorch here is Debian's python3-torch, which calls the system BLAS (libblas.so.3 -> OpenBLAS). Debian's
 * OpenBLAS is built with DYNAMIC_ARCH: it picks a kernel family ("core type") from the CPU at load time, unless
 * OPENBLAS_CORETYPE forces one. An environment can force a slow one (e.g. Haswell's AVX2 kernels on an
 * AVX-512 CPU), and OpenBLAS's own detection is not always the fastest correct choice either. So:
 *
 *  1. the environment is read: what OPENBLAS_CORETYPE and the thread variables force, and which kernel a
 *     child started with the inherited environment gets (OPENBLAS_VERBOSE=2 prints "Core: <name>");
 *  2. the candidate core types for this CPU (from /proc/cpuinfo flags: OpenBLAS's own detection, Haswell with
 *     AVX2+FMA, Zen on AMD, SkylakeX and Cooperlake with AVX-512) each run a float32 GEMM (bench/fair_baseline.py)
 *     that is checked against the same product in float64 and timed, in interleaved rounds (medians);
 *  3. the fastest correct core type is then timed at 1..nproc threads (a GEMM by default, or the benchmark's
 *     own workload), and the fastest thread count is chosen.
 *
 * The environment changes only inside the baseline's child processes (baselineEnv); this process's own
 * environment, and so the engine's, is left as it is.
 *
 *   const fb = await fairBaseline();               // or fairBaseline({ measureThreads })
 *   spawn(PYTHON, [...], { env: baselineEnv(fb.chosen) });
 *   result.baseline = fb;  console.log(describeBaseline(fb));
 */

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Debian's interpreter, where python3-torch installs (not a pyenv shim earlier on PATH). */
export const PYTHON = '/usr/bin/python3';
/** Core type name meaning "OPENBLAS_CORETYPE unset: OpenBLAS detects the CPU itself". */
export const AUTO = 'auto';
/** A GEMM of the engine benchmark's step (tokens x C x 4C), the shape the issue measured on. */
const PROBE_GEMM = { m: 2048, k: 384, n: 1536 };
/** float32 with k = 384 is good to about 1e-6 of the largest |entry|; a wrong kernel is off by O(1). */
const MAX_REL_ERR = 1e-4;

export interface BaselineConfig {
  /** OPENBLAS_CORETYPE for the baseline's process, or AUTO to leave it unset. */
  readonly coretype: string;
  /** The kernel OpenBLAS reported using under that setting. */
  readonly kernel: string;
  readonly threads: number;
}

export interface CoreTypeTrial {
  readonly coretype: string;
  /** "Core:" from OPENBLAS_VERBOSE=2 (empty when the probe failed). */
  readonly kernel: string;
  readonly correct: boolean;
  /** max |C32 - C64| / max |C64| (null when the probe failed). */
  readonly rel_err: number | null;
  /** Median GFLOP/s at 1 thread over the rounds (null when the probe failed). */
  readonly gflops: number | null;
  readonly gflops_rounds: number[];
  readonly error?: string;
}

export interface ThreadTrial {
  readonly threads: number;
  /** Median seconds of one measurement (a GEMM or the benchmark's workload) over the rounds. */
  readonly seconds: number;
  readonly seconds_rounds: number[];
}

export interface FairBaseline {
  readonly chosen: BaselineConfig;
  /** What the inherited environment forces, and the kernel a child gets under it. */
  readonly environment: {
    readonly OPENBLAS_CORETYPE: string | null;
    readonly OMP_NUM_THREADS: string | null;
    readonly OPENBLAS_NUM_THREADS: string | null;
    readonly kernel: string;
  };
  readonly cpu: { readonly model: string; readonly vendor: string; readonly cores: number; readonly simd: string[] };
  readonly coretypes: CoreTypeTrial[];
  /** What the thread sweep timed: 'gemm m x k x n' or the benchmark's description of its workload. */
  readonly thread_probe: string;
  readonly threads: ThreadTrial[];
  readonly torch: string;
  readonly blas: string;
  readonly setup: string;
}

function log(msg: string): void {
  process.stderr.write(`[fair baseline] ${msg}\n`);
}

function sh(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...(env ? { env } : {}) });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** PyTorch importable by PYTHON; installs python3-torch and OpenMP OpenBLAS with apt-get when root. */
export function ensureTorch(): { ok: boolean; note: string; version: string } {
  const version = (): { ok: boolean; out: string } => sh(PYTHON, ['-c', 'import torch; print(torch.__version__)']);
  const v0 = version();
  if (v0.ok) return { ok: true, note: 'python3-torch present', version: v0.out.trim() };
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const fail = (note: string): { ok: false; note: string; version: string } => ({ ok: false, note, version: '' });
  if (!isRoot) return fail(`PyTorch is not importable by ${PYTHON} and this is not root: run 'apt-get install -y python3-torch libopenblas0-openmp'`);
  log('installing python3-torch and libopenblas0-openmp with apt-get (one time)...');
  const lock = ['-o', 'DPkg::Lock::Timeout=900'];
  const upd = sh('apt-get', [...lock, 'update']);
  if (!upd.ok) return fail(`apt-get update failed: ${upd.out.slice(-500)}`);
  const inst = sh('apt-get', [...lock, 'install', '-y', 'python3-torch', 'libopenblas0-openmp'], { ...process.env, DEBIAN_FRONTEND: 'noninteractive' });
  if (!inst.ok) return fail(`apt-get install failed: ${inst.out.slice(-500)}`);
  const v1 = version();
  return v1.ok ? { ok: true, note: 'installed python3-torch', version: v1.out.trim() } : fail('python3-torch installed but torch does not import');
}

/**
 * Makes sure the system libblas.so.3 is OpenBLAS (Debian's PyTorch links the generic libblas.so.3; the
 * reference BLAS behind it is several times slower and would make any ratio meaningless).
 */
export function ensureOpenBlas(): string {
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

/**
 * The environment for a baseline child process: the inherited one with OPENBLAS_CORETYPE set to the chosen
 * core type (or removed for AUTO) and OpenMP/OpenBLAS thread counts set to `threads`.
 */
export function baselineEnv(cfg: Pick<BaselineConfig, 'coretype' | 'threads'>, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(cfg.threads), OPENBLAS_NUM_THREADS: String(cfg.threads), ...extra };
  if (cfg.coretype === AUTO) delete env['OPENBLAS_CORETYPE'];
  else env['OPENBLAS_CORETYPE'] = cfg.coretype;
  return env;
}

function cpuInfo(): FairBaseline['cpu'] {
  const text = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const field = (k: string): string => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const flags = new Set(field('flags').split(/\s+/));
  const simd = ['avx2', 'fma', 'avx512f', 'avx512dq', 'avx512cd', 'avx512bw', 'avx512vl', 'avx512_bf16', 'amx_tile'].filter((f) => flags.has(f));
  return { model: field('model name'), vendor: field('vendor_id'), cores: os.cpus().length, simd };
}

/** OpenBLAS core types worth trying on this CPU, by the instruction sets their kernels need. */
export function candidateCoreTypes(cpu: FairBaseline['cpu'], forced: string | null): string[] {
  const has = (...f: string[]): boolean => f.every((x) => cpu.simd.includes(x));
  const out = [AUTO];
  if (has('avx2', 'fma')) out.push('Haswell');
  if (has('avx2', 'fma') && cpu.vendor === 'AuthenticAMD') out.push('Zen');
  if (has('avx512f', 'avx512dq', 'avx512cd', 'avx512bw', 'avx512vl')) out.push('SkylakeX');
  if (has('avx512f', 'avx512bw', 'avx512vl', 'avx512_bf16')) out.push('Cooperlake');
  if (has('avx512f', 'avx512bw', 'avx512vl', 'avx512_bf16', 'amx_tile')) out.push('SapphireRapids');
  if (forced && !out.some((c) => c.toLowerCase() === forced.toLowerCase())) out.push(forced);
  return out;
}

interface ProbeResult {
  kernel: string;
  rel_err: number;
  seconds: number[];
  flops: number;
  blas: string;
}

/** One run of bench/fair_baseline.py under `env`; the kernel name is OPENBLAS_VERBOSE=2's "Core:" line. */
function probe(env: NodeJS.ProcessEnv, threads: number, reps: number): ProbeResult {
  const args = [path.join(__dirname, 'fair_baseline.py'), `--m=${PROBE_GEMM.m}`, `--k=${PROBE_GEMM.k}`, `--n=${PROBE_GEMM.n}`, `--threads=${threads}`, `--reps=${reps}`];
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', env: { ...env, OPENBLAS_VERBOSE: '2' } });
  if (r.status !== 0) throw new Error(`fair_baseline.py exited ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().slice(-400)}`);
  const res = JSON.parse((r.stdout ?? '').trim().split('\n').pop() ?? '') as ProbeResult;
  const verbose = /Core:\s*(\S+)/.exec(r.stderr ?? '')?.[1];
  return { ...res, kernel: verbose ?? res.kernel };
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Core types at 1 thread, in interleaved rounds so that every candidate sees the same machine load. */
function tryCoreTypes(candidates: string[], rounds: number): { trials: CoreTypeTrial[]; blas: string } {
  const state = candidates.map((coretype) => ({ coretype, kernel: '', rel_err: null as number | null, gflops: [] as number[], error: undefined as string | undefined }));
  let blas = 'unknown';
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 ? [...state].reverse() : state) {
      if (s.error) continue;
      try {
        const p = probe(baselineEnv({ coretype: s.coretype, threads: 1 }), 1, 3);
        s.kernel = p.kernel;
        s.rel_err = Math.max(s.rel_err ?? 0, p.rel_err);
        s.gflops.push(p.flops / Math.min(...p.seconds) / 1e9);
        blas = p.blas;
      } catch (e) {
        s.error = (e as Error).message; // e.g. SIGILL: the kernels need instructions this CPU lacks
      }
    }
  }
  const trials = state.map((s): CoreTypeTrial => ({
    coretype: s.coretype,
    kernel: s.kernel,
    correct: !s.error && s.rel_err !== null && s.rel_err <= MAX_REL_ERR,
    rel_err: s.rel_err,
    gflops: s.gflops.length ? median(s.gflops) : null,
    gflops_rounds: s.gflops.map((g) => Math.round(g * 10) / 10),
    ...(s.error ? { error: s.error } : {}),
  }));
  return { trials, blas };
}

/** Measures one configuration of the benchmark's own baseline workload: seconds, lower is better. */
export type ThreadMeasure = (env: NodeJS.ProcessEnv, threads: number) => Promise<number>;

/** Seconds per measurement at each thread count, interleaved rounds (alternating order), medians. */
export async function sweepThreads(counts: readonly number[], rounds: number, measure: (threads: number) => Promise<number>): Promise<ThreadTrial[]> {
  const times = new Map<number, number[]>(counts.map((t) => [t, []]));
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 ? [...counts].reverse() : counts) (times.get(t) as number[]).push(await measure(t));
  }
  return counts.map((t) => {
    const s = times.get(t) as number[];
    return { threads: t, seconds: median(s), seconds_rounds: s.map((x) => Math.round(x * 1e5) / 1e5) };
  });
}

export interface FairBaselineOptions {
  /** Thread counts to try (default 1..nproc). */
  readonly threadCounts?: readonly number[];
  /** Times the benchmark's own baseline at a thread count (default: the probe GEMM). */
  readonly measureThreads?: ThreadMeasure;
  /** What measureThreads times, for the JSON. */
  readonly threadProbe?: string;
  /** Interleaved rounds per candidate (default 5). */
  readonly rounds?: number;
}

/** Installs PyTorch if needed, then picks the fastest correct core type and thread count (see the header). */
export async function fairBaseline(opts: FairBaselineOptions = {}): Promise<FairBaseline> {
  const setup = ensureTorch();
  if (!setup.ok) throw new Error(`PyTorch baseline unavailable: ${setup.note}`);
  const alt = ensureOpenBlas();
  const cpu = cpuInfo();
  const rounds = opts.rounds ?? 5;
  const forced = process.env['OPENBLAS_CORETYPE'] || null;
  const inherited = probe(process.env, 1, 1);
  const environment = {
    OPENBLAS_CORETYPE: forced,
    OMP_NUM_THREADS: process.env['OMP_NUM_THREADS'] ?? null,
    OPENBLAS_NUM_THREADS: process.env['OPENBLAS_NUM_THREADS'] ?? null,
    kernel: inherited.kernel,
  };
  log(`environment: OPENBLAS_CORETYPE=${forced ?? '(unset)'} -> kernel ${inherited.kernel}; CPU ${cpu.model} (${cpu.cores} cores; ${cpu.simd.join(' ')})`);
  const { trials, blas } = tryCoreTypes(candidateCoreTypes(cpu, forced), rounds);
  for (const t of trials) log(`  core type ${t.coretype.padEnd(14)} kernel ${t.kernel || '?'}: ${t.error ? `failed (${t.error.slice(0, 120)})` : `${t.gflops?.toFixed(1)} GFLOP/s at 1 thread, rel err ${t.rel_err?.toExponential(1)}${t.correct ? '' : ' WRONG'}`}`);
  const best = trials.filter((t) => t.correct && t.gflops !== null).sort((a, b) => (b.gflops as number) - (a.gflops as number))[0];
  if (!best) throw new Error(`no OpenBLAS core type gave a correct GEMM: ${JSON.stringify(trials)}`);

  const counts = opts.threadCounts ?? Array.from({ length: cpu.cores }, (_, i) => i + 1);
  const gemm = async (threads: number): Promise<number> => median(probe(baselineEnv({ coretype: best.coretype, threads }), threads, 3).seconds);
  const measure = opts.measureThreads;
  const threads = await sweepThreads(counts, rounds, measure ? (t) => measure(baselineEnv({ coretype: best.coretype, threads: t }), t) : gemm);
  const fastest = [...threads].sort((a, b) => a.seconds - b.seconds)[0] as ThreadTrial;
  log(`  threads (${opts.threadProbe ?? 'gemm'}): ${threads.map((t) => `${t.threads}: ${t.seconds.toFixed(4)} s`).join(', ')}`);
  const fb: FairBaseline = {
    chosen: { coretype: best.coretype, kernel: best.kernel, threads: fastest.threads },
    environment,
    cpu,
    coretypes: trials,
    thread_probe: opts.threadProbe ?? `gemm ${PROBE_GEMM.m} x ${PROBE_GEMM.k} x ${PROBE_GEMM.n} float32`,
    threads,
    torch: setup.version,
    blas,
    setup: `${setup.note}; ${alt}`,
  };
  log(describeBaseline(fb));
  return fb;
}

/** One line for a benchmark's output: the chosen configuration and what the environment would have given. */
export function describeBaseline(fb: FairBaseline): string {
  const g = (ct: string): string => {
    const t = fb.coretypes.find((x) => x.coretype === ct);
    return t?.gflops ? `${t.gflops.toFixed(1)}` : 'n/a';
  };
  const others = fb.coretypes.filter((t) => t.coretype !== fb.chosen.coretype).map((t) => `${t.coretype} ${t.correct ? g(t.coretype) : 'wrong/failed'}`);
  return (
    `PyTorch ${fb.torch} baseline: OPENBLAS_CORETYPE=${fb.chosen.coretype === AUTO ? '(unset, own detection)' : fb.chosen.coretype} (kernel ${fb.chosen.kernel}, ` +
    `${g(fb.chosen.coretype)} GFLOP/s at 1 thread; others: ${others.join(', ')}), ${fb.chosen.threads} thread${fb.chosen.threads > 1 ? 's' : ''} ` +
    `(of ${fb.threads.map((t) => t.threads).join('/')}); the environment forces OPENBLAS_CORETYPE=${fb.environment.OPENBLAS_CORETYPE ?? '(unset)'} -> kernel ${fb.environment.kernel}`
  );
}

/** Runs PYTHON with args under env; resolves with stdout's last line parsed as JSON. */
export function runPythonJson<T>(args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, args, { env });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      // SIGKILL with no message of its own is, on Linux, almost always the kernel's out-of-memory killer.
      const how = signal ? `was killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory?)' : ''}` : `exited ${code}`;
      if (code !== 0) return reject(new Error(`${path.basename(args[0] ?? PYTHON)} ${how}: ${err.trim().slice(-1500)}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as T);
      } catch (e) {
        reject(new Error(`${path.basename(args[0] ?? PYTHON)}: bad output (${(e as Error).message}): ${out.slice(-500)}`));
      }
    });
  });
}
