// The launch form's reward-source picker, for methods trained against reward functions (GRPO, RLOO): one row per
// built-in reward function the host offers and per other reward source that can run here (a reward model of the
// workspace, a module in a trusted workspace, the configured judge): a checkbox, a weight, its one option (with the
// workspace's reward models to pick from), and what a failing function does. It reads and writes the run spec's `rewards` section through rewardEntries.ts, which keeps the entries of a
// loaded spec that no row can show, so nothing is lost.
import type { LaunchMethod, LaunchRewardFunction } from '../../src/protocol/launch';
import { el } from '../shared/host';
import { rewardsFromRows, rowsFromSpec, type RewardEntry, type RewardRowState } from './rewardEntries';

interface Row {
  readonly fn: LaunchRewardFunction;
  readonly on: HTMLInputElement;
  readonly weight: HTMLInputElement;
  readonly arg: HTMLInputElement | undefined;
}

export class RewardPicker {
  readonly box = el('div', { class: 'params rewards', attrs: { id: 'rewards' } });
  private rows: Row[] = [];
  private kept: RewardEntry[] = [];
  private sources: LaunchRewardFunction[] = [];
  private readonly onError = el('select', { attrs: { id: 'reward-onError' } }, el('option', { text: 'stop the run', attrs: { value: 'stop' } }), el('option', { text: 'skip the sample', attrs: { value: 'skip' } }));

  constructor(private readonly changed: () => void) {
    this.onError.addEventListener('change', changed);
  }

  /** The reward sources besides the built-ins that the host found can run here (the init message's). */
  setSources(sources: readonly LaunchRewardFunction[]): void {
    this.sources = [...sources];
  }

  /** Rows for the method's reward functions and the sources, filled from a spec's `rewards` section. */
  render(m: LaunchMethod | undefined, rewards: unknown): void {
    this.box.replaceChildren();
    this.rows = [];
    this.kept = [];
    const fns = m?.rewardFunctions ? [...m.rewardFunctions, ...this.sources] : undefined;
    // The whole Rewards section shows only for methods trained against reward functions.
    const section = this.box.closest('section');
    if (section) section.hidden = !fns;
    if (!fns) return;
    const start = rowsFromSpec(fns, rewards);
    this.box.append(el('p', { class: 'help', text: 'The reward of a completion is the weighted sum of the checked functions (TRL reward_funcs + reward_weights).' }));
    this.rows = start.rows.map((r) => this.row(r));
    this.kept = start.kept;
    for (const k of this.kept) this.box.append(el('p', { class: 'help kept', text: `Kept from the spec: ${JSON.stringify(k)}` }));
    this.onError.value = start.onError;
    this.box.append(el('label', { class: 'field', title: 'A reward function that throws, returns NaN or times out.' }, el('span', { class: 'label', text: 'On a failing reward' }), this.onError));
  }

  private row(state: RewardRowState): Row {
    const fn = state.fn;
    const id = `reward-${fn.kind}`;
    const on = el('input', { attrs: { id, type: 'checkbox' } });
    on.checked = state.checked;
    const weight = el('input', { attrs: { id: `${id}-weight`, type: 'number', step: 'any', title: 'weight' } });
    weight.value = state.weight;
    let arg: HTMLInputElement | undefined;
    const parts: HTMLElement[] = [on, el('span', { class: 'label', text: fn.title }), el('span', { class: 'muted', text: 'weight' }), weight];
    if (fn.arg) {
      arg = el('input', { attrs: { id: `${id}-arg`, type: fn.arg.kind === 'integer' ? 'number' : 'text', step: '1', placeholder: fn.arg.default ?? '', title: fn.arg.label } });
      arg.value = state.arg;
      parts.push(el('span', { class: 'muted', text: fn.arg.label }), arg);
      if (fn.arg.choices?.length) {
        arg.setAttribute('list', `${id}-choices`);
        parts.push(el('datalist', { attrs: { id: `${id}-choices` } }, ...fn.arg.choices.map((c) => el('option', { text: c.label, attrs: { value: c.value } }))));
      }
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
    return rewardsFromRows(
      this.rows.map((r) => ({ fn: r.fn, checked: r.on.checked, weight: r.weight.value, arg: r.arg?.value ?? '' })),
      this.kept,
      this.onError.value,
    );
  }
}
