/** Fixtures for online (GRPO, RLOO, online DPO, PPO) session tests. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveRunSpec, type RunSpec } from '../../../src/core/runs/spec';
import { parseSessionEvents, type SessionEvent } from '../../../src/protocol/session';
import { runSession } from '../../../src/session/runSession';
import { tinySpec, type Workspace } from './sessionFixtures';

/** A raw spec resolved, asserting it has no problems. */
export function resolved(raw: Record<string, unknown>): RunSpec {
  const r = resolveRunSpec(raw);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.spec;
}

/** The events a run wrote. */
export function events(runDir: string): SessionEvent[] {
  return parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).events;
}

/** Metrics events by step, without the wall-clock ones. */
export function metricsByStep(evs: readonly SessionEvent[]): Map<number, Record<string, number | null>> {
  const out = new Map<number, Record<string, number | null>>();
  for (const e of evs) {
    if (e.type !== 'metrics') continue;
    const m: Record<string, number | null> = { ...e.params.metrics };
    delete m.step_time;
    delete m.tokens_per_second;
    out.set(e.params.step, m);
  }
  return out;
}

/** Runs a session in-process on one thread; with `stopAfter`, a stop is requested after that many polls. */
export function run(spec: RunSpec, runDir: string, stopAfter?: number): ReturnType<typeof runSession> {
  let calls = 0;
  return runSession(spec, { runDir, cacheDir: path.join(runDir, '..', 'cache'), threads: 1, ...(stopAfter !== undefined ? { stopRequested: () => calls++ >= stopAfter } : {}) });
}

/** Prompt-only rows with a reference answer (the verifiers read it). */
export function promptRows(n: number): string[] {
  return Array.from({ length: n }, (_, i) => JSON.stringify({ prompt: [{ role: 'user', content: `item ${i + 1}: say ${i % 2 ? 'no' : 'yes'}` }], answer: i % 2 ? 'no' : 'yes' }));
}

export function onlineSpec(ws: Workspace, runDir: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return tinySpec(ws, runDir, {
    method: 'grpo',
    data: { path: ws.data, maxLength: 32, evalSplit: 0 },
    hyperparameters: { num_generations: 4, max_completion_length: 6, beta: 0.04 },
    rewards: { functions: [{ kind: 'regex', pattern: '[aeiou]', name: 'vowel' }, { kind: 'exact_match', weight: 0.5 }] },
    batchSize: 8,
    maxSteps: 4,
    intervals: { logging: 1, eval: 0, checkpoint: 2, sample: 2 },
    ...over,
  });
}
