/**
 * The feedback store as a {@link LabelSink}: AI labels become `comparison` entries (mode `pair`) with source
 * `ai:<judge>`, appended to this window's journal. Human entries are only read, never written.
 */
import type { FeedbackStore } from '../feedback/store';
import type { AiSource, LabelSink } from './labelJob';

/**
 * Wraps a store. The judge's confidence and per-order verdicts are not part of the journal's comparison payload;
 * callers that need them take them from the job's `onLabel` callback or its result.
 */
export function feedbackStoreSink(store: FeedbackStore): LabelSink {
  return {
    id: store.labelsDir,
    labeledRecordIds(source: AiSource): ReadonlySet<string> {
      // Other windows may have labeled meanwhile: read their journals first.
      store.refresh();
      const ids = new Set<string>();
      for (const e of store.view().allOfType('comparison')) if (e.source === source) ids.add(e.recordId);
      return ids;
    },
    append(label): void {
      store.record({
        recordId: label.recordId,
        type: 'comparison',
        payload: { mode: 'pair', order: [label.order[0], label.order[1]], preferred: label.preferred },
        source: label.source,
        annotator: label.source,
        seconds: 0,
      });
    },
  };
}
