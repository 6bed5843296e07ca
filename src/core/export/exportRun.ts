/**
 * Writes a run's TRL export folder (trlExport.ts) from its run folder: the resolved spec in spec.json, its data
 * file loaded and split as the session splits it (seeded, prompts kept on one side).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDatasetFile } from '../datasets/formats';
import { splitTrainEval } from '../datasets/prepare';
import { SPEC_FILE } from '../runs/layout';
import { resolveRunSpec } from '../runs/spec';
import { trlExportFiles, TrlExportError } from './trlExport';

export interface ExportRunOptions {
  /** Folder that relative paths in the spec (data, model) are resolved against: the workspace. */
  readonly baseDir: string;
  /** The built-in model's folder, for runs on it (the script then needs `--model` when absent). */
  readonly builtinModelDir?: string;
}

/** Writes the export of the run in `runDir` into `outDir` (created); returns the files written, relative to it. */
export async function exportRunForTrl(runDir: string, outDir: string, opts: ExportRunOptions): Promise<string[]> {
  const specFile = path.join(runDir, SPEC_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(specFile, 'utf8'));
  } catch (e) {
    throw new TrlExportError(`${specFile}: cannot read the run's spec: ${(e as Error).message}`);
  }
  const r = resolveRunSpec(raw, runDir);
  if (!r.ok) throw new TrlExportError(`${specFile}: ${r.problems.map((p) => `${p.path}: ${p.reason}`).join('; ')}`);
  const spec = r.spec;
  const dataFile = path.resolve(opts.baseDir, spec.data.path);
  if (!fs.existsSync(dataFile)) throw new TrlExportError(`data.path: ${dataFile} does not exist`);
  const data = await loadDatasetFile(dataFile, spec.data.format ? { format: spec.data.format } : {});
  const split = splitTrainEval(data.examples, { evalFraction: spec.data.evalSplit, seed: spec.seed, groupBy: 'prompt' });
  const model = spec.model.kind === 'hf' ? path.resolve(opts.baseDir, spec.model.path) : (opts.builtinModelDir ?? '');
  const files = trlExportFiles({ spec, runLabel: spec.name || path.basename(runDir), model, split });
  for (const f of files) {
    const file = path.join(outDir, f.path);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, f.text);
  }
  return files.map((f) => f.path);
}
