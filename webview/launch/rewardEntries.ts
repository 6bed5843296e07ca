// The reward picker's spec logic, without the DOM: which entries of a spec's `rewards.functions` the picker's rows
// show (the first entry of each kind that a row can show exactly: its kind, weight and one option), which it keeps
// as they are (a second function of one kind, a custom name, other options), and the `rewards` section back from
// the rows. A spec that goes in and comes back unedited keeps every function. Rows of reward sources with fixed
// fields (a configured judge) show only the entries whose fields are those; a row with choices (reward-model
// folders) starts on the first.
import type { LaunchRewardFunction } from '../../src/protocol/launch';

export type RewardEntry = Record<string, unknown>;

/** A row as the form has it: checked, and its inputs' text. */
export interface RewardRowState {
  readonly fn: LaunchRewardFunction;
  readonly checked: boolean;
  readonly weight: string;
  readonly arg: string;
}

const isObj = (x: unknown): x is RewardEntry => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The rows' starting states from a spec's `rewards` section, the entries kept as they are, and `onError`. */
export function rowsFromSpec(fns: readonly LaunchRewardFunction[], rewards: unknown): { rows: RewardRowState[]; kept: RewardEntry[]; onError: 'stop' | 'skip' } {
  const given = isObj(rewards) && Array.isArray(rewards.functions) ? rewards.functions.filter(isObj) : [];
  const rows = fns.map((fn): RewardRowState => {
    const fixed = Object.entries(fn.fixed ?? {});
    const allowed = new Set(['kind', 'weight', ...(fn.arg ? [fn.arg.field] : []), ...fixed.map(([k]) => k)]);
    const i = given.findIndex((e) => e.kind === fn.kind && Object.keys(e).every((k) => allowed.has(k)) && fixed.every(([k, x]) => e[k] === x));
    const entry = i < 0 ? undefined : given.splice(i, 1)[0];
    const arg = fn.arg ? (entry?.[fn.arg.field] ?? fn.arg.choices?.[0]?.value) : undefined;
    return { fn, checked: entry !== undefined, weight: typeof entry?.weight === 'number' ? String(entry.weight) : '1', arg: arg === undefined ? '' : String(arg) };
  });
  return { rows, kept: given, onError: isObj(rewards) && rewards.onError === 'skip' ? 'skip' : 'stop' };
}

/** The spec's `rewards` section from the rows (checked ones, in the host's order), then the kept entries. */
export function rewardsFromRows(rows: readonly RewardRowState[], kept: readonly RewardEntry[], onError: string): Record<string, unknown> {
  const functions: RewardEntry[] = [];
  for (const r of rows) {
    if (!r.checked) continue;
    const e: RewardEntry = { kind: r.fn.kind, ...r.fn.fixed };
    if (r.weight.trim() !== '') e.weight = Number(r.weight);
    const a = r.fn.arg;
    if (a && r.arg.trim() !== '') e[a.field] = a.kind === 'integer' ? Number(r.arg) : r.arg;
    functions.push(e);
  }
  return { functions: [...functions, ...kept], onError };
}
