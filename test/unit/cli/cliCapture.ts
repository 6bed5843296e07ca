/**
 * Runs the `alignment` CLI in-process and captures the text it writes to stdout and stderr.
 */
import { cliMain } from '../../../src/cli/main';

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** `alignment <argv...>`: exit code, stdout and stderr. */
export async function alignment(...argv: string[]): Promise<CliRun> {
  const err: string[] = [];
  const out: string[] = [];
  const e0 = process.stderr.write.bind(process.stderr);
  const o0 = process.stdout.write.bind(process.stdout);
  // The CLI writes strings; node's test runner reports to its parent in binary chunks on stdout, which pass through.
  process.stderr.write = ((s: string | Uint8Array, ...rest: never[]) => (typeof s === 'string' ? (err.push(s), true) : e0(s, ...rest))) as typeof process.stderr.write;
  process.stdout.write = ((s: string | Uint8Array, ...rest: never[]) => (typeof s === 'string' ? (out.push(s), true) : o0(s, ...rest))) as typeof process.stdout.write;
  try {
    return { code: await cliMain(argv), err: err.join(''), out: out.join('') };
  } finally {
    process.stderr.write = e0;
    process.stdout.write = o0;
  }
}
