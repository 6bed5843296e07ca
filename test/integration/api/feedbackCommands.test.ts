import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import { GENERATED, generatedId } from '../../support/testWorkspaces';
import { api, until, workspaceRoot } from './helpers';
import { candidateText, getFieldPath, textSha1 } from '../../../src/core/feedback/fieldPath';
import type { FeedbackEntry, JournalEntryOf } from '../../../src/core/feedback/types';

interface LensArg { file: string; recordId: string; line: number }

const ULTRA = [
  {
    id: 'uf-1',
    instruction: 'How do I boil an egg?',
    completions: [
      { model: 'm0', response: 'Put it in water.' },
      { model: 'm1', response: '1. Bring water to a boil.\n2. Lower the egg in gently.\n3. Cook for 9 minutes, then cool it in cold water.' },
      { model: 'm2', response: 'Eggs are laid by hens.' },
      { model: 'm3', response: 'Boil water, add the egg, wait ten minutes.' },
    ],
  },
  { id: 'uf-2', instruction: 'Greet me.', completions: [{ response: 'hi' }, { response: 'Hello there.' }, { response: 'Good day to you, madam.' }] },
];
const TRIPLETS = [
  { id: 't-1', anchor: 'The cat sat on the mat.', a: 'A cat was sitting on a rug.', b: 'Stock prices fell sharply.' },
  { id: 't-2', query: 'How to reset a password?', option_a: 'Recipes for lemon cake.', option_b: 'Steps to recover your account login.' },
  { id: 't-3', prompt: 'not a triplet', chosen: 'x', rejected: 'y' },
];

const jsonl = (rows: readonly object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

describe('More feedback types', () => {
  let dir: string;
  let pairs: string;
  let ultra: string;
  let triplets: string;
  let scorer: string;

  const entries = async <K extends FeedbackEntry['type']>(file: string, recordId: string, type: K): Promise<readonly JournalEntryOf<K>[]> => {
    const { labels } = await api();
    return labels.get(file).view().currentOfType(recordId, type);
  };
  const setImplicit = (on: boolean) => vscode.workspace.getConfiguration('alignment').update('implicitSignals.enabled', on, vscode.ConfigurationTarget.Workspace);

  before(async () => {
    await api();
    dir = path.join(workspaceRoot().fsPath, 'more');
    await fsp.mkdir(dir, { recursive: true });
    pairs = path.join(dir, 'pairs.jsonl');
    // the first 5 generated pairs of the workspace's data folder
    const five = (await fsp.readFile(path.join(workspaceRoot().fsPath, 'data', GENERATED.pairs), 'utf8')).split('\n').slice(0, 5).join('\n') + '\n';
    await fsp.writeFile(pairs, five);
    ultra = path.join(dir, 'ultra.jsonl');
    await fsp.writeFile(ultra, jsonl(ULTRA));
    triplets = path.join(dir, 'triplets.jsonl');
    await fsp.writeFile(triplets, jsonl(TRIPLETS));
    scorer = path.join(dir, 'scorer.js');
    await fsp.writeFile(scorer, 'exports.score = (prompt, response) => response.length / 10;\nexports.promptLength = (prompt) => prompt.length;\n');
  });

  afterEach(async () => {
    await setImplicit(false);
  });

  after(async () => {
    await setImplicit(false);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('records an improvement from a preset, and from the diff editor on save; the dataset is untouched', async () => {
    const before = await fsp.readFile(pairs, 'utf8');
    const first = JSON.parse(before.split('\n')[0]) as Record<string, unknown>;
    const original = candidateText(first.chosen) ?? '';
    const arg: LensArg = { file: pairs, recordId: generatedId(0), line: 1 };
    const e = await vscode.commands.executeCommand<JournalEntryOf<'improvement'>>('alignment.improveResponse', arg, { target: 'chosen', edited: 'A shorter, better answer.' });
    assert.equal(e.type, 'improvement');
    assert.deepEqual(e.payload, { target: 'chosen', originalSha1: textSha1(original), edited: 'A shorter, better answer.' });

    await setImplicit(true);
    const uri = await vscode.commands.executeCommand<vscode.Uri>('alignment.improveResponse', { file: pairs, recordId: generatedId(1), line: 2 }, { target: 'rejected' });
    assert.equal(uri.scheme, 'alignment-improve');
    const doc = await until(() => vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString()), 10_000, 'the improvement document');
    const rejected = candidateText((JSON.parse(before.split('\n')[1]) as Record<string, unknown>).rejected) ?? '';
    assert.equal(doc.getText(), rejected, 'the editable copy starts as the original response');
    const edit = new vscode.WorkspaceEdit();
    edit.insert(uri, new vscode.Position(0, 0), 'Improved: ');
    assert.ok(await vscode.workspace.applyEdit(edit));
    const saved = await vscode.commands.executeCommand<JournalEntryOf<'improvement'>>('alignment.saveImprovement', uri);
    assert.equal(saved.payload.edited, `Improved: ${rejected}`);
    assert.equal(saved.payload.originalSha1, textSha1(rejected));
    await until(() => !doc.isDirty, 10_000, 'the command to save the document too');
    // saving again records nothing new; implicit `edit` was recorded because the opt-in is on
    await vscode.commands.executeCommand('alignment.saveImprovement', uri);
    assert.equal((await api()).labels.get(pairs).entries().filter((x) => x.type === 'improvement' && x.recordId === generatedId(1)).length, 1);
    const implicit = await entries(pairs, generatedId(1), 'implicit');
    assert.deepEqual(implicit.map((x) => [x.payload.target, x.payload.signal]), [['rejected', 'edit']]);
    await setImplicit(false);
    assert.equal(await fsp.readFile(pairs, 'utf8'), before, 'the dataset file must never be modified');
  });

  it('saving an unchanged copy records an implicit accept only when opted in', async () => {
    const arg = { file: pairs, recordId: generatedId(2), line: 3 };
    assert.equal(await vscode.commands.executeCommand('alignment.improveResponse', arg, { target: 'chosen', edited: candidateText((JSON.parse((await fsp.readFile(pairs, 'utf8')).split('\n')[2]) as Record<string, unknown>).chosen) }), undefined);
    assert.equal((await entries(pairs, generatedId(2), 'implicit')).length, 0, 'implicit signals are off by default');
    await setImplicit(true);
    const uri = await vscode.commands.executeCommand<vscode.Uri>('alignment.improveResponse', arg, { target: 'chosen' });
    assert.equal(await vscode.commands.executeCommand('alignment.saveImprovement', uri), undefined);
    await setImplicit(false);
    assert.deepEqual((await entries(pairs, generatedId(2), 'implicit')).map((x) => x.payload.signal), ['accept']);
    assert.equal((await entries(pairs, generatedId(2), 'improvement')).length, 0);
  });

  it('labels the steps of a numbered response with offsets into the response', async () => {
    const arg = { file: ultra, recordId: 'uf-1', line: 1 };
    const e = await vscode.commands.executeCommand<JournalEntryOf<'interTemporal'>>('alignment.labelSteps', arg, { target: 'completions[1].response', labels: [1, 0, -1] });
    assert.equal(e.payload.target, 'completions[1].response');
    const text = ULTRA[0].completions[1].response;
    assert.deepEqual(e.payload.steps.map((s) => [text.slice(s.start, s.end), s.label]), [
      ['1. Bring water to a boil.', 1],
      ['2. Lower the egg in gently.', 0],
      ['3. Cook for 9 minutes, then cool it in cold water.', -1],
    ]);
    // the wrong number of labels is refused and nothing is recorded
    assert.equal(await vscode.commands.executeCommand('alignment.labelSteps', arg, { target: 'completions[3].response', rule: 'sentences', labels: [1, 1] }), undefined);
    const s = await vscode.commands.executeCommand<JournalEntryOf<'interTemporal'>>('alignment.labelSteps', arg, { target: 'completions[3].response', rule: 'sentences', labels: [0] });
    assert.equal(s.payload.steps.length, 1);
    assert.equal((await entries(ultra, 'uf-1', 'interTemporal')).length, 2);
  });

  it('shows similarity lenses on triplets only and records the choice', async () => {
    const doc = await vscode.workspace.openTextDocument(triplets);
    await vscode.window.showTextDocument(doc);
    const lenses = await until(async () => {
      const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 100);
      return l.filter((x) => x.command?.command === 'alignment.labelSimilarity').length >= 4 ? l : undefined;
    }, 20_000, 'similarity lenses');
    const sim = lenses.filter((l) => l.command?.command === 'alignment.labelSimilarity');
    assert.deepEqual(sim.map((l) => [l.range.start.line, l.command?.title]), [[0, 'A more similar'], [0, 'B more similar'], [1, 'A more similar'], [1, 'B more similar']]);
    const aOn1 = sim[0].command?.arguments ?? [];
    const bOn2 = sim[3].command?.arguments ?? [];
    await vscode.commands.executeCommand('alignment.labelSimilarity', ...aOn1);
    await vscode.commands.executeCommand('alignment.labelSimilarity', ...bOn2);
    assert.deepEqual((await entries(triplets, 't-1', 'similarity')).map((x) => x.payload), [{ anchor: 'anchor', a: 'a', b: 'b', moreSimilar: 'a' }]);
    assert.deepEqual((await entries(triplets, 't-2', 'similarity')).map((x) => x.payload), [{ anchor: 'query', a: 'option_a', b: 'option_b', moreSimilar: 'b' }]);
    // a record that is not a triplet is refused
    assert.equal(await vscode.commands.executeCommand('alignment.labelSimilarity', { file: triplets, recordId: 't-3', line: 3 }, { moreSimilar: 'a' }), undefined);
    assert.equal((await entries(triplets, 't-3', 'similarity')).length, 0);
    const after = await until(async () => {
      const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 100);
      return l.find((x) => x.range.start.line === 0 && x.command?.title.startsWith('✓ A more similar'));
    }, 10_000, 'the similarity state lens');
    assert.ok(after);
  });

  it('ranks k responses from the lens and refuses an incomplete ranking', async () => {
    const doc = await vscode.workspace.openTextDocument(ultra);
    await vscode.window.showTextDocument(doc);
    const lens = await until(async () => {
      const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 100);
      return l.find((x) => x.range.start.line === 0 && x.command?.command === 'alignment.rankResponses');
    }, 20_000, 'the ranking lens');
    assert.equal(lens.command?.title, 'Rank 4 Responses');
    const [arg] = lens.command?.arguments ?? [];
    const ranking = ['completions[1].response', ['completions[3].response', 'completions[0].response'], 'completions[2].response'];
    const e = await vscode.commands.executeCommand<JournalEntryOf<'comparison'>>('alignment.rankResponses', arg, { ranking });
    assert.deepEqual(e.payload, {
      mode: 'ranking',
      order: ['completions[0].response', 'completions[1].response', 'completions[2].response', 'completions[3].response'],
      ranking: [['completions[1].response'], ['completions[3].response', 'completions[0].response'], ['completions[2].response']],
    });
    assert.equal(await vscode.commands.executeCommand('alignment.rankResponses', arg, { ranking: ['completions[1].response'] }), undefined);
    assert.equal((await api()).labels.get(ultra).entries().filter((x) => x.type === 'comparison').length, 1);
  });

  it('records a feature trace for the record under the cursor', async () => {
    const editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(ultra));
    editor.selection = new vscode.Selection(1, 3, 1, 3);
    const e = await vscode.commands.executeCommand<JournalEntryOf<'featureTrace'>>('alignment.orderFeatureTrace', undefined, {
      feature: 'formality', direction: 'increasing', items: ['completions[0].response', 'completions[1].response', 'completions[2].response'],
    });
    assert.equal(e.recordId, 'uf-2');
    assert.deepEqual(e.payload, { feature: 'formality', direction: 'increasing', items: ['completions[0].response', 'completions[1].response', 'completions[2].response'] });
    for (const k of e.payload.items) assert.ok(candidateText(getFieldPath(ULTRA[1], k)), `${k} names a response of the record`);
    assert.equal(await vscode.commands.executeCommand('alignment.orderFeatureTrace', { file: ultra, recordId: 'uf-2', line: 2 }, { feature: 'x', direction: 'increasing', items: ['completions[0].response', 'nope'] }), undefined);
  });

  it('copies a response, recording an implicit copy only when opted in', async () => {
    const arg = { file: ultra, recordId: 'uf-2', line: 2 };
    const off = await vscode.commands.executeCommand<{ text: string; entry?: unknown }>('alignment.copyResponse', arg, { target: 'completions[1].response' });
    assert.equal(off.text, 'Hello there.');
    assert.equal(await vscode.env.clipboard.readText(), 'Hello there.');
    assert.equal(off.entry, undefined);
    await setImplicit(true);
    const on = await vscode.commands.executeCommand<{ text: string; entry?: JournalEntryOf<'implicit'> }>('alignment.copyResponse', arg, { target: 'completions[2].response' });
    await setImplicit(false);
    assert.deepEqual(on.entry?.payload, { target: 'completions[2].response', signal: 'copy' });
    assert.deepEqual((await entries(ultra, 'uf-2', 'implicit')).map((x) => x.payload.target), ['completions[2].response']);
  });

  it('scores every response with the proxy-reward scorer (trusted workspace), and skips what is already scored', async () => {
    assert.equal(vscode.workspace.isTrusted, true, 'the API suite runs in a trusted workspace');
    const report = await vscode.commands.executeCommand<{ scored: number; skipped: number; failures: unknown[]; scorer: { scorer: string; source: string } }>('alignment.scoreProxyReward', vscode.Uri.file(ultra), { modulePath: scorer });
    assert.equal(report.scored, 7);
    assert.deepEqual(report.failures, []);
    assert.equal(report.scorer.source, 'program:scorer.js');
    assert.match(report.scorer.scorer, /^more\/scorer\.js#score@[0-9a-f]{12}$/);
    const scores = await entries(ultra, 'uf-2', 'proxyReward');
    assert.deepEqual(scores.map((x) => [x.payload.target, x.payload.score, x.source]).sort(), [
      ['completions[0].response', 0.2, 'program:scorer.js'],
      ['completions[1].response', 1.2, 'program:scorer.js'],
      ['completions[2].response', 2.3, 'program:scorer.js'],
    ]);
    const again = await vscode.commands.executeCommand<{ scored: number; skipped: number }>('alignment.scoreProxyReward', vscode.Uri.file(ultra), { modulePath: scorer });
    assert.deepEqual([again.scored, again.skipped], [0, 7]);
  });

  it('passes the prompt of the conversational pairs to the scorer (another export of the module)', async () => {
    const report = await vscode.commands.executeCommand<{ scored: number; scorer: { scorer: string } }>('alignment.scoreProxyReward', vscode.Uri.file(pairs), { modulePath: scorer, exportName: 'promptLength' });
    assert.equal(report.scored, 10, 'chosen and rejected of the 5 generated pairs');
    assert.match(report.scorer.scorer, /#promptLength@/);
    const lines = (await fsp.readFile(pairs, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { id: string; prompt: { content: string }[] });
    for (const rec of lines) {
      const got = (await entries(pairs, rec.id, 'proxyReward')).filter((e) => e.payload.scorer === report.scorer.scorer);
      assert.deepEqual(got.map((e) => e.payload.score), [rec.prompt[rec.prompt.length - 1].content.length, rec.prompt[rec.prompt.length - 1].content.length], rec.id);
    }
  });
});
