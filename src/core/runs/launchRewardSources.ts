/**
 * The reward sources the launch form offers besides the built-in functions, where they can run: a reward model
 * when the workspace has one (a reward-model run's final/, or a Hugging Face sequence-classification folder), a
 * JavaScript module only in a trusted workspace (it is workspace code), the LLM judge when one is configured
 * (`alignment.judge.baseUrl` and `.model`). Titles and help come from REWARD_SOURCE_KINDS.
 */
import type { LaunchChoice, LaunchRewardFunction } from '../../protocol/launch';
import type { ModelFolderInfo } from '../models/modelInfo';
import { REWARD_SOURCE_DEFAULTS, REWARD_SOURCE_KINDS, type RewardSourceKind } from './specRewardSources';

export interface FoundRewardSources {
  /** Reward-model folders in the workspace (value: the path the spec gets). */
  readonly rewardModels: readonly LaunchChoice[];
  /** The workspace is trusted. */
  readonly trusted: boolean;
  /** The configured judge, when both settings are set. */
  readonly judge?: { readonly baseUrl: string; readonly model: string };
}

/** A model folder whose config names a sequence-classification architecture (a reward model's `score` head). */
export function isSequenceClassificationFolder(info: Pick<ModelFolderInfo, 'architectures' | 'weightFiles'>): boolean {
  return info.weightFiles.length > 0 && info.architectures.some((a) => a.endsWith('ForSequenceClassification'));
}

function info(kind: RewardSourceKind): { title: string; help: string } {
  const k = REWARD_SOURCE_KINDS.find((x) => x.kind === kind);
  return { title: k?.title ?? kind, help: k?.help ?? '' };
}

/** The rows the reward picker adds for the sources that can run here (see module comment). */
export function launchRewardSources(found: FoundRewardSources): LaunchRewardFunction[] {
  const out: LaunchRewardFunction[] = [];
  const first = found.rewardModels[0];
  if (first) out.push({ kind: 'reward_model', ...info('reward_model'), arg: { field: 'path', label: 'Reward model', kind: 'text', default: first.value, choices: [...found.rewardModels] } });
  if (found.trusted) out.push({ kind: 'module', ...info('module'), arg: { field: 'path', label: `Module (.js, .mjs; exports ${REWARD_SOURCE_DEFAULTS.export})`, kind: 'text', default: 'rewards.mjs' } });
  if (found.judge) {
    const j = info('judge');
    out.push({ kind: 'judge', title: `${j.title}: ${found.judge.model}`, help: `${j.help} Judge: ${found.judge.model} at ${found.judge.baseUrl} (alignment.judge settings).`, fixed: { baseUrl: found.judge.baseUrl, model: found.judge.model } });
  }
  return out;
}
