/** Fixtures for tests of runs with a person: the spec on the tiny model, a scripted labeler, an in-process run. */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { candidateText } from '../../../src/protocol/humanLoop';
import { SIMULATED_LABELER_SOURCE } from '../../../src/core/runs/rounds';
import { HeadlessLabeler, type Decide } from '../../../src/cli/humanLabels';
import { runSession } from '../../../src/session/runSession';
import type { SessionResult } from '../../../src/session/types';
import { onlineSpec, resolved } from './onlineFixtures';
import type { Workspace } from './sessionFixtures';

const vowels = (s: string): number => (s.match(/[aeiou]/g) ?? []).length;
/** Prefers the candidate with more vowels; equal counts are a tie. */
export const vowelDecide: Decide = (p) => {
  const [a, b] = [vowels(candidateText(p.chosen)), vowels(candidateText(p.rejected))];
  return a === b ? null : a > b ? 'chosen' : 'rejected';
};

export function humanSpec(ws: Workspace, runDir: string, hyper: Record<string, unknown> = {}, over: Record<string, unknown> = {}): Record<string, unknown> {
  const { rewards: _r, maxSteps: _m, ...base } = onlineSpec(ws, runDir, { method: 'human-dpo', batchSize: 2, optimizer: { learningRate: 1e-2, weightDecay: 0 } });
  return { ...base, hyperparameters: { max_new_tokens: 6, rounds: 2, prompts_per_round: 3, samples_per_prompt: 3, pairs_per_round: 4, updates_per_round: 2, ...hyper }, ...over };
}

/** Runs the session in-process with a labeler (if any) polling the run folder. */
export async function runWithLabeler(spec: Record<string, unknown>, runDir: string, decide: Decide | undefined, stopAfter?: number): Promise<SessionResult> {
  const labeler = decide ? new HeadlessLabeler(runDir, decide, { writerId: 'labeler', source: SIMULATED_LABELER_SOURCE, annotator: 'sim' }) : undefined;
  let failure: unknown;
  labeler?.start(20, (e) => (failure = e));
  let polls = 0;
  try {
    return await runSession(resolved(spec), { runDir, cacheDir: path.join(runDir, '..', 'cache'), threads: 1, labelPollMs: 20, ...(stopAfter !== undefined ? { stopRequested: () => polls++ >= stopAfter } : {}) });
  } finally {
    labeler?.stop();
    assert.equal(failure, undefined);
  }
}

