/** Routes kafkajs's own log lines into the core {@link Logger}. */
import type { Logger, LogLevel } from '@micro/core';
import type { LogEntry, logCreator } from 'kafkajs';

// kafkajs's numeric levels (its `logLevel` enum), kept here so this module has no
// runtime import of kafkajs.
const KAFKAJS_ERROR = 1;
const KAFKAJS_WARN = 2;

/** Fields kafkajs adds to every entry that say nothing to a reader of our logs. */
const DROPPED = new Set(['timestamp', 'logger', 'message', 'stack']);

/**
 * kafkajs namespaces whose error lines are about one attempt of something kafkajs
 * retries or the caller handles (`Response Metadata ...`, `Connection error ...`,
 * `Failed to connect to seed broker ...`, `Failed to send messages ...`): what the
 * attempts end in reaches the caller as a MicroError, or is logged by the consumer.
 */
const PER_ATTEMPT = new Set(['Connection', 'BrokerPool', 'Producer']);

/**
 * The level a kafkajs entry is logged at. kafkajs's errors and warnings stay errors
 * and warnings, except per-attempt errors of the `Connection`, `BrokerPool` and
 * `Producer` namespaces, which become debug. Its informational lines (starting,
 * joined the group, ...) become debug too.
 * @param entry a kafkajs log entry
 * @returns the core level
 */
export function levelOf(entry: Pick<LogEntry, 'level' | 'namespace'>): LogLevel {
  if (entry.level === KAFKAJS_ERROR) return PER_ATTEMPT.has(entry.namespace) ? 'debug' : 'error';
  if (entry.level === KAFKAJS_WARN) return 'warn';
  return 'debug';
}

/**
 * A kafkajs `logCreator` that writes through a core {@link Logger}:
 * `kafka: [Consumer] Starting groupId=...`.
 * @param logger where the lines go
 * @returns the creator to pass as kafkajs's `logCreator`
 */
export function kafkaLogCreator(logger: Logger): logCreator {
  return () => (entry) => {
    const { namespace, log } = entry;
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(log)) {
      if (!DROPPED.has(key)) fields[key] = value;
    }
    const text = namespace ? `kafkajs: [${namespace}] ${log.message}` : `kafkajs: ${log.message}`;
    logger[levelOf(entry)](text, fields);
  };
}
