/**
 * Model downloads from the Hub (src/core/download): against a loopback server that answers like the Hub's
 * revision and resolve endpoints, a model arrives whole and checked; a dropped connection resumes with a Range
 * request instead of starting over; a gated repo, a missing repo and a wrong checksum each give a plain error;
 * and only what the engine loads is fetched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkRepoId, downloadHubModel, DOWNLOAD_MARKER, repoFolderName } from '../../../../src/core/download/hubModels';
import { downloadFile } from '../../../../src/core/download/httpDownload';
import { UserError } from '../../../../src/util/errors';
import { startHubServer, type HubRepoFixture } from '../../../support/hubServer';

const noWait = async (): Promise<void> => {};
const weights = crypto.randomBytes(300_000);
const model = (over: Partial<HubRepoFixture> = {}): HubRepoFixture => ({
  files: {
    'config.json': '{"model_type": "llama"}',
    'tokenizer.json': '{"model": {}}',
    'model.safetensors': weights,
    'pytorch_model.bin': 'pickle, never fetched',
    'README.md': '# card',
  },
  ...over,
});
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'hub-'));

test('a model downloads whole and checked, only the files the engine loads, pinned to the revision commit', async () => {
  const hub = await startHubServer({ 'org/tiny': model() });
  try {
    const dir = tmp();
    const progress: number[] = [];
    const r = await downloadHubModel({ repo: 'org/tiny', endpoint: hub.endpoint, dir, sleep: noWait, onProgress: (p) => progress.push(p.bytes) });
    assert.deepEqual([...r.files].sort(), ['config.json', 'model.safetensors', 'tokenizer.json']);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'model.safetensors')), weights);
    assert.equal(r.commit, 'a'.repeat(40));
    assert.ok(hub.log.every((l) => !l.includes('pytorch_model.bin') && !l.includes('README')));
    assert.ok(hub.log.filter((l) => l.includes('/resolve/')).every((l) => l.includes(`/resolve/${'a'.repeat(40)}/`)));
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, DOWNLOAD_MARKER), 'utf8')).repo, 'org/tiny');
    assert.ok(progress.length > 0 && progress.every((b, i) => i === 0 || b >= (progress[i - 1] ?? 0)), 'progress only grows');
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.part')), []);
  } finally {
    await hub.close();
  }
});

test('a dropped connection resumes from the bytes already on disk (Range), and the result checks out', async () => {
  const hub = await startHubServer({ 'org/tiny': model({ drop: { 'model.safetensors': { after: 100_000, times: 1 } } }) });
  try {
    const dir = tmp();
    await downloadHubModel({ repo: 'org/tiny', endpoint: hub.endpoint, dir, sleep: noWait });
    assert.deepEqual(fs.readFileSync(path.join(dir, 'model.safetensors')), weights);
    assert.ok(hub.log.some((l) => /model\.safetensors bytes=100000-$/.test(l)), `no resumed request in:\n${hub.log.join('\n')}`);
  } finally {
    await hub.close();
  }
});

test('an interrupted download that gave up resumes on the next run, and files already there are kept', async () => {
  const hub = await startHubServer({ 'org/tiny': model({ drop: { 'model.safetensors': { after: 120_000, times: 3 } } }) });
  try {
    const dir = tmp();
    await assert.rejects(downloadHubModel({ repo: 'org/tiny', endpoint: hub.endpoint, dir, sleep: noWait, maxRetries: 1 }), (e: unknown) => e instanceof UserError && /model\.safetensors failed after 2 tries.*run the download again to resume/i.test(e.message));
    assert.equal(fs.statSync(path.join(dir, 'model.safetensors.part')).size, 120_000);
    assert.equal(fs.existsSync(path.join(dir, 'model.safetensors')), false, 'an incomplete file never takes the real name');
    hub.log.length = 0;
    await downloadHubModel({ repo: 'org/tiny', endpoint: hub.endpoint, dir, sleep: noWait, maxRetries: 2 });
    assert.deepEqual(fs.readFileSync(path.join(dir, 'model.safetensors')), weights);
    assert.ok(!hub.log.some((l) => l.includes('config.json')), 'config.json was already complete');
  } finally {
    await hub.close();
  }
});

test('a gated repo asks for a token, then takes the right one; a wrong token is named as such', async () => {
  const hub = await startHubServer({ 'org/gated': model({ gatedToken: 'hf_right' }) });
  try {
    await assert.rejects(downloadHubModel({ repo: 'org/gated', endpoint: hub.endpoint, dir: tmp() }), /needs a Hub token \(HTTP 401\).*Set Hugging Face Token/);
    await assert.rejects(downloadHubModel({ repo: 'org/gated', endpoint: hub.endpoint, dir: tmp(), token: 'hf_wrong' }), (e: unknown) => e instanceof UserError && /refused the Hub token \(HTTP 401\)/.test(e.message) && !e.message.includes('hf_wrong'));
    const dir = tmp();
    await downloadHubModel({ repo: 'org/gated', endpoint: hub.endpoint, dir, token: 'hf_right' });
    assert.deepEqual(fs.readFileSync(path.join(dir, 'model.safetensors')), weights);
  } finally {
    await hub.close();
  }
});

test('a missing repo is a 404 in words; a wrong checksum deletes the bytes and names both digests', async () => {
  const hub = await startHubServer({ 'org/bad': model({ corrupt: ['model.safetensors'] }) });
  try {
    await assert.rejects(downloadHubModel({ repo: 'org/nothing', endpoint: hub.endpoint, dir: tmp() }), /org\/nothing at revision "main" was not found on the Hub \(HTTP 404\)/);
    const dir = tmp();
    await assert.rejects(downloadHubModel({ repo: 'org/bad', endpoint: hub.endpoint, dir, sleep: noWait }), /model\.safetensors: checksum mismatch \(sha256 [0-9a-f]{64}, expected [0-9a-f]{64}\)/);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('model.safetensors')), []);
    assert.equal(fs.existsSync(path.join(dir, DOWNLOAD_MARKER)), false);
  } finally {
    await hub.close();
  }
});

test('repo ids are checked before any request; a repo without safetensors is refused by name', async () => {
  assert.throws(() => checkRepoId('../etc'), /not a Hub model id/);
  assert.throws(() => checkRepoId('justaname'), /expected owner\/name/);
  assert.equal(repoFolderName('Qwen/Qwen3-0.6B'), 'Qwen--Qwen3-0.6B');
  const hub = await startHubServer({ 'org/pickle': { files: { 'config.json': '{}', 'pytorch_model.bin': 'x' } } });
  try {
    await assert.rejects(downloadHubModel({ repo: 'org/pickle', endpoint: hub.endpoint, dir: tmp() }), /no safetensors weights \(only pytorch_model\.bin\)/);
  } finally {
    await hub.close();
  }
});

test('downloadFile restarts a file whose server ignores the range, and checks the size', async () => {
  const body = crypto.randomBytes(5000);
  const sha256 = crypto.createHash('sha256').update(body).digest('hex');
  const dir = tmp();
  const dest = path.join(dir, 'f.bin');
  fs.writeFileSync(`${dest}.part`, body.subarray(0, 1000));
  const seen: string[] = [];
  const fakeFetch = (async (_url: string, init?: { headers?: Record<string, string> }) => {
    seen.push(init?.headers?.['Range'] ?? '');
    return new Response(body, { status: 200 });
  }) as unknown as typeof fetch;
  await downloadFile({ url: 'http://h/f.bin', dest, digest: { algorithm: 'sha256', hex: sha256 }, size: body.length, fetch: fakeFetch });
  assert.deepEqual(seen, ['bytes=1000-']);
  assert.deepEqual(fs.readFileSync(dest), body);
});
