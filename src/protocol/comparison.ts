import { defineMessage, isRecord, v, type Validator } from './message';

/**
 * Messages between the host and the comparison panel (webview/comparison).
 *
 * Labeling is blind: the webview only ever sees the two outputs as A (left) and B (right), never which one the
 * dataset calls chosen or rejected; the host keeps the displayed order and records it with every decision.
 */

/** A (left) or B (right), as displayed. */
export type Side = 'A' | 'B';
export type Choice = Side | 'tie' | 'skip';

export interface ChatTurn {
  role: string;
  content: string;
}

export interface CandidateView {
  /** The output's text (markdown is rendered safely: no raw HTML). */
  text: string;
  /** Reward score for this output when a scorer provided one. */
  score?: number;
}

export interface LabelingSettings {
  /** Likert scale for `r`. */
  ratingMin: number;
  ratingMax: number;
  /** Labels offered for multi-label critiques (`c`). */
  critiqueLabels: string[];
}

export interface PairParams {
  recordId: string;
  /** Absolute path of the dataset (kept in the webview state so the panel can be restored after a reload). */
  file: string;
  fileName: string;
  /** 1-based line of the record in the dataset file. */
  line: number;
  prompt: ChatTurn[];
  left: CandidateView;
  right: CandidateView;
  /** Where this pair stands: `done` pairs labeled of `total`. */
  progress: { done: number; total: number };
  /** Recent labeling speed (decisions per minute over the last decisions); 0 until there are two. */
  decisionsPerMinute: number;
  /** The scorer whose scores are shown, when any. */
  scorer?: string;
  settings: LabelingSettings;
}

const text = (max = 10_000_000): Validator<string> => (x, p) =>
  typeof x !== 'string' ? [`${p}: expected a string`] : x.length > max ? [`${p}: at most ${max} characters`] : [];
const nonEmpty: Validator<string> = (x, p) => (typeof x === 'string' && x.length > 0 && x.length <= 500 ? [] : [`${p}: expected a non-empty string (at most 500 characters)`]);
const side: Validator<Side> = v.literal('A', 'B');
const seconds: Validator<number> = (x, p) => (typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 86_400 ? [] : [`${p}: expected seconds in [0, 86400]`]);
const candidate = v.object<CandidateView>({ text: text(), score: v.optional(v.number()) });
const settings: Validator<LabelingSettings> = (x, p) => {
  const out = v.object<LabelingSettings>({ ratingMin: v.integer(-100, 100), ratingMax: v.integer(-100, 100), critiqueLabels: v.array(nonEmpty, 50) })(x, p);
  if (out.length === 0 && isRecord(x) && (x.ratingMin as number) >= (x.ratingMax as number)) out.push(`${p}.ratingMin: must be below ratingMax`);
  return out;
};

/** webview -> host: the script is loaded and listening. */
export const ComparisonReady = defineMessage('comparison/ready', v.object<Record<string, never>>({}));

/** host -> webview: show a pair. */
export const ComparisonShowPair = defineMessage(
  'comparison/showPair',
  v.object<PairParams>({
    recordId: nonEmpty,
    file: text(10_000),
    fileName: text(1000),
    line: v.integer(1),
    prompt: v.array(v.object<ChatTurn>({ role: text(100), content: text() }), 10_000),
    left: candidate,
    right: candidate,
    progress: v.object<{ done: number; total: number }>({ done: v.integer(0), total: v.integer(0) }),
    decisionsPerMinute: (x, p) => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? [] : [`${p}: expected a number >= 0`]),
    scorer: v.optional(text(500)),
    settings,
  }),
);

/** host -> webview: every pair is labeled (or the file has none). */
export const ComparisonDone = defineMessage(
  'comparison/done',
  v.object<{ file: string; fileName: string; progress: { done: number; total: number }; message: string }>({
    file: text(10_000),
    fileName: text(1000),
    progress: v.object<{ done: number; total: number }>({ done: v.integer(0), total: v.integer(0) }),
    message: text(2000),
  }),
);

/** host -> webview: a short status line (what was recorded, or what went wrong). */
export const ComparisonStatus = defineMessage(
  'comparison/status',
  v.object<{ kind: 'info' | 'error'; message: string }>({ kind: v.literal('info', 'error'), message: text(2000) }),
);

/** host -> webview: the dataset is being indexed (large files). */
export const ComparisonLoading = defineMessage(
  'comparison/loading',
  v.object<{ file: string; fileName: string; message: string }>({ file: text(10_000), fileName: text(1000), message: text(2000) }),
);

/** webview -> host: the decision for the shown pair (keys 1 / 2 / 3 / 0). `seconds` is the time the pair was on screen. */
export const ComparisonDecide = defineMessage(
  'comparison/decide',
  v.object<{ recordId: string; choice: Choice; seconds: number }>({ recordId: nonEmpty, choice: v.literal('A', 'B', 'tie', 'skip'), seconds }),
);

/** webview -> host: undo this window's last decision (key u). */
export const ComparisonUndo = defineMessage('comparison/undo', v.object<Record<string, never>>({}));

/** webview -> host: Likert ratings of one or both outputs (key r). */
export const ComparisonRate = defineMessage(
  'comparison/rate',
  v.object<{ recordId: string; ratings: { side: Side; value: number }[]; seconds: number }>({
    recordId: nonEmpty,
    ratings: v.array(v.object<{ side: Side; value: number }>({ side, value: v.integer(-100, 100) }), 2),
    seconds,
  }),
);

/** webview -> host: a critique of one output (key c): acceptable or not, labels from the set, optional comment. */
export const ComparisonCritique = defineMessage(
  'comparison/critique',
  v.object<{ recordId: string; side: Side; acceptable?: boolean; labels: string[]; comment?: string; seconds: number }>({
    recordId: nonEmpty,
    side,
    acceptable: v.optional(v.boolean()),
    labels: v.array(nonEmpty, 50),
    comment: v.optional(text(100_000)),
    seconds,
  }),
);

/** webview -> host: flag (e-stop) one output, or the whole record when `side` is absent (key x). */
export const ComparisonFlag = defineMessage(
  'comparison/flag',
  v.object<{ recordId: string; side?: Side; reason?: string; seconds: number }>({ recordId: nonEmpty, side: v.optional(side), reason: v.optional(text(10_000)), seconds }),
);

/** webview -> host: open the dataset file at the record's line. */
export const ComparisonOpenRecord = defineMessage('comparison/openRecord', v.object<{ line: number }>({ line: v.integer(1) }));
