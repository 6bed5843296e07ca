import type { LabelView } from '../feedback/labelView';
import { annotatorAgreement, humanVsAi, labelDistributionOf, medianSeconds, positionBias } from './agreement';

const pct = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const num = (x: number | null, digits = 3) => (x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(digits));

/**
 * A Markdown report of a dataset's labels: how many, of which type and source, the label distribution,
 * agreement between annotators (Cohen's kappa for two, Krippendorff's alpha for any number), human vs AI
 * agreement, position bias, and the median seconds per decision.
 */
export function labelStatsMarkdown(datasetName: string, records: number, view: LabelView): string {
  const c = view.counts();
  const lines: string[] = [`# Label statistics: ${datasetName}`, ''];
  lines.push(`${c.records} of ${records} records labeled · ${c.current} labels in effect · ${c.retracted} undone`, '');
  lines.push('| feedback type | labels | human | AI | program |', '|---|---:|---:|---:|---:|');
  for (const [type, n] of Object.entries(c.byType)) {
    if (n === 0) continue;
    const s = c.byTypeAndSource[type as keyof typeof c.byTypeAndSource];
    lines.push(`| ${type} | ${n} | ${s.human} | ${s.ai} | ${s.program} |`);
  }
  lines.push('');
  for (const type of ['comparison', 'rating', 'critique'] as const) {
    const dist = labelDistributionOf(view, type);
    if (dist.length === 0) continue;
    lines.push(`## ${type[0].toUpperCase()}${type.slice(1)}s`, '');
    lines.push(`Distribution: ${dist.map((d) => `${String(d.label)} ${d.count} (${pct(d.fraction)})`).join(' · ')}`, '');
    const agree = annotatorAgreement(view, type);
    if (agree.units > 0) {
      lines.push(`Inter-annotator agreement over ${agree.units} units by ${agree.coders.length} annotators (${agree.coders.join(', ')}):`);
      lines.push(`- Krippendorff's alpha (${type === 'rating' ? 'interval' : 'nominal'}): ${num(agree.alpha.alpha)}`);
      if (agree.kappa) lines.push(`- Cohen's kappa: ${num(agree.kappa.kappa)} (observed agreement ${pct(agree.kappa.observed)})`);
      lines.push('');
    } else {
      lines.push('Inter-annotator agreement: no unit has labels from two annotators yet.', '');
    }
    const hva = humanVsAi(view, type);
    if (hva.n > 0) lines.push(`Human vs AI: accuracy ${pct(hva.accuracy)}, Cohen's kappa ${num(hva.kappa.kappa)} over ${hva.n} labels`, '');
    const med = medianSeconds(view, type);
    if (med !== null) lines.push(`Median time per decision: ${med.toFixed(1)} s`, '');
  }
  const bias = positionBias(view);
  if (bias.decided > 0) {
    const ci = bias.interval ? ` (95% CI ${pct(bias.interval[0])} to ${pct(bias.interval[1])})` : '';
    lines.push('## Position bias', '', `The left/first output won ${pct(bias.leftRate)} of ${bias.decided} decided comparisons${ci}; ${bias.ties} ties. 50% means no position bias.`, '');
  }
  return lines.join('\n');
}
