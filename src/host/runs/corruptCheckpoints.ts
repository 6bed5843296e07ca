/**
 * Whether a run can only restart from step 0: the session moved every checkpoint it could not read to
 * `checkpoints/corrupt-*` (src/session/checkpoints.ts) and no readable `step-<n>` is left. The run manager asks
 * before it starts such a run again.
 */
import { readdir } from 'node:fs/promises';
import { CORRUPT_CHECKPOINT_PREFIX, runPaths } from '../../core/runs/layout';

/** The checkpoint folders moved aside as unreadable when no readable one is left; otherwise none. */
export async function onlyCorruptCheckpoints(runDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(runPaths(runDir).checkpoints);
  } catch {
    return [];
  }
  if (names.some((n) => /^step-\d+$/.test(n))) return [];
  return names.filter((n) => n.startsWith(CORRUPT_CHECKPOINT_PREFIX)).sort();
}
