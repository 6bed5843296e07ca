/**
 * The dashboard's sample generations: a few prompts of the data (eval split first), each answered greedily by the
 * reference (the starting model, once) and by the current policy (at every sample step), side by side with their
 * scores (sampleScores.ts). Generation runs on the policy without adapters: LoRA weights are merged first.
 */
import type { Example, Message } from '../core/datasets/examples';
import type { Split } from '../core/datasets/prepare';
import type { RunSpec } from '../core/runs/spec';
import { Generator, type GenerateOptions } from '../engine/generate/generator';
import type { Weights } from '../engine/models/params';
import { buildModel, mergeLora, type TransformerModel } from '../engine/models/transformer';
import { encodePrompt } from '../training/encode';
import type { RunnerOptions } from '../engine/runtime/devices';
import type { EventSink } from './events';
import type { RunModel } from './model';
import { SampleScorer, sampleScoreRule, type SampleScoreRule } from './sampleScores';

const SAMPLE_PROMPTS = 4;
const SAMPLE_NEW_TOKENS = 48;

/** Sample prompts cut to fit the model's positions, and how many tokens to generate after them. */
export interface SamplePlan {
  /** Each prompt's ids, its start dropped when too long (`keep_end`, as TRL truncates prompts). */
  readonly prompts: number[][];
  /** Tokens cut from the start of each prompt (0 when it fit). */
  readonly cut: number[];
  readonly maxNewTokens: number;
}

/**
 * Fits sample prompts into a model of `maxPositions` positions: the generation gets `wantNew` tokens but at most
 * half the positions, and each prompt keeps its last `maxPositions - maxNewTokens` tokens, so the part nearest
 * the reply (the question, the generation prompt) survives.
 */
export function planSamples(promptIds: readonly (readonly number[])[], maxPositions: number, wantNew = SAMPLE_NEW_TOKENS): SamplePlan {
  const maxNewTokens = Math.max(1, Math.min(wantNew, Math.floor(maxPositions / 2)));
  const budget = Math.max(1, maxPositions - maxNewTokens);
  const prompts = promptIds.map((ids) => (ids.length > budget ? ids.slice(ids.length - budget) : [...ids]));
  return { prompts, cut: promptIds.map((ids, i) => ids.length - (prompts[i] as number[]).length), maxNewTokens };
}

type Prompt = string | readonly Message[];

interface Reply {
  readonly text: string;
  readonly tokens: number[];
}

function promptText(e: Example): Prompt | undefined {
  if (e.style === 'messages') return undefined;
  return e.prompt;
}

function displayPrompt(p: Prompt): string {
  if (typeof p === 'string') return p;
  const users = p.filter((m) => m.role === 'user');
  return (users[users.length - 1] ?? p[p.length - 1])?.content ?? '';
}

/** `weights` with the shapes of the run model's parameters (those it has values for). */
function withShapes(rm: RunModel, weights: ReadonlyMap<string, Float32Array>): Weights {
  const w: Weights = new Map();
  for (const p of rm.model.params) {
    const d = weights.get(p.name);
    if (d) w.set(p.name, { shape: [...p.shape], data: d });
  }
  return w;
}

/** Generates and scores a run's samples; `sample(step)` emits one `samples` event. */
export class Sampler {
  private readonly genModel: TransformerModel;
  private readonly prompts: Prompt[];
  private readonly rule: SampleScoreRule | undefined;
  /** One scorer graph for the run, policy and reference replies in one batch. */
  private readonly scorer: SampleScorer | undefined;
  private readonly refSamples = new Map<number, Reply>();
  private warnedCut = false;

  /** `policyWeights` gives every parameter of the run model with the trainer's current values. */
  constructor(
    spec: RunSpec,
    private readonly rm: RunModel,
    split: Split<Example>,
    private readonly sink: EventSink,
    private readonly runner: RunnerOptions,
    private readonly policyWeights: () => Promise<Map<string, Float32Array>>,
  ) {
    this.genModel = rm.model.lora ? buildModel(rm.config, 'lm', { maxLength: rm.model.maxLength }) : rm.model;
    const examples = (split.eval.length ? split.eval : split.train).map(promptText).filter((p): p is Prompt => p !== undefined);
    this.prompts = [...new Map(examples.map((p) => [JSON.stringify(p), p])).values()].slice(0, SAMPLE_PROMPTS);
    this.rule = sampleScoreRule(spec.method, spec.hyperparameters);
    this.scorer = this.rule ? new SampleScorer(rm.model, this.rule, { batch: 2 * this.prompts.length, seqLen: rm.model.maxLength, padId: rm.tokenizer.padTokenId ?? 0 }, runner) : undefined;
  }

  /**
   * Generates the samples of step `at` and emits them with their scores; returns the replies of the policy and
   * of the start model (for the divergence check), or undefined when the run has no sample prompts.
   */
  async sample(at: number): Promise<{ policy: string[]; start: string[] } | undefined> {
    if (!this.prompts.length) return undefined;
    const tok = this.rm.tokenizer;
    const plan = planSamples(this.prompts.map((p) => encodePrompt(tok, p)), this.genModel.maxLength);
    const ids = plan.prompts;
    this.warnCut(plan, at);
    // What the model saw: a cut prompt is shown from where it was cut, decoded from the kept tokens.
    const shown = this.prompts.map((p, i) => ((plan.cut[i] ?? 0) > 0 ? `…${tok.decode(ids[i] as number[], { skipSpecialTokens: true })}` : displayPrompt(p)));
    const stopTokens = [tok.eosTokenId, this.rm.config.eosTokenId].flat().filter((x): x is number => typeof x === 'number');
    const gOpts: GenerateOptions = { maxNewTokens: plan.maxNewTokens, temperature: 0, stopTokens, padTokenId: tok.padTokenId ?? 0, vocabLimit: tok.vocabSize };
    // Greedy replies of the reference (the starting model) once, of the current policy at every sample step.
    if (this.refSamples.size === 0) (await this.generate(this.rm.weights, ids, gOpts)).forEach((r, i) => this.refSamples.set(i, r));
    const policyWeights = await this.policyWeights();
    const pol = await this.generate(policyWeights, ids, gOpts);
    const refs = pol.map((_, i) => this.refSamples.get(i) as Reply);
    // Policy replies then reference replies, each after its (possibly cut) prompt.
    const scored = this.scorer ? (await this.scorer.score([...ids, ...ids], [...pol.map((r) => r.tokens), ...refs.map((r) => r.tokens)], policyWeights, this.rm.weights)).scores : [];
    this.emit(at, shown, pol, refs, scored);
    return { policy: pol.map((r) => r.text), start: refs.map((r) => r.text) };
  }

  async dispose(): Promise<void> {
    await this.scorer?.dispose();
  }

  private warnCut(plan: SamplePlan, at: number): void {
    const cutCount = plan.cut.filter((c) => c > 0).length;
    if (!cutCount || this.warnedCut) return;
    this.warnedCut = true;
    const max = this.genModel.maxLength;
    const n = plan.maxNewTokens;
    this.sink.warning({ message: `samples: ${cutCount} of ${plan.prompts.length} sample prompts are longer than ${max - n} tokens; they keep their last ${max - n} tokens so that ${n} new tokens fit in the model's ${max} positions`, step: at });
  }

  private async generate(weights: ReadonlyMap<string, Float32Array>, ids: number[][], gOpts: GenerateOptions): Promise<Reply[]> {
    const g = await Generator.create(this.genModel, this.generationWeights(weights), this.runner);
    try {
      return (await g.generate(ids, gOpts)).map((r) => ({ text: this.rm.tokenizer.decode(r.tokens, { skipSpecialTokens: true }), tokens: r.tokens }));
    } finally {
      await g.dispose();
    }
  }

  /** The generation model's weights: LoRA adapters merged into the base weights when the run trains LoRA. */
  private generationWeights(weights: ReadonlyMap<string, Float32Array>): Weights {
    if (this.rm.model.lora) return mergeLora(this.rm.model, withShapes(this.rm, weights));
    const w: Weights = new Map();
    for (const p of this.genModel.params) w.set(p.name, { shape: [...p.shape], data: weights.get(p.name) as Float32Array });
    return w;
  }

  private emit(at: number, shown: string[], pol: Reply[], refs: Reply[], scored: (number | undefined)[]): void {
    const n = pol.length;
    this.sink.samples({
      step: at,
      samples: pol.map((r, i) => {
        const sp = scored[i];
        const sr = scored[n + i];
        const scores = { ...(sp !== undefined ? { policy: sp } : {}), ...(sr !== undefined ? { reference: sr } : {}) };
        return { prompt: shown[i] ?? '', policy: r.text, reference: refs[i]?.text ?? '', ...(Object.keys(scores).length ? { scores } : {}) };
      }),
      ...(this.rule && scored.some((x) => x !== undefined) ? { scoreKind: this.rule.kind, scoreLabel: this.rule.label } : {}),
    });
  }
}
