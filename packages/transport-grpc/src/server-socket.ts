import { type ServerInterceptingCallInterface, status as Status } from '@grpc/grpc-js';
import { ErrorIds, type MicroError, unavailable } from '@micro/core';
import { type SocketLimits, StreamSocket } from './stream-socket.js';

/** The gRPC status a failure ends an incoming call with. */
function failureStatus(error: MicroError): number {
  switch (error.code) {
    case 400:
      return Status.INVALID_ARGUMENT;
    case 413:
      return Status.RESOURCE_EXHAUSTED;
    default:
      return Status.UNAVAILABLE;
  }
}

/**
 * The listening end of a conversation: one incoming `Stream` call.
 *
 * The client's half-close ends the conversation, as it does in go-micro (its
 * server's `Recv` gets `io.EOF` and the stream returns): messages that arrived
 * before it stay readable, then `recv` rejects with 503, and the call is ended
 * with status OK. Closing this socket ends the call with status OK.
 */
export class GrpcServerSocket extends StreamSocket {
  #statusSent = false;

  /**
   * @param call grpc-js's call, started by {@link listen}
   * @param local the listener's address
   * @param remote the client's address
   * @param limits the size limits
   * @param onDone called once when the call is over
   */
  constructor(
    private readonly call: ServerInterceptingCallInterface,
    local: string,
    remote: string,
    limits: SocketLimits,
    onDone: (socket: StreamSocket) => void,
  ) {
    super(local, remote, limits, onDone);
  }

  /** Starts receiving: from here on the socket hears messages, the half-close and cancellation. */
  listen(): void {
    // The socket is the call's listener: no closures per call.
    this.call.start(this);
    this.startReading();
  }

  /** @internal grpc-js listener: the request headers (nothing to do with them). */
  onReceiveMetadata(): void {}

  /** @internal grpc-js listener: one message. */
  onReceiveMessage(message: Buffer): void {
    this.received(message);
  }

  /** @internal grpc-js listener: the client half-closed. */
  onReceiveHalfClose(): void {
    this.ended(() => unavailable(ErrorIds.transport, `socket closed by ${this.remote}`));
    this.#sendStatus(Status.OK, 'OK');
  }

  /**
   * @internal grpc-js listener: the call is over. grpc-js reports the end of
   * every call here: after the status this side sent, or when the client
   * cancelled, went away or sent too large a message.
   */
  onCancel(): void {
    this.done(() => unavailable(ErrorIds.transport, `connection to ${this.remote} closed`));
  }

  protected write(buffer: Buffer, done: (error?: Error | null) => void): void {
    // grpc-js calls back only on success; a failed write ends the call, which
    // rejects the send through onCancel.
    this.call.sendMessage(buffer, done);
  }

  protected requestRead(): void {
    this.call.startRead();
  }

  protected finish(): void {
    this.#sendStatus(Status.OK, 'OK');
  }

  protected abort(error: MicroError): void {
    this.#sendStatus(failureStatus(error), error.detail);
  }

  #sendStatus(code: number, details: string): void {
    if (this.#statusSent) return;
    this.#statusSent = true;
    this.call.sendStatus({ code, details });
  }
}
