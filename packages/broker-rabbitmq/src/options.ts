/**
 * Options of the RabbitMQ broker, with go-micro's defaults
 * (go-micro `broker/rabbitmq/connection.go`, `options.go`).
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import {
  type BrokerOptions,
  badRequest,
  createConsoleLogger,
  ErrorIds,
  type Logger,
  type PublishOptions,
  type SubscribeOptions,
} from '@micro/core';

/** go-micro's `DefaultRabbitURL`. */
export const DEFAULT_URL = 'amqp://guest:guest@127.0.0.1:5672';
/** go-micro's `DefaultExchange.Name`. */
export const DEFAULT_EXCHANGE = 'micro';
/** go-micro's `DefaultExchange.Type`. */
export const DEFAULT_EXCHANGE_TYPE = 'topic';
/** go-micro's `defaultHeartbeat`, in seconds. */
export const DEFAULT_HEARTBEAT = 10;
/** How long `connect()` and each reconnect attempt wait for the server, in milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT = 5_000;
/** How long `publish` waits for RabbitMQ's confirm, in milliseconds. */
export const DEFAULT_PUBLISH_TIMEOUT = 10_000;
/** How long `disconnect()`/`unsubscribe()` wait for running handlers, in milliseconds. */
export const DEFAULT_DRAIN_TIMEOUT = 30_000;
/**
 * The largest body `publish` sends: RabbitMQ 4's default `max_message_size`
 * (3.x allowed 128 MiB). A larger message would make the server close the
 * publishing channel, failing every publish waiting on it.
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

/** The AMQP exchange types go-micro offers (`ExchangeType...`), plus `headers`. */
export type ExchangeType = 'topic' | 'direct' | 'fanout' | 'headers';

const EXCHANGE_TYPES: readonly ExchangeType[] = ['topic', 'direct', 'fanout', 'headers'];

/** How the broker reconnects after it loses its connection. */
export interface ReconnectOptions {
  /**
   * The first delay ceiling, in milliseconds; each attempt doubles it, and the
   * delay is drawn at random below it (full jitter, core's `backoffDelay`).
   * @default 100 (go-micro's `minResubscribeDelay`)
   */
  initialDelay?: number;
  /**
   * The largest delay between attempts, in milliseconds.
   * @default 30000 (go-micro's `maxResubscribeDelay`)
   */
  maxDelay?: number;
  /**
   * Attempts before giving up; then the broker stays disconnected until
   * `connect()` is called again.
   * @default Infinity (go-micro retries forever)
   */
  maxAttempts?: number;
}

/** Options for {@link RabbitMQBroker}. */
export interface RabbitMQBrokerOptions extends BrokerOptions {
  /**
   * The AMQP URL, `amqp://user:password@host:port/vhost` (or `amqps://` for TLS).
   * Without it the first entry of `addresses` is used; an address without a
   * scheme (`host:port`) means `amqp://guest:guest@host:port`. With several
   * addresses, reconnect attempts go through them in turn.
   * @default 'amqp://guest:guest@127.0.0.1:5672' (go-micro's `DefaultRabbitURL`)
   */
  url?: string;
  /**
   * The exchange messages are published to and queues are bound to.
   * @default 'micro'
   */
  exchange?: string;
  /**
   * The exchange type. With `topic`, a subscription's topic may be a pattern
   * (`orders.*`, `orders.#`).
   * @default 'topic'
   */
  exchangeType?: ExchangeType;
  /**
   * Declare the exchange durable, so it survives a server restart (go-micro
   * `DurableExchange()`). The exchange is re-declared on every reconnect either way.
   * @default false
   */
  durableExchange?: boolean;
  /**
   * Declare named queues durable, so they and their persistent messages survive a
   * server restart (go-micro `DurableQueue()`); per subscription with
   * {@link RabbitMQSubscribeOptions.durableQueue}. Queues without a name are
   * always transient.
   * @default false
   */
  durableQueues?: boolean;
  /**
   * Messages RabbitMQ hands a subscription before it acks (basic.qos per
   * consumer); 0 means unlimited (go-micro `PrefetchCount`). Unlimited lets a slow
   * handler pile up the whole queue in this process; in production use a small
   * bound, e.g. 10–100 (handlers of one subscription run one at a time).
   * @default 0
   */
  prefetch?: number;
  /**
   * Redeliver a message whose handler throws (nack with requeue), go-micro
   * `RequeueOnError()`. Off, a failed message is dropped, or dead-lettered when
   * the queue has a dead-letter exchange (see `queueArguments`).
   * @default false
   */
  requeueOnError?: boolean;
  /**
   * Extra `x-` arguments for every queue declared (go-micro `QueueArguments`),
   * e.g. `{ 'x-dead-letter-exchange': 'micro.dlx', 'x-queue-type': 'quorum' }`.
   */
  queueArguments?: Record<string, unknown>;
  /**
   * Publisher confirms: `publish` resolves once RabbitMQ has taken responsibility
   * for the message (routed it, and written it to disk when it is persistent and
   * its queue durable). Off, `publish` resolves once the message is written to
   * the socket, and a message in flight when the connection fails is lost.
   * @default true (go-micro's `ConfirmPublish` defaults to false)
   */
  confirmPublish?: boolean;
  /**
   * Publish messages persistent (delivery mode 2) unless a publish says otherwise;
   * together with durable queues they survive a server restart.
   * @default false (go-micro publishes transient messages)
   */
  persistent?: boolean;
  /**
   * How long `publish` waits for the confirm before it rejects with 408, in ms.
   * @default 10000
   */
  publishTimeout?: number;
  /**
   * How long `connect()` (and each reconnect attempt) waits for the connection
   * and its setup before it fails with 503, in milliseconds.
   * @default 5000
   */
  connectTimeout?: number;
  /**
   * AMQP heartbeat, in seconds: a dead peer is noticed after about two of them.
   * An explicit `heartbeat` query parameter in the URL wins.
   * @default 10 (go-micro's `defaultHeartbeat`)
   */
  heartbeat?: number;
  /**
   * Reconnect and resubscribe after the connection is lost; `false` turns it off.
   * @default { initialDelay: 100, maxDelay: 30000, maxAttempts: Infinity }
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * How long `disconnect()` and `unsubscribe()` wait for running handlers before
   * closing anyway (unacked messages then go back to their queue), in ms.
   * @default 30000
   */
  drainTimeout?: number;
  /**
   * The largest message body `publish` accepts; larger ones reject with 413
   * before anything is sent. Keep it at or below the server's `max_message_size`.
   * @default 16 MiB
   */
  maxMessageSize?: number;
  /** TLS options for `amqps://` URLs (ca, cert, key, servername, ...). */
  tls?: TlsConnectionOptions;
  /** Shown as the connection's name in RabbitMQ's management UI and logs. */
  connectionName?: string;
  /**
   * Where the broker logs connection changes and handler failures.
   * @default createConsoleLogger({ name: 'broker-rabbitmq' })
   */
  logger?: Logger;
}

/** Per-subscription options; they override the broker's. */
export interface RabbitMQSubscribeOptions extends SubscribeOptions {
  /**
   * Declare this subscription's named queue durable.
   * @default the broker's `durableQueues`
   */
  durableQueue?: boolean;
  /**
   * Requeue a message whose handler throws (and `event.nack()` without `requeue`).
   * @default the broker's `requeueOnError`
   */
  requeueOnError?: boolean;
  /**
   * Prefetch for this subscription's consumer; 0 is unlimited.
   * @default the broker's `prefetch`
   */
  prefetch?: number;
  /**
   * `x-` arguments for this subscription's queue, merged over the broker's.
   * @default the broker's `queueArguments`
   */
  queueArguments?: Record<string, unknown>;
  /** Binding arguments (go-micro `Headers`), used by a `headers` exchange. */
  bindArguments?: Record<string, unknown>;
}

/**
 * Per-publish AMQP properties, go-micro's publish options (`ContentType`,
 * `DeliveryMode`, `Priority`, ...).
 */
export interface RabbitMQPublishOptions extends PublishOptions {
  /**
   * The AMQP `content_type` property; as in go-micro it is also written to the
   * `Content-Type` header (a `Content-Type` in the message headers wins there).
   */
  contentType?: string;
  /** The AMQP `content_encoding` property. */
  contentEncoding?: string;
  /**
   * Delivery mode 2 (persistent) or 1 (transient).
   * @default the broker's `persistent`
   */
  persistent?: boolean;
  /** Message priority, 0–255 (honoured by queues with `x-max-priority`). */
  priority?: number;
  /** The AMQP `correlation_id` property. */
  correlationId?: string;
  /** The AMQP `reply_to` property. */
  replyTo?: string;
  /** Per-message TTL in milliseconds (the AMQP `expiration` property). */
  expiration?: number | string;
  /** The AMQP `message_id` property. */
  messageId?: string;
  /** The AMQP `timestamp` property (whole seconds on the wire). */
  timestamp?: Date;
  /** The AMQP `type` property. */
  type?: string;
  /** The AMQP `user_id` property; RabbitMQ checks it against the connection's user. */
  userId?: string;
  /** The AMQP `app_id` property. */
  appId?: string;
  /**
   * How long to wait for the confirm, in milliseconds.
   * @default the broker's `publishTimeout`
   */
  timeout?: number;
}

/** Options with every default filled in; internal. */
export interface ResolvedOptions {
  urls: string[];
  exchange: string;
  exchangeType: ExchangeType;
  durableExchange: boolean;
  durableQueues: boolean;
  prefetch: number;
  requeueOnError: boolean;
  queueArguments: Record<string, unknown>;
  confirmPublish: boolean;
  persistent: boolean;
  publishTimeout: number;
  connectTimeout: number;
  heartbeat: number;
  reconnect: Required<ReconnectOptions> | undefined;
  drainTimeout: number;
  maxMessageSize: number;
  tls: TlsConnectionOptions | undefined;
  connectionName: string | undefined;
  logger: Logger;
}

function invalid(detail: string): Error {
  return badRequest(ErrorIds.broker, `rabbitmq: ${detail}`);
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw invalid(`${name} must be a number >= 0, got ${String(value)}`);
  }
  return value;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const resolved = nonNegative(name, value, fallback);
  if (resolved === 0) throw invalid(`${name} must be > 0`);
  return resolved;
}

/**
 * Validates a prefetch count: an integer AMQP can carry (0–65535).
 * @throws {@link MicroError} 400 otherwise
 */
export function checkPrefetch(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 65_535) {
    throw invalid(`prefetch must be an integer from 0 to 65535, got ${String(value)}`);
  }
  return value;
}

/**
 * Turns an address into an AMQP URL: URLs pass through, `host[:port]` gets
 * go-micro's default credentials.
 * @throws {@link MicroError} 400 for anything that is not an AMQP URL or address
 */
export function toAmqpUrl(address: string): string {
  const trimmed = address.trim();
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)
    ? trimmed
    : `amqp://guest:guest@${trimmed.includes(':') ? trimmed : `${trimmed}:5672`}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw badRequest(ErrorIds.broker, `rabbitmq: not an AMQP URL: ${redact(address)}`, cause);
  }
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
    throw invalid(`URL must start with amqp:// or amqps://, got ${redact(address)}`);
  }
  if (!parsed.hostname) throw invalid(`URL has no host: ${redact(address)}`);
  return url;
}

/**
 * An AMQP URL with its password hidden, as Go's `url.Redacted()` (`xxxxx`).
 * @param url any URL
 * @returns the URL safe to log
 */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = 'xxxxx';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:xxxxx@');
  }
}

/**
 * Adds the heartbeat to a URL unless it names one already.
 * @param url an AMQP URL
 * @param heartbeat seconds
 */
export function withHeartbeat(url: string, heartbeat: number): string {
  const parsed = new URL(url);
  if (parsed.searchParams.has('heartbeat')) return url;
  parsed.searchParams.set('heartbeat', String(heartbeat));
  return parsed.toString();
}

/**
 * Fills in go-micro's defaults and checks every option.
 * @param options what the caller passed
 * @returns the options the broker runs with
 * @throws {@link MicroError} 400 for an invalid option
 */
export function resolveOptions(options: RabbitMQBrokerOptions = {}): ResolvedOptions {
  const addresses = options.url !== undefined ? [options.url] : (options.addresses ?? []);
  const urls = addresses.filter((a) => a.trim() !== '').map(toAmqpUrl);
  if (urls.length === 0) urls.push(DEFAULT_URL);
  const exchange = options.exchange ?? DEFAULT_EXCHANGE;
  if (typeof exchange !== 'string' || exchange.length > 255) {
    throw invalid('exchange must be a string of at most 255 characters');
  }
  const exchangeType = options.exchangeType ?? DEFAULT_EXCHANGE_TYPE;
  if (!EXCHANGE_TYPES.includes(exchangeType)) {
    throw invalid(
      `exchangeType must be one of ${EXCHANGE_TYPES.join(', ')}, got ${String(exchangeType)}`,
    );
  }
  let reconnect: Required<ReconnectOptions> | undefined;
  if (options.reconnect !== false) {
    const given =
      options.reconnect === true || options.reconnect === undefined ? {} : options.reconnect;
    const initialDelay = positive('reconnect.initialDelay', given.initialDelay, 100);
    reconnect = {
      initialDelay,
      maxDelay: Math.max(initialDelay, positive('reconnect.maxDelay', given.maxDelay, 30_000)),
      maxAttempts: positive('reconnect.maxAttempts', given.maxAttempts, Number.POSITIVE_INFINITY),
    };
  }
  const heartbeat = nonNegative('heartbeat', options.heartbeat, DEFAULT_HEARTBEAT);
  if (!Number.isInteger(heartbeat)) throw invalid('heartbeat must be whole seconds');
  return {
    urls,
    exchange,
    exchangeType,
    durableExchange: options.durableExchange ?? false,
    durableQueues: options.durableQueues ?? false,
    prefetch: checkPrefetch(options.prefetch ?? 0),
    requeueOnError: options.requeueOnError ?? false,
    queueArguments: { ...options.queueArguments },
    confirmPublish: options.confirmPublish ?? true,
    persistent: options.persistent ?? false,
    publishTimeout: positive('publishTimeout', options.publishTimeout, DEFAULT_PUBLISH_TIMEOUT),
    connectTimeout: positive('connectTimeout', options.connectTimeout, DEFAULT_CONNECT_TIMEOUT),
    heartbeat,
    reconnect,
    drainTimeout: nonNegative('drainTimeout', options.drainTimeout, DEFAULT_DRAIN_TIMEOUT),
    maxMessageSize: positive('maxMessageSize', options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE),
    tls: options.tls,
    connectionName: options.connectionName,
    logger: options.logger ?? createConsoleLogger({ name: 'broker-rabbitmq' }),
  };
}
