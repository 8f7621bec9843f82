import {
  type ChannelOptions,
  Server,
  type ServerCredentials,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  status as Status,
} from '@grpc/grpc-js';
import {
  ErrorIds,
  formatAddress,
  type Listener,
  type Logger,
  type Socket,
  unavailable,
} from '@micro/core';
import { GrpcServerSocket } from './server-socket.js';
import { transportServiceDefinition } from './service.js';
import type { SocketLimits, StreamSocket } from './stream-socket.js';

/** What a listener needs from its transport. */
export interface ListenerSettings {
  limits: SocketLimits;
  logger: Logger;
  shutdownTimeout: number;
  serverOptions: ChannelOptions;
}

/**
 * A grpc-js server serving go-micro's `Transport` service on one address. Each
 * incoming `Stream` call becomes a {@link GrpcServerSocket} handed to the accept
 * handler.
 *
 * Calls are taken over in a server interceptor, below grpc-js's Node stream
 * wrappers: the socket talks to the call directly, reading one message at a
 * time, so there is no per-call Duplex stream and no 16-message read buffer.
 */
export class GrpcListener implements Listener {
  readonly #server: Server;
  readonly #sockets = new Set<GrpcServerSocket>();
  readonly #forget = (socket: StreamSocket) => this.#sockets.delete(socket as GrpcServerSocket);
  #address = '';
  #handler: ((socket: Socket) => void) | undefined;
  #closing: Promise<void> | undefined;

  /**
   * @param settings limits, logger, shutdown bound and grpc-js server options
   * @param onClose called once the listener has closed
   */
  constructor(
    private readonly settings: ListenerSettings,
    private readonly onClose: (listener: GrpcListener) => void,
  ) {
    this.#server = new Server({
      ...settings.serverOptions,
      interceptors: [
        (_method, call) => new ServerInterceptingCall(call, { start: () => this.#open(call) }),
      ],
    });
    this.#server.addService(transportServiceDefinition, {
      // Never reached: the interceptor takes every call before this handler
      // would see it. Kept so grpc-js routes the method and answers others
      // with UNIMPLEMENTED.
      Stream: (call: { emit(event: 'error', error: object): void }) => {
        call.emit('error', { code: Status.INTERNAL, details: 'transport stream not intercepted' });
      },
    });
  }

  get address(): string {
    return this.#address;
  }

  /**
   * Binds the server.
   * @param host the host to bind, without brackets (`0.0.0.0` for every interface)
   * @param port the port; 0 picks a free one
   * @param credentials the server credentials
   * @throws the grpc-js bind error
   */
  bind(host: string, port: number, credentials: ServerCredentials): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(formatAddress(host, port), credentials, (error, bound) => {
        if (error) {
          this.#server.forceShutdown();
          reject(error);
          return;
        }
        this.#address = formatAddress(host, bound);
        resolve();
      });
    });
  }

  accept(handler: (socket: Socket) => void): void {
    this.#handler = handler;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const { logger, shutdownTimeout } = this.settings;
    // tryShutdown stops accepting connections and sends GOAWAY on each one;
    // its callback runs once every connection has closed.
    const closed = new Promise<void>((resolve) => this.#server.tryShutdown(() => resolve()));
    const error = unavailable(ErrorIds.transport, `listener ${this.#address} closed`);
    for (const socket of [...this.#sockets]) socket.fail(error);
    let timer: NodeJS.Timeout | undefined;
    const graceful = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), shutdownTimeout);
      }),
    ]);
    clearTimeout(timer);
    if (!graceful) {
      logger.warn('connections still open after the shutdown timeout; dropping them', {
        address: this.#address,
        shutdownTimeout,
      });
      this.#server.forceShutdown();
    }
    this.onClose(this);
  }

  #open(call: ServerInterceptingCallInterface): void {
    if (this.#closing) {
      call.sendStatus({ code: Status.UNAVAILABLE, details: `listener ${this.#address} closed` });
      return;
    }
    const info = call.getConnectionInfo();
    const remote =
      info.remoteAddress !== undefined && info.remotePort !== undefined
        ? formatAddress(info.remoteAddress, info.remotePort)
        : call.getPeer();
    const socket = new GrpcServerSocket(
      call,
      this.#address,
      remote,
      this.settings.limits,
      this.#forget,
    );
    this.#sockets.add(socket);
    socket.listen();
    const handler = this.#handler;
    if (!handler) {
      socket.fail(
        unavailable(ErrorIds.transport, `listener ${this.#address} accepts no sockets yet`),
      );
      return;
    }
    try {
      handler(socket);
    } catch (error) {
      this.settings.logger.error('accept handler threw', {
        address: this.#address,
        error,
      });
      socket.fail(unavailable(ErrorIds.transport, 'the server failed to accept the stream', error));
    }
  }
}
