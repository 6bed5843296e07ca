/**
 * The labeling keys and the mode they live in. `package.json` contributes exactly these keybindings (a unit test
 * holds the two together); the CodeLens tooltips and the status bar name the keys from here.
 *
 * The keys are bound only while labeling mode is on (the {@link LABELING_MODE_CONTEXT} context key, toggled by
 * `alignment.toggleLabelingMode` and shown in the status bar), so outside it Alt+1/2/3/0 (VS Code's own editor
 * shortcuts), Alt+C / Alt+R (the find widget's toggles) and the rest type and work as usual. On macOS Option+letter
 * types characters (Option+E/U/I are accent dead keys, Option+L is `@` on a German layout) and Option+digit too, so
 * the mac keys are Ctrl+Option, which types nothing.
 */

/** The context key that is true while labeling mode is on. */
export const LABELING_MODE_CONTEXT = 'alignment.labelingMode';

/** The `when` clause of every labeling key: labeling mode, a focused editor, a dataset file. */
export const LABELING_KEY_WHEN = `${LABELING_MODE_CONTEXT} && editorTextFocus && resourceExtname =~ /^\\.jsonl?$/`;

export interface LabelingKey {
  readonly command: string;
  /** Windows and Linux. */
  readonly key: string;
  readonly mac: string;
  /** What the key does, for the status bar's tooltip. */
  readonly does: string;
}

const both = (command: string, letter: string, does: string): LabelingKey => ({ command, key: `alt+${letter}`, mac: `ctrl+alt+${letter}`, does });

export const LABELING_KEYS: readonly LabelingKey[] = [
  both('alignment.labelA', '1', 'A better'),
  both('alignment.labelB', '2', 'B better'),
  both('alignment.labelTie', '3', 'tie'),
  both('alignment.labelSkip', '0', 'skip to the next unlabeled record'),
  both('alignment.rateRecord', 'r', 'rate'),
  both('alignment.critiqueRecord', 'c', 'critique'),
  both('alignment.flagRecord', 'x', 'flag (e-stop)'),
  both('alignment.undoLabel', 'u', 'undo'),
  both('alignment.markImportance', 'i', 'mark the selection important'),
  both('alignment.giveFeedback', 'f', 'written feedback'),
  both('alignment.improveResponse', 'e', 'improve a response'),
  both('alignment.rankResponses', 'k', 'rank responses'),
  both('alignment.labelSteps', 'l', 'label steps'),
];

/** How a key reads for people on this platform: `Alt+1`, or `⌃⌥1` on macOS. */
export function keyLabel(command: string, platform: NodeJS.Platform = process.platform): string {
  const k = LABELING_KEYS.find((x) => x.command === command);
  if (!k) return '';
  if (platform === 'darwin') return k.mac.replace('ctrl+', '⌃').replace('alt+', '⌥').toUpperCase();
  return k.key.replace(/(^|\+)(\w)/g, (_m, sep: string, c: string) => `${sep}${c.toUpperCase()}`);
}
