// The command line of a benchmark script: options parsed with node:util, checked the
// same way in every script, a usage error exiting with status 2.
import { parseArgs } from 'node:util';

/**
 * Parses the script's options; `--help` prints `usage` and exits.
 * @param usage the text `--help` and a bad number print
 * @param options node:util parseArgs options; `help` is added
 * @returns the option values
 */
export function parseCommandLine(usage, options) {
  const { values } = parseArgs({
    // `pnpm run bench -- --rounds 5` hands the script a literal `--` first.
    args: process.argv.slice(2).filter((arg, i) => i > 0 || arg !== '--'),
    options: { ...options, help: { type: 'boolean', default: false } },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return values;
}

/** Prints `message` and exits with status 2. */
export function usageError(message) {
  console.error(message);
  process.exit(2);
}

/**
 * The whole number above zero in option `--name`.
 * @param usage printed after the error
 */
export function positive(name, text, usage) {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    usageError(`--${name} must be a positive integer, got ${text}\n${usage}`);
  }
  return value;
}

/**
 * The names in a comma-separated list, each of which must be one of `known`.
 * @param name what one name is, for the error ("contender")
 */
export function pick(name, text, known) {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const each of names) {
    if (!known.includes(each)) usageError(`unknown ${name} ${each}; known: ${known.join(', ')}`);
  }
  return names;
}

/** The value of option `--name`, which must be one of `allowed`. */
export function oneOf(name, text, allowed) {
  if (!allowed.includes(text)) {
    const choices = `${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`;
    usageError(`--${name} must be ${choices}, got ${text}`);
  }
  return text;
}
