/**
 * The training-session process (bundled as dist/session.js):
 *
 *   node dist/session.js --run-dir <run folder> [--resume] [--threads N] [--restart-from-scratch]
 *   node dist/session.js --spec <spec.json> [--run-dir <run folder>] [--threads N] [--restart-from-scratch]
 *
 * With `--run-dir` alone it trains the run folder's spec.json (what the run manager starts); with `--spec` it
 * copies the spec into the run folder (default: the spec's `outputDir`). Events go to stdout, one JSON line each,
 * and to `<run>/events.jsonl`. It always resumes from the newest readable checkpoint of the folder (`--resume` is
 * accepted for clarity). SIGTERM / SIGINT: the session finishes the step it is in, writes a checkpoint and exits
 * with a `finished` event of reason `stopped`. Exit code 0, 1 when the run failed, 3 when it diverged.
 *
 * The session holds the run lock (src/core/runs/runLock.ts) while it trains: it adopts the lock of the editor that
 * spawned it, or takes it itself; when another live process holds it, it exits with code 1 before writing anything
 * into the run folder. `--restart-from-scratch`: see `SessionOptions.restartFromScratch`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runPaths } from '../core/runs/layout';
import { lockRunForSession, releaseRunLock } from '../core/runs/runLock';
import { resolveRunSpec } from '../core/runs/spec';
import { formatEvent } from '../protocol/session';
import { formatError, isUserError } from '../util/errors';
import { EventSink } from './events';
import { defaultCacheDir } from './model';
import { runSession } from './runSession';
import { sessionExitCode } from './types';

interface Args {
  runDir?: string;
  spec?: string;
  threads?: number;
  restartFromScratch?: boolean;
}

function parseArgs(argv: readonly string[]): Args | string {
  const a: Args = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const val = (): string | undefined => argv[++i];
    if (k === '--run-dir') a.runDir = val();
    else if (k === '--spec') a.spec = val();
    else if (k === '--threads') a.threads = Number(val());
    else if (k === '--resume') continue;
    else if (k === '--restart-from-scratch') a.restartFromScratch = true;
    else return `unknown argument ${k}`;
  }
  if (!a.runDir && !a.spec) return 'usage: session --run-dir <run folder> [--resume] | --spec <spec.json> [--run-dir <folder>]';
  if (a.threads !== undefined && !(Number.isInteger(a.threads) && a.threads > 0)) return '--threads: expected a positive integer';
  return a;
}

/** Runs the session process; resolves to the exit code. */
export async function sessionMain(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    process.stderr.write(args + '\n');
    return 2;
  }
  const specFile = args.spec ?? path.join(args.runDir as string, 'spec.json');
  let raw: unknown;
  try {
    // A leading BOM (editors on Windows write one) is not part of the JSON.
    raw = JSON.parse(fs.readFileSync(specFile, 'utf8').replace(/^\uFEFF/, ''));
  } catch (e) {
    process.stderr.write(`cannot read the run spec ${specFile}: ${(e as Error).message}\n`);
    return 2;
  }
  const r = resolveRunSpec(raw, args.runDir);
  const runDir = path.resolve(args.runDir ?? (r.ok ? r.spec.outputDir : '.'));
  fs.mkdirSync(runDir, { recursive: true });
  const lock = await lockRunForSession(runDir, 'training session');
  if (!lock.ok) {
    process.stderr.write(`session: ${lock.message}\n`);
    return 1;
  }
  try {
    return await sessionLocked(args, specFile, r, runDir);
  } finally {
    if (!lock.adopted) await releaseRunLock(runDir);
  }
}

/** The session once it holds the run lock. */
async function sessionLocked(args: Args, specFile: string, r: ReturnType<typeof resolveRunSpec>, runDir: string): Promise<number> {
  const sink = new EventSink(runPaths(runDir).events);
  sink.on((e) => process.stdout.write(formatEvent(e)));
  if (!r.ok) {
    const lines = r.problems.map((p) => `${p.path || '(spec)'}: ${p.reason}`);
    sink.error({ message: `invalid run spec ${specFile}: ${r.problems.length} problem(s)`, detail: lines.join('\n'), fatal: true, expected: true });
    process.stderr.write(`invalid run spec ${specFile}:\n${lines.map((l) => '  ' + l).join('\n')}\n`);
    sink.close();
    return 2;
  }
  for (const w of r.warnings) sink.warning({ message: w });
  const spec = { ...r.spec, outputDir: runDir };
  if (args.spec) {
    fs.mkdirSync(runDir, { recursive: true });
    fs.writeFileSync(runPaths(runDir).spec, JSON.stringify(spec, null, 2) + '\n');
  }
  let stop = false;
  const onSignal = (): void => {
    stop = true;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const res = await runSession(spec, {
      runDir,
      cacheDir: defaultCacheDir(),
      baseDir: process.cwd(),
      sink,
      stopRequested: () => stop,
      ...(args.restartFromScratch ? { restartFromScratch: true } : {}),
      ...(args.threads ? { threads: args.threads } : process.env['ALIGNMENT_THREADS'] ? { threads: Number(process.env['ALIGNMENT_THREADS']) } : {}),
    });
    return sessionExitCode(res);
  } finally {
    sink.close();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/**
 * Runs the session as this process and exits with its code. The bundle's entry (dist/session.js, written by
 * scripts/build.mjs) turns on source maps before it loads this bundle, so stacks of unexpected errors name the
 * TypeScript source.
 */
export function runSessionProcess(): void {
  process.setSourceMapsEnabled(true);
  sessionMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`${isUserError(e) ? 'session' : 'session crashed'}: ${formatError(e)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) runSessionProcess();
