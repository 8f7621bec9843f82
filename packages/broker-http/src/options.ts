import {
  type BrokerOptions,
  badRequest,
  DEFAULT_CACHE_TTL,
  DEFAULT_DIAL_TIMEOUT,
  DEFAULT_MAX_MESSAGE_SIZE,
  ErrorIds,
  type Logger,
  type Registry,
} from '@micro/core';
import { type ListenAddress, parseAdvertise, parseListenAddress } from './address.js';

/** go-micro's `DefaultAddress` of the HTTP broker: loopback, any free port. */
export const DEFAULT_ADDRESS = '127.0.0.1:0';

/** go-micro's `registerTTL` for HTTP broker subscriptions: 1 min, in milliseconds. */
export const BROKER_REGISTER_TTL = 60_000;

/** go-micro's `registerInterval` for HTTP broker subscriptions: 30 s, in milliseconds. */
export const BROKER_REGISTER_INTERVAL = 30_000;

/** How long one publish may take in total, in milliseconds (core's request timeout). */
export const DEFAULT_PUBLISH_TIMEOUT = 30_000;

/** How many deliveries a queue group gets at least before a publish gives up. */
export const DEFAULT_QUEUE_ATTEMPTS = 3;

/** How long `disconnect()` and `unsubscribe()` wait for running handlers, in milliseconds. */
export const DEFAULT_DRAIN_TIMEOUT = 30_000;

/**
 * TLS for the broker. With `cert` and `key` the listener serves HTTPS and the
 * subscriptions are registered with `secure: "true"`, so publishers (Go ones too)
 * POST to them over HTTPS. The other fields configure how this broker checks the
 * subscribers it delivers to; verification is always on unless
 * `rejectUnauthorized` is set to false.
 */
export interface HttpBrokerTlsOptions {
  /** PEM certificate chain of this broker's listener (and its client certificate). */
  cert?: string | Buffer;
  /** PEM private key of `cert`. */
  key?: string | Buffer;
  /**
   * PEM certificate authorities trusted for subscribers' certificates (and, with
   * `requestCert`, for publishers' client certificates).
   * @default Node's bundled root certificates
   */
  ca?: string | Buffer | (string | Buffer)[];
  /**
   * The name subscribers' certificates are checked against, for a fleet sharing
   * one certificate (e.g. `broker.internal`). Without it a subscriber's certificate
   * must name the host of its registered address (an IP SAN for an IP address).
   * @default the subscriber's host
   */
  servername?: string;
  /**
   * Verify subscribers' certificates. go-micro's HTTP broker once shipped with
   * verification off (micro/go-micro#2713); turning it off here logs a warning.
   * @default true
   */
  rejectUnauthorized?: boolean;
  /**
   * Mutual TLS: the listener requires a client certificate signed by `ca`, and this
   * broker presents `cert` when it delivers.
   * @default false
   */
  requestCert?: boolean;
}

/**
 * Options of {@link HttpBroker}. The broker listens on `address`, registers each
 * subscription in `registry` as go-micro's `micro.http.broker` service, and
 * publishes by POSTing go-micro's JSON envelope to the subscribers it finds there.
 */
export interface HttpBrokerOptions extends BrokerOptions {
  /**
   * Where subscriptions are registered and found; every process that should
   * exchange messages uses the same registry (mDNS, etcd, Consul, ...). Required:
   * there is no broker server, the registry is how publishers find subscribers.
   */
  registry: Registry;
  /**
   * Listen address `host:port`. `127.0.0.1` (go-micro's default) only reaches this
   * host; `0.0.0.0:<port>` (or `MICRO_BROKER_ADDRESS=0.0.0.0:0` through a Service)
   * listens on every interface and registers this host's private IP. Port `0` picks
   * a free port; `host:min-max` binds the first free port of a range (as go-micro).
   * @default `addresses[0]`, else `'127.0.0.1:0'`
   */
  address?: string;
  /** The same as {@link address}; `addresses[0]` is used when `address` is not given. */
  addresses?: string[];
  /**
   * The `host:port` registered for this broker's subscriptions instead of the
   * listener's, for NAT or containers (a published port).
   * @default the listener's address, with a wildcard host replaced by this host's IP
   */
  advertise?: string;
  /**
   * HTTPS listener and verification of subscribers; see {@link HttpBrokerTlsOptions}.
   * @default plain HTTP; HTTPS subscribers are verified against Node's root certificates
   */
  tls?: HttpBrokerTlsOptions;
  /**
   * How long a subscription's registry record lives without being renewed, in ms.
   * @default 60000 ({@link BROKER_REGISTER_TTL}, go-micro's `registerTTL`)
   */
  registerTtl?: number;
  /**
   * How often subscriptions are registered again, in ms; keep it below `registerTtl`.
   * @default 30000 ({@link BROKER_REGISTER_INTERVAL}, go-micro's `registerInterval`)
   */
  registerInterval?: number;
  /**
   * How long one `publish` may take in total, across all subscribers and retries,
   * in ms. A queue subscriber's handler must finish within it.
   * @default 30000 ({@link DEFAULT_PUBLISH_TIMEOUT})
   */
  timeout?: number;
  /**
   * How long opening a connection to a subscriber may take, in ms; an unreachable
   * host fails within this and the next queue member is tried.
   * @default 5000 (core's `DEFAULT_DIAL_TIMEOUT`, go-micro's transport dial timeout)
   */
  dialTimeout?: number;
  /**
   * The largest envelope (JSON, body base64-encoded) sent or accepted, in bytes.
   * A larger publish fails with a 413 before anything is sent; a larger delivery is
   * answered 413 without being read into memory.
   * @default 4194304 (4 MiB, core's `DEFAULT_MAX_MESSAGE_SIZE`)
   */
  maxMessageSize?: number;
  /**
   * Deliveries a queue group gets at least: every member is tried once, then
   * members are tried again (after a backoff) until this many deliveries were made.
   * @default 3 ({@link DEFAULT_QUEUE_ATTEMPTS})
   */
  queueAttempts?: number;
  /**
   * How long `disconnect()` and `unsubscribe()` wait for running handlers, in ms.
   * @default 30000 ({@link DEFAULT_DRAIN_TIMEOUT})
   */
  drainTimeout?: number;
  /**
   * How long the registry's list of subscribers is trusted before it is fetched
   * again, in ms; the registry watch keeps it current in between.
   * @default 60000 (core's `DEFAULT_CACHE_TTL`, go-micro's registry cache TTL)
   */
  cacheTtl?: number;
  /**
   * Where the broker logs.
   * @default createConsoleLogger({ name: 'broker-http' })
   */
  logger?: Logger;
}

/** Options after defaults and validation. */
export interface ResolvedOptions {
  registry: Registry;
  address: string;
  listen: ListenAddress;
  advertise: string | undefined;
  tls: HttpBrokerTlsOptions | undefined;
  /** The listener serves HTTPS. */
  secure: boolean;
  registerTtl: number;
  registerInterval: number;
  timeout: number;
  dialTimeout: number;
  maxMessageSize: number;
  queueAttempts: number;
  drainTimeout: number;
  cacheTtl: number;
}

function invalid(detail: string): never {
  throw badRequest(ErrorIds.broker, `http broker: ${detail}`);
}

function number(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  unit: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    invalid(`option ${name} must be a number of ${unit} >= ${min}, got ${String(value)}`);
  }
  return value;
}

function duration(name: string, value: number | undefined, fallback: number, min = 1): number {
  return number(name, value, fallback, min, 'milliseconds');
}

function isRegistry(value: unknown): value is Registry {
  const registry = value as Partial<Registry> | null | undefined;
  return (
    typeof registry === 'object' &&
    registry !== null &&
    typeof registry.register === 'function' &&
    typeof registry.deregister === 'function' &&
    typeof registry.getService === 'function' &&
    typeof registry.watch === 'function'
  );
}

/**
 * Applies defaults and checks every option.
 * @param options what the caller gave
 * @returns the options to run with
 * @throws {@link MicroError} 400 naming the option that is missing or invalid
 */
export function resolveOptions(options: HttpBrokerOptions): ResolvedOptions {
  if (!isRegistry(options?.registry)) {
    invalid(
      'option registry is required: subscribers are registered and found there ' +
        '(e.g. createHttpBroker({ registry: createMdnsRegistry() }); a Service passes its own)',
    );
  }
  const address = options.address ?? options.addresses?.[0] ?? DEFAULT_ADDRESS;
  const listen = parseListenAddress(address);
  if (options.advertise !== undefined) parseAdvertise(options.advertise);
  const tls = options.tls;
  if (tls !== undefined && (tls.cert === undefined) !== (tls.key === undefined)) {
    invalid('option tls needs both cert and key to serve HTTPS (or neither)');
  }
  if (tls?.requestCert && (tls.cert === undefined || tls.ca === undefined)) {
    invalid('option tls.requestCert (mutual TLS) needs cert, key and ca');
  }
  const registerTtl = duration('registerTtl', options.registerTtl, BROKER_REGISTER_TTL);
  const registerInterval = duration(
    'registerInterval',
    options.registerInterval,
    BROKER_REGISTER_INTERVAL,
  );
  if (registerInterval >= registerTtl) {
    invalid(
      `option registerInterval (${registerInterval} ms) must be below registerTtl (${registerTtl} ms), or records expire between renewals`,
    );
  }
  const maxMessageSize = number(
    'maxMessageSize',
    options.maxMessageSize,
    DEFAULT_MAX_MESSAGE_SIZE,
    64,
    'bytes',
  );
  const queueAttempts = options.queueAttempts ?? DEFAULT_QUEUE_ATTEMPTS;
  if (!Number.isInteger(queueAttempts) || queueAttempts < 1) {
    invalid(`option queueAttempts must be a whole number >= 1, got ${String(queueAttempts)}`);
  }
  return {
    registry: options.registry,
    address,
    listen,
    advertise: options.advertise,
    tls,
    secure: tls?.cert !== undefined,
    registerTtl,
    registerInterval,
    timeout: duration('timeout', options.timeout, DEFAULT_PUBLISH_TIMEOUT),
    dialTimeout: duration('dialTimeout', options.dialTimeout, DEFAULT_DIAL_TIMEOUT),
    maxMessageSize,
    queueAttempts,
    drainTimeout: duration('drainTimeout', options.drainTimeout, DEFAULT_DRAIN_TIMEOUT, 0),
    cacheTtl: duration('cacheTtl', options.cacheTtl, DEFAULT_CACHE_TTL),
  };
}
