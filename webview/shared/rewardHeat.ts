// Reward heat: a response's text with each word tinted by the dense reward the reward model gives it (green) or
// takes from it (red), five steps of strength relative to the largest |reward| on screen. Text nodes only, and
// colours by class (the CSP forbids inline styles). Shared by the comparison and evaluation panels.
import type { RewardHeatView } from '../../src/protocol/rewardInspection';
import { el } from './host';
import { heatStep } from './heatScale';

export { heatFits, heatScale } from './heatScale';

const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;

/** The response text in tinted spans, each with its reward as a tooltip. */
export function renderRewardHeat(view: RewardHeatView, scale: number): HTMLElement {
  const body = el('div', { class: 'reward-heat' });
  for (const s of view.spans) {
    const step = heatStep(s.reward, scale);
    if (step === 0 && !s.word) {
      body.append(document.createTextNode(s.text));
      continue;
    }
    const cls = step === 0 ? 'heat' : `heat ${step > 0 ? 'heat-pos' : 'heat-neg'} heat-${Math.abs(step)}`;
    body.append(el('span', { class: cls, text: s.text, title: `${signed(s.reward)}` }));
  }
  return body;
}

/** One line under a response: its reward and canonical reward. */
export function heatSummary(view: RewardHeatView): HTMLElement {
  return el('div', { class: 'reward-heat-summary', text: `reward ${view.reward.toFixed(3)} · canonical ${signed(view.canonicalReward)} · green gives reward, red takes it` });
}
