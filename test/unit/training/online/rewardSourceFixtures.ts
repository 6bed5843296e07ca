/** Fixtures for the reward-source tests: a tiny random reward model folder, and a tokenizer unlike the fixtures'. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeSafetensors } from '../../../../src/engine/io/safetensors';
import { toTokenizerJson, trainByteLevelBpe } from '../../../../src/engine/tokenizer/bpeTrainer';
import { tinyHf, tmpDir, writeTinyTokenizer } from '../../engine/models/tinyModels';

/** A tiny Llama with a one-output `score` head (LlamaForSequenceClassification, num_labels 1), as `alignment rm-score` reads it. */
export function tinyRewardModel(dirs: string[], seed = 11): string {
  const dir = tmpDir('tiny-rm-');
  dirs.push(dir);
  const { config, tensors } = tinyHf('llama-gqa-untied', seed);
  tensors.delete('lm_head.weight');
  const D = tensors.get('model.embed_tokens.weight')?.shape[1] as number;
  const w = new Float32Array(D).map((_, i) => Math.sin(i + 1) * 0.5);
  tensors.set('score.weight', { dtype: 'F32', shape: [1, D], data: w });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['LlamaForSequenceClassification'], num_labels: 1, id2label: { 0: 'LABEL_0' }, pad_token_id: 0 }, null, 2));
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeTinyTokenizer(dir);
  return dir;
}

/** A tokenizer folder trained on other texts with another vocabulary size: it splits text unlike the fixtures'. */
export function otherTokenizer(dirs: string[]): string {
  const dir = tmpDir('other-tok-');
  dirs.push(dir);
  const texts = ['Completely different words: zebra, quartz, jukebox.', 'Numbers 12345 and 67890 are here.', 'The end of the text.'];
  const bpe = trainByteLevelBpe(texts, { vocabSize: 280, specialTokens: ['<eos>', '<pad>'], minFrequency: 2 });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(toTokenizerJson(bpe)));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<eos>', pad_token: '<pad>', bos_token: null }));
  return dir;
}
