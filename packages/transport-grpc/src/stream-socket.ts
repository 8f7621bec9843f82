import {
  badRequest,
  ErrorIds,
  type Logger,
  type Message,
  type MicroError,
  payloadTooLarge,
  type Socket,
  unavailable,
} from '@micro/core';
import { decodeMessage, encodeMessage, sizeMessage } from './message-codec.js';

/** The size limits a socket enforces, and where it reports a misbehaving peer. */
export interface SocketLimits {
  /** The largest body sent or accepted, in bytes. */
  maxMessageSize: number;
  /** The largest encoded header map sent, in bytes. */
  maxHeaderSize: number;
  /** The transport's logger. */
  logger: Logger;
}

interface Waiter {
  resolve(message: Message): void;
  reject(error: MicroError): void;
}

interface PendingSend {
  resolve(): void;
  reject(error: MicroError): void;
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * One conversation over one gRPC `Stream` call, the part shared by both ends.
 *
 * Reading is pulled one message at a time (grpc-js's `startRead`): while nobody
 * calls `recv`, at most one decoded message waits here and HTTP/2 flow control
 * holds the peer back, so a slow reader never buffers more than one message.
 * `send` resolves when grpc-js has written the message to the HTTP/2 stream,
 * which waits for the peer's flow-control window: a fast writer is slowed down.
 */
export abstract class StreamSocket implements Socket {
  // A unary call has one message each way, one reader and one writer: the
  // queue, the extra waiters and the pending-send set are made only when needed.
  #queue: Message[] | undefined;
  #waiter: Waiter | undefined;
  #waiters: Waiter[] | undefined;
  #sends: Set<PendingSend> | undefined;
  #readPending = false;
  /** Set once this side closed or failed the conversation. */
  #closed = false;
  /** Set once the call can carry nothing more (peer ended, failed, or finished). */
  #ended = false;
  /**
   * What `recv` rejects with once the queue is empty, and `send` with; made
   * only when something is rejected, since most conversations end without it.
   */
  #error: MicroError | undefined;
  #makeError: (() => MicroError) | undefined;
  #done = false;

  /**
   * @param local this end's address
   * @param remote the other end's address
   * @param limits the size limits
   * @param onDone called once when the call is over, to forget the socket
   */
  constructor(
    readonly local: string,
    readonly remote: string,
    protected readonly limits: SocketLimits,
    private readonly onDone: (socket: StreamSocket) => void,
  ) {}

  /** Writes one encoded message; `done` is called when it is written or failed. */
  protected abstract write(buffer: Buffer, done: (error?: Error | null) => void): void;
  /** Asks grpc-js for the next message (or end). */
  protected abstract requestRead(): void;
  /** Ends the call gracefully after this side closed. */
  protected abstract finish(): void;
  /** Ends the call at once with a failure the peer sees. */
  protected abstract abort(error: MicroError): void;

  send(message: Message): Promise<void> {
    if (this.#makeError) return Promise.reject(this.#terminal());
    const { header, body } = message;
    const { maxMessageSize, maxHeaderSize } = this.limits;
    if (body.byteLength > maxMessageSize) {
      return Promise.reject(
        payloadTooLarge(
          ErrorIds.transport,
          `message body of ${body.byteLength} bytes exceeds the maximum of ${maxMessageSize}`,
        ),
      );
    }
    const sized = sizeMessage(header, body);
    if (sized.headerBytes > maxHeaderSize) {
      return Promise.reject(
        payloadTooLarge(
          ErrorIds.transport,
          `message header of ${sized.headerBytes} bytes exceeds the maximum of ${maxHeaderSize}`,
        ),
      );
    }
    const buffer = encodeMessage(header, body, sized);
    return new Promise<void>((resolve, reject) => {
      const pending: PendingSend = { resolve, reject };
      this.#sends ??= new Set();
      const sends = this.#sends;
      sends.add(pending);
      this.write(buffer, (error) => {
        if (!sends.delete(pending)) return;
        if (error) {
          reject(
            this.#makeError
              ? this.#terminal()
              : unavailable(ErrorIds.transport, `write to ${this.remote} failed`, error),
          );
        } else {
          resolve();
        }
      });
    });
  }

  recv(): Promise<Message> {
    const queue = this.#queue;
    if (queue !== undefined && queue.length > 0) {
      const message = queue.shift()!;
      if (queue.length === 0) this.startReading();
      return Promise.resolve(message);
    }
    if (this.#makeError) return Promise.reject(this.#terminal());
    return new Promise<Message>((resolve, reject) => {
      const waiter = { resolve, reject };
      if (this.#waiter === undefined) this.#waiter = waiter;
      else if (this.#waiters) this.#waiters.push(waiter);
      else this.#waiters = [waiter];
      this.startReading();
    });
  }

  close(): Promise<void> {
    if (this.#closed) return RESOLVED;
    this.#closed = true;
    this.#queue = undefined;
    this.#error = undefined;
    this.#makeError = () => unavailable(ErrorIds.transport, `socket to ${this.remote} closed`);
    this.#rejectWaiters();
    if (!this.#ended) {
      this.finish();
      // Keep reading and dropping what still arrives, so the call can end.
      this.startReading();
    }
    return RESOLVED;
  }

  /**
   * Fails the conversation at once: pending and later `recv` and `send` reject
   * with `error`, and the peer sees the call end.
   * @param error a 503 or 413 MicroError
   */
  fail(error: MicroError): void {
    if (this.#closed && this.#ended) return;
    const wasEnded = this.#ended;
    this.#closed = true;
    this.#ended = true;
    this.#queue = undefined;
    this.#error = error;
    this.#makeError = () => error;
    this.#rejectWaiters();
    this.#rejectSends();
    if (!wasEnded) this.abort(error);
  }

  /** Requests the next message unless one is already on its way. */
  protected startReading(): void {
    if (this.#readPending || this.#ended) return;
    this.#readPending = true;
    this.requestRead();
  }

  /** grpc-js delivered one message. */
  protected received(buffer: Buffer): void {
    this.#readPending = false;
    if (this.#closed) {
      this.startReading();
      return;
    }
    let message: Message;
    try {
      message = decodeMessage(buffer);
    } catch (error) {
      const detail = (error as Error).message;
      this.limits.logger.warn('malformed message; ending the stream', {
        remote: this.remote,
        error: detail,
      });
      this.fail(badRequest(ErrorIds.transport, detail, error));
      return;
    }
    if (message.body.byteLength > this.limits.maxMessageSize) {
      const detail = `received a message body of ${message.body.byteLength} bytes, over the maximum of ${this.limits.maxMessageSize}`;
      this.limits.logger.warn('message over the size limit; ending the stream', {
        remote: this.remote,
        error: detail,
      });
      this.fail(payloadTooLarge(ErrorIds.transport, detail));
      return;
    }
    const waiter = this.#takeWaiter();
    if (waiter) {
      waiter.resolve(message);
      // Read ahead one message, and notice the end of the call without a pending recv.
      this.startReading();
    } else if (this.#queue) {
      this.#queue.push(message);
    } else {
      this.#queue = [message];
    }
  }

  /**
   * The call can carry nothing more: the peer ended it or it failed. Messages
   * already received stay readable; then `recv` rejects with the error.
   * @param makeError makes what `recv` rejects with after the queue, and `send` with
   */
  protected ended(makeError: () => MicroError): void {
    this.#readPending = false;
    if (this.#ended) return;
    this.#ended = true;
    this.#makeError ??= makeError;
    if (this.#queue === undefined || this.#queue.length === 0) this.#rejectWaiters();
    this.#rejectSends();
  }

  /** The call is over on the wire; nothing more will happen to it. */
  protected done(makeError: () => MicroError): void {
    this.ended(makeError);
    if (this.#done) return;
    this.#done = true;
    this.onDone(this);
  }

  /** The terminal error, made on first use. */
  #terminal(): MicroError {
    this.#error ??= this.#makeError!();
    return this.#error;
  }

  #takeWaiter(): Waiter | undefined {
    const waiter = this.#waiter;
    this.#waiter = this.#waiters?.shift();
    return waiter;
  }

  #rejectWaiters(): void {
    if (this.#waiter === undefined) return;
    const error = this.#terminal();
    for (let waiter = this.#takeWaiter(); waiter; waiter = this.#takeWaiter()) {
      waiter.reject(error);
    }
  }

  #rejectSends(): void {
    const sends = this.#sends;
    if (sends === undefined || sends.size === 0) return;
    const pending = [...sends];
    sends.clear();
    const error = this.#terminal();
    for (const send of pending) send.reject(error);
  }
}
