import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { chatParaphraser } from '../../../../src/core/eval/paraphrase';
import { paraphraseWith, perturbationProbe } from '../../../../src/core/eval/perturbation';
import { ChatClient } from '../../../../src/core/judges/chatClient';
import { startJudgeServer, upperCaseParaphraser, type JudgeServer } from '../../../support/judgeServer';

const servers: JudgeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

describe('chat paraphraser', () => {
  it('paraphrases through a chat server and feeds the perturbation probe', async () => {
    const s = await startJudgeServer({ behaviour: upperCaseParaphraser(), lifetimeMs: 30_000 });
    servers.push(s);
    const client = new ChatClient({ baseUrl: s.baseUrl, model: 'paraphraser' });
    const paraphrase = chatParaphraser(client);
    assert.equal(await paraphrase('keep the meaning'), 'KEEP THE MEANING');
    const items = [
      { prompt: 'q1', response: 'Water boils at 100 C.' },
      { prompt: 'q2', response: 'ALREADY LOUD' },
    ];
    // A scorer that counts lower-case letters moves under this paraphrase; a length scorer does not.
    const lower = await perturbationProbe(async (_p, r) => (r.match(/[a-z]/g) ?? []).length, items, paraphraseWith(paraphrase), { name: 'paraphrase' });
    assert.equal(lower.changedFraction, 0.5);
    const length = await perturbationProbe(async (_p, r) => r.length, items, paraphraseWith(paraphrase));
    assert.equal(length.changedFraction, 0);
    assert.equal(client.usage.requests, 5);
  });

  it('rejects an empty paraphrase', async () => {
    const s = await startJudgeServer({ behaviour: () => ({ kind: 'answer', content: '  ' }), lifetimeMs: 30_000 });
    servers.push(s);
    await assert.rejects(chatParaphraser(new ChatClient({ baseUrl: s.baseUrl, model: 'm' }))('text'), /came back empty/);
  });
});
