// The reward heat's colour scale (pure, no DOM): see rewardHeat.ts.
import type { RewardHeatView } from '../../src/protocol/rewardInspection';

/** The strength step of `reward` on a scale whose largest magnitude is `scale`: -5..5, 0 = untinted. */
export function heatStep(reward: number, scale: number): number {
  if (!(scale > 0) || !Number.isFinite(reward)) return 0;
  const x = Math.min(1, Math.abs(reward) / scale);
  // Rewards under 5% of the largest stay untinted, so the tint marks what matters.
  return x < 0.05 ? 0 : Math.sign(reward) * Math.max(1, Math.ceil(x * 5));
}

/** The largest |reward| of any span of the views: one scale, so the views compare by colour. */
export function heatScale(views: readonly RewardHeatView[]): number {
  let m = 0;
  for (const v of views) for (const s of v.spans) m = Math.max(m, Math.abs(s.reward));
  return m;
}

/** True when the view's spans are exactly `text` (the overlay is drawn only over the text it was computed for). */
export function heatFits(view: RewardHeatView, text: string): boolean {
  return view.spans.map((s) => s.text).join('') === text;
}
