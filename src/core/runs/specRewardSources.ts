/**
 * The reward sources of a run spec's `rewards.functions` that are not built-in functions: a reward model, a user's
 * JavaScript module, an OpenAI-compatible LLM judge. They combine with the built-ins by weight (TRL's
 * `reward_funcs` + `reward_weights`); `./specRewards.ts` reads the list and hands these entries here.
 *
 *   { "kind": "reward_model", "path": "runs/rm-1", "weight": 1 }           a run folder (its final/) or an HF
 *                                                                           sequence-classification folder
 *   { "kind": "module", "path": "rewards.js", "export": "reward" }          workspace code: trusted workspaces only
 *   { "kind": "judge", "baseUrl": "http://127.0.0.1:8080/v1", "model": "qwen" }   a 1-10 rating scaled to [0, 1]
 *
 * Paths are relative to the workspace. Whether they exist is checked when the session opens them (the spec
 * resolver reads no files). A judge's API key never goes in a spec: the session reads it from its environment
 * (`JUDGE_API_KEY_ENV`), where the host puts it from its secret storage and a CLI user exports it.
 */
import { int, type Obj, type SpecReader } from './specFields';

export type RewardSourceKind = 'reward_model' | 'module' | 'judge';

/** The environment variable that carries a judge's API key to the session and the CLI (never a spec field). */
export const JUDGE_API_KEY_ENV = 'ALIGNMENT_JUDGE_API_KEY';

/** Set to `1` in a session's environment by the editor when the workspace is trusted (reward modules may run). */
export const WORKSPACE_TRUSTED_ENV = 'ALIGNMENT_WORKSPACE_TRUSTED';

export interface RewardSourceInfo {
  readonly kind: RewardSourceKind;
  readonly title: string;
  readonly help: string;
  /** Its metric name unless the spec gives `name`. */
  readonly defaultName: string;
  /** Workspace code: runs only in a trusted workspace. */
  readonly workspaceCode: boolean;
}

/** The reward sources besides the built-in functions (the launch form offers them where they can run). */
export const REWARD_SOURCE_KINDS: readonly RewardSourceInfo[] = [
  { kind: 'reward_model', title: 'Reward model', help: "A trained reward-model run (its final/) or a Hugging Face sequence-classification folder scores prompt + completion (re-tokenized with the reward model's tokenizer).", defaultName: 'reward_model', workspaceCode: false },
  { kind: 'module', title: 'JavaScript reward module', help: 'Your module\'s exported function, called as f(prompt, completion, { id, fields, terminated, completionIds }) per sample in a worker thread with the rewards timeout; it returns a number (null: does not apply). Trusted workspaces only.', defaultName: 'module', workspaceCode: true },
  { kind: 'judge', title: 'LLM judge (1-10 rating)', help: 'An OpenAI-compatible chat model rates each completion from 1 to 10; the reward is (rating - 1) / 9, in [0, 1].', defaultName: 'judge', workspaceCode: false },
];

interface SourceBase {
  readonly weight: number;
  readonly name: string;
}

export interface RewardModelSourceSpec extends SourceBase {
  readonly kind: 'reward_model';
  /** A reward model folder, or a run folder whose `final/` is one; relative to the workspace. */
  readonly path: string;
  /** Token limit of prompt + completion as the reward model sees them (default: the model's positions, at most 1024). */
  readonly maxLength?: number;
}

export interface ModuleSourceSpec extends SourceBase {
  readonly kind: 'module';
  /** A .js, .cjs or .mjs file, relative to the workspace. */
  readonly path: string;
  /** The exported function's name (default `reward`). */
  readonly export: string;
}

export interface JudgeSourceSpec extends SourceBase {
  readonly kind: 'judge';
  /** OpenAI-compatible base URL, e.g. `http://127.0.0.1:8080/v1`. */
  readonly baseUrl: string;
  readonly model: string;
  /** What the judge rates for (replaces the default instruction: helpful, correct, concise). */
  readonly instructions?: string;
}

export type RewardSourceSpec = RewardModelSourceSpec | ModuleSourceSpec | JudgeSourceSpec;

export const REWARD_SOURCE_DEFAULTS = { export: 'reward', rmMaxLength: 1024 };

const SOURCE_FIELDS: Readonly<Record<RewardSourceKind, readonly string[]>> = {
  reward_model: ['path', 'maxLength'],
  module: ['path', 'export'],
  judge: ['baseUrl', 'model', 'instructions'],
};

export function isRewardSourceKind(kind: unknown): kind is RewardSourceKind {
  return REWARD_SOURCE_KINDS.some((k) => k.kind === kind);
}

/** One reward-source entry (its kind already known to be a source). */
export function readRewardSource(f: Obj, path: string, r: SpecReader): RewardSourceSpec | undefined {
  const info = REWARD_SOURCE_KINDS.find((k) => k.kind === f.kind);
  if (!info) return undefined;
  if (f.apiKey !== undefined) r.bad(`${path}.apiKey`, `an API key never goes in a spec; the session reads it from the environment variable ${JUDGE_API_KEY_ENV} (the editor sets it from its secret storage)`);
  r.unknownKeys(f, path, ['kind', 'weight', 'name', 'apiKey', ...SOURCE_FIELDS[info.kind]]);
  const weight = r.num(f, 'weight', `${path}.weight`, 1, () => undefined);
  const str = (k: string, required: boolean): string | undefined => {
    const v = f[k];
    if (v === undefined && required) r.bad(`${path}.${k}`, 'missing');
    else if (v !== undefined && (typeof v !== 'string' || v.trim() === '')) r.bad(`${path}.${k}`, 'expected a non-empty string');
    return typeof v === 'string' && v.trim() !== '' ? v : undefined;
  };
  const name = str('name', false) ?? info.defaultName;
  switch (info.kind) {
    case 'reward_model': {
      const maxLength = f.maxLength === undefined ? undefined : r.num(f, 'maxLength', `${path}.maxLength`, undefined, int(8));
      return { kind: 'reward_model', weight, name, path: str('path', true) ?? '', ...(maxLength !== undefined ? { maxLength } : {}) };
    }
    case 'module': {
      const file = str('path', true) ?? '';
      if (file && !/\.(c|m)?js$/.test(file)) r.bad(`${path}.path`, 'expected a .js, .cjs or .mjs file');
      const exp = str('export', false) ?? REWARD_SOURCE_DEFAULTS.export;
      if (!/^[A-Za-z_$][\w$]*$/.test(exp)) r.bad(`${path}.export`, 'expected the name of an exported function');
      return { kind: 'module', weight, name, path: file, export: exp };
    }
    case 'judge': {
      const baseUrl = str('baseUrl', true) ?? '';
      if (baseUrl && !/^https?:\/\/[^/\s]+/.test(baseUrl)) r.bad(`${path}.baseUrl`, 'expected an http(s) URL, e.g. http://127.0.0.1:8080/v1');
      const instructions = str('instructions', false);
      return { kind: 'judge', weight, name, baseUrl, model: str('model', true) ?? '', ...(instructions ? { instructions } : {}) };
    }
  }
}

/** True for an object entry whose kind is a reward source. */
export function isRewardSourceEntry(f: Obj): boolean {
  return isRewardSourceKind(f.kind);
}
