/**
 * Transports move `{header, body}` messages between processes. A Socket is one
 * conversation (one call or one stream); a transport may carry many Sockets over
 * one connection.
 */
import type { Logger } from '../logger/logger.js';

/** Message headers: go-micro's `map[string]string`, matched case-insensitively by readers. */
export type Header = Record<string, string>;

/**
 * Sets one header entry read from the network. A peer may send any key, and plain
 * assignment would turn `__proto__` into the object's prototype instead of an entry.
 * @param header the header being decoded
 * @param key the entry's name, as received
 * @param value the entry's value
 */
export function setHeaderEntry(header: Header, key: string, value: string): void {
  if (key === '__proto__') {
    Object.defineProperty(header, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    header[key] = value;
  }
}

/** One transport message. */
export interface Message {
  header: Header;
  body: Uint8Array;
}

/** One conversation between a client and a server. */
export interface Socket {
  /** This end's address (`host:port`, or a transport-specific name). */
  readonly local: string;
  /** The other end's address. */
  readonly remote: string;
  /**
   * Sends one message. Resolves once the transport has taken it (written, or
   * buffered within its bound); waiting here is how a fast writer is slowed down.
   * @throws {@link MicroError} 503 when the socket or its connection is closed,
   *   413 when the body is larger than the transport's maximum message size
   */
  send(message: Message): Promise<void>;
  /**
   * Receives the next message. Messages that arrived before the other end closed
   * are still delivered; after them this rejects.
   * @throws {@link MicroError} 503 once the socket is closed or its connection failed
   */
  recv(): Promise<Message>;
  /** Closes this conversation; the other end's pending and later `recv` reject. Idempotent. */
  close(): Promise<void>;
}

/** A bound server endpoint that hands each incoming conversation to a handler. */
export interface Listener {
  /** The bound address, with the real port when `:0` was asked for. */
  readonly address: string;
  /** Sets the handler called with every new incoming Socket. */
  accept(handler: (socket: Socket) => void): void;
  /** Stops accepting and closes the remaining conversations. Idempotent. */
  close(): Promise<void>;
}

/** Per-dial options. */
export interface DialOptions {
  /**
   * How long to wait for a connection, in milliseconds; 0 or less fails at once
   * with 503 (a caller with no time left).
   * @default the transport's `dialTimeout`
   */
  timeout?: number;
  /**
   * Aborts the dial: it rejects with the signal's reason when that is a
   * MicroError, else with 499.
   */
  signal?: AbortSignal;
}

/** Per-listen options; plugins extend this. */
export type ListenOptions = Record<never, never>;

/** Options every transport accepts; a plugin's options type extends this. */
export interface TransportOptions {
  /**
   * The largest message body accepted or sent, in bytes.
   * @default 4 MiB ({@link DEFAULT_MAX_MESSAGE_SIZE})
   */
  maxMessageSize?: number;
  /**
   * How long a dial waits for a connection, in milliseconds.
   * @default 5000 ({@link DEFAULT_DIAL_TIMEOUT})
   */
  dialTimeout?: number;
  /** Where the transport logs connection events. */
  logger?: Logger;
}

/** Moves messages between processes. */
export interface Transport {
  /** The name registered in node metadata (`transport`), e.g. `tcp`. */
  readonly name: string;
  /**
   * Opens a conversation with a listener.
   * @param address `host:port` (or the transport's own address form)
   * @throws {@link MicroError} 503 when the address cannot be reached in time
   */
  dial(address: string, options?: DialOptions): Promise<Socket>;
  /**
   * Binds a listener.
   * @param address `host:port`; port 0 picks a free port
   */
  listen(address: string, options?: ListenOptions): Promise<Listener>;
  /** Closes every connection the transport holds. */
  close(): Promise<void>;
}

/** The default largest message body: 4 MiB, go-micro's gRPC limit. */
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024;
/** The default dial timeout: 5 s, go-micro's `transport.DefaultDialTimeout`. */
export const DEFAULT_DIAL_TIMEOUT = 5_000;
