import { createConsoleLogger, type LogFields, type Logger, type LogLevel } from '@micro/core';

/** A logged line, kept for assertions. */
export interface LogLine {
  level: LogLevel;
  message: string;
  fields: LogFields | undefined;
}

/**
 * A logger that records every line; with `MICRO_LOG_LEVEL` set it also writes them
 * to stderr, for debugging a failing run.
 */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const level = process.env.MICRO_LOG_LEVEL as LogLevel | undefined;
  const echo = level ? createConsoleLogger({ name: 'broker-kafka', level }) : undefined;
  const log =
    (lvl: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      lines.push({ level: lvl, message, fields });
      echo?.[lvl](message, fields);
    };
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
