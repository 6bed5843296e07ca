import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { calibrationKey } from '../../core/runs/calibration';
import type { RunSpec } from '../../core/runs/spec';
import { PreflightReportMsg, type PreflightReport, type StepTiming } from '../../protocol/preflight';

/** The file in the extension's global storage that keeps measured timings across windows. */
export const CALIBRATION_FILE = 'calibration.json';
/** Timings kept; the oldest go first. */
const KEPT_TIMINGS = 200;

/**
 * Runs the calibration session of the launch form's spec in the background (`dist/cli.js preflight - --json`, at a
 * low priority) and remembers what it said: the whole report per spec and data file version for this window, and
 * the timing per model, method, shapes and device (src/core/runs/calibration.ts `calibrationKey`) in the
 * extension's global storage, so a configuration measured once is not measured again. One calibration at a time:
 * a newer spec ends the older one's process.
 */
export class PreflightRunner {
  private readonly reports = new Map<string, PreflightReport>();
  private timings: Map<string, StepTiming> | undefined;
  private child: ChildProcess | undefined;

  constructor(
    private readonly extensionPath: string,
    private readonly storageDir: string,
    private readonly onLog: (line: string) => void,
    private readonly nodePath = process.execPath,
  ) {}

  /** What is known about `spec` without running anything: its report, or a report of its remembered timing. */
  async known(spec: RunSpec, dataFile: string): Promise<{ report?: PreflightReport; timing?: StepTiming }> {
    const report = this.reports.get(await this.reportKey(spec, dataFile));
    const timing = (await this.loadTimings()).get(calibrationKey(spec));
    return { ...(report ? { report } : {}), ...(timing ? { timing } : {}) };
  }

  /** Runs the calibration of `spec` (raw: as the form has it); undefined when a newer request ended it. */
  async run(spec: RunSpec, raw: Record<string, unknown>, dataFile: string, workspaceDir: string): Promise<PreflightReport | undefined> {
    const key = await this.reportKey(spec, dataFile);
    const report = await this.spawn(raw, workspaceDir);
    if (!report) return undefined;
    this.reports.set(key, report);
    if (report.timing) await this.remember(calibrationKey(spec), report.timing);
    return report;
  }

  dispose(): void {
    this.child?.kill();
  }

  private async reportKey(spec: RunSpec, dataFile: string): Promise<string> {
    const version = await stat(dataFile).then((s) => `${s.size}:${s.mtimeMs}`, () => 'missing');
    return JSON.stringify({ spec: { ...spec, outputDir: '', name: '' }, version });
  }

  private spawn(raw: Record<string, unknown>, workspaceDir: string): Promise<PreflightReport | undefined> {
    this.child?.kill();
    const cli = path.join(this.extensionPath, 'dist', 'cli.js');
    const child = spawn(this.nodePath, [cli, 'preflight', '-', '--json', '--base-dir', workspaceDir], { cwd: workspaceDir, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
    this.child = child;
    if (child.pid !== undefined) {
      try {
        // Training takes every core it can; the editor stays responsive while a calibration runs.
        os.setPriority(child.pid, 10);
      } catch {
        // not permitted here: it runs at normal priority
      }
    }
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin?.end(JSON.stringify(raw));
    return new Promise((resolve) => {
      child.on('error', (e) => {
        this.onLog(`Preflight: could not start ${cli}: ${e.message}`);
        resolve(undefined);
      });
      child.on('close', (code, signal) => {
        if (this.child === child) this.child = undefined;
        if (signal) return resolve(undefined);
        const last = out.trim().split('\n').pop() ?? '';
        let msg: unknown;
        try {
          msg = JSON.parse(last);
        } catch {
          msg = undefined;
        }
        if (PreflightReportMsg.is(msg)) return resolve(msg.params);
        const why = err.split('\n').find((l) => l.startsWith('error:')) ?? err.trim().split('\n')[0] ?? `exit code ${code}`;
        this.onLog(`Preflight: no report (${why})`);
        resolve({ dataLoss: {}, warnings: [], failure: why.replace(/^error:\s*/, '') });
      });
    });
  }

  private async loadTimings(): Promise<Map<string, StepTiming>> {
    if (this.timings) return this.timings;
    const timings = new Map<string, StepTiming>();
    try {
      const json = JSON.parse(await readFile(path.join(this.storageDir, CALIBRATION_FILE), 'utf8')) as unknown;
      if (Array.isArray(json)) {
        for (const e of json) {
          const entry = e as { key?: unknown; timing?: unknown };
          // Entries are checked like a report's timing; a bad one is dropped (it is measured again).
          const check = PreflightReportMsg.is({ type: 'preflight/report', params: { dataLoss: {}, warnings: [], timing: entry.timing } });
          if (typeof entry.key === 'string' && check) timings.set(entry.key, entry.timing as StepTiming);
        }
      }
    } catch {
      // none yet, or unreadable: measured again
    }
    this.timings = timings;
    return timings;
  }

  private async remember(key: string, timing: StepTiming): Promise<void> {
    const timings = await this.loadTimings();
    timings.delete(key);
    timings.set(key, timing);
    while (timings.size > KEPT_TIMINGS) timings.delete(timings.keys().next().value as string);
    try {
      await mkdir(this.storageDir, { recursive: true });
      await writeFile(path.join(this.storageDir, CALIBRATION_FILE), JSON.stringify([...timings].map(([k, t]) => ({ key: k, timing: t }))) + '\n', 'utf8');
    } catch (e) {
      this.onLog(`Preflight: cannot save timings in ${this.storageDir}: ${String(e)}`);
    }
  }
}
