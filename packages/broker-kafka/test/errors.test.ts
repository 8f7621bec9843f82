import { describe, expect, it } from '@jest/globals';
import { ErrorIds, isMicroError, MicroError } from '@micro/core';
import kafkajs from 'kafkajs';
import { errorCode, toMicroError } from '../src/index.js';
import { kafkaLogCreator, levelOf } from '../src/log.js';

const {
  KafkaJSAggregateError,
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
} = kafkajs;

/** A protocol error as kafkajs builds it from a Kafka error code. */
function protocol(type: string, retriable = false) {
  return new KafkaJSProtocolError({
    message: `${type} from Kafka`,
    type,
    code: 0,
    retriable,
  } as never);
}

const retriesExceeded = (cause: Error) =>
  new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 5, retryTime: 3000 });

describe('errorCode', () => {
  it.each([
    ['a refused connection', new KafkaJSConnectionError('Connection error: connect ECONNREFUSED')],
    ['a request timeout', new KafkaJSRequestTimeoutError('Request Produce timed out')],
    [
      'retries that ended on a refused connection',
      retriesExceeded(new KafkaJSConnectionError('connect ECONNREFUSED')),
    ],
    ['a retriable protocol error', protocol('LEADER_NOT_AVAILABLE', true)],
    ['a bare socket error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
  ])('maps %s to 503', (_, error) => {
    expect(errorCode(error)).toBe(503);
  });

  it.each([
    ['MESSAGE_TOO_LARGE', 413],
    ['RECORD_LIST_TOO_LARGE', 413],
    ['INVALID_TOPIC_EXCEPTION', 400],
    ['INVALID_REPLICATION_FACTOR', 400],
    ['UNKNOWN_TOPIC_OR_PARTITION', 404],
    ['TOPIC_AUTHORIZATION_FAILED', 403],
    ['GROUP_AUTHORIZATION_FAILED', 403],
    ['SASL_AUTHENTICATION_FAILED', 401],
    ['UNSUPPORTED_VERSION', 500],
  ])('maps the Kafka error %s to %i', (type, code) => {
    expect(errorCode(protocol(type))).toBe(code);
  });

  it('looks through retries and aggregates to the error that ended them', () => {
    expect(errorCode(retriesExceeded(protocol('UNKNOWN_TOPIC_OR_PARTITION', true)))).toBe(404);
    expect(
      errorCode(
        new KafkaJSAggregateError('Topic creation errors', [protocol('INVALID_TOPIC_EXCEPTION')]),
      ),
    ).toBe(400);
  });

  it('maps a failed SASL handshake to 401', () => {
    // The typings declare no constructor arguments; kafkajs passes the message.
    const Sasl = KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;
    expect(errorCode(new Sasl('SASL PLAIN authentication failed'))).toBe(401);
  });

  it('maps an unknown non-retriable failure to 500 and keeps a MicroError code', () => {
    expect(errorCode(new KafkaJSNonRetriableError('something odd'))).toBe(500);
    expect(errorCode('a string')).toBe(500);
    expect(errorCode(new MicroError('x', 'y', 408))).toBe(408);
  });
});

describe('toMicroError', () => {
  it('wraps with the broker id, the code, a detail naming the action and root cause, and the cause', () => {
    const cause = retriesExceeded(
      new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'),
    );
    const error = toMicroError(cause, 'publish to "orders"');
    expect(isMicroError(error)).toBe(true);
    expect(error.id).toBe(ErrorIds.broker);
    expect(error.code).toBe(503);
    expect(error.status).toBe('Service Unavailable');
    expect(error.detail).toBe(
      'kafka unreachable: publish to "orders" failed: Connection error: connect ECONNREFUSED',
    );
    expect(error.cause).toBe(cause);
  });

  it('says what Kafka refused for a non-503', () => {
    const error = toMicroError(protocol('MESSAGE_TOO_LARGE'), 'publish to "big"');
    expect(error.code).toBe(413);
    expect(error.detail).toBe('kafka: publish to "big" failed: MESSAGE_TOO_LARGE from Kafka');
  });

  it('passes a MicroError through', () => {
    const original = new MicroError(ErrorIds.broker, 'already wrapped', 503);
    expect(toMicroError(original, 'x')).toBe(original);
  });
});

describe('kafkajs logs', () => {
  const ERROR = 1;
  const WARN = 2;
  const INFO = 4;
  const DEBUG = 5;

  it('keeps errors and warnings, and turns info and per-request connection errors into debug', () => {
    expect(levelOf({ level: ERROR, namespace: 'Consumer' })).toBe('error');
    expect(levelOf({ level: ERROR, namespace: 'Connection' })).toBe('debug');
    expect(levelOf({ level: ERROR, namespace: 'BrokerPool' })).toBe('debug');
    expect(levelOf({ level: ERROR, namespace: 'Producer' })).toBe('debug');
    expect(levelOf({ level: WARN, namespace: 'Runner' })).toBe('warn');
    expect(levelOf({ level: INFO, namespace: 'Consumer' })).toBe('debug');
    expect(levelOf({ level: DEBUG, namespace: 'Consumer' })).toBe('debug');
  });

  it('writes kafkajs entries through the core Logger with their fields', () => {
    const lines: [string, string, Record<string, unknown> | undefined][] = [];
    const record =
      (level: string) =>
      (message: string, fields?: Record<string, unknown>): void => {
        lines.push([level, message, fields]);
      };
    const logger = {
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    };
    const log = kafkaLogCreator(logger)(INFO as never);
    log({
      namespace: 'Consumer',
      level: ERROR as never,
      label: 'ERROR',
      log: {
        timestamp: 'now',
        message: 'Crash: KafkaJSNumberOfRetriesExceeded',
        groupId: 'g1',
        stack: 'long',
      },
    });
    expect(lines).toEqual([
      ['error', 'kafkajs: [Consumer] Crash: KafkaJSNumberOfRetriesExceeded', { groupId: 'g1' }],
    ]);
  });
});
