/**
 * The message for a `--data` file that holds no preference pairs, shared by the commands that score pairs
 * (`eval`, `eval-rm --model`): what the file holds, and what the command needs instead.
 */
import { DATASET_FORMATS, type LoadResult } from '../core/datasets/formats';

/**
 * `cmd`: the command as the user typed it (e.g. `alignment eval`). A file detected as a preference format holds no
 * pairs only when every row was skipped, so the first skipped row is named; any other kind is named with its format.
 */
export function noPreferencePairsMessage(cmd: string, file: string, data: LoadResult): string {
  const format = DATASET_FORMATS.find((f) => f.id === data.format);
  const looks = `${data.format} (${format?.keys ?? 'unknown keys'})`;
  if (data.kind === 'preference') {
    const s = data.skipped[0];
    const first = s ? `; the first: ${s.where}${s.field ? ` ${s.field}` : ''}: ${s.reason}` : '';
    return `${cmd}: ${file} has no usable preference pairs: its rows look like ${looks}, but all ${data.counts.rows} rows were skipped${first}`;
  }
  const pairs = DATASET_FORMATS.filter((f) => f.kind === 'preference');
  const main = pairs.find((f) => f.id === 'trl-preference');
  const rows = `${data.counts.loaded} row${data.counts.loaded === 1 ? '' : 's'}`;
  return (
    `${cmd}: ${file} holds ${data.kind} data (${rows} of ${looks}), not preference pairs; ${cmd} needs rows with ` +
    `${main?.keys ?? 'prompt, chosen, rejected'}, or another preference format (${pairs.filter((f) => f !== main).map((f) => f.id).join(', ')})`
  );
}
