/**
 * `alignment preflight`: a calibration session of the run's own configuration says what the run's data
 * preparation leaves out and how long the run takes on this machine. The estimate is checked against the run
 * measured right after it, on three configurations; no absolute speed is assumed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { calibratedSeconds, runLayout } from '../../../src/core/runs/calibration';
import { EMPTY_RUN_STATE, foldRunEvents } from '../../../src/core/runs/runState';
import { resolveRunSpec, type RunSpec } from '../../../src/core/runs/spec';
import { PreflightReportMsg } from '../../../src/protocol/preflight';
import { parseSessionEvents } from '../../../src/protocol/session';
import { preflight } from '../../../src/session/preflight';
import { runSession } from '../../../src/session/runSession';
import { pairRows, REPO, tinySpec, workspace } from './sessionFixtures';

function resolve(raw: Record<string, unknown>): RunSpec {
  const r = resolveRunSpec(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

/** SFT rows (prompt / completion) for the tiny model. */
const sftRows = (n: number): string[] => Array.from({ length: n }, (_, i) => JSON.stringify({ prompt: `item ${1 + (i % 12)}: say ${i % 2 ? 'no' : 'yes'}`, completion: i % 2 ? ' no' : ' yes' }));

// Three configurations of different shapes.
const CONFIGS: { name: string; rows: string[]; over: Record<string, unknown> }[] = [
  { name: 'SFT, batch 4, no eval, no samples', rows: sftRows(48), over: { method: 'sft', batchSize: 4, maxSteps: 40, data: { maxLength: 32, evalSplit: 0 }, intervals: { logging: 5, eval: 0, checkpoint: 0, sample: 0 } } },
  { name: 'DPO, batch 2, eval every 10, samples every 15', rows: pairRows(40), over: { method: 'dpo', batchSize: 2, maxSteps: 30, data: { maxLength: 32, evalSplit: 0.2 }, intervals: { logging: 5, eval: 10, checkpoint: 0, sample: 15 } } },
  { name: 'reward model, batch 4 x 2 accumulation, eval at the end', rows: pairRows(40), over: { method: 'reward', batchSize: 4, gradientAccumulationSteps: 2, maxSteps: 20, data: { maxLength: 48, evalSplit: 0.2 }, intervals: { logging: 5, eval: 0, checkpoint: 0, sample: 0 } } },
];

/** Runs `node --import tsx <entry> ...args` as the editor runs its processes; its exit code, output and wall time. */
function run(entry: string, args: string[], cacheDir: string): Promise<{ code: number | null; out: string; err: string; seconds: number }> {
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, entry), ...args], { cwd: REPO, env: { ...process.env, ALIGNMENT_CACHE_DIR: cacheDir } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((res) => child.on('close', (code) => res({ code, out, err, seconds: (Date.now() - t0) / 1000 })));
}

for (const c of CONFIGS) {
  test(`the measured estimate lands within ±50% of the run's time: ${c.name}`, async (t) => {
    const ws = workspace(c.rows);
    const runDir = path.join(ws.dir, 'run');
    const raw = tinySpec(ws, runDir, c.over);
    const specFile = path.join(ws.dir, 'spec.json');
    fs.writeFileSync(specFile, JSON.stringify({ ...raw, data: { path: ws.data, ...(c.over.data as object) } }));
    // Each in its own process, one right after the other: the calibration (alignment preflight), then the run as
    // the editor starts it (the session process).
    const pre = await run('src/cli/main.ts', ['preflight', specFile, '--json', '--threads', '1'], ws.dir);
    assert.equal(pre.code, 0, pre.err);
    const msg: unknown = JSON.parse(pre.out.trim().split('\n').pop() as string);
    assert.ok(PreflightReportMsg.is(msg), pre.out);
    const report = msg.params;
    assert.ok(report.timing && report.examples, JSON.stringify(report));
    const spec = resolve(JSON.parse(fs.readFileSync(specFile, 'utf8')) as Record<string, unknown>);
    const estimate = calibratedSeconds(report.timing, runLayout(spec, report.examples.train, report.examples.eval));
    const res = await run('src/session/main.ts', ['--spec', specFile, '--run-dir', runDir, '--threads', '1'], ws.dir);
    assert.equal(res.code, 0, res.err);
    const ratio = estimate / res.seconds;
    t.diagnostic(`estimate ${estimate.toFixed(2)} s, measured ${res.seconds.toFixed(2)} s, ratio ${ratio.toFixed(2)}`);
    assert.ok(ratio >= 0.5 && ratio <= 1.5, `estimate ${estimate.toFixed(2)} s, measured ${res.seconds.toFixed(2)} s (ratio ${ratio.toFixed(2)}); timing ${JSON.stringify(report.timing)}`);
  });
}

test('the preflight reports what the run will leave out, with the counts the run itself reports', async () => {
  const long = Array.from({ length: 6 }, (_, i) => JSON.stringify({ prompt: `tell me about ${i} `.repeat(12), chosen: ' a long answer '.repeat(8), rejected: ' no' }));
  const ws = workspace([...pairRows(10), ...long, '{"prompt": "no answers"}', 'not json']);
  const runDir = path.join(ws.dir, 'run');
  const spec = resolve(tinySpec(ws, runDir, { data: { path: ws.data, maxLength: 32, evalSplit: 0 }, intervals: { logging: 1, eval: 0, checkpoint: 0, sample: 0 } }));
  const report = await preflight(spec, { cacheDir: ws.dir, baseDir: ws.dir, threads: 1 });
  assert.equal(report.dataLoss.rows, 18);
  assert.equal(report.dataLoss.rowsSkipped, 2);
  assert.ok((report.dataLoss.promptsTruncated ?? 0) >= 6, `each long prompt is cut: ${JSON.stringify(report.dataLoss)}`);
  assert.ok((report.dataLoss.completionsTruncated ?? 0) >= 6, JSON.stringify(report.dataLoss));
  assert.ok((report.dataLoss.tokensDropped ?? 0) > 6 * 12, JSON.stringify(report.dataLoss));
  assert.deepEqual(report.examples, { train: 16, eval: 0 });
  const res = await runSession(spec, { runDir, cacheDir: ws.dir, baseDir: ws.dir, threads: 1 });
  assert.equal(res.reason, 'completed', res.error);
  const state = foldRunEvents(EMPTY_RUN_STATE, parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).events);
  assert.deepEqual(state.dataLoss, report.dataLoss);
});

test('a run that would fail says why before it starts', async () => {
  const ws = workspace(['not json']);
  const spec = resolve(tinySpec(ws, path.join(ws.dir, 'run')));
  const report = await preflight(spec, { cacheDir: ws.dir, baseDir: ws.dir, threads: 1 });
  assert.match(report.failure ?? '', /^data\.path: .*data\.jsonl:1/);
  assert.equal(report.timing, undefined);
});
