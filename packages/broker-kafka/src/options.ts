import type { ConnectionOptions } from 'node:tls';
import {
  type BackoffOptions,
  type BrokerOptions,
  badRequest,
  createConsoleLogger,
  ErrorIds,
  type Logger,
} from '@micro/core';
import type { RetryOptions, SASLOptions } from 'kafkajs';

/** go-micro's Kafka address when none is configured (micro/plugins `v4/broker/kafka/kafka.go`). */
export const DEFAULT_KAFKA_ADDRESS = '127.0.0.1:9092';
/** How long connect, publish and topic set-up may take before they fail with a 503. */
export const DEFAULT_KAFKA_TIMEOUT = 10_000;
/** The redelivery backoff of a message whose handler failed. */
export const DEFAULT_REDELIVERY_BACKOFF: Readonly<Required<BackoffOptions>> = Object.freeze({
  base: 100,
  max: 2_000,
});
/** How many times a failing message is delivered again before it is dead-lettered or skipped. */
export const DEFAULT_MAX_REDELIVERIES = 10;

/** The producer acknowledgement levels Kafka knows. */
export type KafkaAcks = -1 | 0 | 1;

/**
 * Options of {@link createKafkaBroker}.
 *
 * @example
 * createKafkaBroker({
 *   addresses: ['kafka-0.internal:9092', 'kafka-1.internal:9092'],
 *   clientId: 'orders',
 *   ssl: true,
 *   sasl: { mechanism: 'scram-sha-512', username: 'orders', password: process.env.KAFKA_PASSWORD! },
 *   numPartitions: 6,
 *   replicationFactor: 3,
 * });
 */
export interface KafkaBrokerOptions extends BrokerOptions {
  /**
   * Bootstrap brokers, `host:port`.
   * @default the comma-separated `MICRO_BROKER_ADDRESS` environment variable (when
   *   `MICRO_BROKER` is unset or `kafka`), else `['127.0.0.1:9092']` as go-micro
   */
  addresses?: string[];
  /**
   * The client id Kafka sees in its logs, quotas and ACLs.
   * @default 'micro'
   */
  clientId?: string;
  /**
   * TLS to the brokers: `true` for TLS with the system's CAs, or Node's TLS options
   * (`ca`, `cert`, `key`, `servername`, ...). Passed to kafkajs as is.
   * @default false
   */
  ssl?: boolean | ConnectionOptions;
  /**
   * SASL authentication (`plain`, `scram-sha-256`, `scram-sha-512`, `aws`,
   * `oauthbearer`). Passed to kafkajs as is; use it with `ssl` outside a trusted network.
   * @default none
   */
  sasl?: SASLOptions;
  /**
   * How long opening one TCP (and TLS) connection may take, in milliseconds.
   * @default 3000
   */
  connectionTimeout?: number;
  /**
   * How long one Kafka request may take, in milliseconds.
   * @default 30000 (kafkajs)
   */
  requestTimeout?: number;
  /**
   * The bound on `connect()`, `publish()` (topic creation, kafkajs retries and the
   * broker's acknowledgement together) and on each set-up step of `subscribe()`, in
   * milliseconds. When Kafka cannot be reached the call fails with a 503 within it.
   * @default 10000
   */
  timeout?: number;
  /**
   * kafkajs's retry policy for requests, connections and consumer restarts.
   * @default 5 retries from `timeout`/40 (250 ms), doubling, ±20% jitter: kafkajs
   *   gives up within about 0.8 × `timeout`, so its own error reaches the caller
   */
  retry?: RetryOptions;
  /**
   * Create a topic that does not exist before publishing or subscribing to it (idempotent;
   * waits until the new partitions have leaders). Off: the topic must exist, or the
   * brokers must auto-create it.
   * @default true
   */
  createTopics?: boolean;
  /**
   * Partitions of a topic this broker creates; -1 takes the brokers' `num.partitions`.
   * Order is kept per partition only, and go-micro's records have no key, so more than
   * one partition means no order across messages.
   * @default -1
   */
  numPartitions?: number;
  /**
   * Replication factor of a topic this broker creates; -1 takes the brokers'
   * `default.replication.factor`.
   * @default -1
   */
  replicationFactor?: number;
  /**
   * Producer acknowledgements: -1 waits for every in-sync replica, 1 for the leader
   * only, 0 for nothing (then `publish` resolves before Kafka has the message).
   * @default -1
   */
  acks?: KafkaAcks;
  /**
   * Consumer group session timeout, in milliseconds: a subscriber that sends no
   * heartbeat for this long is removed from its group. Between the brokers'
   * `group.min.session.timeout.ms` (6000) and `group.max.session.timeout.ms`.
   * @default 30000
   */
  sessionTimeout?: number;
  /**
   * How often a subscriber heartbeats to its group, in milliseconds; also how soon it
   * notices a rebalance. Must be lower than `sessionTimeout` (a third is usual).
   * @default 3000
   */
  heartbeatInterval?: number;
  /**
   * How long the group waits for its members to rejoin during a rebalance, in
   * milliseconds; `subscribe()` waits at most this plus `timeout` for its group join.
   * @default 60000
   */
  rebalanceTimeout?: number;
  /**
   * How long one fetch waits on the broker for new records, in milliseconds: lower
   * means faster unsubscribe and disconnect, higher means fewer idle requests.
   * @default 500
   */
  maxWaitTime?: number;
  /**
   * How often consumed offsets are committed while a batch is processed, in
   * milliseconds; they are also committed at the end of every batch and on unsubscribe.
   * A crash redelivers what was handled but not yet committed.
   * @default 5000
   */
  commitInterval?: number;
  /**
   * How many partitions one subscriber handles at the same time. Messages of one
   * partition are always handled one at a time, in order.
   * @default 1
   */
  partitionsConsumedConcurrently?: number;
  /**
   * The delay before a message whose handler failed is delivered again: exponential
   * from `base`, capped at `max`, with full jitter, in milliseconds. The partition
   * waits meanwhile (order is kept), heartbeating.
   * @default { base: 100, max: 2000 }
   */
  redeliveryBackoff?: BackoffOptions;
  /**
   * How many times a failing message is delivered again before it goes to
   * `deadLetterTopic`, or, without one, is logged as an error and skipped. A message
   * that always fails holds its partition until then; `Infinity` never gives up
   * (and never loses a message, but one poison message stops its partition).
   * @default 10 (about 6.5 s of backoff with the default `redeliveryBackoff`)
   */
  maxRedeliveries?: number;
  /**
   * Where a message goes once `maxRedeliveries` is spent: a topic name, or a function
   * of the message's topic (e.g. `(topic) => topic + '.dead-letter'`). It is published
   * as it was received, with `Micro-Dead-Letter-Topic`, `-Partition`, `-Offset`,
   * `-Deliveries` and `-Error` headers added; only then is its offset committed. If
   * that publish fails, it is retried (the partition waits).
   * @default none: the message is logged as an error and skipped
   */
  deadLetterTopic?: string | ((topic: string) => string);
  /**
   * Where the broker logs, kafkajs's own logs included (its errors and warnings as
   * `error`/`warn`; its informational lines, and errors about single attempts it
   * retries, as `debug`).
   * @default createConsoleLogger({ name: 'broker-kafka' })
   */
  logger?: Logger;
}

/** {@link KafkaBrokerOptions} with defaults applied and input checked. */
export interface ResolvedKafkaOptions {
  addresses: string[];
  clientId: string;
  ssl: boolean | ConnectionOptions | undefined;
  sasl: SASLOptions | undefined;
  connectionTimeout: number;
  requestTimeout: number | undefined;
  timeout: number;
  retry: RetryOptions;
  createTopics: boolean;
  numPartitions: number;
  replicationFactor: number;
  acks: KafkaAcks;
  sessionTimeout: number;
  heartbeatInterval: number;
  rebalanceTimeout: number;
  maxWaitTime: number;
  commitInterval: number;
  partitionsConsumedConcurrently: number;
  redeliveryBackoff: Required<BackoffOptions>;
  maxRedeliveries: number;
  deadLetterTopic: ((topic: string) => string) | undefined;
  logger: Logger;
}

function invalid(detail: string): never {
  throw badRequest(ErrorIds.broker, `kafka: ${detail}`);
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) invalid(`${name} must be a positive number`);
  return value;
}

function partitionsOrDefault(name: string, value: number | undefined): number {
  if (value === undefined) return -1;
  if (!Number.isInteger(value) || (value < 1 && value !== -1)) {
    invalid(`${name} must be a positive integer, or -1 for the brokers' default`);
  }
  return value;
}

function defaultAddresses(env: NodeJS.ProcessEnv): string[] {
  const broker = env.MICRO_BROKER?.trim();
  const address = env.MICRO_BROKER_ADDRESS?.trim();
  if (address && (!broker || broker === 'kafka')) {
    const list = address
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a.length > 0);
    if (list.length > 0) return list;
  }
  return [DEFAULT_KAFKA_ADDRESS];
}

/**
 * kafkajs's retry policy scaled to a time bound: 5 retries doubling from bound/40
 * add up to 31/40 of it (37/40 with kafkajs's +20% jitter), so kafkajs reports its
 * own error before the bound passes when the brokers refuse connections.
 * @param timeout the bound, in milliseconds
 */
export function retryWithin(timeout: number): RetryOptions {
  return {
    retries: 5,
    initialRetryTime: Math.max(10, Math.round(timeout / 40)),
    multiplier: 2,
    factor: 0.2,
    maxRetryTime: Math.max(20, Math.round(timeout / 2)),
  };
}

/**
 * Applies defaults and checks options.
 * @param options what the caller passed
 * @param env where the `MICRO_BROKER_ADDRESS` default is read from
 * @returns the options with every default filled in
 * @throws {@link MicroError} 400 for an option out of range
 */
export function resolveOptions(
  options: KafkaBrokerOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedKafkaOptions {
  // Empty entries are dropped as go-micro's Init does.
  const given = (options.addresses ?? []).map((a) => a.trim()).filter((a) => a.length > 0);
  const addresses = given.length > 0 ? given : defaultAddresses(env);
  for (const address of addresses) {
    if (!/^[^\s/]+:\d{1,5}$/.test(address)) {
      invalid(`address "${address}" is not host:port`);
    }
  }
  const acks = options.acks ?? -1;
  if (acks !== -1 && acks !== 0 && acks !== 1) invalid('acks must be -1, 0 or 1');
  const sessionTimeout = positive('sessionTimeout', options.sessionTimeout, 30_000);
  const heartbeatInterval = positive('heartbeatInterval', options.heartbeatInterval, 3_000);
  if (heartbeatInterval >= sessionTimeout) {
    invalid(
      `heartbeatInterval (${heartbeatInterval}) must be lower than sessionTimeout (${sessionTimeout})`,
    );
  }
  const maxRedeliveries = options.maxRedeliveries ?? DEFAULT_MAX_REDELIVERIES;
  if (Number.isNaN(maxRedeliveries) || maxRedeliveries < 0) {
    invalid('maxRedeliveries must be 0 or more');
  }
  const concurrency = options.partitionsConsumedConcurrently ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    invalid('partitionsConsumedConcurrently must be a positive integer');
  }
  const clientId = options.clientId ?? 'micro';
  if (clientId.length === 0) invalid('clientId must not be empty');
  const timeout = positive('timeout', options.timeout, DEFAULT_KAFKA_TIMEOUT);
  const { deadLetterTopic } = options;
  if (deadLetterTopic !== undefined && typeof deadLetterTopic === 'string') {
    validateTopic(deadLetterTopic);
  }
  return {
    addresses,
    clientId,
    ssl: options.ssl,
    sasl: options.sasl,
    connectionTimeout: positive('connectionTimeout', options.connectionTimeout, 3_000),
    requestTimeout:
      options.requestTimeout === undefined
        ? undefined
        : positive('requestTimeout', options.requestTimeout, 30_000),
    timeout,
    retry: options.retry ?? retryWithin(timeout),
    createTopics: options.createTopics ?? true,
    numPartitions: partitionsOrDefault('numPartitions', options.numPartitions),
    replicationFactor: partitionsOrDefault('replicationFactor', options.replicationFactor),
    acks,
    sessionTimeout,
    heartbeatInterval,
    rebalanceTimeout: positive('rebalanceTimeout', options.rebalanceTimeout, 60_000),
    maxWaitTime: positive('maxWaitTime', options.maxWaitTime, 500),
    commitInterval: positive('commitInterval', options.commitInterval, 5_000),
    partitionsConsumedConcurrently: concurrency,
    redeliveryBackoff: {
      base: positive(
        'redeliveryBackoff.base',
        options.redeliveryBackoff?.base,
        DEFAULT_REDELIVERY_BACKOFF.base,
      ),
      max: positive(
        'redeliveryBackoff.max',
        options.redeliveryBackoff?.max,
        DEFAULT_REDELIVERY_BACKOFF.max,
      ),
    },
    maxRedeliveries,
    deadLetterTopic:
      typeof deadLetterTopic === 'string' ? () => deadLetterTopic : (deadLetterTopic ?? undefined),
    logger: options.logger ?? createConsoleLogger({ name: 'broker-kafka' }),
  };
}

/** Kafka's rule for topic names (`org.apache.kafka.common.internals.Topic`). */
const TOPIC_PATTERN = /^[a-zA-Z0-9._-]+$/;
const MAX_TOPIC_LENGTH = 249;

/**
 * Checks a topic name against Kafka's rules, so a bad name fails before any request.
 * @param topic the topic
 * @throws {@link MicroError} 400 naming the rule the topic breaks
 */
export function validateTopic(topic: string): void {
  if (typeof topic !== 'string' || topic.length === 0) invalid('topic must be a non-empty string');
  if (topic === '.' || topic === '..') invalid(`topic "${topic}" is not allowed by Kafka`);
  if (topic.length > MAX_TOPIC_LENGTH) {
    invalid(`topic is ${topic.length} characters; Kafka allows at most ${MAX_TOPIC_LENGTH}`);
  }
  if (!TOPIC_PATTERN.test(topic)) {
    invalid(`topic "${topic}" has characters Kafka does not allow (only a-z A-Z 0-9 . _ -)`);
  }
}
