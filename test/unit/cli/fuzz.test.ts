/**
 * Malformed inputs through `alignment train`, in process: datasets (bad JSON, missing fields, wrong types, empty
 * files, BOMs, invalid UTF-8, huge lines, folders, binary, deep nesting, ...) and run specs. For every case: a
 * non-zero exit, a message that names the file (and the line and field where one applies), no stack trace, no
 * crash. Every dataset here is wholly unusable, so no case trains.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeTinyHfFolder } from '../engine/models/tinyModels';
import { alignment, type CliRun } from './cliCapture';

/** What the error output must say: the file's path is always required; the line and field where they apply. */
interface Expect {
  readonly line?: number;
  readonly field?: string;
  /** Text the message must contain besides. */
  readonly says?: string;
}

interface DataCase extends Expect {
  readonly name: string;
  readonly method?: string;
  /** The file's content, or 'folder' / 'missing'. */
  readonly content: string | Buffer | 'folder' | 'missing';
  readonly ext?: string;
  /** False when the file is valid preference data that only the training method cannot use. */
  readonly evalToo?: boolean;
}

const STACK_LINE = /^\s+at /m;
const CRASH = /TypeError|ReferenceError|RangeError|SyntaxError: Unexpected|Maximum call stack|crashed|undefined is not|Cannot read properties/;

const j = (rows: readonly unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const pair = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ prompt: 'q', chosen: 'good', rejected: 'bad', ...extra });
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Datasets that are bad as a whole or in every row. */
const DATASETS: readonly DataCase[] = [
  { name: 'empty file', content: '', says: 'holds no rows' },
  { name: 'blank lines only', content: '\n\n   \n\t\n', says: 'holds no rows' },
  { name: 'a BOM alone', content: '\ufeff', says: 'holds no rows' },
  { name: 'a BOM then bad JSON', content: '\ufeff{"prompt": "q", "chosen": \n', line: 1, says: 'not valid JSON' },
  { name: 'not JSON', content: 'prompt,chosen,rejected\nq,a,b\n', line: 1, says: 'not valid JSON' },
  { name: 'truncated object', content: '{"prompt": "q", "chosen": "a", "rejected": "b"', line: 1, says: 'not valid JSON' },
  { name: 'bad JSON on every line, CRLF', content: '{"prompt": 1,}\r\n{"chosen"}\r\n', line: 2, says: 'not valid JSON' },
  { name: 'unclosed JSON array', content: '[\n{"prompt": "q", "chosen": "a", "rejected": "b"},\n', ext: 'json', says: 'not valid JSON' },
  { name: 'JSON array of numbers', content: '[1, 2, 3]', ext: 'json', line: 1, says: 'must be a JSON object' },
  { name: 'a JSON scalar', content: '42\n', line: 1, says: 'must be a JSON object' },
  { name: 'null rows', content: 'null\nnull\n', line: 2, says: 'must be a JSON object' },
  { name: 'string rows', content: '"hello"\n"world"\n', line: 1, says: 'must be a JSON object' },
  { name: 'a number row, then array rows', content: '0\n[1]\n["a", "b"]\n', line: 3, says: 'must be a JSON object' },
  { name: 'one pretty-printed object', content: JSON.stringify(pair(), null, 2), line: 1, says: 'one JSON object' },
  { name: 'an object of rows', content: JSON.stringify({ data: [pair()] }) + '\n', says: 'keys {data}' },
  { name: 'empty objects', content: '{}\n{}\n', says: 'keys {}' },
  { name: 'unknown keys', content: j([{ question: 'q', answer: 'a' }]), says: 'keys {question, answer}' },
  { name: 'rejected missing', content: j([{ prompt: 'q', chosen: 'a' }, { prompt: 'r', chosen: 'b' }]), line: 2, field: 'rejected' },
  { name: 'chosen a number', content: j([pair({ chosen: 5 })]), line: 1, field: 'chosen' },
  { name: 'prompt a number', content: j([pair({ prompt: 7 })]), line: 1, field: 'prompt' },
  { name: 'rejected null', content: j([pair({ rejected: null })]), line: 1, field: 'rejected' },
  { name: 'chosen an object', content: j([pair({ chosen: { text: 'a' } })]), line: 1, field: 'chosen' },
  { name: 'chosen equals rejected', content: j([pair({ chosen: 'same', rejected: 'same' })]), line: 1 },
  { name: 'a message with an unknown role', content: j([{ prompt: [{ role: 'wizard', content: 'q' }], chosen: [{ role: 'assistant', content: 'a' }], rejected: [{ role: 'assistant', content: 'b' }] }]), line: 1, field: 'prompt[0].role' },
  { name: 'a message whose content is a number', content: j([{ prompt: [{ role: 'user', content: 3 }], chosen: [{ role: 'assistant', content: 'a' }], rejected: [{ role: 'assistant', content: 'b' }] }]), line: 1, field: 'prompt[0].content' },
  { name: 'id an empty string', content: j([pair({ id: '' })]), line: 1, field: 'id' },
  { name: 'id an object', content: j([pair({ id: { a: 1 } })]), line: 1, field: 'id' },
  { name: 'tags not a list', content: j([pair({ tags: 'x' })]), line: 1, field: 'tags' },
  { name: 'margin a string', content: j([pair({ margin: 'big' })]), line: 1, field: 'margin' },
  { name: 'score_chosen a string', method: 'reward-regression', content: j([pair({ score_chosen: '4.5', score_rejected: 1 })]), line: 1, field: 'score_chosen' },
  { name: 'KTO label a string', method: 'kto', content: j([{ prompt: 'q', completion: 'a', label: 'yes' }]), line: 1, field: 'label' },
  { name: 'SFT completion null', method: 'sft', content: j([{ prompt: 'q', completion: null }]), line: 1, field: 'completion' },
  { name: 'SFT messages not a list of messages', method: 'sft', content: j([{ messages: [1, 2] }]), line: 1, field: 'messages[0]' },
  { name: 'UltraFeedback with no completions', content: j([{ instruction: 'q', completions: [] }]), line: 1, field: 'completions' },
  { name: 'UltraFeedback completions that all tie', content: j([{ instruction: 'q', completions: [{ response: 'a', overall_score: 5 }, { response: 'b', overall_score: 5 }] }]), line: 1, field: 'completions' },
  { name: 'ShareGPT with an unknown speaker', content: j([{ conversations: [{ from: 'alien', value: 'q' }], chosen: { from: 'gpt', value: 'a' }, rejected: { from: 'gpt', value: 'b' } }]), line: 1, field: 'conversations[0].from' },
  { name: 'Latin-1 bytes', content: latin1('{"prompt": "caf\xe9", "chosen": "a", "rejected": "b"}\n'), line: 1, says: 'not valid UTF-8' },
  { name: 'Latin-1 bytes in a JSON array', ext: 'json', content: latin1('[\n{"prompt": "na\xefve", "chosen": "a", "rejected": "b"}\n]\n'), line: 2, says: 'not valid UTF-8' },
  { name: 'UTF-16 with a BOM', content: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(j([pair()]), 'utf16le')]), line: 1, says: 'not valid UTF-8' },
  { name: 'binary noise', content: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)), line: 1 },
  { name: 'NUL bytes', content: Buffer.alloc(64), line: 1, says: 'not valid JSON' },
  { name: 'a huge line of garbage', content: 'x'.repeat(3 * 1024 * 1024) + '\n', line: 1, says: 'not valid JSON' },
  { name: 'a huge line with a wrong type', content: j([pair({ chosen: Array.from({ length: 200_000 }, () => 1) })]), line: 1, field: 'chosen' },
  { name: 'deeply nested JSON', content: '['.repeat(200_000) + ']'.repeat(200_000) + '\n', line: 1 },
  { name: 'SFT data for DPO', content: j([{ prompt: 'q', completion: 'a' }]), says: 'preference' },
  { name: 'pairs without scores for reward-regression', method: 'reward-regression', content: j([pair()]), says: 'scores', evalToo: false },
  { name: 'a folder', content: 'folder', says: 'is a folder; pass a .jsonl or .json file' },
  { name: 'a missing file', content: 'missing', says: 'does not exist' },
];

/** Run specs that are bad as files or in a field. `spec` is the file's content, or 'folder' / 'missing'. */
interface SpecCase extends Expect {
  readonly name: string;
  readonly spec: string | Buffer | 'folder' | 'missing' | ((ctx: { data: string; model: string; dir: string }) => unknown);
}

const SPECS: readonly SpecCase[] = [
  { name: 'a missing spec file', spec: 'missing', says: 'does not exist' },
  { name: 'a folder', spec: 'folder', says: 'folder' },
  { name: 'an empty file', spec: '', says: 'cannot read the run spec' },
  { name: 'bad JSON', spec: '{"method": "dpo",', says: 'cannot read the run spec' },
  { name: 'an array', spec: '[]', says: 'must be a JSON object' },
  { name: 'null', spec: 'null', says: 'must be a JSON object' },
  { name: 'a string', spec: '"dpo"', says: 'must be a JSON object' },
  { name: 'Latin-1 bytes', spec: latin1('{"method": "dpo", "name": "caf\xe9", "data": 5}'), field: 'data' },
  { name: 'an unknown method', spec: ({ data }) => ({ method: 'magic', data: { path: data } }), field: 'method' },
  { name: 'no method', spec: ({ data }) => ({ data: { path: data } }), field: 'method' },
  { name: 'no data path', spec: () => ({ method: 'dpo', data: {} }), field: 'data.path' },
  { name: 'data path a number', spec: () => ({ method: 'dpo', data: { path: 12 } }), field: 'data.path' },
  { name: 'data a string', spec: ({ data }) => ({ method: 'dpo', data }), field: 'data' },
  { name: 'an unknown model kind', spec: ({ data }) => ({ method: 'dpo', model: { kind: 'cloud' }, data: { path: data } }), field: 'model' },
  { name: 'a model path that does not exist', spec: ({ data, dir }) => ({ method: 'dpo', model: { kind: 'hf', path: path.join(dir, 'nope') }, data: { path: data } }), field: 'model.path' },
  { name: 'a model path that is a file', spec: ({ data }) => ({ method: 'dpo', model: { kind: 'hf', path: data }, data: { path: data } }), field: 'model.path' },
  { name: 'a model folder with a broken config.json', spec: ({ data, dir }) => ({ method: 'dpo', model: { kind: 'hf', path: brokenModel(dir) }, data: { path: data } }), says: 'config.json' },
  { name: 'batchSize 0', spec: ({ data }) => ({ method: 'dpo', data: { path: data }, batchSize: 0 }), field: 'batchSize' },
  { name: 'a negative learning rate', spec: ({ data }) => ({ method: 'dpo', data: { path: data }, optimizer: { learningRate: -1 } }), field: 'optimizer.learningRate' },
  { name: 'evalSplit 1.5', spec: ({ data }) => ({ method: 'dpo', data: { path: data, evalSplit: 1.5 } }), field: 'data.evalSplit' },
  { name: 'maxLength -1', spec: ({ data }) => ({ method: 'dpo', data: { path: data, maxLength: -1 } }), field: 'data.maxLength' },
  { name: 'an unknown device', spec: ({ data }) => ({ method: 'dpo', data: { path: data }, device: 'tpu' }), field: 'device' },
  { name: 'an unknown hyperparameter', spec: ({ data }) => ({ method: 'dpo', data: { path: data }, hyperparameters: { betta: 0.1 } }), field: 'hyperparameters.betta' },
  { name: 'an unknown data format', spec: ({ data }) => ({ method: 'dpo', data: { path: data, format: 'csv' } }), field: 'data.format' },
  { name: 'epochs a string', spec: ({ data }) => ({ method: 'dpo', data: { path: data }, epochs: 'three' }), field: 'epochs' },
  { name: 'a BOM and an unknown field', spec: ({ data }) => '\ufeff' + JSON.stringify({ method: 'dpo', data: { path: data }, colour: 'red' }), field: 'colour' },
  { name: 'an eval split that leaves nothing to train', spec: ({ data, model }) => ({ method: 'dpo', model: { kind: 'hf', path: model }, data: { path: data, evalSplit: 0.99 } }), field: 'data.evalSplit' },
];

function brokenModel(dir: string): string {
  const m = path.join(dir, 'broken-model');
  fs.mkdirSync(m, { recursive: true });
  fs.writeFileSync(path.join(m, 'config.json'), '{"model_type": "gpt2", "n_embd": ');
  return m;
}

/** The data and model paths a spec names. */
function pathsIn(spec: Record<string, unknown>): string[] {
  const at = (o: unknown): string[] => (o && typeof o === 'object' && typeof (o as { path?: unknown }).path === 'string' ? [(o as { path: string }).path] : []);
  return [...at(spec.model), ...at(spec.data)];
}

/** Writes a case's file (or folder, or nothing) and returns its path. */
function place(dir: string, name: string, content: string | Buffer): string {
  const file = path.join(dir, name);
  if (content === 'folder') fs.mkdirSync(file);
  else if (content !== 'missing') fs.writeFileSync(file, content);
  return file;
}

/** `files`: the message must name one of them (a spec's problem may be its data file or model folder). */
function check(what: string, files: readonly string[], e: Expect, r: CliRun): void {
  const all = r.err + r.out;
  const show = `${what}:\n${all.slice(0, 3000)}`;
  const file = files.find((f) => all.includes(f)) ?? (files[0] as string);
  assert.notEqual(r.code, 0, show);
  assert.ok(all.includes(file), `names ${files.join(' or ')}: ${show}`);
  if (e.line !== undefined) assert.ok(all.includes(`${file}:${e.line}`), `names ${file}:${e.line}: ${show}`);
  if (e.field !== undefined) assert.ok(all.includes(e.field), `names the field ${e.field}: ${show}`);
  if (e.says !== undefined) assert.ok(all.includes(e.says), `says "${e.says}": ${show}`);
  assert.doesNotMatch(all, STACK_LINE, `no stack trace: ${show}`);
  assert.doesNotMatch(all, CRASH, `no crash: ${show}`);
}

test(`${DATASETS.length} malformed datasets: each a non-zero exit with the file, line and field named, no stack`, async () => {
  assert.ok(DATASETS.length >= 40);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-data-'));
  const model = writeTinyHfFolder('gpt2');
  for (const [i, c] of DATASETS.entries()) {
    const file = place(dir, `d${i}.${c.ext ?? 'jsonl'}`, c.content);
    const r = await alignment('train', '--method', c.method ?? 'dpo', '--data', file, '--model', model, '--steps', '1', '--eval-split', '0', '--run-dir', path.join(dir, `run${i}`));
    check(`dataset "${c.name}"`, [file], c, r);
  }
});

test(`the same datasets through alignment eval: a non-zero exit with the file, line and field named, no stack`, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-eval-'));
  const model = writeTinyHfFolder('gpt2');
  for (const [i, c] of DATASETS.entries()) {
    if (c.evalToo === false) continue;
    const file = place(dir, `d${i}.${c.ext ?? 'jsonl'}`, c.content);
    const r = await alignment('eval', model, '--data', file);
    check(`eval of dataset "${c.name}"`, [file], { ...c, says: c.method && c.method !== 'dpo' ? undefined : c.says }, r);
  }
});

test(`${SPECS.length} malformed run specs: each a non-zero exit with the file and field named, no stack`, async () => {
  assert.ok(SPECS.length >= 20);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-spec-'));
  const model = writeTinyHfFolder('gpt2');
  const data = place(dir, 'pairs.jsonl', j([pair({ id: 'p1' })]));
  for (const [i, c] of SPECS.entries()) {
    const content = typeof c.spec === 'function' ? c.spec({ data, model, dir }) : c.spec;
    const body = typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content);
    const file = place(dir, `spec${i}.json`, body);
    const r = await alignment('train', file, '--run-dir', path.join(dir, `run${i}`));
    const named = content && typeof content === 'object' && !Buffer.isBuffer(content) ? pathsIn(content as Record<string, unknown>) : [];
    check(`spec "${c.name}"`, [file, ...named], c, r);
  }
});
