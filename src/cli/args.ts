/**
 * What the `alignment` commands' argument parsers produce (main.ts checks options against each command's spec;
 * judgeCommands.ts parses its own), and how a command reads an option from it.
 */

/** The arguments after a command's name. */
export interface ParsedArgs {
  readonly positional: string[];
  /** Each option's values in the order given, by its name without the dashes. */
  readonly flags: Map<string, string[]>;
}

/** An option's value: the last one given (a later one overrides), or undefined when it is not given. */
export function one(p: ParsedArgs, name: string): string | undefined {
  const v = p.flags.get(name);
  return v?.[v.length - 1];
}
