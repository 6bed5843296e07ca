/** Fixtures for online (GRPO, RLOO) session tests. */
import { tinySpec, type Workspace } from './sessionFixtures';

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
