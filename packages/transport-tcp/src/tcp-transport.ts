import * as net from 'node:net';
import * as tls from 'node:tls';
import {
  badRequest,
  cancelled,
  createConsoleLogger,
  DEFAULT_DIAL_TIMEOUT,
  DEFAULT_MAX_MESSAGE_SIZE,
  type DialOptions,
  ErrorIds,
  formatAddress,
  isMicroError,
  type Listener,
  type ListenOptions,
  type Logger,
  type MicroError,
  parseAddress,
  type Socket,
  type Transport,
  timeout as timeoutError,
  unavailable,
} from '@micro/core';
import { Connection, type Limits, type TcpSocket } from './connection.js';
import {
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_KEEPALIVE_DELAY,
  DEFAULT_MAX_HEADER_SIZE,
  DEFAULT_MAX_STREAMS,
  DEFAULT_STREAM_WINDOW,
  DEFAULT_WRITE_HIGH_WATER_MARK,
  type TcpTlsOptions,
  type TcpTransportOptions,
} from './options.js';

/** A snapshot of what a {@link TcpTransport} holds, for monitoring and tests. */
export interface TcpTransportStats {
  /** Open connections: dialed ones plus those accepted by this transport's listeners. */
  connections: number;
  /** Sockets open on those connections. */
  sockets: number;
  /** Bytes accepted by `send` and not yet handed to the operating system. */
  queuedBytes: number;
  /** Bytes received and not yet read by `recv`. */
  bufferedBytes: number;
}

function positive(
  name: string,
  value: number | undefined,
  fallback: number,
  allowZero = false,
): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw badRequest(
      ErrorIds.transport,
      `${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${value}`,
    );
  }
  return value;
}

/** setTimeout's largest delay. */
const MAX_TIMER = 0x7fffffff;

function abortError(signal: AbortSignal, address: string): MicroError {
  const reason: unknown = signal.reason;
  if (isMicroError(reason)) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return timeoutError(ErrorIds.transport, `dial to ${address} timed out`, reason);
  }
  return cancelled(ErrorIds.transport, `dial to ${address} cancelled`, reason);
}

/**
 * @micro's TCP transport: `{header, body}` messages in compact binary frames, every
 * Socket a stream multiplexed over one TCP (or TLS) connection per peer address.
 * A dial over an established connection costs no round trip; frames written in
 * one tick leave in one write; a Socket that is not read stalls only its own
 * sender (per-stream flow control).
 *
 * @example
 * const transport = createTcpTransport();
 * const listener = await transport.listen('127.0.0.1:0');
 * listener.accept(async (socket) => {
 *   const request = await socket.recv();
 *   await socket.send({ header: { 'Content-Type': 'application/json' }, body: request.body });
 *   await socket.close();
 * });
 * const socket = await transport.dial(listener.address);
 * await socket.send({ header: {}, body: new TextEncoder().encode('{"name":"John"}') });
 * const reply = await socket.recv();
 */
export class TcpTransport implements Transport {
  /** `tcp`, the name registered in node metadata. */
  readonly name = 'tcp';
  readonly #limits: Limits;
  readonly #tls: TcpTlsOptions;
  readonly #logger: Logger;
  readonly #dialTimeout: number;
  readonly #idleTimeout: number;
  readonly #keepAliveDelay: number;
  readonly #pool = new Map<string, Connection>();
  readonly #listeners = new Set<TcpListener>();
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * @param options limits, timeouts, TLS and the logger; see {@link TcpTransportOptions}
   * @throws {@link MicroError} 400 when a numeric option is not a positive integer
   */
  constructor(options: TcpTransportOptions = {}) {
    const maxMessageSize = positive(
      'maxMessageSize',
      options.maxMessageSize,
      DEFAULT_MAX_MESSAGE_SIZE,
    );
    this.#limits = {
      maxMessageSize,
      maxHeaderSize: positive('maxHeaderSize', options.maxHeaderSize, DEFAULT_MAX_HEADER_SIZE),
      streamWindow: positive('streamWindow', options.streamWindow, DEFAULT_STREAM_WINDOW),
      maxStreams: positive('maxStreams', options.maxStreams, DEFAULT_MAX_STREAMS),
      writeHighWaterMark: positive(
        'writeHighWaterMark',
        options.writeHighWaterMark,
        DEFAULT_WRITE_HIGH_WATER_MARK,
      ),
      connectionBufferLimit: positive(
        'connectionBufferLimit',
        options.connectionBufferLimit,
        Math.max(64 * 1024 * 1024, 4 * maxMessageSize),
      ),
    };
    if (this.#limits.maxMessageSize > 0xffffffff - 0x10000 - this.#limits.maxHeaderSize) {
      throw badRequest(ErrorIds.transport, 'maxMessageSize plus maxHeaderSize must fit in 4 GiB');
    }
    if (this.#limits.streamWindow > 0x7fffffff || this.#limits.maxStreams > 0x7fffffff) {
      throw badRequest(ErrorIds.transport, 'streamWindow and maxStreams must be below 2^31');
    }
    this.#tls = options.tls ?? {};
    this.#logger = options.logger ?? createConsoleLogger({ name: 'transport-tcp' });
    this.#dialTimeout = positive('dialTimeout', options.dialTimeout, DEFAULT_DIAL_TIMEOUT);
    this.#idleTimeout = positive('idleTimeout', options.idleTimeout, DEFAULT_IDLE_TIMEOUT, true);
    this.#keepAliveDelay = positive(
      'keepAliveDelay',
      options.keepAliveDelay,
      DEFAULT_KEEPALIVE_DELAY,
    );
  }

  /**
   * Opens a Socket to a listener. The first dial to an address connects (and
   * concurrent first dials share that connect); later dials reuse the connection
   * and resolve without any I/O. A connection that died is replaced on the next dial.
   *
   * @param address `host:port` or `[ipv6]:port`
   * @param options a timeout for connecting (default the transport's `dialTimeout`) and an AbortSignal
   * @returns a Socket for one conversation
   * @throws {@link MicroError} 503 naming the address when it cannot be reached in time
   *   (refused, unresolvable, TLS failure, timeout); 400 for a malformed address;
   *   the signal's reason when it is a MicroError, else 408 for a timeout reason or 499
   */
  dial(address: string, options?: DialOptions): Promise<Socket> {
    if (this.#closed) {
      return Promise.reject(
        unavailable(ErrorIds.transport, `transport closed: cannot dial ${address}`),
      );
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal, address));
    let connection = this.#pool.get(address);
    if (connection?.isOpen) {
      try {
        return Promise.resolve(connection.openStream());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const timeout = Math.min(options?.timeout ?? this.#dialTimeout, MAX_TIMER);
    if (!(timeout > 0)) {
      // A caller whose deadline is already spent (the RPC layer passes the remaining budget).
      return Promise.reject(
        unavailable(ErrorIds.transport, `dial timeout: no time left to connect to ${address}`),
      );
    }
    if (connection === undefined) {
      const target = parseAddress(address);
      if (target === undefined) {
        return Promise.reject(
          badRequest(
            ErrorIds.transport,
            `invalid address ${JSON.stringify(address)}: want host:port`,
          ),
        );
      }
      connection = this.#connect(address, target.host || '127.0.0.1', target.port);
    }
    const opening = connection;
    opening.handshakeDeadline(timeout, () =>
      unavailable(
        ErrorIds.transport,
        `dial timeout: no connection to ${address} within ${timeout} ms`,
      ),
    );
    return this.#whenReady(opening, address, timeout, signal).then(() => opening.openStream());
  }

  #connect(address: string, host: string, port: number): Connection {
    const socket = this.#tls.client
      ? tls.connect({ ...this.#tls.client, host, port })
      : net.connect({ host, port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, this.#keepAliveDelay);
    const connection = new Connection(socket, 'client', address, '', this.#limits, this.#logger, {
      ready: () => this.#logger.debug('connected', { address }),
      closed: (closed, error) => {
        if (this.#pool.get(address) === closed) this.#pool.delete(address);
        this.#logger.debug('connection closed', { address, reason: error.detail });
        if (this.#pool.size === 0) this.#stopSweeper();
      },
    });
    this.#pool.set(address, connection);
    this.#startSweeper();
    return connection;
  }

  #whenReady(
    connection: Connection,
    address: string,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const finish = (error?: unknown) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onAbort = () => finish(abortError(signal!, address));
      const timer = setTimeout(
        () =>
          finish(
            unavailable(
              ErrorIds.transport,
              `dial timeout: no connection to ${address} within ${timeout} ms`,
            ),
          ),
        timeout,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      connection.ready.then(
        () => finish(),
        (error: unknown) => finish(error),
      );
    });
  }

  #startSweeper(): void {
    if (this.#sweeper !== undefined || this.#idleTimeout === 0) return;
    // Four sweeps per timeout: a connection closes between 1 and 1.25 idle timeouts
    // after its last Socket, with no timer work on the dial path.
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(5, this.#idleTimeout / 4));
    this.#sweeper.unref();
  }

  #stopSweeper(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #sweep(): void {
    for (const [address, connection] of this.#pool) {
      if (!connection.isOpen || connection.openStreams > 0) {
        connection.idleSweeps = 0;
      } else if (++connection.idleSweeps >= 4) {
        this.#logger.debug('closing idle connection', { address });
        connection.fail(
          unavailable(ErrorIds.transport, `idle connection to ${address} closed`),
          true,
        );
      }
    }
  }

  /**
   * Binds a listener. With `tls.server` set it serves TLS.
   * @param address `host:port`; port 0 picks a free port, an empty host binds every interface
   * @returns the listener; its `address` has the real port
   * @throws {@link MicroError} 400 for a malformed address, 503 when the address cannot be bound
   */
  async listen(address: string, _options?: ListenOptions): Promise<Listener> {
    if (this.#closed)
      throw unavailable(ErrorIds.transport, `transport closed: cannot listen on ${address}`);
    const target = parseAddress(address);
    if (target === undefined) {
      throw badRequest(
        ErrorIds.transport,
        `invalid address ${JSON.stringify(address)}: want host:port`,
      );
    }
    const server = this.#tls.server
      ? tls.createServer({ handshakeTimeout: this.#dialTimeout, ...this.#tls.server })
      : net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: target.host || undefined, port: target.port }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      throw unavailable(
        ErrorIds.transport,
        `cannot listen on ${address}: ${error instanceof Error ? error.message : String(error)}`,
        error,
      );
    });
    const bound = server.address() as net.AddressInfo;
    const listener = new TcpListener(
      server,
      formatAddress(bound.address, bound.port),
      this.#limits,
      this.#logger,
      this.#dialTimeout,
      this.#keepAliveDelay,
      Boolean(this.#tls.server),
      () => this.#listeners.delete(listener),
    );
    this.#listeners.add(listener);
    return listener;
  }

  /**
   * What this transport holds right now, for monitoring and tests.
   * @returns connections, Sockets, bytes waiting to be written and bytes waiting to be read
   * @example
   * const { queuedBytes } = transport.stats(); // stays below writeHighWaterMark + one message
   */
  stats(): TcpTransportStats {
    const stats: TcpTransportStats = {
      connections: 0,
      sockets: 0,
      queuedBytes: 0,
      bufferedBytes: 0,
    };
    const add = (connection: Connection) => {
      stats.connections++;
      stats.sockets += connection.openStreams;
      stats.queuedBytes += connection.writer.bytes + connection.socket.writableLength;
      stats.bufferedBytes += connection.bufferedBytes;
    };
    for (const connection of this.#pool.values()) add(connection);
    for (const listener of this.#listeners) listener.connections.forEach(add);
    return stats;
  }

  /**
   * Closes every dialed connection (their Sockets fail with 503) and every
   * listener this transport opened. Later dials and listens fail with 503. Idempotent.
   * @returns once every listener has closed
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopSweeper();
    for (const connection of [...this.#pool.values()]) {
      connection.fail(
        unavailable(ErrorIds.transport, `transport closed: ${connection.remote}`),
        true,
      );
    }
    this.#pool.clear();
    await Promise.all([...this.#listeners].map((listener) => listener.close()));
  }
}

/**
 * A bound TCP (or TLS) server. Each accepted connection carries many streams;
 * the first frame of a new stream hands a Socket to the accept handler.
 */
class TcpListener implements Listener {
  #handler: ((socket: Socket) => void) | undefined;
  /** Accepted connections. */
  readonly connections = new Set<Connection>();
  #closing: Promise<void> | undefined;

  constructor(
    private readonly server: net.Server,
    readonly address: string,
    private readonly limits: Limits,
    private readonly logger: Logger,
    private readonly handshakeTimeout: number,
    keepAliveDelay: number,
    secure: boolean,
    private readonly onClose: () => void,
  ) {
    const onSocket = (socket: net.Socket) => {
      if (this.#closing !== undefined) {
        socket.destroy();
        return;
      }
      socket.setNoDelay(true);
      socket.setKeepAlive(true, keepAliveDelay);
      this.#adopt(socket);
    };
    server.on(secure ? 'secureConnection' : 'connection', onSocket);
    server.on('error', (error) => this.logger.error('listener error', { address, error }));
    if (secure) {
      server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) =>
        this.logger.warn('TLS handshake failed', {
          address,
          remote: formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0),
          error: error.message,
        }),
      );
    }
  }

  #adopt(socket: net.Socket): void {
    const remote = formatAddress(socket.remoteAddress ?? 'unknown', socket.remotePort ?? 0);
    const connection = new Connection(
      socket,
      'server',
      remote,
      this.address,
      this.limits,
      this.logger,
      {
        accept: (stream) => this.#accept(stream),
        closed: (closed, error) => {
          this.connections.delete(closed);
          this.logger.debug('connection closed', {
            address: this.address,
            remote,
            reason: error.detail,
          });
        },
      },
    );
    connection.handshakeDeadline(this.handshakeTimeout, () =>
      unavailable(
        ErrorIds.transport,
        `${remote} sent no SETTINGS within ${this.handshakeTimeout} ms`,
      ),
    );
    if (!connection.isClosed) this.connections.add(connection);
  }

  #accept(socket: TcpSocket): void {
    const handler = this.#handler;
    if (handler === undefined) {
      socket.abort(
        unavailable(ErrorIds.transport, `listener ${this.address} accepts no sockets yet`),
      );
      return;
    }
    handler(socket);
  }

  /**
   * Sets the handler called with every new incoming Socket; it replaces the previous one.
   * @param handler receives each incoming conversation
   */
  accept(handler: (socket: Socket) => void): void {
    this.#handler = handler;
  }

  /**
   * Stops accepting and closes every connection; their Sockets fail with 503.
   * Idempotent.
   * @returns once the server has closed (peers that do not hang up are cut after 2 s)
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closing = new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      const error = unavailable(ErrorIds.transport, `listener ${this.address} closed`);
      for (const connection of [...this.connections]) connection.fail(error, true);
      this.connections.clear();
      this.onClose();
    });
    return this.#closing;
  }
}

/**
 * Creates the TCP transport.
 * @param options limits, timeouts, TLS and the logger; see {@link TcpTransportOptions}
 * @returns a {@link TcpTransport}
 * @throws {@link MicroError} 400 when a numeric option is not a positive integer
 * @example
 * import { createTcpTransport } from '@micro/transport-tcp';
 * const transport = createTcpTransport({ maxMessageSize: 8 * 1024 * 1024 });
 */
export function createTcpTransport(options?: TcpTransportOptions): TcpTransport {
  return new TcpTransport(options);
}
