/**
 * The session's event sink: every event goes, as one JSON line, to `<run>/events.jsonl` (appended synchronously,
 * so a crash loses at most the event being written) and to any listeners (stdout for the host and `--json`, the
 * CLI's progress bar).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  formatEvent,
  SessionCheckpoint,
  SessionDiverged,
  SessionError,
  SessionEval,
  SessionFinished,
  SessionMetrics,
  SessionSamples,
  SessionStarted,
  SessionWarning,
  toMetrics,
  type CheckpointParams,
  type DivergedParams,
  type ErrorParams,
  type EvalParams,
  type FinishedParams,
  type MetricsParams,
  type SamplesParams,
  type SessionEvent,
  type StartedParams,
  type WarningParams,
} from '../protocol/session';

export type EventListener = (e: SessionEvent) => void;

type NoTime<T> = Omit<T, 'time'>;

export class EventSink {
  private readonly listeners: EventListener[] = [];
  private fd: number | undefined;

  /** `file`: the run's events.jsonl (created with its folder), or undefined to write nowhere on disk. */
  constructor(readonly file: string | undefined) {
    if (file) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      this.fd = fs.openSync(file, 'a');
    }
  }

  on(l: EventListener): void {
    this.listeners.push(l);
  }

  emit(e: SessionEvent): void {
    if (this.fd !== undefined) fs.writeSync(this.fd, formatEvent(e));
    for (const l of this.listeners) l(e);
  }

  started(p: NoTime<StartedParams>): void {
    this.emit(SessionStarted.create({ time: Date.now(), ...p }));
  }
  metrics(p: NoTime<Omit<MetricsParams, 'metrics'>> & { metrics: Record<string, number> }): void {
    this.emit(SessionMetrics.create({ time: Date.now(), step: p.step, epoch: p.epoch, metrics: toMetrics(p.metrics) }));
  }
  eval(p: NoTime<Omit<EvalParams, 'metrics'>> & { metrics: Record<string, number> }): void {
    this.emit(SessionEval.create({ time: Date.now(), step: p.step, epoch: p.epoch, metrics: toMetrics(p.metrics) }));
  }
  samples(p: NoTime<SamplesParams>): void {
    this.emit(SessionSamples.create({ time: Date.now(), ...p }));
  }
  checkpoint(p: NoTime<CheckpointParams>): void {
    this.emit(SessionCheckpoint.create({ time: Date.now(), ...p }));
  }
  warning(p: NoTime<WarningParams>): void {
    this.emit(SessionWarning.create({ time: Date.now(), ...p }));
  }
  error(p: NoTime<ErrorParams>): void {
    this.emit(SessionError.create({ time: Date.now(), ...p }));
  }
  diverged(p: NoTime<DivergedParams>): void {
    this.emit(SessionDiverged.create({ time: Date.now(), ...p }));
  }
  finished(p: NoTime<Omit<FinishedParams, 'metrics'>> & { metrics: Record<string, number> }): void {
    this.emit(SessionFinished.create({ time: Date.now(), reason: p.reason, step: p.step, path: p.path, metrics: toMetrics(p.metrics) }));
  }

  close(): void {
    if (this.fd !== undefined) {
      try {
        fs.fsyncSync(this.fd);
      } catch {
        // not every file system can fsync; the appends are on disk or in the page cache either way
      }
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
