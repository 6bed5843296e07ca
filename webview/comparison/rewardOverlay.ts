// The comparison panel's reward heat overlay (key h, off by default): when on, the host scores the shown pair with
// the reward model (alignment inspect-rm) and each output is drawn with its words tinted by their dense reward.
// Both outputs share one colour scale. The overlay is dropped when the next pair comes and asked for again.
import { ComparisonInspectReward, ComparisonRewardHeat, ComparisonRewardHeatError, type RewardHeatView } from '../../src/protocol/rewardInspection';
import type { Side } from '../../src/protocol/comparison';
import { on, post } from '../shared/host';
import { heatFits, heatScale, heatSummary, renderRewardHeat } from '../shared/rewardHeat';

export class RewardOverlay {
  private enabled = false;
  private shown: string | undefined;
  private heat: { readonly recordId: string; readonly model: string; readonly A: RewardHeatView; readonly B: RewardHeatView } | undefined;

  /** `redraw` draws the pair and the buttons again; `status` shows a line under them. */
  constructor(
    private readonly redraw: () => void,
    private readonly status: (kind: 'info' | 'error', message: string) => void,
  ) {
    on(ComparisonRewardHeat, (h) => {
      if (!this.enabled || h.recordId !== this.shown) return;
      this.heat = h;
      this.status('info', `Reward heat from ${h.model}.`);
      this.redraw();
    });
    on(ComparisonRewardHeatError, (e) => {
      if (!this.enabled || e.recordId !== this.shown) return;
      this.enabled = false;
      this.status('error', `Reward heat: ${e.message}`);
      this.redraw();
    });
  }

  get on(): boolean {
    return this.enabled;
  }

  /** Turns the overlay on (asking the host for the shown pair's rewards) or off. */
  toggle(): void {
    this.enabled = !this.enabled;
    this.heat = undefined;
    if (this.enabled) this.request();
    this.redraw();
  }

  /** A new pair is shown: the old rewards go, and the new pair's are asked for when the overlay is on. */
  onPair(recordId: string | undefined): void {
    this.shown = recordId;
    this.heat = undefined;
    if (this.enabled) this.request();
  }

  /** The output's text drawn with its heat, or undefined (overlay off, rewards not there yet, or for other text). */
  body(side: Side, text: string): HTMLElement | undefined {
    const h = this.heat;
    if (!h || h.recordId !== this.shown || !heatFits(h[side], text)) return undefined;
    const box = document.createElement('div');
    box.append(heatSummary(h[side]), renderRewardHeat(h[side], heatScale([h.A, h.B])));
    return box;
  }

  private request(): void {
    if (this.shown === undefined) return;
    this.status('info', 'Scoring every prefix of both outputs with the reward model…');
    post(ComparisonInspectReward, { recordId: this.shown });
  }
}
