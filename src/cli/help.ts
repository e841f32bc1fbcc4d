import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Output } from './output.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs with `--help` on every command, and one clear line for a bad flag instead of a stack trace.
 * Returns undefined when the command should stop (help shown or bad usage); `code` says how.
 */
export function parseCommand<O extends Options>(
  args: string[],
  options: O,
  usage: string,
  out: Output,
  allowPositionals = false,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } | { exit: number } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
  } catch (e) {
    out.error(`${(e as Error).message}\n\n${usage}`);
    return { exit: 2 };
  }
  if ((parsed.values as Record<string, unknown>).help) {
    out.log(usage);
    return { exit: 0 };
  }
  return {
    values: parsed.values as Record<string, string | boolean | undefined>,
    positionals: parsed.positionals,
  };
}
