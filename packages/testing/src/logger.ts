import { createConsoleLogger, type LogFields, type Logger, type LogLevel } from '@micro/core';

/** One line a {@link RecordingLogger} saw. */
export interface LogLine {
  level: LogLevel;
  message: string;
  /** The line's fields; `{}` when it had none. */
  fields: LogFields;
}

/** A logger that keeps what it is given, for assertions on what a user would see in logs. */
export interface RecordingLogger extends Logger {
  readonly lines: LogLine[];
  /** The lines of one level whose message contains `text`. */
  find(level: LogLevel, text: string): LogLine[];
}

/**
 * A logger that records every line. With `MICRO_LOG_LEVEL` set it also writes them
 * to stderr, for debugging a failing run.
 * @param name shown in the echoed lines
 */
export function recordingLogger(name = 'test'): RecordingLogger {
  const lines: LogLine[] = [];
  const echo = process.env.MICRO_LOG_LEVEL ? createConsoleLogger({ name }) : undefined;
  const log =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}): void => {
      lines.push({ level, message, fields });
      echo?.[level](message, fields);
    };
  return {
    lines,
    find: (level, text) => lines.filter((l) => l.level === level && l.message.includes(text)),
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  };
}
