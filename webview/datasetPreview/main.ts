// Dataset Preview panel: pages through a dataset's records; each card shows the fields people label.
import { provideVSCodeDesignSystem, vsCodeButton, vsCodeBadge, vsCodeProgressRing } from '@vscode/webview-ui-toolkit';
import { PreviewError, PreviewOpenAt, PreviewReady, PreviewRequestPage, PreviewShowPage, type PreviewPage } from '../../src/protocol/datasetPreview';
import { el, on, post, setState } from '../shared/host';

provideVSCodeDesignSystem().register(vsCodeButton(), vsCodeBadge(), vsCodeProgressRing());

const PAGE = 20;
const app = document.getElementById('app') as HTMLElement;
const header = el('header', { class: 'preview-header' });
const list = el('main', { class: 'records', attrs: { id: 'records' } });
const more = el('vscode-button', { text: 'Load more', attrs: { id: 'load-more', appearance: 'secondary' } });
const status = el('div', { class: 'status', attrs: { id: 'status' } }, el('vscode-progress-ring'));
app.append(header, status, list, more);
more.hidden = true;

let shown = 0;
let total = 0;

function card(rec: PreviewPage['records'][number]): HTMLElement {
  const c = el('article', { class: rec.error ? 'record invalid' : 'record', attrs: { 'data-line': String(rec.line) } });
  const open = el('a', { class: 'line', text: `line ${rec.line}`, title: 'Open in the editor', attrs: { href: '#' } });
  open.addEventListener('click', (e) => {
    e.preventDefault();
    post(PreviewOpenAt, { line: rec.line });
  });
  c.append(el('div', { class: 'record-head' }, open, rec.error ? el('span', { class: 'error', text: rec.error }) : null));
  for (const f of rec.fields) {
    c.append(el('section', { class: `field field-${f.name.replace(/[^a-z0-9_-]/gi, '')}` }, el('h3', { text: f.name }), el('pre', { text: f.text })));
  }
  return c;
}

on(PreviewShowPage, (page) => {
  status.replaceChildren();
  if (page.offset === 0) {
    list.replaceChildren();
    shown = 0;
  }
  total = page.total;
  header.replaceChildren(
    el('h1', { text: page.fileName, title: page.file }),
    el('vscode-badge', { text: `${total} records`, attrs: { id: 'record-count' } }),
  );
  for (const r of page.records) list.append(card(r));
  shown += page.records.length;
  more.hidden = shown >= total || page.records.length === 0;
  if (total === 0) list.append(el('p', { class: 'empty', text: 'This dataset has no records yet.' }));
  setState({ file: page.file });
});

on(PreviewError, ({ message }) => {
  status.replaceChildren(el('p', { class: 'error', text: message }));
});

more.addEventListener('click', () => post(PreviewRequestPage, { offset: shown, count: PAGE }));
post(PreviewReady, {});
