/**
 * An OpenAI-compatible LLM judge as a reward function (RLAIF): the judge rates each completion on a 1-10 Likert
 * scale (the existing rating judge, src/core/judges/openaiJudge.ts: its rubric, the re-ask after an answer without
 * a rating, the answer cache) and the reward is (rating - 1) / 9, in [0, 1].
 *
 * Failures: transport failures (unreachable server, timeouts, 5xx, 429) are retried by the chat client with its
 * backoff; once those retries are spent, or the server refuses the key, the judge cannot rate anything more and
 * the error is a {@link RewardError} that stops the run whatever `rewards.onError` says (skipping every sample
 * would train on nothing). A judge that answers but never gives a rating fails that sample alone (stop or skip,
 * as configured). The API key comes from the caller (the session's environment), is sent only in the
 * Authorization header and is never part of an error message.
 */
import type { ChatClientOptions } from '../../../core/judges/chatClient';
import { JudgeError } from '../../../core/judges/judgeTypes';
import { OpenAiJudge } from '../../../core/judges/openaiJudge';
import { DEFAULT_RATING_RUBRIC } from '../../../core/judges/rubric';
import { describePrompt, RewardError, type RewardFunction, type RewardSample } from './rewardFunction';

/** The scale the judge rates on; the reward is (rating - 1) / (RATING_SCALE - 1). */
export const RATING_SCALE = 10;

export interface JudgeRewardOptions {
  /** Metric and error name. */
  readonly name: string;
  readonly baseUrl: string;
  readonly model: string;
  readonly apiKey?: string;
  /** What the judge rates for, in place of the default rubric's principles. */
  readonly instructions?: string;
  /** Chat-client settings (timeouts, retries, backoff), for tests and slow servers. */
  readonly client?: Partial<Omit<ChatClientOptions, 'baseUrl' | 'model' | 'apiKey'>>;
}

/** The rating template: the default rubric, or the caller's instructions above the prompt and the response. */
function ratingTemplate(instructions: string | undefined): string {
  if (!instructions) return DEFAULT_RATING_RUBRIC;
  return `${instructions}\n\n[User prompt]\n{{prompt}}\n[End of user prompt]\n\n[Response]\n{{response}}\n[End of Response]\n\nFirst explain briefly how well the response does this. Use the whole scale: 1 is unacceptable, {{scale}} is excellent.`;
}

/** A prompt as the judge reads it: the text, or a conversation's turns as `role: content` lines. */
function promptText(p: RewardSample['prompt']['prompt']): string {
  return typeof p === 'string' ? p : p.map((m) => `${m.role}: ${m.content}`).join('\n');
}

/** Errors after which the judge can rate nothing more: the chat client's retries are spent, or the key is refused. */
const FATAL_KINDS = new Set<JudgeError['kind']>(['network', 'timeout', 'server-error', 'rate-limit', 'auth', 'http', 'invalid-response']);

/** The reward function of a rating judge (see module comment). Throws for a bad URL or a remote URL without a key. */
export function judgeReward(opts: JudgeRewardOptions): RewardFunction & { readonly judge: OpenAiJudge } {
  const judge = new OpenAiJudge({
    ...opts.client,
    baseUrl: opts.baseUrl,
    model: opts.model,
    ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
    name: opts.name,
    mode: 'rating',
    ratingScale: RATING_SCALE,
    ratingTemplate: ratingTemplate(opts.instructions),
  });
  const rateOne = async (s: RewardSample): Promise<number> => {
    try {
      const r = await judge.rate(promptText(s.prompt.prompt), s.completion);
      return (r.rating - 1) / (RATING_SCALE - 1);
    } catch (e) {
      if (e instanceof JudgeError && FATAL_KINDS.has(e.kind)) throw new RewardError(`reward function "${opts.name}" (judge ${opts.model} at ${judge.endpoint.baseUrl}) could not rate ${describePrompt(s.prompt)}: ${judge.client.redact(e.message)}`);
      throw e instanceof Error ? new Error(judge.client.redact(e.message)) : e;
    }
  };
  return {
    name: opts.name,
    judge,
    score: (samples) => Promise.all(samples.map(rateOne)),
  };
}
