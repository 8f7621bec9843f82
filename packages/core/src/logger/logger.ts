import { isError } from '../errors/errors.js';
/**
 * A tiny logging interface. Plugins log through the Logger they are given and
 * never call `console`; apps plug in pino, winston or anything with four methods.
 */

/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What @micro logs through. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const LEVELS: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Options for {@link createConsoleLogger}. */
export interface ConsoleLoggerOptions {
  /**
   * The least severe level written.
   * @default the `MICRO_LOG_LEVEL` environment variable, else `'info'`
   */
  level?: LogLevel;
  /** A name shown on every line, e.g. the service name. */
  name?: string;
  /**
   * Where lines go.
   * @default process.stderr
   */
  write?: (line: string) => void;
}

function formatValue(value: unknown): string {
  if (isError(value)) return JSON.stringify(value.message);
  if (typeof value === 'string') return /[\s="]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

function isLogLevel(value: string | undefined): value is LogLevel {
  return value !== undefined && value in LEVELS;
}

/**
 * A logger that writes one line per event to stderr:
 * `2026-11-21T10:00:00.000Z INFO  [helloworld] server started address=127.0.0.1:41234`.
 * @param options level, name and destination
 */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const envLevel = process.env.MICRO_LOG_LEVEL?.toLowerCase();
  const level = options.level ?? (isLogLevel(envLevel) ? envLevel : 'info');
  const threshold = LEVELS[level];
  const prefix = options.name ? ` [${options.name}]` : '';
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const log =
    (lvl: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      if (LEVELS[lvl] < threshold) return;
      let line = `${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)}${prefix} ${message}`;
      if (fields) {
        for (const key of Object.keys(fields)) {
          const value = fields[key];
          if (value !== undefined) line += ` ${key}=${formatValue(value)}`;
        }
      }
      write(`${line}\n`);
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

const noop = (): void => {};

/** A logger that drops everything; for tests and libraries that must stay quiet. */
export const silentLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
});
