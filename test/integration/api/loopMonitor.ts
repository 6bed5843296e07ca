import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';

/**
 * One late turn of the event loop: a timer that should have fired `intervalMs` after the previous one came
 * `wallMs` late. The main thread's scheduler statistics (Linux /proc/thread-self/schedstat) split that time
 * into what the thread spent running on a CPU (JavaScript, GC, native code: the loop was blocked by work) and
 * what it spent runnable but waiting for a CPU (the machine was busy elsewhere: the loop was not blocked by
 * anything in this process). The rest it was asleep (idle in epoll, or blocked in a system call).
 */
export interface LoopStall {
  /** ms since the monitor started. */
  readonly at: number;
  /** How late the timer fired, ms. */
  readonly wallMs: number;
  /** Of which the main thread ran on a CPU, ms. */
  readonly cpuMs: number;
  /** Of which it waited, runnable, for a CPU (the OS ran other processes), ms. */
  readonly runqueueMs: number;
  /** Garbage-collection pauses that overlapped it (wall time, so it can include time off the CPU), ms. */
  readonly gcMs: number;
  /** The lateness not explained by waiting for a CPU: max(0, wallMs - runqueueMs), ms. */
  readonly blockedMs: number;
}

export interface LoopReport {
  readonly samples: number;
  /** Largest lateness of a timer turn, ms (what monitorEventLoopDelay's max reports). */
  readonly maxWallMs: number;
  readonly p99WallMs: number;
  /** Largest on-CPU time of the main thread within one turn, ms. */
  readonly maxCpuMs: number;
  readonly p99CpuMs: number;
  /**
   * Largest lateness of a turn minus the time the main thread spent runnable but waiting for a CPU in it, ms: how
   * long this process itself held the loop (running JavaScript or GC, or blocked in a system call), with the
   * delay that the operating system's scheduling of other processes caused taken out.
   */
  readonly maxBlockedMs: number;
  readonly p99BlockedMs: number;
  /** The worst stalls (by lateness), with their breakdown. */
  readonly worst: readonly LoopStall[];
  /** False where /proc/thread-self/schedstat is not readable (not Linux): cpu/runqueue figures are then 0. */
  readonly schedstat: boolean;
  /** Every turn: [start, end] on the monotonic clock (ms, the clock V8's profiler uses) and the main thread's CPU in it. */
  readonly turns: readonly { readonly from: number; readonly to: number; readonly cpuMs: number }[];
}

/** CLOCK_MONOTONIC in ms: process.hrtime's clock, and the one V8's CPU profiler stamps its samples with. */
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * Upper bound on the main thread's CPU time within [from, to] (monotonic ms): the CPU of every turn that overlaps
 * it. Undefined without schedstat.
 */
export function cpuWithin(r: LoopReport, from: number, to: number): number | undefined {
  if (!r.schedstat) return undefined;
  return r.turns.filter((t) => t.to >= from && t.from <= to).reduce((sum, t) => sum + t.cpuMs, 0);
}

function schedstat(): [number, number] | undefined {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    return [Number(run) / 1e6, Number(wait) / 1e6];
  } catch {
    return undefined;
  }
}

function percentile(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/**
 * Measures event-loop lateness like perf_hooks.monitorEventLoopDelay (a repeating timer; lateness = gap minus
 * the interval) and, for every turn, how much of that lateness the main thread was actually running. Must be
 * started on the thread it measures (the extension host's main thread in the API tests).
 */
export class LoopMonitor {
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private last = 0;
  private lastSched: [number, number] | undefined;
  private lastMono = 0;
  private readonly turns: { from: number; to: number; cpuMs: number }[] = [];
  private readonly wall: number[] = [];
  private readonly cpu: number[] = [];
  private readonly blocked: number[] = [];
  private readonly stalls: LoopStall[] = [];
  private readonly gcs: { start: number; end: number }[] = [];
  private readonly gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.gcs.push({ start: e.startTime, end: e.startTime + e.duration });
  });

  constructor(private readonly intervalMs = 10, private readonly keepAboveMs = 20) {}

  start(): void {
    this.t0 = this.last = performance.now();
    this.lastSched = schedstat();
    this.lastMono = monotonicMs();
    this.gcObserver.observe({ entryTypes: ['gc'] });
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  private tick(): void {
    const now = performance.now();
    const mono = monotonicMs();
    const sched = schedstat();
    const late = Math.max(0, now - this.last - this.intervalMs);
    const cpuMs = sched && this.lastSched ? sched[0] - this.lastSched[0] : 0;
    const runqueueMs = sched && this.lastSched ? sched[1] - this.lastSched[1] : 0;
    const cpuCapped = Math.min(cpuMs, now - this.last);
    const blocked = sched && this.lastSched ? Math.max(0, late - runqueueMs) : late;
    this.wall.push(late);
    this.cpu.push(cpuCapped);
    this.blocked.push(blocked);
    if (late > this.keepAboveMs || blocked > this.keepAboveMs) {
      const from = this.last;
      const gcMs = this.gcs.filter((g) => g.end > from && g.start < now).reduce((s, g) => s + Math.min(g.end, now) - Math.max(g.start, from), 0);
      this.stalls.push({ at: from - this.t0, wallMs: late, cpuMs: cpuCapped, runqueueMs, gcMs, blockedMs: blocked });
    }
    this.turns.push({ from: this.lastMono, to: mono, cpuMs: cpuCapped });
    this.last = now;
    this.lastMono = mono;
    this.lastSched = sched;
  }

  stop(): LoopReport {
    clearInterval(this.timer);
    this.gcObserver.disconnect();
    const worst = [...this.stalls].sort((a, b) => b.wallMs - a.wallMs).slice(0, 8);
    return {
      samples: this.wall.length,
      maxWallMs: this.wall.reduce((m, x) => Math.max(m, x), 0),
      p99WallMs: percentile(this.wall, 99),
      maxCpuMs: this.cpu.reduce((m, x) => Math.max(m, x), 0),
      p99CpuMs: percentile(this.cpu, 99),
      maxBlockedMs: this.blocked.reduce((m, x) => Math.max(m, x), 0),
      p99BlockedMs: percentile(this.blocked, 99),
      worst,
      schedstat: this.lastSched !== undefined,
      turns: this.turns,
    };
  }
}

/** One line per report, for the test log. */
export function describeLoop(name: string, r: LoopReport): string {
  const f = (x: number): string => x.toFixed(1);
  const head = `${name}: timer lateness max ${f(r.maxWallMs)} ms, p99 ${f(r.p99WallMs)} ms; held by this process max ${f(r.maxBlockedMs)} ms, p99 ${f(r.p99BlockedMs)} ms; main thread on a CPU per turn max ${f(r.maxCpuMs)} ms (${r.samples} turns${r.schedstat ? '' : ', no schedstat'})`;
  const rows = r.worst.map((s) => `        at ${(s.at / 1000).toFixed(1)} s: ${f(s.wallMs)} ms late: ${f(s.runqueueMs)} ms waiting for a CPU, ${f(s.blockedMs)} ms held by this process (${f(s.cpuMs)} ms on a CPU, GC overlapping ${f(s.gcMs)} ms)`);
  return [head, ...rows].join('\n');
}

/** The longest time some code held the main thread in one go, from a V8 CPU profile taken while `fn` ran. */
export interface OwnCodeReport {
  /** Longest run of consecutive profile samples with a frame of the matched code on the stack, ms of CPU. */
  readonly maxMs: number;
  /** Total CPU time with matched code on the stack, ms. */
  readonly totalMs: number;
  /** The frames most often at the top of the stack in that longest run. */
  readonly longest: readonly string[];
  readonly samples: number;
  /** Every unbroken run longer than 10 ms: its span on the monotonic clock (ms), its length and its top frames. */
  readonly stretches: readonly OwnStretch[];
  /** When the profile started, monotonic ms. */
  readonly startedAt: number;
}

export interface OwnStretch {
  readonly from: number;
  readonly to: number;
  readonly ms: number;
  readonly top: readonly string[];
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  /** Monotonic clock, microseconds. */
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/**
 * Runs `fn` under V8's sampling CPU profiler (node:inspector, on this thread, every `intervalUs`) and measures how
 * long code whose script URL satisfies `ours` ran without a break: consecutive samples with one of its frames on
 * the stack. Each sample stands for at most 1.5 sampling intervals of CPU, so time the thread spent off the CPU
 * (waiting for one, or blocked) between two samples is not counted as running. That is still an upper bound: the
 * sampling signal also lands while the thread is asleep in a system call (on a machine loaded with three busy loops
 * besides the test, 49 samples fell in one fstat dispatch, and the same run had a 300 ms turn in which the thread
 * ran 2 ms; a wait on libuv's thread-pool lock held by a starved worker would look like that), so a stretch is
 * compared with the thread's CPU time over it ({@link cpuWithin}) before it is called work.
 */
export async function profileOwnCode<T>(ours: (url: string) => boolean, fn: () => Promise<T>, intervalUs = 1000): Promise<{ result: T; own: OwnCodeReport }> {
  const inspector = await import('node:inspector');
  const session = new inspector.Session();
  const post = <R>(method: string, params: object = {}): Promise<R> =>
    new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r as R))));
  session.connect();
  try {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: intervalUs });
    await post('Profiler.start');
    const outcome = await fn().then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
    const { profile } = await post<{ profile: Profile }>('Profiler.stop');
    if (!outcome.ok) throw outcome.error;
    return { result: outcome.value, own: analyseProfile(profile, ours, intervalUs / 1000) };
  } finally {
    session.disconnect();
  }
}

function analyseProfile(p: Profile, ours: (url: string) => boolean, intervalMs: number): OwnCodeReport {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const isOurs = new Map<number, boolean>();
  const onStack = (id: number): boolean => {
    const known = isOurs.get(id);
    if (known !== undefined) return known;
    const n = byId.get(id);
    const up = parent.get(id);
    const v = !!n && (ours(n.callFrame.url) || (up !== undefined && onStack(up)));
    isOurs.set(id, v);
    return v;
  };
  const name = (id: number): string => {
    const f = byId.get(id)?.callFrame;
    return f ? `${f.functionName || '(anonymous)'} ${f.url.split('/').pop() ?? ''}:${f.lineNumber + 1}` : '?';
  };
  const topFrames = (first: number, last: number): string[] => {
    const counts = new Map<string, number>();
    for (let i = first; i <= last; i++) {
      const k = name(p.samples[i] as number);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    return [...counts].sort((x, y) => y[1] - x[1]).slice(0, 5).map(([k, c]) => `${k} (${c})`);
  };
  let best = 0;
  let longest: string[] = [];
  let cur = 0;
  let start = 0;
  let startAt = 0;
  let total = 0;
  let at = p.startTime / 1000;
  const stretches: OwnStretch[] = [];
  const close = (last: number, endAt: number): void => {
    if (cur > best) {
      best = cur;
      longest = topFrames(start, last);
    }
    if (cur > 10) stretches.push({ from: startAt, to: endAt, ms: cur, top: topFrames(start, last) });
    cur = 0;
  };
  p.samples.forEach((id, i) => {
    // timeDeltas[i] is the time since the previous sample: what this sample stands for, capped.
    const delta = (p.timeDeltas[i] ?? 0) / 1000;
    const ms = Math.min(delta, intervalMs * 1.5);
    at += delta;
    if (onStack(id)) {
      if (cur === 0) {
        start = i;
        startAt = at - ms;
      }
      cur += ms;
      total += ms;
    } else if (cur > 0) close(i - 1, at - delta);
  });
  if (cur > 0) close(p.samples.length - 1, at);
  return { maxMs: best, totalMs: total, longest, samples: p.samples.length, stretches, startedAt: p.startTime / 1000 };
}
