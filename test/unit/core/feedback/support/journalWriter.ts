/**
 * A labeling process for the journal-lock tests, run as a child process (node --import tsx journalWriter.ts ...).
 * Prints one line per event on stdout: `ack <entry id>` once a record call has returned (the decision is
 * acknowledged), `half` once a half-written line is on disk, `opened <n> refused <m>` when the open loop stops.
 *
 *   record <dataset> <writerId> <count> <entryBytes>   records `count` entries of about `entryBytes` each
 *   open-loop <dataset> <writerId> <stop file>         opens and closes the store as fast as it can until the
 *                                                      stop file exists (another error than JournalInUseError fails it)
 *   half <dataset> <writerId>                          records one entry, writes half of a second one by hand (a
 *                                                      slow append), then finishes it when stdin says `go`
 */
import * as fs from 'node:fs';
import { createInterface } from 'node:readline';
import { FeedbackStore } from '../../../../../src/core/feedback/store';
import { JournalInUseError } from '../../../../../src/core/feedback/journal';

const [mode, dataset, writerId, a, b] = process.argv.slice(2);
const say = (line: string): void => void fs.writeSync(1, line + '\n');

/** An improvement (an edited completion) whose entry is about `bytes` long, with multi-byte text in it. */
function bigPayload(bytes: number, i: number): { target: string; originalSha1: string; edited: string } {
  return { target: 'chosen', originalSha1: `sha1:${'0'.repeat(40)}`, edited: `edit ${i} é€ `.padEnd(Math.max(16, bytes - 300), 'abcdefgh') };
}

function record(count: number, entryBytes: number): void {
  const store = FeedbackStore.open({ datasetPath: dataset, writerId, annotator: 'child' });
  for (let i = 0; i < count; i++) {
    const e = store.record({ recordId: `r${i}`, type: 'improvement', payload: bigPayload(entryBytes, i) });
    say(`ack ${e.id}`);
  }
  store.close();
}

function openLoop(stopFile: string): void {
  const counts = { ok: 0, refused: 0 };
  say('ready');
  while (!fs.existsSync(stopFile)) {
    try {
      FeedbackStore.open({ datasetPath: dataset, writerId, annotator: 'opener' }).close();
      counts.ok++;
    } catch (e) {
      if (!(e instanceof JournalInUseError)) throw e;
      counts.refused++;
    }
  }
  say(`opened ${counts.ok} refused ${counts.refused}`);
}

function half(): void {
  const store = FeedbackStore.open({ datasetPath: dataset, writerId, annotator: 'child' });
  say(`ack ${store.record({ recordId: 'r0', type: 'eStop', payload: {} }).id}`);
  // The second entry as the store would write it, appended in two parts with a pause between (a slow write).
  const entry = { v: 1, id: 'slow-entry', recordId: 'r1', type: 'eStop', payload: {}, annotator: 'child', timestamp: new Date().toISOString(), source: 'human', seconds: 0, writer: writerId };
  const line = Buffer.from(JSON.stringify(entry) + '\n');
  const fd = fs.openSync(store.journalPath, 'a');
  fs.writeSync(fd, line, 0, 40);
  fs.fsyncSync(fd);
  say('half');
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (cmd) => {
    if (cmd !== 'go') return;
    fs.writeSync(fd, line, 40, line.length - 40);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    say(`ack ${entry.id}`);
    store.close();
    rl.close();
  });
}

if (mode === 'record') record(Number(a), Number(b));
else if (mode === 'open-loop') openLoop(a);
else if (mode === 'half') half();
else throw new Error(`unknown mode ${mode}`);
