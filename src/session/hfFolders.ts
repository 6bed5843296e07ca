/**
 * The Hugging Face side of a run's checkpoints and final folder, so transformers, PEFT and TRL read them as
 * their own (docs/run-folder.md):
 *
 *   full fine-tuning   config.json (transformers' keys for the model_type), model.safetensors (HF tensor names,
 *                      e.g. model.layers.0.self_attn.q_proj.weight), the tokenizer files
 *   LoRA, checkpoint   adapter_config.json + adapter_model.safetensors (PEFT's names) and the tokenizer files, as
 *                      TRL saves a PEFT run's checkpoint; `alignment merge-lora` writes the merged model from one.
 *                      GPT-2 fuses q/k/v into one module that a PEFT adapter cannot express, so its LoRA
 *                      checkpoints hold the merged model instead
 *   LoRA, final        the merged model (what evaluation, sampling and reward scoring load), and the PEFT adapter
 *                      in `<run>/adapter/` (not inside final/: transformers reads a folder with an
 *                      adapter_config.json as an adapter to load onto its base)
 *   every folder       trainer_state.json in Transformers' TrainerState schema, log_history from the run's events
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunSpec } from '../core/runs/spec';
import { buildTrainerState, TRAINER_STATE_FILE, type TrainerStateInfo } from '../core/runs/trainerState';
import { writeFileAtomic } from '../engine/io/safetensors';
import { copyTokenizerFiles, saveHfModel } from '../engine/models/hfMapping';
import type { Weights } from '../engine/models/params';
import { savePeftAdapter } from '../engine/models/peft';
import { mergeLora } from '../engine/models/transformer';
import { parseSessionEvents } from '../protocol/session';
import type { RunModel } from './model';

/** True when the run's LoRA adapters can be saved in PEFT's format (Llama-family modules). */
function peftAdapter(rm: RunModel): boolean {
  return Boolean(rm.model.lora) && rm.config.family === 'llama';
}

/**
 * Writes the model files of a checkpoint (`kind.adapterDir` absent) or of the final folder into `dir`, and for a
 * final LoRA model its PEFT adapter into `kind.adapterDir` (see module comment).
 */
export function writeModelFiles(dir: string, rm: RunModel, current: ReadonlyMap<string, Float32Array>, kind: { readonly adapterDir?: string }): void {
  const weights: Weights = new Map();
  for (const p of rm.model.params) {
    const data = current.get(p.name) ?? rm.weights.get(p.name);
    if (!data) throw new Error(`internal: no value for parameter ${p.name}`);
    weights.set(p.name, { shape: [...p.shape], data });
  }
  if (kind.adapterDir === undefined && peftAdapter(rm)) {
    savePeftAdapter(dir, rm.model, weights, rm.dir);
    copyTokenizerFiles(rm.dir, dir);
    return;
  }
  saveHfModel(dir, rm.config, rm.head, rm.model.lora ? mergeLora(rm.model, weights) : weights, { tokenizerFrom: rm.dir });
  if (kind.adapterDir !== undefined && peftAdapter(rm)) savePeftAdapter(kind.adapterDir, rm.model, weights, rm.dir);
}

/** Writes `dir/trainer_state.json` from the run's events file (none yet: an empty log history). */
export function writeTrainerState(dir: string, eventsFile: string | undefined, info: TrainerStateInfo): void {
  const text = eventsFile && fs.existsSync(eventsFile) ? fs.readFileSync(eventsFile, 'utf8') : '';
  const state = buildTrainerState(parseSessionEvents(text).events, info);
  writeFileAtomic(path.join(dir, TRAINER_STATE_FILE), JSON.stringify(state, null, 2) + '\n');
}

/** Where a run stands, for its trainer_state.json. */
export interface StateAt {
  readonly step: number;
  readonly maxSteps: number;
  readonly epoch: number;
  /** Steps between evaluations (0: none). */
  readonly evalSteps: number;
  readonly numTokens: number;
  readonly best: number | null;
}

/** The TrainerState fields of a run at `at` (TRL's names for the spec's schedule). */
export function trainerStateInfo(spec: RunSpec, at: StateAt): TrainerStateInfo {
  return {
    globalStep: at.step,
    maxSteps: at.maxSteps,
    epoch: at.epoch,
    numTrainEpochs: spec.epochs,
    loggingSteps: spec.intervals.logging,
    evalSteps: at.evalSteps,
    saveSteps: spec.intervals.checkpoint,
    trainBatchSize: spec.batchSize,
    numInputTokensSeen: at.numTokens,
    bestMetric: at.best,
  };
}
