import { type BrokerOptions, badRequest, ErrorIds } from '@micro/core';

/**
 * go-micro's default NATS address (`nats.DefaultURL` in nats.go, used by go-micro's
 * `broker/nats` when no address is given).
 */
export const DEFAULT_NATS_ADDRESS = 'nats://127.0.0.1:4222';

/** nats.go's `DefaultTimeout`: how long one connection attempt may take, in milliseconds. */
export const DEFAULT_TIMEOUT = 2_000;

/** nats.go's `DefaultReconnectWait`, in milliseconds. */
export const DEFAULT_RECONNECT_TIME_WAIT = 2_000;

/** nats.go's `DefaultReconnectJitter`, in milliseconds. */
export const DEFAULT_RECONNECT_JITTER = 100;

/** nats.go's `DefaultReconnectJitterTLS`, in milliseconds. */
export const DEFAULT_RECONNECT_JITTER_TLS = 1_000;

/** nats.go's `DefaultPingInterval`, in milliseconds. */
export const DEFAULT_PING_INTERVAL = 120_000;

/** nats.go's `DefaultMaxPingOut`. */
export const DEFAULT_MAX_PING_OUT = 2;

/** nats.go's `DefaultReconnectBufSize`: 8 MiB of messages held while reconnecting. */
export const DEFAULT_RECONNECT_BUFFER_SIZE = 8 * 1024 * 1024;

/** How long a publish made while disconnected waits for the reconnect, in milliseconds. */
export const DEFAULT_PUBLISH_TIMEOUT = 10_000;

/** nats.go's `DefaultDrainTimeout`, in milliseconds. */
export const DEFAULT_DRAIN_TIMEOUT = 30_000;

/** nats.go's `DefaultSubPendingMsgsLimit`: messages received but not yet handled, per subscription. */
export const DEFAULT_MAX_PENDING_MESSAGES = 512 * 1024;

/** nats.go's `DefaultSubPendingBytesLimit`: bytes received but not yet handled, per subscription. */
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;

/**
 * TLS settings for the connection. Give either PEM contents (`ca`, `cert`, `key`)
 * or file paths (`caFile`, `certFile`, `keyFile`).
 */
export interface NatsTlsOptions {
  /** PEM of the certificate authorities to trust instead of the system's. */
  ca?: string;
  /** Path of a PEM file of certificate authorities to trust. */
  caFile?: string;
  /** PEM of the client certificate, for servers that verify clients. */
  cert?: string;
  /** Path of the client certificate's PEM file. */
  certFile?: string;
  /** PEM of the client certificate's private key. */
  key?: string;
  /** Path of the private key's PEM file. */
  keyFile?: string;
  /**
   * Start TLS before the server's INFO (servers run with `handshake_first`).
   * @default false
   */
  handshakeFirst?: boolean;
}

/**
 * Options of {@link NatsBroker}. Defaults follow nats.go (which go-micro's
 * `broker/nats` uses), except that reconnecting never gives up.
 */
export interface NatsBrokerOptions extends BrokerOptions {
  /**
   * Server URLs: `nats://host:port`, `tls://host:port` (TLS required) or `host:port`.
   * Several addresses are members of one cluster; the client picks one and fails over.
   * @default ['nats://127.0.0.1:4222']
   */
  addresses?: string[];
  /**
   * Where the broker logs: disconnects (warn), reconnects (info), undecodable
   * messages and failing handlers (error).
   * @default createConsoleLogger({ name: 'broker-nats' })
   */
  logger?: BrokerOptions['logger'];
  /** The connection name shown by the server's monitoring (`/connz`). */
  name?: string;
  /** User for user/password authentication. */
  user?: string;
  /** Password for user/password authentication. */
  pass?: string;
  /** Token for token authentication. */
  token?: string;
  /**
   * TLS: `true` for TLS with the system's certificate authorities, or settings.
   * A `tls://` address turns it on too.
   * @default off (the client still upgrades when the server requires TLS)
   */
  tls?: boolean | NatsTlsOptions;
  /**
   * Milliseconds one connection attempt to one server may take, and how long
   * `subscribe` waits for the server to confirm a subscription. `connect()` fails
   * with a 503 within `timeout` per address.
   * @default 2000
   */
  timeout?: number;
  /**
   * Reconnect attempts per server after the connection is lost; -1 never gives up.
   * @default -1 (go-micro via nats.go: 60)
   */
  maxReconnectAttempts?: number;
  /**
   * Milliseconds between reconnect attempts to the same server.
   * @default 2000
   */
  reconnectTimeWait?: number;
  /**
   * Random milliseconds added to `reconnectTimeWait`, so clients do not reconnect in lockstep.
   * @default 100
   */
  reconnectJitter?: number;
  /**
   * Random milliseconds added to `reconnectTimeWait` for TLS connections.
   * @default 1000
   */
  reconnectJitterTLS?: number;
  /**
   * Milliseconds between client pings; a server that misses `maxPingOut` pings in a row
   * is treated as gone and the client reconnects.
   * @default 120000
   */
  pingInterval?: number;
  /**
   * Unanswered pings before the connection is considered stale.
   * @default 2
   */
  maxPingOut?: number;
  /**
   * Bytes of messages (go-micro envelopes) held while the connection is being
   * re-established. They are sent, in order, once it is back. A publish that does not
   * fit fails at once with a 503; 0 fails every publish made while disconnected.
   * @default 8388608 (8 MiB, nats.go's ReconnectBufSize)
   */
  reconnectBufferSize?: number;
  /**
   * Milliseconds a publish made while disconnected waits for the connection to come
   * back. Then it fails with a 503 and the message is withdrawn, never sent later.
   * @default 10000
   */
  publishTimeout?: number;
  /**
   * Milliseconds `disconnect()` waits for running handlers before it closes anyway.
   * @default 30000
   */
  drainTimeout?: number;
  /**
   * Messages received but not yet handled, per subscription; more are dropped and logged
   * (a slow consumer, as nats.go does).
   * @default 524288
   */
  maxPendingMessages?: number;
  /**
   * Bytes received but not yet handled, per subscription; more are dropped and logged.
   * @default 67108864 (64 MiB)
   */
  maxPendingBytes?: number;
}

/** {@link NatsBrokerOptions} with every default applied. */
export interface ResolvedNatsBrokerOptions {
  addresses: string[];
  tls: NatsTlsOptions | undefined;
  name: string | undefined;
  user: string | undefined;
  pass: string | undefined;
  token: string | undefined;
  timeout: number;
  maxReconnectAttempts: number;
  reconnectTimeWait: number;
  reconnectJitter: number;
  reconnectJitterTLS: number;
  pingInterval: number;
  maxPingOut: number;
  reconnectBufferSize: number;
  publishTimeout: number;
  drainTimeout: number;
  maxPendingMessages: number;
  maxPendingBytes: number;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * Normalises server addresses as go-micro's `setAddrs` does: empty entries are
 * skipped, a bare `host:port` gets `nats://`, and no address means
 * {@link DEFAULT_NATS_ADDRESS}. Unlike go-micro, a `tls://` address is kept (and
 * turns TLS on) instead of becoming `nats://tls://…`.
 * @param addresses the configured addresses
 * @returns the URLs to connect to and whether one of them asks for TLS
 * @throws {@link MicroError} 400 for a scheme other than `nats://` or `tls://`
 */
export function normalizeAddresses(addresses: readonly string[] | undefined): {
  addresses: string[];
  tls: boolean;
} {
  const result: string[] = [];
  let tls = false;
  for (const raw of addresses ?? []) {
    const address = raw.trim();
    if (address.length === 0) continue;
    const scheme = SCHEME.exec(address)?.[1]?.toLowerCase();
    if (scheme === undefined) {
      result.push(`nats://${address}`);
    } else if (scheme === 'nats' || scheme === 'tls') {
      if (scheme === 'tls') tls = true;
      result.push(address);
    } else {
      throw badRequest(
        ErrorIds.broker,
        `nats: unsupported address ${JSON.stringify(raw)}: use nats://host:port, tls://host:port or host:port`,
      );
    }
  }
  return { addresses: result.length > 0 ? result : [DEFAULT_NATS_ADDRESS], tls };
}

function number(
  options: NatsBrokerOptions,
  key: keyof NatsBrokerOptions,
  fallback: number,
  minimum: number,
): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < minimum) {
    throw badRequest(
      ErrorIds.broker,
      `nats: option ${key} must be a number >= ${minimum}, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * Applies the defaults and checks the values.
 * @param options what the caller gave
 * @returns every option with a value
 * @throws {@link MicroError} 400 for an unsupported address or an invalid number
 */
export function resolveOptions(options: NatsBrokerOptions = {}): ResolvedNatsBrokerOptions {
  const { addresses, tls: tlsAddress } = normalizeAddresses(options.addresses);
  let tls: NatsTlsOptions | undefined;
  if (typeof options.tls === 'object' && options.tls !== null) tls = { ...options.tls };
  else if (options.tls === true || (options.tls === undefined && tlsAddress)) tls = {};
  const maxReconnectAttempts = number(options, 'maxReconnectAttempts', -1, -1);
  if (!Number.isInteger(maxReconnectAttempts)) {
    throw badRequest(ErrorIds.broker, 'nats: option maxReconnectAttempts must be an integer');
  }
  return {
    addresses,
    tls,
    name: options.name,
    user: options.user,
    pass: options.pass,
    token: options.token,
    timeout: number(options, 'timeout', DEFAULT_TIMEOUT, 1),
    maxReconnectAttempts,
    reconnectTimeWait: number(options, 'reconnectTimeWait', DEFAULT_RECONNECT_TIME_WAIT, 0),
    reconnectJitter: number(options, 'reconnectJitter', DEFAULT_RECONNECT_JITTER, 0),
    reconnectJitterTLS: number(options, 'reconnectJitterTLS', DEFAULT_RECONNECT_JITTER_TLS, 0),
    pingInterval: number(options, 'pingInterval', DEFAULT_PING_INTERVAL, 1),
    maxPingOut: number(options, 'maxPingOut', DEFAULT_MAX_PING_OUT, 1),
    reconnectBufferSize: number(options, 'reconnectBufferSize', DEFAULT_RECONNECT_BUFFER_SIZE, 0),
    publishTimeout: number(options, 'publishTimeout', DEFAULT_PUBLISH_TIMEOUT, 1),
    drainTimeout: number(options, 'drainTimeout', DEFAULT_DRAIN_TIMEOUT, 0),
    maxPendingMessages: number(options, 'maxPendingMessages', DEFAULT_MAX_PENDING_MESSAGES, 1),
    maxPendingBytes: number(options, 'maxPendingBytes', DEFAULT_MAX_PENDING_BYTES, 1),
  };
}
