/** Test helper: a Trainer for the compact GPT of bench/engineGpt.ts on character windows. */
import { gptLoss, gptParams, type GptConfig } from '../../../../bench/engineGpt';
import type { OptimConfig } from '../../../../src/engine/optim/config';
import { Rng } from '../../../../src/engine/rng';
import { initParams } from '../../../../src/engine/step/init';
import { Trainer } from '../../../../src/engine/step/trainer';
import { CHAR_VOCAB } from './tinyCorpus';

export const TINY: GptConfig = { vocab: CHAR_VOCAB, seq: 16, dim: 32, heads: 2, layers: 2 };

export async function gptTrainer(opts: { K: number; A?: number; B: number; optim: OptimConfig; seed?: number; cfg?: GptConfig }): Promise<Trainer> {
  const cfg = opts.cfg ?? TINY;
  const params = gptParams(cfg);
  return Trainer.create(
    {
      params,
      batch: [
        { name: 'ids', shape: [opts.B, cfg.seq], dtype: 'int64' },
        { name: 'targets', shape: [opts.B, cfg.seq], dtype: 'int64' },
      ],
      forward: (p, b) => ({ loss: gptLoss(cfg, p, b['ids']!, b['targets']!) }),
      optim: opts.optim,
      stepsPerRun: opts.K,
      microBatches: opts.A ?? 1,
    },
    { device: 'cpu', threads: 1, initialParams: initParams(params, new Rng(opts.seed ?? 1).derive('init')) },
  );
}
