/**
 * The built-in chat model: the built-in tiny model after the demo's SFT stage on its shipped synthetic dialogues
 * (src/engine/tokenizer/demoCorpus.ts), so a run launched with the form's defaults samples text rather than the
 * untrained model's noise. `npm run build:chat-model` rebuilds it from source (seeded; the same data and schedule
 * as `npm run demo`'s SFT stage) into media/models/chat/ as a Hugging Face folder with float16 weights (7 MB), which
 * ships in the VSIX; sessions find it there (src/session/model.ts, `{ kind: 'builtin', name: 'chat' }`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../engine/io/safetensors';
import { ensureBuiltinModel } from '../engine/models/builtin';
import { DEMO_SCALES, trainSft, writeDemoData } from './demo';
import { DemoRun } from './demoLab';

/** Files of the SFT model folder that the shipped folder keeps (weights are re-written as float16). */
const KEPT = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'];

/** Trains the chat model and writes it to `out` (replacing what was there). */
export async function buildChatModel(out: string, log: (line: string) => void, seed = 7): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-model-'));
  const cacheDir = path.join(work, 'cache');
  try {
    ensureBuiltinModel(cacheDir);
    const run = new DemoRun({ outDir: work, cacheDir, seed, log }, DEMO_SCALES.full);
    const sftDir = await trainSft(run, writeDemoData(run).sft.length);
    writeFloat16Folder(sftDir, out, { seed, steps: DEMO_SCALES.full.sftSteps, examples: DEMO_SCALES.full.sftExamples });
    log(`chat model written to ${out} (${(fs.statSync(path.join(out, 'model.safetensors')).size / 1e6).toFixed(1)} MB)`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Copies an HF folder with its weights as float16 (exact for the loader: it reads F16 into float32). */
export function writeFloat16Folder(from: string, to: string, provenance: Record<string, number>): void {
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(to, { recursive: true });
  for (const f of KEPT) if (fs.existsSync(path.join(from, f))) fs.copyFileSync(path.join(from, f), path.join(to, f));
  const config = JSON.parse(fs.readFileSync(path.join(to, 'config.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(to, 'config.json'), JSON.stringify({ ...config, torch_dtype: 'float16' }, null, 2) + '\n');
  const half = new Map<string, SafeTensor>();
  for (const [name, t] of readSafetensors(path.join(from, 'model.safetensors')).tensors) half.set(name, { dtype: 'F16', shape: t.shape, data: t.data });
  writeSafetensors(path.join(to, 'model.safetensors'), half, { format: 'pt', built_by: 'npm run build:chat-model', ...Object.fromEntries(Object.entries(provenance).map(([k, v]) => [k, String(v)])) });
}
