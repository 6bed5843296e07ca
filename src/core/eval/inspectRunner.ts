/**
 * Runs `alignment inspect-rm` for some records of a dataset in its own process (the reward model runs on the
 * engine's runtime there, never in the caller's, so the extension host stays light) and returns its records,
 * each line validated (src/protocol/rewardInspection.ts): the process may crash, print noise or be another version.
 */
import { spawn } from 'node:child_process';
import { parseInspectionLine, type RecordInspection } from '../../protocol/rewardInspection';
import { UserError } from '../../util/errors';

export interface InspectRunOptions {
  /** The program that runs the CLI (e.g. the Node binary) and the arguments before `inspect-rm` (the CLI script). */
  readonly command: string;
  readonly commandArgs: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** The process's stderr, as it comes. */
  readonly onStderr?: (text: string) => void;
}

/** The message of a failed run: the CLI's `error: ...` text (a UserError's message), else the end of stderr. */
export function inspectFailure(stderr: string, code: number | null, signal: string | null): string {
  const err = /(?:^|\n)error: ([\s\S]*)$/.exec(stderr.trim())?.[1]?.trim();
  if (err) return err;
  const tail = stderr.trim().split('\n').slice(-5).join('\n');
  return `reward inspection ${signal ? `was stopped (${signal})` : `exited with code ${code}`}${tail ? `: ${tail}` : ''}`;
}

/**
 * Inspects `recordIds` of `dataset` with the reward model in `modelDir`; resolves to their records in that order.
 * Rejects with a UserError carrying the CLI's own message (a policy folder, a tokenizer mismatch, a bad record).
 */
export function runInspection(o: InspectRunOptions, modelDir: string, dataset: string, recordIds: readonly string[], signal?: AbortSignal): Promise<RecordInspection[]> {
  const args = [...o.commandArgs, 'inspect-rm', modelDir, '--data', dataset, ...recordIds.flatMap((id) => ['--record', id])];
  return new Promise((resolve, reject) => {
    const child = spawn(o.command, args, { env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      const t = b.toString('utf8');
      stderr = (stderr + t).slice(-8000);
      o.onStderr?.(t);
    });
    child.on('error', (e) => reject(e));
    child.on('close', (code, sig) => {
      if (code !== 0) return reject(new UserError(inspectFailure(stderr, code, sig)));
      const records: RecordInspection[] = [];
      for (const line of Buffer.concat(out).toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        const r = parseInspectionLine(line);
        if ('problems' in r) return reject(new Error(`reward inspection printed an invalid record: ${r.problems.slice(0, 3).join('; ')}`));
        records.push(r);
      }
      const byId = new Map(records.map((r) => [r.recordId, r]));
      const missing = recordIds.find((id) => !byId.has(id));
      if (missing !== undefined) return reject(new Error(`reward inspection returned no record ${JSON.stringify(missing)}`));
      resolve(recordIds.map((id) => byId.get(id) as RecordInspection));
    });
  });
}
