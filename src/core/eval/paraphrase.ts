/**
 * A paraphrase hook backed by any OpenAI-compatible chat model, for the perturbation probes: a reward model that
 * is consistent should score a paraphrase like the original (the survey's "semantic variations" check).
 */
import type { ChatClient } from '../judges/chatClient';

export const DEFAULT_PARAPHRASE_INSTRUCTION =
  'Rewrite the text between [Text] and [End of Text] in different words. Keep its meaning, every fact, its language and its formatting (lists, code, headings). Reply with the rewritten text only, without the markers.';

/**
 * Returns `(text) => paraphrase` for {@link paraphraseWith}. Throws (per call) when the model answers with an
 * empty text; HTTP failures surface as the client's JudgeError.
 */
export function chatParaphraser(client: ChatClient, instruction: string = DEFAULT_PARAPHRASE_INSTRUCTION): (text: string, signal?: AbortSignal) => Promise<string> {
  return async (text, signal) => {
    const out = (await client.complete([{ role: 'user', content: `${instruction}\n\n[Text]\n${text}\n[End of Text]` }], signal)).trim();
    if (out === '') throw new RangeError(`${client.name}: the paraphrase of ${JSON.stringify(text.slice(0, 60))} came back empty`);
    return out;
  };
}
