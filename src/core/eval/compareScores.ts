/**
 * Distances between several reward models (or judges with numeric scores) that scored the same held-out pairs.
 *
 * Each scores file gives, per pair id, the reward of the chosen and of the rejected response. The pairs shared by
 * every file form a prompt x response grid with two responses per prompt, on which EPIC, STARC and the EPIC-like
 * L2 distance are computed (rewardDistance.ts). With two responses per prompt, EPIC's per-prompt centering leaves
 * +/- half the margin, so the distances compare the rewards' margins up to positive scale: two models that rank
 * every pair with proportional margins are at distance 0 whatever their offsets.
 */
import { rewardDistanceMatrix, type DistanceMatrix, type RewardGrid } from './rewardDistance';
import type { ScoredPairRecord } from './report';

export interface NamedScores {
  readonly name: string;
  readonly pairs: readonly ScoredPairRecord[];
}

export interface ScoreComparison {
  /** Pair ids scored by every model, in the first file's order. */
  readonly ids: readonly string[];
  readonly distances: readonly { readonly metric: string; readonly matrix: DistanceMatrix }[];
  /** Why some pairs or models were left out. */
  readonly notes: readonly string[];
}

/**
 * Aligns the files by pair id and computes EPIC, STARC and EPIC-like (L2) matrices. Pairs without an `id`, and
 * ids repeated within a file, cannot be aligned and are left out (counted in `notes`). Needs at least two models
 * and one shared pair; throws a RangeError naming what is missing otherwise.
 */
export function compareScores(models: readonly NamedScores[]): ScoreComparison {
  if (models.length < 2) throw new RangeError(`a distance matrix needs at least two scored models; got ${models.length}`);
  const names = new Set<string>();
  for (const m of models) {
    if (names.has(m.name)) throw new RangeError(`two models are named "${m.name}"; give each scores file a distinct name`);
    names.add(m.name);
  }
  const notes: string[] = [];
  const maps = models.map((m) => {
    const byId = new Map<string, ScoredPairRecord>();
    const dup = new Set<string>();
    let noId = 0;
    for (const p of m.pairs) {
      if (p.id === undefined) noId++;
      else if (byId.has(p.id)) dup.add(p.id);
      else byId.set(p.id, p);
    }
    for (const d of dup) byId.delete(d);
    if (noId) notes.push(`${m.name}: ${noId} pair(s) without an "id" cannot be aligned and were left out`);
    if (dup.size) notes.push(`${m.name}: ${dup.size} id(s) appear more than once and were left out`);
    return byId;
  });
  const ids = [...maps[0].keys()].filter((id) => maps.every((m) => m.has(id)));
  const unshared = new Set(maps.flatMap((m) => [...m.keys()])).size - ids.length;
  if (unshared > 0) notes.push(`${unshared} pair id(s) are not scored by every model and were left out`);
  if (ids.length === 0) throw new RangeError(`the scores files share no pair id (${models.map((m) => m.name).join(', ')})`);
  const grids: Record<string, RewardGrid> = {};
  models.forEach((m, k) => {
    grids[m.name] = ids.map((id) => {
      const p = maps[k].get(id) as ScoredPairRecord;
      return [p.chosen, p.rejected];
    });
  });
  return {
    ids,
    distances: [
      { metric: 'EPIC', matrix: rewardDistanceMatrix(grids, 'epic') },
      { metric: 'STARC', matrix: rewardDistanceMatrix(grids, 'starc') },
      { metric: 'EPIC-like (L2)', matrix: rewardDistanceMatrix(grids, 'epic-like') },
    ],
    notes,
  };
}
