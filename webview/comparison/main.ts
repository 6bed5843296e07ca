// Comparison panel: the prompt above two outputs side by side (A left, B right), word differences highlighted,
// markdown rendered safely. Keys: 1 A better, 2 B better, 3 tie, 0 skip, u undo, r rate, c critique, x flag,
// d cycles diff highlighting (auto / on / off), h turns the reward heat overlay on or off (rewardOverlay.ts). The webview never learns which output the dataset calls chosen.
import {
  provideVSCodeDesignSystem,
  vsCodeBadge,
  vsCodeButton,
  vsCodeCheckbox,
  vsCodeProgressRing,
  vsCodeRadio,
  vsCodeRadioGroup,
  vsCodeTextArea,
  vsCodeTextField,
} from '@vscode/webview-ui-toolkit';
import {
  ComparisonCritique,
  ComparisonDecide,
  ComparisonDone,
  ComparisonFlag,
  ComparisonLoading,
  ComparisonOpenRecord,
  ComparisonRate,
  ComparisonReady,
  ComparisonShowPair,
  ComparisonStatus,
  ComparisonUndo,
  type Choice,
  type PairParams,
  type Side,
} from '../../src/protocol/comparison';
import { el, on, post, setState } from '../shared/host';
import { renderMarkdown } from './render';
import { wordDiff } from './wordDiff';
import { RewardOverlay } from './rewardOverlay';

provideVSCodeDesignSystem().register(
  vsCodeButton(),
  vsCodeBadge(),
  vsCodeCheckbox(),
  vsCodeProgressRing(),
  vsCodeRadio(),
  vsCodeRadioGroup(),
  vsCodeTextArea(),
  vsCodeTextField(),
);

type Mode = 'decide' | 'rate' | 'critique' | 'flag';

const app = document.getElementById('app') as HTMLElement;
const header = el('header', { class: 'cmp-header' });
const status = el('div', { class: 'cmp-status', attrs: { id: 'status', role: 'status', 'aria-live': 'polite' } });
const main = el('main', { class: 'cmp-main', attrs: { id: 'pair' } }, el('vscode-progress-ring'));
const forms = el('section', { class: 'cmp-forms', attrs: { id: 'forms' } });
const actions = el('div', { class: 'cmp-actions', attrs: { id: 'actions' } });
// Forms, buttons and the status line stay docked at the bottom, in view while long outputs scroll.
app.append(header, main, el('footer', { class: 'cmp-dock' }, forms, actions, status));

let pair: PairParams | undefined;
let mode: Mode = 'decide';
let pending = false; // a decision was sent; wait for the next pair before accepting another
/** Word-diff highlighting: `auto` only when the outputs share enough words for the marks to mean something. */
let diffMode: 'auto' | 'on' | 'off' = 'auto';
/** Below this share of common words, `auto` leaves the outputs unmarked (nearly everything would be marked). */
const AUTO_DIFF_MIN_SIMILARITY = 0.35;
// Time on screen: visible time since the pair was shown (hidden periods do not count).
let shownAt = 0;
let hiddenMs = 0;
let hiddenSince: number | undefined;

document.addEventListener('visibilitychange', () => {
  if (document.hidden) hiddenSince = performance.now();
  else if (hiddenSince !== undefined) {
    hiddenMs += performance.now() - hiddenSince;
    hiddenSince = undefined;
  }
});

function secondsOnScreen(): number {
  const now = performance.now();
  const hidden = hiddenMs + (hiddenSince !== undefined ? now - hiddenSince : 0);
  return Math.min(86_400, Math.max(0, (now - shownAt - hidden) / 1000));
}

const overlay = new RewardOverlay(() => {
  if (pair) renderPair(pair);
  renderActions();
}, showStatus);

function button(label: string, key: string, id: string, onClick: () => void, appearance: 'primary' | 'secondary' = 'secondary'): HTMLElement {
  const b = el('vscode-button', { attrs: { id, appearance, title: `${label} (${key})` } }, el('span', { class: 'key', text: key, attrs: { slot: 'start' } }), document.createTextNode(label));
  b.addEventListener('click', onClick);
  return b;
}

function showStatus(kind: 'info' | 'error', message: string): void {
  status.className = `cmp-status ${kind}`;
  status.textContent = message;
}

// ---- header, prompt, the two outputs ----

function renderHeader(p: { file: string; fileName: string; line?: number; progress: { done: number; total: number }; decisionsPerMinute?: number; scorer?: string }): void {
  const pct = p.progress.total ? Math.round((100 * p.progress.done) / p.progress.total) : 0;
  const bar = el('div', { class: 'cmp-progress', attrs: { role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(p.progress.total), 'aria-valuenow': String(p.progress.done) } }, el('div', { class: 'cmp-progress-fill' }));
  (bar.firstChild as HTMLElement).style.width = `${pct}%`;
  const title = el('h1', { text: p.fileName, title: p.file });
  const line = p.line !== undefined ? el('a', { class: 'cmp-line', text: `line ${p.line}`, title: 'Open this record in the editor', attrs: { href: '#', id: 'open-record' } }) : null;
  line?.addEventListener('click', (e) => {
    e.preventDefault();
    if (p.line !== undefined) post(ComparisonOpenRecord, { line: p.line });
  });
  const parts: (HTMLElement | null)[] = [
    title,
    line,
    el('span', { class: 'cmp-count', text: `${p.progress.done} of ${p.progress.total}`, attrs: { id: 'progress-text' } }),
    bar,
    p.decisionsPerMinute ? el('vscode-badge', { text: `${p.decisionsPerMinute.toFixed(1)}/min`, title: 'decisions per minute (recent)', attrs: { id: 'rate-badge' } }) : null,
    p.scorer ? el('span', { class: 'cmp-scorer', text: `scores: ${p.scorer}` }) : null,
  ];
  header.replaceChildren(...parts.filter((x): x is HTMLElement => x !== null));
}

function candidateBox(side: Side, text: string, other: string, score: number | undefined, marks: readonly (readonly [number, number])[]): HTMLElement {
  const head = el(
    'div',
    { class: 'cmp-cand-head' },
    el('h2', { text: side === 'A' ? 'A' : 'B' }),
    el('span', { class: 'cmp-hint', text: side === 'A' ? 'press 1 if better' : 'press 2 if better' }),
    score !== undefined ? el('vscode-badge', { class: 'cmp-score', text: `reward ${score.toFixed(3)}`, attrs: { id: `score-${side}` } }) : null,
    el('span', { class: 'cmp-len', text: `${text.length} chars${text === other ? ' · identical' : ''}` }),
  );
  return el('article', { class: 'cmp-cand', attrs: { id: `cand-${side}`, 'data-side': side } }, head, overlay.body(side, text) ?? renderMarkdown(text, marks));
}

function renderPair(p: PairParams): void {
  const prompt = el('section', { class: 'cmp-prompt', attrs: { id: 'prompt' } }, el('h3', { text: 'Prompt' }));
  for (const t of p.prompt) prompt.append(el('div', { class: `cmp-turn role-${t.role.replace(/[^a-z]/gi, '')}` }, el('span', { class: 'cmp-role', text: t.role }), renderMarkdown(t.content)));
  const full = diffMode === 'off' ? undefined : wordDiff(p.left.text, p.right.text);
  const suppressed = full !== undefined && diffMode === 'auto' && full.similarity < AUTO_DIFF_MIN_SIMILARITY;
  const d = full && !suppressed ? full : { a: [], b: [], exact: true, similarity: 0 };
  const cands = el(
    'section',
    { class: 'cmp-cands' },
    candidateBox('A', p.left.text, p.right.text, p.left.score, d.a),
    candidateBox('B', p.right.text, p.left.text, p.right.score, d.b),
  );
  main.replaceChildren(prompt, cands);
  if (suppressed) main.append(el('p', { class: 'cmp-note', text: `The outputs share only ${Math.round(100 * (full?.similarity ?? 0))}% of their words, so differences are not highlighted (press d to highlight anyway).` }));
  if (!d.exact) main.append(el('p', { class: 'cmp-note', text: 'These outputs are long: only their common beginning and end are matched; the middle is marked as different.' }));
}

function renderActions(): void {
  actions.replaceChildren(
    button('A is better', '1', 'choose-a', () => decide('A'), 'primary'),
    button('B is better', '2', 'choose-b', () => decide('B'), 'primary'),
    button('Tie', '3', 'choose-tie', () => decide('tie')),
    button('Skip', '0', 'choose-skip', () => decide('skip')),
    el('span', { class: 'cmp-gap' }),
    button('Undo', 'u', 'undo', () => undo()),
    button('Rate', 'r', 'open-rate', () => openForm('rate')),
    button('Critique', 'c', 'open-critique', () => openForm('critique')),
    button('Flag', 'x', 'open-flag', () => openForm('flag')),
    button(`Diff: ${diffMode}`, 'd', 'toggle-diff', () => toggleDiff()),
    button(`Reward heat: ${overlay.on ? 'on' : 'off'}`, 'h', 'toggle-heat', () => overlay.toggle()),
  );
}

// ---- actions ----

function decide(choice: Choice): void {
  if (!pair || pending || mode !== 'decide') return;
  pending = true;
  showStatus('info', choice === 'skip' ? 'Skipped.' : 'Saving…');
  post(ComparisonDecide, { recordId: pair.recordId, choice, seconds: secondsOnScreen() });
}

function undo(): void {
  if (pending) return;
  closeForm();
  pending = true;
  post(ComparisonUndo, {});
}

function toggleDiff(): void {
  diffMode = diffMode === 'auto' ? 'on' : diffMode === 'on' ? 'off' : 'auto';
  if (pair) renderPair(pair);
  renderActions();
}

// ---- forms: rate, critique, flag ----

interface FormState {
  ratings: Partial<Record<Side, number>>;
  /** Side whose rating the next digit sets (keyboard flow: r, digit for A, digit for B). */
  ratingSide: Side;
  side: Side;
  flagSide: Side | 'record';
  acceptable: boolean | undefined;
  labels: Set<string>;
}

let form: FormState = freshForm();

function freshForm(): FormState {
  return { ratings: {}, ratingSide: 'A', side: 'A', flagSide: 'B', acceptable: undefined, labels: new Set() };
}

function radioGroup(label: string, id: string, options: { value: string; label: string }[], value: string | undefined, onChange: (v: string) => void): HTMLElement {
  const g = el('vscode-radio-group', { attrs: { id, orientation: 'horizontal' } }, el('label', { text: label, attrs: { slot: 'label' } }));
  for (const o of options) {
    const r = el('vscode-radio', { text: o.label, attrs: { value: o.value } });
    if (o.value === value) r.setAttribute('checked', '');
    r.addEventListener('click', () => onChange(o.value));
    g.append(r);
  }
  return g;
}

function openForm(m: Exclude<Mode, 'decide'>): void {
  if (!pair || pending) return;
  mode = m;
  form = freshForm();
  renderForm();
}

function closeForm(): void {
  mode = 'decide';
  forms.replaceChildren();
  forms.className = 'cmp-forms';
}

function renderForm(): void {
  if (!pair) return;
  const s = pair.settings;
  forms.className = `cmp-forms open mode-${mode}`;
  const save = (label: string, onSave: () => void): HTMLElement => {
    const b = el('vscode-button', { text: label, attrs: { id: `save-${mode}`, appearance: 'primary' } });
    b.addEventListener('click', onSave);
    return b;
  };
  const cancel = el('vscode-button', { text: 'Cancel (Esc)', attrs: { appearance: 'secondary' } });
  cancel.addEventListener('click', () => closeForm());
  if (mode === 'rate') {
    const points = [];
    for (let x = s.ratingMin; x <= s.ratingMax; x++) points.push({ value: String(x), label: String(x) });
    const keyHint = s.ratingMin >= 0 && s.ratingMax <= 9 ? ' Type a digit for A, then one for B.' : '';
    forms.replaceChildren(
      el('p', { class: 'cmp-form-title', text: `Rate each output (${s.ratingMin} worst – ${s.ratingMax} best).${keyHint}` }),
      radioGroup('A', 'rate-A', points, form.ratings.A?.toString(), (v) => ((form.ratings.A = Number(v)), (form.ratingSide = 'B'))),
      radioGroup('B', 'rate-B', points, form.ratings.B?.toString(), (v) => (form.ratings.B = Number(v))),
      el('div', { class: 'cmp-form-buttons' }, save('Save ratings (Enter)', submitRate), cancel),
    );
  } else if (mode === 'critique') {
    const labels = el('div', { class: 'cmp-labels', attrs: { id: 'critique-labels' } });
    s.critiqueLabels.forEach((l, i) => {
      const cb = el('vscode-checkbox', { text: `${i + 1 <= 9 ? `${i + 1} ` : ''}${l}`, attrs: { value: l } });
      cb.checked = form.labels.has(l);
      cb.addEventListener('change', () => (cb.checked ? form.labels.add(l) : form.labels.delete(l)));
      labels.append(cb);
    });
    const comment = el('vscode-text-area', { attrs: { id: 'critique-comment', rows: '3', placeholder: 'What is wrong, or what should change? (optional)' } });
    forms.replaceChildren(
      el('p', { class: 'cmp-form-title', text: 'Critique one output. Keys: a / b pick the output, y / n acceptable, digits toggle labels, Enter saves (Ctrl+Enter in the comment).' }),
      radioGroup('Output', 'critique-side', [{ value: 'A', label: 'A' }, { value: 'B', label: 'B' }], form.side, (v) => (form.side = v as Side)),
      radioGroup(
        'Acceptable?',
        'critique-acceptable',
        [
          { value: 'yes', label: 'Acceptable' },
          { value: 'no', label: 'Not acceptable' },
        ],
        form.acceptable === undefined ? undefined : form.acceptable ? 'yes' : 'no',
        (v) => (form.acceptable = v === 'yes'),
      ),
      labels,
      comment,
      el('div', { class: 'cmp-form-buttons' }, save('Save critique (Enter)', submitCritique), cancel),
    );
  } else if (mode === 'flag') {
    const reason = el('vscode-text-field', { attrs: { id: 'flag-reason', placeholder: 'Reason (optional)' } });
    forms.replaceChildren(
      el('p', { class: 'cmp-form-title', text: 'Flag as unacceptable (e-stop). Keys: a / b / w pick what, Enter saves.' }),
      radioGroup(
        'Flag',
        'flag-side',
        [
          { value: 'A', label: 'Output A' },
          { value: 'B', label: 'Output B' },
          { value: 'record', label: 'Whole record' },
        ],
        form.flagSide,
        (v) => (form.flagSide = v as Side | 'record'),
      ),
      reason,
      el('div', { class: 'cmp-form-buttons' }, save('Flag (Enter)', submitFlag), cancel),
    );
  }
}

function submitRate(): void {
  if (!pair) return;
  const ratings = (['A', 'B'] as const).filter((k) => form.ratings[k] !== undefined).map((k) => ({ side: k, value: form.ratings[k] as number }));
  if (ratings.length === 0) {
    showStatus('error', 'Pick a rating for A or B first.');
    return;
  }
  post(ComparisonRate, { recordId: pair.recordId, ratings, seconds: secondsOnScreen() });
  closeForm();
}

function submitCritique(): void {
  if (!pair) return;
  const comment = (document.getElementById('critique-comment') as HTMLElement & { value?: string } | null)?.value?.trim();
  if (form.acceptable === undefined && form.labels.size === 0 && !comment) {
    showStatus('error', 'Choose acceptable / not acceptable, a label, or write a comment.');
    return;
  }
  post(ComparisonCritique, {
    recordId: pair.recordId,
    side: form.side,
    ...(form.acceptable !== undefined ? { acceptable: form.acceptable } : {}),
    labels: [...form.labels],
    ...(comment ? { comment } : {}),
    seconds: secondsOnScreen(),
  });
  closeForm();
}

function submitFlag(): void {
  if (!pair) return;
  const reason = (document.getElementById('flag-reason') as HTMLElement & { value?: string } | null)?.value?.trim();
  post(ComparisonFlag, { recordId: pair.recordId, ...(form.flagSide !== 'record' ? { side: form.flagSide } : {}), ...(reason ? { reason } : {}), seconds: secondsOnScreen() });
  closeForm();
}

// ---- keyboard ----

/** 'area' inside a multi-line text box, 'field' inside a one-line one, undefined elsewhere. */
function typingIn(e: KeyboardEvent): 'area' | 'field' | undefined {
  for (const n of e.composedPath()) {
    if (!(n instanceof HTMLElement)) continue;
    if (n.tagName === 'TEXTAREA' || n.tagName === 'VSCODE-TEXT-AREA' || n.isContentEditable) return 'area';
    if (n.tagName === 'INPUT' || n.tagName === 'VSCODE-TEXT-FIELD') return 'field';
  }
  return undefined;
}

function submitForm(): void {
  if (mode === 'rate') submitRate();
  else if (mode === 'critique') submitCritique();
  else if (mode === 'flag') submitFlag();
}

document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && mode !== 'decide') {
    e.preventDefault();
    closeForm();
    return;
  }
  // In a form, Enter saves (Ctrl/Cmd+Enter inside a multi-line comment box).
  if (e.key === 'Enter' && mode !== 'decide' && pair) {
    const where = typingIn(e);
    if (where !== 'area' || e.ctrlKey || e.metaKey) {
      e.preventDefault();
      submitForm();
      return;
    }
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (typingIn(e)) return;
  const k = e.key.toLowerCase();
  if (mode === 'decide') {
    const map: Record<string, () => void> = {
      '1': () => decide('A'),
      '2': () => decide('B'),
      '3': () => decide('tie'),
      '0': () => decide('skip'),
      u: undo,
      r: () => openForm('rate'),
      c: () => openForm('critique'),
      x: () => openForm('flag'),
      d: toggleDiff,
      h: () => overlay.toggle(),
    };
    const f = map[k];
    if (f && !e.repeat) {
      e.preventDefault();
      f();
    }
    return;
  }
  if (!pair) return;
  if (mode === 'rate' && /^\d$/.test(k)) {
    const value = Number(k);
    if (value < pair.settings.ratingMin || value > pair.settings.ratingMax) return;
    e.preventDefault();
    form.ratings[form.ratingSide] = value;
    const rated = form.ratingSide;
    form.ratingSide = 'B';
    renderForm();
    if (rated === 'B') submitRate();
  } else if (mode === 'critique') {
    if (k === 'a' || k === 'b') form.side = k.toUpperCase() as Side;
    else if (k === 'y' || k === 'n') form.acceptable = k === 'y';
    else if (/^[1-9]$/.test(k)) {
      const l = pair.settings.critiqueLabels[Number(k) - 1];
      if (l === undefined) return;
      if (form.labels.has(l)) form.labels.delete(l);
      else form.labels.add(l);
    } else return;
    e.preventDefault();
    renderForm();
  } else if (mode === 'flag') {
    if (k === 'a' || k === 'b') form.flagSide = k.toUpperCase() as Side;
    else if (k === 'w') form.flagSide = 'record';
    else return;
    e.preventDefault();
    renderForm();
  }
});

// ---- messages from the host ----

on(ComparisonShowPair, (p) => {
  pair = p;
  pending = false;
  closeForm();
  showStatus('info', '');
  shownAt = performance.now();
  hiddenMs = 0;
  hiddenSince = document.hidden ? shownAt : undefined;
  overlay.onPair(p.recordId);
  renderHeader(p);
  renderPair(p);
  renderActions();
  setState({ file: p.file });
  window.scrollTo(0, 0);
});

on(ComparisonDone, (d) => {
  pair = undefined;
  overlay.onPair(undefined);
  pending = false;
  closeForm();
  renderHeader({ file: d.file, fileName: d.fileName, progress: d.progress });
  main.replaceChildren(el('p', { class: 'cmp-done', text: d.message, attrs: { id: 'done' } }));
  actions.replaceChildren(button('Undo', 'u', 'undo', () => undo()));
  setState({ file: d.file });
});

on(ComparisonLoading, (l) => {
  renderHeader({ file: l.file, fileName: l.fileName, progress: { done: 0, total: 0 } });
  main.replaceChildren(el('vscode-progress-ring'), el('p', { class: 'cmp-note', text: l.message }));
  setState({ file: l.file });
});

on(ComparisonStatus, (s) => {
  if (s.kind === 'error') pending = false;
  showStatus(s.kind, s.message);
});

post(ComparisonReady, {});
