/**
 * Running a scorer over evaluation data: held-out preference pairs (for accuracy, calibration, histograms) and
 * prompt x response grids (for EPIC / STARC distances). The scorer is a callback, so the same code scores with a
 * reward model in a session process, a proxy scorer, or anything else.
 */
import type { PreferenceExample } from '../datasets/examples';
import { completionText, renderConversation } from '../judges/labelJob';
import { mapLimit } from './mapLimit';
import type { Scorer } from './perturbation';
import type { ScoredPairRecord } from './report';
import type { RewardGrid } from './rewardDistance';

export interface ScoringOptions {
  /** Scorer calls in flight at once (default 4). */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  /** Called after each scored item with (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

async function finite(scorer: Scorer, prompt: string, response: string, where: string): Promise<number> {
  const v = await scorer(prompt, response);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${where}: the scorer returned ${String(v)}, not a finite number`);
  return v;
}

/**
 * Scores the chosen and rejected response of each held-out example. Conversations are flattened to text for the
 * callback as the judges see them ({@link renderConversation}); lengths are in characters.
 */
export async function scorePreferencePairs(scorer: Scorer, examples: readonly PreferenceExample[], opts: ScoringOptions = {}): Promise<ScoredPairRecord[]> {
  return mapLimit(examples, opts.concurrency ?? 4, async (e) => {
    const prompt = typeof e.prompt === 'string' ? e.prompt : renderConversation(e.prompt);
    const chosenText = completionText(e.chosen);
    const rejectedText = completionText(e.rejected);
    const chosen = await finite(scorer, prompt, chosenText, `example ${e.id} (chosen)`);
    const rejected = await finite(scorer, prompt, rejectedText, `example ${e.id} (rejected)`);
    return { id: e.id, section: e.section, tags: e.tags, chosen, rejected, chosenLength: chosenText.length, rejectedLength: rejectedText.length };
  }, opts);
}

/** Scores every response of every prompt: the grid EPIC, EPIC-like and STARC compare. */
export async function scoreGrid(scorer: Scorer, items: readonly { readonly prompt: string; readonly responses: readonly string[] }[], opts: ScoringOptions = {}): Promise<RewardGrid> {
  const cells = items.flatMap((it, i) => it.responses.map((r, j) => ({ i, j, prompt: it.prompt, response: r })));
  const values = await mapLimit(cells, opts.concurrency ?? 4, (c) => finite(scorer, c.prompt, c.response, `prompt ${c.i}, response ${c.j}`), opts);
  const grid = items.map((it) => new Array<number>(it.responses.length));
  cells.forEach((c, k) => (grid[c.i][c.j] = values[k]));
  return grid;
}

/**
 * Scores files are named `<name>.scores.jsonl` (the CLI and the editor write them so), which is how dataset lists
 * (the Datasets view, dataset pickers, inline labeling) tell them from datasets wherever they are saved.
 */
export const SCORES_FILE_SUFFIX = '.scores.jsonl';

/** `alignment inspect-rm` files (dense rewards per record) are named `<name>.rewards.jsonl`, for the same reason. */
export const INSPECTION_FILE_SUFFIX = '.rewards.jsonl';

/** True for a scores or reward-inspection file name (see the suffixes above); such files are not datasets. */
export function isScoresFile(file: string): boolean {
  const f = file.toLowerCase();
  return f.endsWith(SCORES_FILE_SUFFIX) || f.endsWith(INSPECTION_FILE_SUFFIX);
}

/** The scores file the Evaluation panel reads (see report.ts): one JSON object per line. */
export function formatScores(records: readonly ScoredPairRecord[]): string {
  return records
    .map((r) =>
      JSON.stringify({
        id: r.id,
        section: r.section,
        tags: r.tags,
        chosen_reward: r.chosen,
        rejected_reward: r.rejected,
        chosen_length: r.chosenLength,
        rejected_length: r.rejectedLength,
      }),
    )
    .join('\n') + (records.length ? '\n' : '');
}
