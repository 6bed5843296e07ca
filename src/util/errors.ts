/**
 * Expected errors: problems a user fixes (a bad spec or data file, a missing device, a model folder without
 * weights). Their message is the whole story, so every entry point prints it alone, once, without a stack. Any
 * other error is a bug of ours and is printed with its stack (mapped to the TypeScript source by the bundles'
 * source maps), so it can be reported and found.
 *
 * Every layer may import this module (it imports nothing), so the engine's own error classes extend it too.
 */

/** A problem the user fixes; `detail` is optional extra text for them (never a stack). */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** True for an expected error (see {@link UserError}). */
export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/**
 * What to show for an error: an expected one gives its message (and its own detail, if any); an unexpected one
 * gives its message and, as detail, its stack.
 */
export function describeError(e: unknown): { message: string; detail?: string } {
  if (isUserError(e)) return { message: e.message, ...(e.detail !== undefined ? { detail: e.detail } : {}) };
  if (e instanceof Error) return { message: e.message, ...(e.stack !== undefined ? { detail: e.stack } : {}) };
  return { message: String(e) };
}

/** The text to print for an error: an expected one's message (and detail); an unexpected one's stack. */
export function formatError(e: unknown): string {
  const { message, detail } = describeError(e);
  return joinDetail(message, detail);
}

/** A message and its detail as printed: a stack that already starts with the message replaces it. */
export function joinDetail(message: string, detail: string | undefined): string {
  if (!detail) return message;
  return detail.includes(message) ? detail : `${message}\n${detail}`;
}
