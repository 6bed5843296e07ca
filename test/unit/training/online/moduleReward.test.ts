/**
 * A user's JavaScript reward module as a reward source, run in a worker thread: ES and CommonJS modules score with
 * the row's columns, combined by weight with a built-in; a throw, NaN and a hang each fail with the function's and
 * the prompt's names (a hang within the time limit: the worker is stopped and the next call gets a fresh one); an
 * untrusted workspace runs nothing; a module that does not load is named by its spec entry.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveRunSpec, type RunSpec } from '../../../../src/core/runs/spec';
import { WORKSPACE_TRUSTED_ENV } from '../../../../src/core/runs/specRewardSources';
import { runSession } from '../../../../src/session/runSession';
import type { RolloutPrompt } from '../../../../src/training/online/rollout';
import { ModuleReward, UntrustedModuleError } from '../../../../src/training/online/rewards/moduleReward';
import { openRewards, RewardSourceError } from '../../../../src/training/online/rewards/openRewards';
import { computeRewards, RewardError, type RewardSample } from '../../../../src/training/online/rewards/rewardFunction';
import { tmpDir } from '../../engine/models/tinyModels';
import { onlineSpec, promptRows } from '../../session/onlineFixtures';
import { workspace } from '../../session/sessionFixtures';

const dir = tmpDir('reward-module-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, code: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, code);
  return file;
}

const ESM = write('rewards.mjs', `
export function reward(prompt, completion, info) {
  const bonus = info.fields.answer !== undefined && completion.includes(info.fields.answer) ? 1 : 0;
  return completion.length / 10 + bonus + (info.terminated ? 0 : -0.5);
}
export async function late(prompt, completion) { await new Promise((r) => setTimeout(r, 5)); return typeof prompt === 'string' ? 1 : prompt.length; }
export function picky(prompt, completion) { if (completion === 'boom') throw new Error('cannot parse ' + completion); return 1; }
export function nan(prompt, completion) { return completion === 'nan' ? NaN : 0; }
export function hang(prompt, completion) { if (completion === 'hang') for (;;) {} return 0.25; }
export function skipSome(prompt, completion) { return completion.startsWith('x') ? null : 2; }
`);
const CJS = write('rewards.js', `module.exports = { reward: (prompt, completion) => completion.split(' ').length };`);

const prompt = (i: number, answer?: string): RolloutPrompt => ({ id: `q${i}`, prompt: [{ role: 'user', content: `question ${i}` }], source: { file: 'prompts.jsonl', line: i + 1 }, ...(answer ? { fields: { answer } } : {}) });
const sample = (completion: string, p: RolloutPrompt = prompt(0), terminated = true): RewardSample => ({ prompt: p, completion, completionIds: [1, 2, 3], terminated });
const mod = (exportName: string, file = ESM, timeoutMs = 5000): ModuleReward => new ModuleReward({ name: `mod_${exportName}`, modulePath: file, exportName, trusted: true, timeoutMs });

test('reward module: an ES module and a CommonJS one score each sample with the row columns; null leaves a sample out; weights combine', async () => {
  const esm = mod('reward');
  const cjs = mod('reward', CJS);
  const late = mod('late');
  const some = mod('skipSome');
  try {
    const samples = [sample('yes indeed', prompt(0, 'yes')), sample('no', prompt(1, 'yes'), false), sample('xx', prompt(2))];
    const t = await computeRewards(samples, [{ fn: esm, weight: 1 }, { fn: cjs, weight: 2 }, { fn: late, weight: 1 }, { fn: some, weight: 0.5 }]);
    assert.deepEqual(t.perFunc[0]?.slice(0, 3), [1 + 1, 2, 1]);
    assert.ok(Math.abs((t.perFunc[1]?.[0] as number) - (0.2 - 0.5)) < 1e-12);
    assert.deepEqual(t.perFunc[2]?.slice(0, 3), [0.2, 1, 1]);
    assert.ok(Number.isNaN(t.perFunc[2]?.[3] as number), 'null: the function does not apply to this sample');
    assert.ok(Math.abs((t.total[0] as number) - (2 + 2 * 2 + 1 + 0.5 * 2)) < 1e-12);
    assert.deepEqual(t.valid, [true, true, true]);
  } finally {
    for (const m of [esm, cjs, late, some]) await m.dispose();
  }
});

test('reward module: a throw and a NaN name the function and the prompt; under skip only that sample is dropped', async () => {
  const picky = mod('picky');
  const nan = mod('nan');
  try {
    const samples = [sample('fine', prompt(0)), sample('boom', prompt(1)), sample('nan', prompt(2))];
    await assert.rejects(computeRewards(samples, [{ fn: picky, weight: 1 }]), (e: Error) => e instanceof RewardError && /reward function "mod_picky" failed on prompt q1 \(prompts\.jsonl:2\) "user: question 1"/.test(e.message) && /picky in .*rewards\.mjs threw: cannot parse boom/.test(e.message));
    await assert.rejects(computeRewards(samples, [{ fn: nan, weight: 1 }]), (e: Error) => e instanceof RewardError && /reward function "mod_nan" returned NaN for prompt q2 \(prompts\.jsonl:3\)/.test(e.message));
    const t = await computeRewards(samples, [{ fn: picky, weight: 1 }, { fn: nan, weight: 1 }], { onError: 'skip' });
    assert.deepEqual(t.valid, [true, false, false]);
    assert.equal(t.problems.length, 2);
  } finally {
    await picky.dispose();
    await nan.dispose();
  }
});

test('reward module: a hang is stopped at the time limit with the function and prompt named, and the next call gets a fresh worker', async () => {
  const hang = mod('hang', ESM, 400);
  try {
    const t0 = Date.now();
    await assert.rejects(computeRewards([sample('hang', prompt(4))], [{ fn: hang, weight: 1 }], { timeoutMs: 10_000 }), (e: Error) => e instanceof RewardError && /reward function "mod_hang" \(hang in .*rewards\.mjs\) did not answer within 400 ms \(its worker was stopped\) scoring prompt q4 \(prompts\.jsonl:5\)/.test(e.message));
    assert.ok(Date.now() - t0 < 5000, `gave up after ${Date.now() - t0} ms`);
    const t = await computeRewards([sample('ok'), sample('fine')], [{ fn: hang, weight: 1 }]);
    assert.deepEqual(t.total, [0.25, 0.25]);
  } finally {
    await hang.dispose();
  }
});

test('reward module: nothing runs in an untrusted workspace; a module that does not load is named by its spec entry and field', async () => {
  assert.throws(() => new ModuleReward({ name: 'm', modulePath: ESM, exportName: 'reward', trusted: false, timeoutMs: 1000 }), (e: Error) => e instanceof UntrustedModuleError && /not trusted/.test(e.message));
  const spec = (fn: Record<string, unknown>) => {
    const r = resolveRunSpec({ method: 'grpo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' }, outputDir: 'o', rewards: { functions: [{ kind: 'regex', pattern: 'a' }, fn] } });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    return r.spec.rewards as NonNullable<typeof r.spec.rewards>;
  };
  const ctx = { baseDir: dir, maxCompletionLength: 8 };
  await assert.rejects(openRewards(spec({ kind: 'module', path: 'rewards.mjs' }), { ...ctx, trusted: false }), (e: Error) => e instanceof RewardSourceError && /^rewards\.functions\[1\]\.path \(module "module"\): the reward module .*rewards\.mjs was not run: this workspace is not trusted/.test(e.message));
  await assert.rejects(openRewards(spec({ kind: 'module', path: 'rewards.mjs', export: 'missing' }), { ...ctx, trusted: true }), /rewards\.functions\[1\]\.path .*could not be loaded: the module does not export a function named "missing"/);
  write('broken.js', 'this is not javascript');
  await assert.rejects(openRewards(spec({ kind: 'module', path: 'broken.js' }), { ...ctx, trusted: true }), /rewards\.functions\[1\]\.path .*broken\.js.*could not be loaded/);
  await assert.rejects(openRewards(spec({ kind: 'module', path: 'nowhere.js' }), { ...ctx, trusted: true }), /rewards\.functions\[1\]\.path .*no file at .*nowhere\.js/);
  const ok = await openRewards(spec({ kind: 'module', path: 'rewards.mjs', weight: 0.5, name: 'mine' }), { ...ctx, trusted: true });
  assert.deepEqual(ok.rewards.map((r) => [r.fn.name, r.weight]), [['regex', 1], ['mine', 0.5]]);
  await ok.dispose();
});

test('reward module in a GRPO session: refused unless the workspace is trusted; a module that hangs stops the run at the time limit (it never hangs)', async () => {
  const ws = workspace(promptRows(4));
  const hangs = path.join(ws.dir, 'hangs.mjs');
  fs.writeFileSync(hangs, 'export function reward() { for (;;) {} }\n');
  const spec = (runDir: string, fn: Record<string, unknown>, timeoutSeconds = 60): RunSpec => {
    const r = resolveRunSpec(onlineSpec(ws, runDir, { rewards: { functions: [fn], timeoutSeconds }, maxSteps: 1 }));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    return r.spec;
  };
  const saved = process.env[WORKSPACE_TRUSTED_ENV];
  delete process.env[WORKSPACE_TRUSTED_ENV];
  try {
    const untrusted = path.join(ws.dir, 'untrusted');
    const res = await runSession(spec(untrusted, { kind: 'module', path: ESM }), { runDir: untrusted, cacheDir: path.join(ws.dir, 'cache'), baseDir: ws.dir, threads: 1 });
    assert.equal(res.reason, 'failed');
    assert.match(res.error ?? '', /rewards\.functions\[0\]\.path \(module "module"\): the reward module .*rewards\.mjs was not run: this workspace is not trusted/);
  } finally {
    if (saved !== undefined) process.env[WORKSPACE_TRUSTED_ENV] = saved;
  }
  const hung = path.join(ws.dir, 'hung');
  const t0 = Date.now();
  const res = await runSession(spec(hung, { kind: 'module', path: 'hangs.mjs', name: 'spin' }, 1), { runDir: hung, cacheDir: path.join(ws.dir, 'cache'), baseDir: ws.dir, threads: 1, trustedWorkspace: true });
  assert.equal(res.reason, 'failed');
  assert.match(res.error ?? '', /reward function "spin" \(reward in .*hangs\.mjs\) did not answer within 1000 ms \(its worker was stopped\) scoring \d+ samples, the first prompt data\.jsonl:\d+/);
  assert.ok(Date.now() - t0 < 30_000, `the run ended after ${Date.now() - t0} ms`);
  fs.rmSync(ws.dir, { recursive: true, force: true });
});
