/**
 * Fixtures for session tests: a temp workspace with the tiny model folder and small TRL-format data files.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tinyModelFolder } from '../training/trainerFixtures';

export const REPO = path.resolve(__dirname, '..', '..', '..');

/** n yes/no preference rows (TRL conversational JSON lines). */
export function pairRows(n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const want = i % 2 === 0 ? 'yes' : 'no';
    return JSON.stringify({ prompt: [{ role: 'user', content: `item ${1 + (i % 12)}: say ${want}` }], chosen: [{ role: 'assistant', content: want }], rejected: [{ role: 'assistant', content: want === 'yes' ? 'no' : 'yes' }] });
  });
}

export interface Workspace {
  readonly dir: string;
  readonly model: string;
  readonly data: string;
}

/** A temp folder with `data.jsonl` (the given lines) and the tiny model's path. */
export function workspace(lines: readonly string[] = pairRows(40)): Workspace {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-ws-'));
  const data = path.join(dir, 'data.jsonl');
  fs.writeFileSync(data, lines.join('\n') + '\n');
  return { dir, model: tinyModelFolder(), data };
}

/** A run spec (JSON object as a user writes it) for the tiny model. */
export function tinySpec(ws: Workspace, runDir: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    method: 'dpo',
    model: { kind: 'hf', path: ws.model },
    data: { path: ws.data, maxLength: 32, evalSplit: 0.2 },
    batchSize: 2,
    maxSteps: 6,
    optimizer: { learningRate: 1e-2, weightDecay: 0.01 },
    intervals: { logging: 2, eval: 3, checkpoint: 2, sample: 6 },
    outputDir: runDir,
    ...over,
  };
}
