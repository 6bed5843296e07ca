/**
 * Large single-file checkpoints: safetensors files are read tensor by tensor at their header offsets, never as a
 * whole file (fs.readFileSync refuses files over 2 GiB), and a model load holds each weight about once.
 *
 * The child-process test loads a 2.5 GB model when ALIGNMENT_BIG_TESTS=1 (about 2.5 GB of memory and disk,
 * the disk as a sparse file) and a 160 MB one otherwise; the in-process test shows at the small size that the
 * weights file never goes through readFileSync.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import * as path from 'node:path';
import { loadHfModel } from '../../../../src/engine/models/hfMapping';
import { writeBigModelFolder, sampleMismatches } from './bigModelFile';
import { tmpDir } from './tinyModels';

const BIG = process.env.ALIGNMENT_BIG_TESTS === '1';
const SMALL_BYTES = 160e6;
const BIG_BYTES = 2.5e9;

test('a model load reads the weights file at tensor offsets, never whole (no readFileSync of the .safetensors)', (t) => {
  const dir = tmpDir('big-load-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const big = writeBigModelFolder(dir, SMALL_BYTES);
  const spy = mock.method(fs, 'readFileSync');
  let loaded;
  try {
    loaded = loadHfModel(dir);
  } finally {
    spy.mock.restore();
  }
  const whole = spy.mock.calls.filter((c) => String(c.arguments[0]).endsWith('.safetensors'));
  assert.deepEqual(whole, [], 'readFileSync was called on the weights file');
  assert.deepEqual(sampleMismatches(big, loaded.weights), []);
  assert.equal(loaded.weights.get('embed.weight')!.data.length, big.vocabSize * big.hiddenSize);
});

test(`a ${BIG ? '2.5 GB' : '160 MB'} single-file model loads in a fresh process with peak RSS growth below 1.5x the file`, (t) => {
  const dir = tmpDir('big-load-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const big = writeBigModelFolder(dir, BIG ? BIG_BYTES : SMALL_BYTES);
  if (BIG) assert.ok(big.fileBytes > 2 ** 31, 'the big file is over 2 GiB');
  const desc = path.join(dir, 'samples.json');
  fs.writeFileSync(desc, JSON.stringify(big));
  const child = path.join(__dirname, 'bigLoadChild.ts');
  const r = spawnSync(process.execPath, ['--import', 'tsx', child, dir, desc], { encoding: 'utf8', maxBuffer: 1 << 20 });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { rssBefore: number; peakRss: number; mismatches: string[]; params: number };
  const growth = out.peakRss - out.rssBefore;
  t.diagnostic(`file ${(big.fileBytes / 1e6).toFixed(0)} MB, peak RSS growth ${(growth / 1e6).toFixed(0)} MB (${(growth / big.fileBytes).toFixed(2)}x)`);
  assert.deepEqual(out.mismatches, []);
  assert.equal(out.params * 4, fs.statSync(big.file).size - headerBytes(big.file), 'every float32 weight was loaded');
  assert.ok(growth < 1.5 * big.fileBytes, `peak RSS grew by ${growth} bytes for a ${big.fileBytes}-byte file`);
});

/** 8 + the header length of a safetensors file. */
function headerBytes(file: string): number {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(8);
    fs.readSync(fd, b, 0, 8, 0);
    return 8 + Number(b.readBigUInt64LE(0));
  } finally {
    fs.closeSync(fd);
  }
}
