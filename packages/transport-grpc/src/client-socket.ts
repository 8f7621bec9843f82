import {
  type InterceptingListener,
  Metadata,
  status as Status,
  type StatusObject,
} from '@grpc/grpc-js';
import type { MicroError } from '@micro/core';
import { statusError } from './errors.js';
import { type SocketLimits, StreamSocket } from './stream-socket.js';

/** The part of grpc-js's channel-level `Call` a client socket drives. */
export interface StreamCall {
  start(metadata: Metadata, listener: InterceptingListener): void;
  sendMessageWithContext(
    context: { callback?: (error?: Error | null) => void },
    message: Buffer,
  ): void;
  startRead(): void;
  halfClose(): void;
  cancelWithStatus(status: Status, details: string): void;
}

/**
 * How long a closed client socket waits for the server to end the call after
 * the half-close before it cancels the call. go-micro's server and this
 * transport's listener end it at once; the bound is for servers that do not.
 */
const CLOSE_GRACE = 2_000;

/**
 * The dialing end of a conversation: one `Stream` call on a shared channel.
 * Closing half-closes the call (the server sees the end of its input, as a
 * go-micro server expects) and cancels it if the server does not end it soon.
 */
export class GrpcClientSocket extends StreamSocket implements InterceptingListener {
  #graceTimer: NodeJS.Timeout | undefined;

  /**
   * @param call the call, not started yet
   * @param local this end's address
   * @param remote the dialed address
   * @param limits the size limits
   * @param onDone called once when the call is over
   */
  constructor(
    private readonly call: StreamCall,
    local: string,
    remote: string,
    limits: SocketLimits,
    onDone: (socket: StreamSocket) => void,
  ) {
    super(local, remote, limits, onDone);
  }

  /** Starts the call: the server's accept handler runs when its headers arrive. */
  start(): void {
    // The socket is the call's listener: no closures per call.
    this.call.start(new Metadata(), this);
    this.startReading();
  }

  /** @internal grpc-js listener: the server's headers (nothing to do with them). */
  onReceiveMetadata(): void {}

  /** @internal grpc-js listener: one message. */
  onReceiveMessage(message: Buffer): void {
    this.received(message);
  }

  /** @internal grpc-js listener: the call ended. */
  onReceiveStatus(status: StatusObject): void {
    clearTimeout(this.#graceTimer);
    this.done(() => statusError(status, this.remote));
  }

  protected write(buffer: Buffer, done: (error?: Error | null) => void): void {
    this.call.sendMessageWithContext({ callback: done }, buffer);
  }

  protected requestRead(): void {
    this.call.startRead();
  }

  protected finish(): void {
    this.call.halfClose();
    this.#graceTimer = setTimeout(() => {
      this.call.cancelWithStatus(Status.CANCELLED, 'socket closed');
    }, CLOSE_GRACE);
    this.#graceTimer.unref();
  }

  protected abort(error: MicroError): void {
    // The server sees RST_STREAM(CANCEL) whatever the status; the code is local.
    this.call.cancelWithStatus(Status.CANCELLED, error.detail);
  }
}
