/**
 * A process racing others for lock files, for lockFile.test.ts: for each file in turn it waits until its start
 * time (a shared barrier, `start + i * gap` ms since the epoch), tries to take it and prints `<i> ok|refused`.
 *
 *   node --import tsx lockRacer.ts <start ms> <gap ms> <file>...
 */
import * as fs from 'node:fs';
import { acquireLockFileSync } from '../../../../src/util/lockFile';

const [start, gap, ...files] = process.argv.slice(2);
files.forEach((file, i) => {
  const at = Number(start) + i * Number(gap);
  while (Date.now() < at) {
    // spin: a sleep would wake the racers at scattered times
  }
  const got = acquireLockFileSync(file, `racer ${process.pid}`);
  fs.writeSync(1, `${i} ${got.ok ? 'ok' : 'refused'}\n`);
});
