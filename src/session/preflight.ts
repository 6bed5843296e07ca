/**
 * A run before it starts: the session itself runs the spec's configuration for a few steps in a scratch folder
 * (src/core/runs/calibration.ts `calibrationSpec`), so what it reports is what the run will do, from the same
 * code: the rows its data loading skips, what truncation cuts (the `dataLoss` of its warnings), its split, and
 * the measured time of a step, an evaluation, a sample set and its setup on this machine.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { calibrationSpec, stepTimingFromEvents } from '../core/runs/calibration';
import type { RunSpec } from '../core/runs/spec';
import type { PreflightReport } from '../protocol/preflight';
import type { DataLoss, SessionEvent } from '../protocol/session';
import { EventSink } from './events';
import { runSession } from './runSession';

export interface PreflightOptions {
  readonly cacheDir: string;
  /** Relative data and model paths resolve against this folder (the workspace). */
  readonly baseDir: string;
  readonly threads?: number;
  /**
   * When the process that calibrates started (ms since the epoch; default: now). A run's own session process
   * pays for its start and module loading too, so the CLI passes its process's start.
   */
  readonly startedAt?: number;
}

/** Runs the calibration session of `spec` and reports its data loss and timing; the scratch folder is removed. */
export async function preflight(spec: RunSpec, opts: PreflightOptions): Promise<PreflightReport> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alignment-preflight-'));
  const events: SessionEvent[] = [];
  const sink = new EventSink(undefined);
  sink.on((e) => events.push(e));
  try {
    const t0 = opts.startedAt ?? Date.now();
    const res = await runSession(calibrationSpec(spec, dir), { runDir: dir, cacheDir: opts.cacheDir, baseDir: opts.baseDir, sink, trustedWorkspace: true, ...(opts.threads ? { threads: opts.threads } : {}) });
    let dataLoss: DataLoss = {};
    const warnings: string[] = [];
    for (const e of events) {
      if (e.type !== 'warning') continue;
      if (e.params.dataLoss) dataLoss = { ...dataLoss, ...e.params.dataLoss };
      warnings.push(e.params.message.split('\n')[0] as string);
    }
    const started = events.find((e) => e.type === 'started');
    const timing = res.reason === 'failed' ? undefined : stepTimingFromEvents(events, t0);
    return {
      ...(started?.type === 'started' ? { examples: started.params.examples } : {}),
      dataLoss,
      warnings,
      ...(timing ? { timing } : {}),
      ...(res.reason === 'failed' ? { failure: res.error ?? 'the calibration session failed' } : {}),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
