import {
  Channel,
  type ChannelCredentials,
  type ChannelOptions,
  credentials as channelCredentials,
  connectivityState,
  ServerCredentials,
} from '@grpc/grpc-js';
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
  type Logger,
  type MicroError,
  parseAddress,
  type Socket,
  type Transport,
  unavailable,
} from '@micro/core';
import { GrpcClientSocket, type StreamCall } from './client-socket.js';
import { GrpcListener } from './grpc-listener.js';
import {
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_MAX_HEADER_SIZE,
  DEFAULT_SHUTDOWN_TIMEOUT,
  defaultChannelOptions,
  defaultServerOptions,
  type GrpcTransportOptions,
  grpcMessageLimit,
} from './options.js';
import { STREAM_PATH } from './service.js';
import type { SocketLimits, StreamSocket } from './stream-socket.js';

/** The client end's local address: grpc-js does not expose the connection's, and go-micro reports this. */
const CLIENT_LOCAL_ADDRESS = 'localhost';

/** One channel (one HTTP/2 connection, reconnected on demand) to one address. */
interface ChannelEntry {
  readonly target: string;
  readonly channel: Channel;
  readonly sockets: Set<StreamSocket>;
  idleTimer: NodeJS.Timeout | undefined;
}

function positive(name: string, value: number | undefined, fallback: number, zero = false): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0 || (value === 0 && !zero)) {
    throw badRequest(
      ErrorIds.transport,
      `transport-grpc option ${name} must be a ${zero ? 'non-negative' : 'positive'} integer, got ${value}`,
    );
  }
  return value;
}

function pem(value: string | Buffer | undefined): Buffer | null {
  if (value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value) : value;
}

function abortError(address: string, signal: AbortSignal): MicroError {
  const reason: unknown = signal.reason;
  if (isMicroError(reason)) return reason;
  return cancelled(ErrorIds.transport, `dial to ${address} aborted`, reason);
}

/**
 * go-micro's gRPC transport: every conversation is one bidirectional
 * `/go.micro.transport.grpc.Transport/Stream` call carrying
 * `Message{header, body}` (proto/transport.proto), so Go services on go-micro's
 * gRPC transport and TypeScript services on this one exchange messages.
 *
 * Dials share one grpc-js channel (one HTTP/2 connection) per address: a dial
 * on a ready channel opens a stream without a round trip, a channel that lost
 * its connection reconnects on the next dial, and a dial to an address that
 * refuses the connection fails at once with 503.
 *
 * @example
 * import { createService } from '@micro/core';
 * import { createGrpcTransport } from '@micro/transport-grpc';
 *
 * const service = await createService({ name: 'greeter', transport: createGrpcTransport() });
 */
export class GrpcTransport implements Transport {
  /** go-micro's name for this transport, registered in node metadata. */
  readonly name = 'grpc';
  readonly #logger: Logger;
  readonly #limits: SocketLimits;
  readonly #dialTimeout: number;
  readonly #idleTimeout: number;
  readonly #shutdownTimeout: number;
  readonly #channelOptions: ChannelOptions;
  readonly #serverOptions: ChannelOptions;
  readonly #channelCredentials: ChannelCredentials;
  readonly #serverCredentials: () => ServerCredentials;
  readonly #channels = new Map<string, ChannelEntry>();
  readonly #listeners = new Set<GrpcListener>();
  #closed = false;

  /**
   * @param options limits, timeouts, TLS, channel options and the logger; see {@link GrpcTransportOptions}
   * @throws {@link MicroError} 400 for an invalid option or unusable TLS material
   */
  constructor(options: GrpcTransportOptions = {}) {
    this.#logger = options.logger ?? createConsoleLogger({ name: 'transport-grpc' });
    const maxMessageSize = positive(
      'maxMessageSize',
      options.maxMessageSize,
      DEFAULT_MAX_MESSAGE_SIZE,
    );
    const maxHeaderSize = positive('maxHeaderSize', options.maxHeaderSize, DEFAULT_MAX_HEADER_SIZE);
    this.#limits = { maxMessageSize, maxHeaderSize, logger: this.#logger };
    this.#dialTimeout = positive('dialTimeout', options.dialTimeout, DEFAULT_DIAL_TIMEOUT);
    this.#idleTimeout = positive('idleTimeout', options.idleTimeout, DEFAULT_IDLE_TIMEOUT, true);
    this.#shutdownTimeout = positive(
      'shutdownTimeout',
      options.shutdownTimeout,
      DEFAULT_SHUTDOWN_TIMEOUT,
      true,
    );
    const limit = grpcMessageLimit(maxMessageSize, maxHeaderSize);
    const tls = options.tls;
    this.#channelOptions = {
      ...defaultChannelOptions(limit, options.keepalive),
      ...(tls?.serverName ? { 'grpc.ssl_target_name_override': tls.serverName } : {}),
      ...options.channelOptions,
    };
    this.#serverOptions = {
      ...defaultServerOptions(limit, options.keepalive),
      ...options.serverOptions,
    };
    if (tls && (tls.cert === undefined) !== (tls.key === undefined)) {
      throw badRequest(
        ErrorIds.transport,
        'transport-grpc option tls needs both cert and key, or neither',
      );
    }
    if (tls?.requireClientCertificate && tls.ca === undefined) {
      throw badRequest(
        ErrorIds.transport,
        'transport-grpc option tls.requireClientCertificate needs tls.ca to verify client certificates',
      );
    }
    try {
      this.#channelCredentials =
        options.credentials?.channel ??
        (tls
          ? channelCredentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert))
          : channelCredentials.createInsecure());
    } catch (error) {
      throw badRequest(
        ErrorIds.transport,
        `transport-grpc cannot use the TLS options: ${(error as Error).message}`,
        error,
      );
    }
    const serverCredentials = options.credentials?.server;
    this.#serverCredentials = () => {
      if (serverCredentials) return serverCredentials;
      if (!tls) return ServerCredentials.createInsecure();
      if (tls.cert === undefined || tls.key === undefined) {
        throw badRequest(ErrorIds.transport, 'a TLS listener needs tls.cert and tls.key');
      }
      return ServerCredentials.createSsl(
        pem(tls.ca),
        [{ cert_chain: pem(tls.cert)!, private_key: pem(tls.key)! }],
        tls.requireClientCertificate ?? false,
      );
    };
  }

  /**
   * Opens a conversation: a new `Stream` call on the address's channel. On a
   * ready channel this costs no round trip; otherwise it waits for the channel
   * to connect, within the dial timeout.
   * @param address `host:port` of a go-micro gRPC transport listener
   * @param options timeout and abort signal
   * @returns the Socket
   * @throws {@link MicroError} 503 when the address refuses the connection, the
   *   TLS handshake fails or the timeout passes (at once for a timeout of 0 or
   *   less); 400 for a malformed address; the signal's reason when it is a
   *   MicroError, else 499, when aborted
   */
  dial(address: string, options: DialOptions = {}): Promise<Socket> {
    if (this.#closed) {
      return Promise.reject(unavailable(ErrorIds.transport, `transport closed: ${address}`));
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortError(address, signal));
    const timeout = options.timeout ?? this.#dialTimeout;
    if (timeout <= 0) {
      // A caller with no time left gets no stream, even on a ready channel.
      return Promise.reject(
        unavailable(ErrorIds.transport, `dial to ${address}: no time left (timeout ${timeout} ms)`),
      );
    }
    let entry = this.#channels.get(address);
    if (!entry) {
      const parsed = parseAddress(address);
      if (!parsed || parsed.port === 0) {
        return Promise.reject(
          badRequest(
            ErrorIds.transport,
            `cannot dial ${JSON.stringify(address)}: expected host:port`,
          ),
        );
      }
      entry = this.#connect(address, formatAddress(parsed.host || '127.0.0.1', parsed.port));
    }
    let state = entry.channel.getConnectivityState(true);
    if (state === connectivityState.READY) {
      try {
        return Promise.resolve(this.#open(entry, address));
      } catch (error) {
        return Promise.reject(
          unavailable(ErrorIds.transport, `cannot open a stream to ${address}`, error),
        );
      }
    }
    if (state === connectivityState.TRANSIENT_FAILURE || state === connectivityState.SHUTDOWN) {
      // The channel is waiting out a reconnection backoff; the peer may be back
      // already, so try a fresh connection now instead of failing the dial.
      this.#logger.debug('reconnecting', { address });
      this.#drop(address, entry);
      entry = this.#connect(address, entry.target);
      state = entry.channel.getConnectivityState(true);
    }
    const ready = entry;
    return this.#waitReady(ready, address, state, timeout, signal).then(
      () => this.#open(ready, address),
      (error: unknown) => {
        // A channel that never carried a socket is forgotten like an idle one.
        this.#scheduleIdle(address, ready);
        throw error;
      },
    );
  }

  /**
   * Binds a listener serving go-micro's `Transport` service.
   * @param address `host:port`; port 0 picks a free port, an empty host binds every interface
   * @returns the listener, with the real port in its address
   * @throws {@link MicroError} 400 for a malformed address or TLS options a
   *   listener cannot use; 503 when the address cannot be bound
   */
  async listen(address: string): Promise<Listener> {
    if (this.#closed) throw unavailable(ErrorIds.transport, `transport closed: ${address}`);
    const parsed = parseAddress(address);
    if (!parsed) {
      throw badRequest(
        ErrorIds.transport,
        `cannot listen on ${JSON.stringify(address)}: expected host:port`,
      );
    }
    let credentials: ServerCredentials;
    try {
      credentials = this.#serverCredentials();
    } catch (error) {
      if (isMicroError(error)) throw error;
      throw badRequest(
        ErrorIds.transport,
        `transport-grpc cannot use the TLS options: ${(error as Error).message}`,
        error,
      );
    }
    const listener = new GrpcListener(
      {
        limits: this.#limits,
        logger: this.#logger,
        shutdownTimeout: this.#shutdownTimeout,
        serverOptions: this.#serverOptions,
      },
      (closed) => this.#listeners.delete(closed),
    );
    try {
      await listener.bind(parsed.host || '0.0.0.0', parsed.port, credentials);
    } catch (error) {
      throw unavailable(
        ErrorIds.transport,
        `cannot listen on ${address}: ${(error as Error).message}`,
        error,
      );
    }
    this.#listeners.add(listener);
    this.#logger.debug('listening', { address: listener.address });
    return listener;
  }

  /** Fails every open Socket with 503, closes every channel and every listener. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const [address, entry] of [...this.#channels]) {
      const error = unavailable(ErrorIds.transport, `transport closed: ${address}`);
      for (const socket of [...entry.sockets]) socket.fail(error);
      this.#drop(address, entry);
    }
    await Promise.all([...this.#listeners].map((listener) => listener.close()));
  }

  #connect(address: string, target: string): ChannelEntry {
    const entry: ChannelEntry = {
      target,
      channel: new Channel(target, this.#channelCredentials, this.#channelOptions),
      sockets: new Set(),
      idleTimer: undefined,
    };
    this.#channels.set(address, entry);
    return entry;
  }

  #drop(address: string, entry: ChannelEntry): void {
    clearTimeout(entry.idleTimer);
    if (this.#channels.get(address) === entry) this.#channels.delete(address);
    entry.channel.close();
  }

  #open(entry: ChannelEntry, address: string): Socket {
    if (entry.idleTimer) {
      clearTimeout(entry.idleTimer);
      entry.idleTimer = undefined;
    }
    const call: StreamCall = entry.channel.createCall(STREAM_PATH, Infinity, undefined, null, null);
    const socket = new GrpcClientSocket(call, CLIENT_LOCAL_ADDRESS, address, this.#limits, (done) =>
      this.#release(address, entry, done),
    );
    entry.sockets.add(socket);
    socket.start();
    return socket;
  }

  #release(address: string, entry: ChannelEntry, socket: StreamSocket): void {
    entry.sockets.delete(socket);
    this.#scheduleIdle(address, entry);
  }

  /** Closes the channel after idleTimeout unless a socket opens on it meanwhile. */
  #scheduleIdle(address: string, entry: ChannelEntry): void {
    if (entry.sockets.size > 0 || entry.idleTimer || this.#idleTimeout === 0 || this.#closed)
      return;
    if (this.#channels.get(address) !== entry) return;
    entry.idleTimer = setTimeout(() => {
      entry.idleTimer = undefined;
      if (entry.sockets.size === 0) {
        this.#logger.debug('closing idle channel', { address });
        this.#drop(address, entry);
      }
    }, this.#idleTimeout);
    entry.idleTimer.unref();
  }

  #waitReady(
    entry: ChannelEntry,
    address: string,
    initial: connectivityState,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const channel = entry.channel;
    const deadline = Date.now() + timeout;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: MicroError) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onAbort = () => settle(abortError(address, signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      const watch = (current: connectivityState) => {
        channel.watchConnectivityState(current, deadline, (error) => {
          if (settled) return;
          if (error) {
            settle(
              unavailable(ErrorIds.transport, `dial to ${address} timed out after ${timeout} ms`),
            );
            return;
          }
          const state = channel.getConnectivityState(true);
          switch (state) {
            case connectivityState.READY:
              settle();
              return;
            case connectivityState.TRANSIENT_FAILURE:
              settle(
                unavailable(
                  ErrorIds.transport,
                  `cannot connect to ${address}: connection refused or failed (TLS, protocol)`,
                ),
              );
              return;
            case connectivityState.SHUTDOWN:
              settle(unavailable(ErrorIds.transport, `transport closed: ${address}`));
              return;
            default:
              watch(state);
          }
        });
      };
      watch(initial);
    });
  }
}

/**
 * Creates go-micro's gRPC transport.
 * @param options limits, timeouts, TLS, channel options and the logger; see {@link GrpcTransportOptions}
 * @returns a {@link GrpcTransport}
 * @throws {@link MicroError} 400 for an invalid option or unusable TLS material
 * @example
 * import { createGrpcTransport } from '@micro/transport-grpc';
 *
 * const transport = createGrpcTransport({
 *   tls: { ca: readFileSync('ca.pem'), cert: readFileSync('svc.pem'), key: readFileSync('svc-key.pem') },
 * });
 */
export function createGrpcTransport(options?: GrpcTransportOptions): GrpcTransport {
  return new GrpcTransport(options);
}
