import type { ConnectionOptions, TlsOptions } from 'node:tls';
import type { TransportOptions } from '@micro/core';

/**
 * TLS for the TCP transport, in node:tls's own option shapes. Set `server` to
 * serve TLS on listeners and `client` to dial with TLS; a service that both
 * serves and calls sets both. Mutual TLS is `requestCert: true` (and
 * `rejectUnauthorized: true`, the default) with a `ca` on the server, plus
 * `cert` and `key` on the client.
 *
 * @example
 * const tls = {
 *   server: { key, cert, ca, requestCert: true },      // mutual TLS: client certificates required
 *   client: { ca, key: clientKey, cert: clientCert },
 * };
 */
export interface TcpTlsOptions {
  /**
   * Options for `tls.createServer`: `key` and `cert` at least. Without it,
   * listeners speak plain TCP.
   */
  server?: TlsOptions;
  /**
   * Options for `tls.connect` (`ca`, `cert`, `key`, `servername`, ...); `host`
   * and `port` come from the dialed address. Without it, dials are plain TCP.
   */
  client?: ConnectionOptions;
}

/** Options of {@link TcpTransport}. */
export interface TcpTransportOptions extends TransportOptions {
  /**
   * TLS for listeners and dials.
   * @default plain TCP both ways
   */
  tls?: TcpTlsOptions;
  /**
   * The largest header block (all keys and values with their lengths) accepted
   * or sent, in bytes. A larger header is refused with 413.
   * @default 65536 (64 KiB)
   */
  maxHeaderSize?: number;
  /**
   * Closes a dialed connection after it has had no open Socket for this long, in
   * milliseconds; the next dial connects again. 0 keeps idle connections open.
   * @default 60000 (go-micro's client pool TTL)
   */
  idleTimeout?: number;
  /**
   * The delay before TCP keepalive probes start on an idle connection, in
   * milliseconds. Keepalive is always on; a peer that stops answering fails the
   * connection's Sockets with 503.
   * @default 15000
   */
  keepAliveDelay?: number;
  /**
   * How many bytes may wait to be written on one connection before `send`
   * stops resolving until the socket drains.
   * @default 1048576 (1 MiB)
   */
  writeHighWaterMark?: number;
  /**
   * The per-stream flow-control window, in bytes: how much one Socket's peer may
   * send before this side reads it. A Socket that is not read stalls only its
   * own sender, not the other Sockets on the connection.
   * @default 1048576 (1 MiB)
   */
  streamWindow?: number;
  /**
   * How many bytes that arrived but were not read yet, summed over all Sockets
   * of one connection, pause reading that connection. A last line of defence
   * behind the per-stream window, for peers that open very many streams.
   * @default max(64 MiB, 4 × maxMessageSize)
   */
  connectionBufferLimit?: number;
  /**
   * The most Sockets open at once on one connection. Listeners refuse streams
   * above it; dials over it fail with 503.
   * @default 65536
   */
  maxStreams?: number;
}

/** The default header block limit: 64 KiB. */
export const DEFAULT_MAX_HEADER_SIZE = 64 * 1024;
/** The default idle timeout of dialed connections: 60 s. */
export const DEFAULT_IDLE_TIMEOUT = 60_000;
/** The default TCP keepalive delay: 15 s. */
export const DEFAULT_KEEPALIVE_DELAY = 15_000;
/** The default write high-water mark per connection: 1 MiB. */
export const DEFAULT_WRITE_HIGH_WATER_MARK = 1024 * 1024;
/** The default per-stream flow-control window: 1 MiB. */
export const DEFAULT_STREAM_WINDOW = 1024 * 1024;
/** The default limit on concurrent streams per connection. */
export const DEFAULT_MAX_STREAMS = 65_536;
