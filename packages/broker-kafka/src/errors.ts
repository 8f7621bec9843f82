/**
 * Maps kafkajs errors to @micro's error codes, so no client-library error crosses
 * the Broker interface.
 */
import { ErrorIds, isMicroError, MicroError } from '@micro/core';

/** Kafka protocol error types (kafkajs `error.type`) and the @micro code each means. */
const PROTOCOL_CODES: Readonly<Record<string, number>> = {
  MESSAGE_TOO_LARGE: 413,
  RECORD_LIST_TOO_LARGE: 413,
  INVALID_TOPIC_EXCEPTION: 400,
  INVALID_PARTITIONS: 400,
  INVALID_REPLICATION_FACTOR: 400,
  INVALID_REPLICA_ASSIGNMENT: 400,
  INVALID_CONFIG: 400,
  INVALID_REQUIRED_ACKS: 400,
  INVALID_RECORD: 400,
  CORRUPT_MESSAGE: 400,
  POLICY_VIOLATION: 400,
  INVALID_GROUP_ID: 400,
  UNKNOWN_TOPIC_OR_PARTITION: 404,
  GROUP_ID_NOT_FOUND: 404,
  TOPIC_AUTHORIZATION_FAILED: 403,
  GROUP_AUTHORIZATION_FAILED: 403,
  CLUSTER_AUTHORIZATION_FAILED: 403,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 403,
  SASL_AUTHENTICATION_FAILED: 401,
  ILLEGAL_SASL_STATE: 401,
  UNSUPPORTED_SASL_MECHANISM: 401,
};

/** kafkajs error names that mean the brokers could not be reached in time. */
const UNREACHABLE_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSTimeout',
  'KafkaJSLockTimeout',
]);

interface KafkaJSLike extends Error {
  type?: unknown;
  retriable?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/**
 * The innermost error of a kafkajs chain (retries wrap the error that ended them).
 * @param error anything kafkajs threw
 * @returns the error at the end of the `cause` (or aggregate) chain
 */
export function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 10; depth++) {
    if (!(current instanceof Error)) return current;
    const { cause, errors } = current as KafkaJSLike;
    if (cause instanceof Error) {
      current = cause;
      continue;
    }
    // KafkaJSAggregateError (createTopics) carries one error per topic.
    if (Array.isArray(errors) && errors[0] instanceof Error) {
      current = errors[0];
      continue;
    }
    return current;
  }
  return current;
}

/**
 * The @micro code for an error thrown by kafkajs.
 * - 503: the brokers cannot be reached, a request timed out, or a retriable
 *   condition (leader election, coordinator moving) outlasted the retries
 * - 413: a record larger than the broker or topic allows (`message.max.bytes`)
 * - 404: a topic that does not exist (topic creation off)
 * - 401: SASL authentication failed; 403: an ACL denied the topic, group or cluster
 * - 400: a request Kafka rejects as malformed (topic name, partitions, configs)
 * - 500: anything else
 * @param error anything kafkajs threw
 * @returns an HTTP-like status code
 * @example
 * errorCode(new KafkaJSConnectionError('connect ECONNREFUSED 127.0.0.1:9092')); // 503
 */
export function errorCode(error: unknown): number {
  if (isMicroError(error)) return error.code;
  const root = rootCause(error);
  if (!(root instanceof Error)) return 500;
  if (isMicroError(root)) return root.code;
  const { type, retriable } = root as KafkaJSLike;
  if (typeof type === 'string' && type in PROTOCOL_CODES) return PROTOCOL_CODES[type]!;
  if (root.name === 'KafkaJSSASLAuthenticationError') return 401;
  if (UNREACHABLE_NAMES.has(root.name)) return 503;
  if (retriable === true) return 503;
  // A socket error that kafkajs did not wrap.
  const { code } = root as Error & { code?: unknown };
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return 503;
  return 500;
}

/**
 * Wraps a kafkajs error in a {@link MicroError} (id `go.micro.broker`) with the code
 * from {@link errorCode}, the original as `cause`, and a detail that says what
 * failed and why. A MicroError passes through unchanged.
 * @param error anything kafkajs threw
 * @param action what was being done, e.g. `publish to "orders"`
 * @returns the error to throw to the caller
 * @example
 * toMicroError(error, 'publish to "orders"').detail;
 * // 'kafka unreachable: publish to "orders" failed: Connection error: connect ECONNREFUSED 127.0.0.1:9092'
 */
export function toMicroError(error: unknown, action: string): MicroError {
  if (isMicroError(error)) return error;
  const code = errorCode(error);
  const root = rootCause(error);
  const reason = root instanceof Error ? root.message : String(root);
  const outer = error instanceof Error ? error.message : String(error);
  const why = outer === reason || outer.endsWith(reason) ? reason : `${outer}: ${reason}`;
  const prefix = code === 503 ? 'kafka unreachable: ' : 'kafka: ';
  return new MicroError(ErrorIds.broker, `${prefix}${action} failed: ${why}`, code, {
    cause: error,
  });
}
