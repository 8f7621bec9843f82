import type { Codec } from '../codec/codec.js';
import { ErrorIds, isMicroError, parseError, unavailable } from '../errors/errors.js';
import { getHeader } from '../metadata/metadata.js';
import type { Header, Message, Socket } from '../transport/transport.js';
import { END_OF_STREAM, Headers } from './headers.js';

/**
 * One side of a bidirectional stream, shared by client and server: values are
 * encoded with the conversation's codec, `Micro-Error: EOS` ends a direction and
 * any other `Micro-Error` fails the stream with go-micro's error JSON.
 */
export class RpcStream<Send, Recv> implements AsyncIterable<Recv> {
  #received = false;
  #sentEnd = false;
  #ended = false;
  #error: Error | undefined;

  /**
   * @param socket the conversation
   * @param codec encodes sent values and decodes received ones
   * @param header written on every message (the stream's routing headers)
   * @param first a message already read from the socket (the server's first request)
   */
  constructor(
    private readonly socket: Socket,
    private readonly codec: Codec,
    private readonly header: Header,
    private first?: Message,
  ) {}

  /**
   * Sends one value.
   * @throws {@link MicroError} 503 once the stream is closed
   */
  async send(value: Send): Promise<void> {
    if (this.#sentEnd) throw unavailable(ErrorIds.transport, 'stream closed for sending');
    await this.socket.send({ header: this.header, body: this.codec.marshal(value) });
  }

  /**
   * Receives the next value.
   * @returns the value, or undefined once the other side ended the stream
   * @throws {@link MicroError} the error the other side ended the stream with, or
   *   503 when the connection failed
   */
  async recv(): Promise<Recv | undefined> {
    if (this.#ended) return undefined;
    if (this.#error) throw this.#error;
    let message: Message;
    if (this.first) {
      message = this.first;
      this.first = undefined;
    } else {
      try {
        message = await this.socket.recv();
      } catch (error) {
        this.#error = isMicroError(error)
          ? error
          : unavailable(ErrorIds.transport, 'stream connection failed', error);
        throw this.#error;
      }
    }
    this.#received = true;
    const failure = getHeader(message.header, Headers.error);
    if (failure !== undefined && failure !== '') {
      if (failure === END_OF_STREAM) {
        this.#ended = true;
        return undefined;
      }
      const error = parseError(failure);
      this.#error = error;
      throw error;
    }
    return this.codec.unmarshal(message.body) as Recv;
  }

  /** True once the other side sent end-of-stream. */
  get ended(): boolean {
    return this.#ended;
  }

  /** True once anything was received. */
  get received(): boolean {
    return this.#received;
  }

  /** Ends this direction (go-micro's EOS); the other side's iteration finishes. */
  async closeSend(): Promise<void> {
    if (this.#sentEnd) return;
    this.#sentEnd = true;
    await this.socket
      .send({ header: { ...this.header, [Headers.error]: END_OF_STREAM }, body: EMPTY })
      .catch(() => {});
  }

  /** Ends the stream with an error the other side receives. */
  async fail(error: { toString(): string }): Promise<void> {
    if (this.#sentEnd) return;
    this.#sentEnd = true;
    await this.socket
      .send({ header: { ...this.header, [Headers.error]: error.toString() }, body: EMPTY })
      .catch(() => {});
  }

  /** Closes the conversation in both directions. */
  async close(): Promise<void> {
    this.#sentEnd = true;
    await this.socket.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Recv> {
    while (true) {
      const value = await this.recv();
      if (value === undefined && this.#ended) return;
      yield value as Recv;
    }
  }
}

const EMPTY = new Uint8Array(0);
