import type { ChannelCredentials, ChannelOptions, ServerCredentials } from '@grpc/grpc-js';
import type { TransportOptions } from '@micro/core';

/**
 * TLS from PEM material. One set serves both directions: listeners serve with
 * `cert` and `key`, dials trust `ca` (the system roots when unset) and present
 * `cert` and `key` as a client certificate when both are set. Mutual TLS is
 * `requireClientCertificate: true` on the listening side with `ca` set to the
 * authority that signs client certificates.
 *
 * @example
 * const tls = { ca: readFileSync('ca.pem'), cert: readFileSync('svc.pem'), key: readFileSync('svc-key.pem'), requireClientCertificate: true };
 * createGrpcTransport({ tls });
 */
export interface GrpcTlsOptions {
  /** PEM certificate authorities: dials verify servers against them; listeners verify client certificates. */
  ca?: string | Buffer;
  /** PEM certificate chain: the listener's certificate, and the client certificate of dials. */
  cert?: string | Buffer;
  /** PEM private key of `cert`. */
  key?: string | Buffer;
  /**
   * The name dials expect in the server's certificate, when it differs from the
   * dialed host (gRPC's `grpc.ssl_target_name_override`).
   * @default the dialed host
   */
  serverName?: string;
  /**
   * Listeners refuse clients without a certificate signed by `ca` (mutual TLS).
   * @default false
   */
  requireClientCertificate?: boolean;
}

/**
 * grpc-js credential objects, used as they are instead of {@link GrpcTlsOptions}
 * (for certificate providers, call credentials or anything else grpc-js offers).
 */
export interface GrpcCredentials {
  /** Credentials of dialed channels. */
  channel?: ChannelCredentials;
  /** Credentials of listeners. */
  server?: ServerCredentials;
}

/** HTTP/2 keepalive pings. */
export interface GrpcKeepaliveOptions {
  /**
   * Dialed connections ping the server after this long without activity while
   * streams are open, in milliseconds. Go's gRPC servers, go-micro's included,
   * answer pings more frequent than every 5 minutes with `too_many_pings` and
   * drop the connection, so lower this only towards servers that allow it.
   * @default 300000 (5 minutes)
   */
  time?: number;
  /**
   * How long a ping may go unanswered before the connection is closed and its
   * Sockets fail with 503, in milliseconds (both directions).
   * @default 20000
   */
  timeout?: number;
  /**
   * Listeners ping each client connection this often, in milliseconds, so a
   * client that vanished without closing frees its streams.
   * @default 120000 (2 minutes)
   */
  serverTime?: number;
}

/** Options of {@link GrpcTransport}. */
export interface GrpcTransportOptions extends TransportOptions {
  /**
   * TLS for listeners and dials.
   * @default plaintext HTTP/2 (h2c), as go-micro's gRPC transport without `Secure`
   */
  tls?: GrpcTlsOptions;
  /** grpc-js credentials; each one set takes the place of what `tls` would build for its side. */
  credentials?: GrpcCredentials;
  /** Keepalive pings; see {@link GrpcKeepaliveOptions} for the defaults. */
  keepalive?: GrpcKeepaliveOptions;
  /**
   * The largest encoded header map of one message, in bytes. gRPC's message size
   * limit is set to `maxMessageSize + maxHeaderSize` (plus a few bytes of
   * framing) so a body of exactly `maxMessageSize` passes; a larger header is
   * refused on send with 413.
   * @default 65536 (64 KiB)
   */
  maxHeaderSize?: number;
  /**
   * Closes the channel to an address after it has had no open Socket for this
   * long, in milliseconds; the next dial connects again. 0 keeps channels until
   * the transport closes.
   * @default 60000 (go-micro's client pool TTL)
   */
  idleTimeout?: number;
  /**
   * How long `listener.close()` waits for the connections to close gracefully
   * after it has ended every stream, before it drops them, in milliseconds.
   * @default 2000
   */
  shutdownTimeout?: number;
  /**
   * grpc-js channel options for dialed channels, applied over this transport's
   * defaults (e.g. `grpc.max_reconnect_backoff_ms`, `grpc-node.flow_control_window`).
   * @default see {@link defaultChannelOptions}
   */
  channelOptions?: ChannelOptions;
  /**
   * grpc-js server options for listeners, applied over this transport's defaults
   * (e.g. `grpc.max_concurrent_streams`, `grpc.max_connection_age_ms`).
   * @default see {@link defaultServerOptions}
   */
  serverOptions?: ChannelOptions;
}

/** The default limit on a message's encoded header map: 64 KiB. */
export const DEFAULT_MAX_HEADER_SIZE = 64 * 1024;
/** The default idle time after which a channel closes: 60 s. */
export const DEFAULT_IDLE_TIMEOUT = 60_000;
/** The default bound on a graceful listener close: 2 s. */
export const DEFAULT_SHUTDOWN_TIMEOUT = 2_000;
/** The default keepalive ping interval of dialed connections: 5 minutes, grpc-go's minimum. */
export const DEFAULT_KEEPALIVE_TIME = 300_000;
/** The default wait for a keepalive ping's answer: 20 s. */
export const DEFAULT_KEEPALIVE_TIMEOUT = 20_000;
/** The default keepalive ping interval of listeners: 2 minutes. */
export const DEFAULT_SERVER_KEEPALIVE_TIME = 120_000;
/** The default longest wait between reconnection attempts of a channel: 10 s. */
export const DEFAULT_MAX_RECONNECT_BACKOFF = 10_000;

/**
 * Room for the body's field tag and length prefix in one encoded message, on top
 * of the header and body limits.
 */
const FRAMING_ALLOWANCE = 16;

/**
 * The gRPC message size limit for a body limit and a header limit.
 * @param maxMessageSize the body limit, in bytes
 * @param maxHeaderSize the header limit, in bytes
 * @returns the value for `grpc.max_send_message_length` and `grpc.max_receive_message_length`
 * @example grpcMessageLimit(4 * 1024 * 1024, 64 * 1024) // 4259856
 */
export function grpcMessageLimit(maxMessageSize: number, maxHeaderSize: number): number {
  return maxMessageSize + maxHeaderSize + FRAMING_ALLOWANCE;
}

/**
 * The channel options every dialed channel gets before `channelOptions`.
 *
 * - a subchannel pool of its own, so closing the transport closes its connections
 *   and a replaced channel really connects again;
 * - no retries: grpc-js would buffer written messages for a retry and report
 *   them written before they are, which defeats backpressure, and a transport
 *   stream is not safe to replay;
 * - message limits of {@link grpcMessageLimit}; keepalive of {@link GrpcKeepaliveOptions};
 * - reconnection backoff capped at {@link DEFAULT_MAX_RECONNECT_BACKOFF};
 * - no channelz bookkeeping and no service config lookups in DNS TXT records.
 *
 * @param limit the gRPC message size limit
 * @param keepalive keepalive settings
 * @returns grpc-js channel options
 */
export function defaultChannelOptions(
  limit: number,
  keepalive: GrpcKeepaliveOptions = {},
): ChannelOptions {
  return {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.enable_retries': 0,
    'grpc.per_rpc_retry_buffer_size': 0,
    'grpc.max_send_message_length': limit,
    'grpc.max_receive_message_length': limit,
    'grpc.keepalive_time_ms': keepalive.time ?? DEFAULT_KEEPALIVE_TIME,
    'grpc.keepalive_timeout_ms': keepalive.timeout ?? DEFAULT_KEEPALIVE_TIMEOUT,
    'grpc.keepalive_permit_without_calls': 0,
    'grpc.initial_reconnect_backoff_ms': 1_000,
    'grpc.max_reconnect_backoff_ms': DEFAULT_MAX_RECONNECT_BACKOFF,
    'grpc.enable_channelz': 0,
    'grpc.service_config_disable_resolution': 1,
  };
}

/**
 * The server options every listener gets before `serverOptions`: message limits
 * of {@link grpcMessageLimit}, keepalive pings to clients, no channelz bookkeeping.
 *
 * @param limit the gRPC message size limit
 * @param keepalive keepalive settings
 * @returns grpc-js server options
 */
export function defaultServerOptions(
  limit: number,
  keepalive: GrpcKeepaliveOptions = {},
): ChannelOptions {
  return {
    'grpc.max_send_message_length': limit,
    'grpc.max_receive_message_length': limit,
    'grpc.keepalive_time_ms': keepalive.serverTime ?? DEFAULT_SERVER_KEEPALIVE_TIME,
    'grpc.keepalive_timeout_ms': keepalive.timeout ?? DEFAULT_KEEPALIVE_TIMEOUT,
    'grpc.enable_channelz': 0,
  };
}
