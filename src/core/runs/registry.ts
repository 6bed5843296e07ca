/**
 * The run registry: the runs of a workspace as the run folders on disk describe them (layout in ./layout.ts).
 * Pure file logic, no VS Code: the host's run view, the CLI and tests all read runs through this.
 *
 * Status comes from the events: `finished` -> finished (or stopped / early-stopped by its reason), a fatal
 * `error` -> failed, `started` with neither -> running, unless the caller can tell that the session process is
 * gone (then failed: it died without a final event); no events -> pending.
 */
import { mkdir, open, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  parseSessionEvents,
  type CheckpointParams,
  type ErrorParams,
  type EvalParams,
  type FinishedParams,
  type MetricsParams,
  type ParseWarning,
  type SessionEvent,
  type StartedParams,
} from '../../protocol/session';
import { isRunId, newRunId, runPaths, runsRoot, EVENTS_FILE } from './layout';
import { resolveRunSpec, type RunSpec, type SpecProblem } from './spec';

export type RunStatus = 'pending' | 'running' | 'finished' | 'stopped' | 'failed';

export interface RunSummary {
  readonly id: string;
  readonly dir: string;
  /** The spec, when spec.json is present and valid. */
  readonly spec?: RunSpec;
  /** Why spec.json could not be used (missing, not JSON, invalid fields). */
  readonly specProblems: readonly SpecProblem[];
  readonly status: RunStatus;
  /** Why the status is what it is, for failed/stopped runs. */
  readonly statusDetail?: string;
  readonly started?: StartedParams;
  readonly finished?: FinishedParams;
  readonly lastMetrics?: MetricsParams;
  readonly lastEval?: EvalParams;
  readonly latestCheckpoint?: CheckpointParams;
  /** Error events seen in the tail (fatal or not). */
  readonly errors: readonly ErrorParams[];
  /** Lines of events.jsonl that could not be used, with their line numbers (in the tail when `tailOnly`). */
  readonly eventWarnings: readonly ParseWarning[];
  /** True when only the end of a long events file was read (counts and line numbers refer to that tail). */
  readonly tailOnly: boolean;
  /** Modification time of events.jsonl (or spec.json), ms since epoch. */
  readonly updatedAt: number;
}

export interface ReadOptions {
  /** Read at most this many bytes from the end of events.jsonl (default 256 KiB). */
  readonly tailBytes?: number;
  /** Tells whether a process id is alive; without it a started run with no final event counts as running. */
  readonly isProcessAlive?: (pid: number) => boolean;
}

/** The status that a run's events imply. Events are in file order; the last terminal event wins. */
export function deriveStatus(events: readonly SessionEvent[], started: StartedParams | undefined, opts: ReadOptions = {}): { status: RunStatus; detail?: string } {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.type === 'finished') {
      if (e.params.reason === 'stopped') return { status: 'stopped', detail: `stopped by the user at step ${e.params.step}` };
      if (e.params.reason === 'early-stopped') return { status: 'finished', detail: `early-stopped at step ${e.params.step}` };
      return { status: 'finished' };
    }
    if (e.type === 'error' && e.params.fatal) return { status: 'failed', detail: e.params.message };
  }
  if (!started) return events.length ? { status: 'running', detail: 'no "started" event was found' } : { status: 'pending' };
  if (started.pid !== undefined && opts.isProcessAlive && !opts.isProcessAlive(started.pid)) {
    return { status: 'failed', detail: `the session process (pid ${started.pid}) ended without a final event` };
  }
  return { status: 'running' };
}

/**
 * Reads the first line and the last `tailBytes` of an events file. The first line is the `started` event; the
 * tail holds the latest metrics and any final event. Missing file -> no events.
 */
export async function readEventsTail(path: string, tailBytes = 256 * 1024): Promise<{ events: SessionEvent[]; first?: SessionEvent; warnings: ParseWarning[]; tailOnly: boolean }> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { events: [], warnings: [], tailOnly: false };
    throw e;
  }
  try {
    const { size } = await fh.stat();
    if (size <= tailBytes) {
      const parsed = parseSessionEvents((await fh.readFile()).toString('utf8'));
      return { events: parsed.events, first: parsed.events[0], warnings: parsed.warnings, tailOnly: false };
    }
    const head = Buffer.alloc(Math.min(64 * 1024, size));
    await fh.read(head, 0, head.length, 0);
    const headText = head.toString('utf8');
    const nl = headText.indexOf('\n');
    const first = nl >= 0 ? parseSessionEvents(headText.slice(0, nl)).events[0] : undefined;
    const tail = Buffer.alloc(tailBytes);
    await fh.read(tail, 0, tailBytes, size - tailBytes);
    let text = tail.toString('utf8');
    text = text.slice(text.indexOf('\n') + 1); // drop the partial first line
    const parsed = parseSessionEvents(text);
    return { events: parsed.events, first, warnings: parsed.warnings, tailOnly: true };
  } finally {
    await fh.close();
  }
}

/** Reads one run folder. Never throws for bad contents (they are reported); throws only for I/O failures. */
export async function readRun(runDir: string, opts: ReadOptions = {}): Promise<RunSummary> {
  const paths = runPaths(runDir);
  const id = runDir.split(/[\\/]/).filter(Boolean).pop() ?? runDir;
  let spec: RunSpec | undefined;
  let specProblems: SpecProblem[] = [];
  let updatedAt = 0;
  try {
    const text = await readFile(paths.spec, 'utf8');
    updatedAt = (await stat(paths.spec)).mtimeMs;
    let json: unknown;
    try {
      json = JSON.parse(text) as unknown;
    } catch (e) {
      specProblems = [{ path: '', reason: `spec.json is not valid JSON (${e instanceof Error ? e.message : String(e)})` }];
    }
    if (json !== undefined) {
      const r = resolveRunSpec(json, runDir);
      if (r.ok) spec = r.spec;
      else specProblems = r.problems;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    specProblems = [{ path: '', reason: 'spec.json is missing' }];
  }

  const { events, first, warnings, tailOnly } = await readEventsTail(paths.events, opts.tailBytes);
  try {
    updatedAt = Math.max(updatedAt, (await stat(paths.events)).mtimeMs);
  } catch {
    // no events yet
  }
  const started = first?.type === 'started' ? first.params : undefined;
  const rev = [...events].reverse();
  const fin = rev.find((e) => e.type === 'finished');
  const met = rev.find((e) => e.type === 'metrics');
  const ev = rev.find((e) => e.type === 'eval');
  const ck = rev.find((e) => e.type === 'checkpoint');
  const { status, detail } = deriveStatus(events, started, opts);
  return {
    id,
    dir: runDir,
    ...(spec ? { spec } : {}),
    specProblems,
    status,
    ...(detail !== undefined ? { statusDetail: detail } : {}),
    ...(started ? { started } : {}),
    ...optional('finished', fin?.type === 'finished' ? fin.params : undefined),
    ...optional('lastMetrics', met?.type === 'metrics' ? met.params : undefined),
    ...optional('lastEval', ev?.type === 'eval' ? ev.params : undefined),
    ...optional('latestCheckpoint', ck?.type === 'checkpoint' ? ck.params : undefined),
    errors: events.filter((e): e is Extract<SessionEvent, { type: 'error' }> => e.type === 'error').map((e) => e.params),
    eventWarnings: warnings,
    tailOnly,
    updatedAt,
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * All runs of a workspace (folders under `.alignment/runs/`), newest first. Folders whose names are not run ids
 * are still listed (a user may have copied a run in), sorted after by name.
 */
export async function listRuns(workspaceDir: string, opts: ReadOptions = {}): Promise<RunSummary[]> {
  const root = runsRoot(workspaceDir);
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  dirs.sort((a, b) => Number(isRunId(b)) - Number(isRunId(a)) || (isRunId(a) ? b.localeCompare(a) : a.localeCompare(b)));
  const out: RunSummary[] = [];
  for (const d of dirs) out.push(await readRun(join(root, d), opts));
  return out;
}

export type CreateRunResult = { readonly ok: true; readonly id: string; readonly dir: string; readonly spec: RunSpec; readonly warnings: string[] } | { readonly ok: false; readonly problems: SpecProblem[]; readonly warnings: string[] };

/**
 * Makes a new run folder for a spec: resolves and validates it (outputDir = the new folder), then writes
 * spec.json (through a temporary file and a rename, so a reader never sees half a spec) and an empty
 * checkpoints/ folder. Nothing is written when the spec has problems.
 */
export async function createRun(workspaceDir: string, specInput: unknown, now = new Date(), random: () => number = Math.random): Promise<CreateRunResult> {
  const method = typeof specInput === 'object' && specInput !== null && 'method' in specInput ? String((specInput as { method: unknown }).method) : 'run';
  const id = newRunId(method, now, random);
  const dir = join(runsRoot(workspaceDir), id);
  const input = typeof specInput === 'object' && specInput !== null && !Array.isArray(specInput) ? { ...specInput, outputDir: dir } : specInput;
  const r = resolveRunSpec(input, dir);
  if (!r.ok) return r;
  const paths = runPaths(dir);
  await mkdir(paths.checkpoints, { recursive: true });
  const tmp = `${paths.spec}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(r.spec, null, 2) + '\n', 'utf8');
  await rename(tmp, paths.spec);
  return { ok: true, id, dir, spec: r.spec, warnings: r.warnings };
}

/** The events file name, re-exported for watchers that match on it. */
export const EVENTS_FILE_NAME = EVENTS_FILE;
