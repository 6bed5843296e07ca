// The launch form's reward-source picker, for methods trained against reward functions (GRPO, RLOO): one row per
// built-in reward function the host offers (a checkbox, a weight, its one option), and what a failing function
// does. It reads and writes the run spec's `rewards` section. Entries of a loaded spec that a row cannot show (a
// second function of one kind, a custom name, other options) are kept as they are and listed, so nothing is lost.
import type { LaunchMethod, LaunchRewardFunction } from '../../src/protocol/launch';
import { el } from '../shared/host';

type Entry = Record<string, unknown>;

interface Row {
  readonly fn: LaunchRewardFunction;
  readonly on: HTMLInputElement;
  readonly weight: HTMLInputElement;
  readonly arg: HTMLInputElement | undefined;
}

const isObj = (x: unknown): x is Entry => typeof x === 'object' && x !== null && !Array.isArray(x);

export class RewardPicker {
  readonly box = el('div', { class: 'params rewards', attrs: { id: 'rewards' } });
  private rows: Row[] = [];
  private kept: Entry[] = [];
  private readonly onError = el('select', { attrs: { id: 'reward-onError' } }, el('option', { text: 'stop the run', attrs: { value: 'stop' } }), el('option', { text: 'skip the sample', attrs: { value: 'skip' } }));

  constructor(private readonly changed: () => void) {
    this.onError.addEventListener('change', changed);
  }

  /** Rows for the method's reward functions, filled from a spec's `rewards` section. */
  render(m: LaunchMethod | undefined, rewards: unknown): void {
    this.box.replaceChildren();
    this.rows = [];
    this.kept = [];
    const fns = m?.rewardFunctions;
    if (!fns) {
      this.box.append(el('p', { class: 'muted', text: 'This method is not trained against reward functions.' }));
      return;
    }
    const given = isObj(rewards) && Array.isArray(rewards.functions) ? rewards.functions.filter(isObj) : [];
    this.box.append(el('p', { class: 'help', text: 'The reward of a completion is the weighted sum of the checked functions (TRL reward_funcs + reward_weights).' }));
    for (const fn of fns) this.rows.push(this.row(fn, this.take(given, fn)));
    this.kept = given;
    for (const k of this.kept) this.box.append(el('p', { class: 'help kept', text: `Kept from the spec: ${JSON.stringify(k)}` }));
    this.onError.value = isObj(rewards) && rewards.onError === 'skip' ? 'skip' : 'stop';
    this.box.append(el('label', { class: 'field', title: 'A reward function that throws, returns NaN or times out.' }, el('span', { class: 'label', text: 'On a failing reward' }), this.onError));
  }

  /** The first entry of `fn`'s kind that a row can show exactly (removed from `given`). */
  private take(given: Entry[], fn: LaunchRewardFunction): Entry | undefined {
    const allowed = new Set(['kind', 'weight', ...(fn.arg ? [fn.arg.field] : [])]);
    const i = given.findIndex((e) => e.kind === fn.kind && Object.keys(e).every((k) => allowed.has(k)));
    return i < 0 ? undefined : given.splice(i, 1)[0];
  }

  private row(fn: LaunchRewardFunction, entry: Entry | undefined): Row {
    const id = `reward-${fn.kind}`;
    const on = el('input', { attrs: { id, type: 'checkbox' } });
    on.checked = entry !== undefined;
    const weight = el('input', { attrs: { id: `${id}-weight`, type: 'number', step: 'any', title: 'weight' } });
    weight.value = typeof entry?.weight === 'number' ? String(entry.weight) : '1';
    let arg: HTMLInputElement | undefined;
    const parts: HTMLElement[] = [on, el('span', { class: 'label', text: fn.title }), el('span', { class: 'muted', text: 'weight' }), weight];
    if (fn.arg) {
      arg = el('input', { attrs: { id: `${id}-arg`, type: fn.arg.kind === 'integer' ? 'number' : 'text', step: '1', placeholder: fn.arg.default ?? '', title: fn.arg.label } });
      const v = entry?.[fn.arg.field];
      arg.value = v === undefined ? '' : String(v);
      parts.push(el('span', { class: 'muted', text: fn.arg.label }), arg);
    }
    for (const input of [on, weight, ...(arg ? [arg] : [])]) {
      input.addEventListener('input', this.changed);
      input.addEventListener('change', this.changed);
    }
    this.box.append(el('label', { class: 'field reward', title: fn.help }, ...parts, el('span', { class: 'help', text: fn.help })));
    return { fn, on, weight, arg };
  }

  /** The spec's `rewards` section as the form has it; undefined when the method takes none. */
  value(): Record<string, unknown> | undefined {
    if (!this.rows.length) return undefined;
    const functions: Entry[] = [];
    for (const r of this.rows) {
      if (!r.on.checked) continue;
      const e: Entry = { kind: r.fn.kind };
      if (r.weight.value.trim() !== '') e.weight = Number(r.weight.value);
      const a = r.fn.arg;
      if (a && r.arg && r.arg.value.trim() !== '') e[a.field] = a.kind === 'integer' ? Number(r.arg.value) : r.arg.value;
      functions.push(e);
    }
    return { functions: [...functions, ...this.kept], onError: this.onError.value };
  }
}
