import type { LogFields, Logger, LogLevel } from '@micro/core';

/** One line a {@link RecordingLogger} saw. */
export interface LogLine {
  level: LogLevel;
  message: string;
  fields: LogFields;
}

/** A logger that keeps what it is given, for assertions on what a user would see in logs. */
export interface RecordingLogger extends Logger {
  lines: LogLine[];
  /** The lines of one level whose message contains `text`. */
  find(level: LogLevel, text: string): LogLine[];
}

/** @returns a logger that records every line */
export function recordingLogger(): RecordingLogger {
  const lines: LogLine[] = [];
  const log =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}): void => {
      lines.push({ level, message, fields });
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
