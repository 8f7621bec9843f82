import { ErrorIds, payloadTooLarge, unavailable } from '../errors/errors.js';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  type Listener,
  type Message,
  type Socket,
  type Transport,
  type TransportOptions,
} from './transport.js';

/** Options for the in-process transport. */
export type MemoryTransportOptions = TransportOptions;

type Waiter = { resolve: (message: Message) => void; reject: (error: Error) => void };

const RESOLVED: Promise<void> = Promise.resolve();

/** Every memory listener in this process, by address, shared by all MemoryTransports. */
const listeners = new Map<string, MemoryListener>();
let nextPort = 10_000;

/**
 * The error a closed conversation fails with, made once per listener: building
 * an Error (its stack) per closed socket would cost more than the call itself.
 */
function closedError(address: string): Error {
  return unavailable(ErrorIds.transport, `socket closed: ${address}`);
}

/**
 * One end of an in-process conversation. Messages are passed by reference, not
 * copied: a sender must not change a message after sending it.
 */
class MemorySocket implements Socket {
  peer!: MemorySocket;
  // One reader at a time is the norm: a single waiter slot and a lazily made
  // queue keep a unary call free of array allocations.
  #queue: Message[] | undefined;
  #waiter: Waiter | undefined;
  #waiters: Waiter[] | undefined;
  #closed = false;
  #peerClosed = false;

  constructor(
    readonly local: string,
    readonly remote: string,
    private readonly maxMessageSize: number,
    private readonly onClose: ((socket: MemorySocket) => void) | undefined,
    /** What `send` and `recv` fail with once closed. */
    private readonly closed: Error,
  ) {}

  send(message: Message): Promise<void> {
    if (this.#closed || this.#peerClosed) return Promise.reject(this.closed);
    if (message.body.byteLength > this.maxMessageSize) {
      return Promise.reject(
        payloadTooLarge(
          ErrorIds.transport,
          `message body of ${message.body.byteLength} bytes exceeds the maximum of ${this.maxMessageSize}`,
        ),
      );
    }
    this.peer.deliver(message);
    return RESOLVED;
  }

  recv(): Promise<Message> {
    const queue = this.#queue;
    if (queue !== undefined && queue.length > 0) return Promise.resolve(queue.shift()!);
    if (this.#closed || this.#peerClosed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      if (this.#waiter === undefined) this.#waiter = waiter;
      else if (this.#waiters) this.#waiters.push(waiter);
      else this.#waiters = [waiter];
    });
  }

  close(): Promise<void> {
    if (this.#closed) return RESOLVED;
    this.#closed = true;
    this.#queue = undefined;
    this.#rejectWaiters();
    this.peer.peerClosed();
    this.onClose?.(this);
    return RESOLVED;
  }

  deliver(message: Message): void {
    if (this.#closed) return;
    const waiter = this.#takeWaiter();
    if (waiter) waiter.resolve(message);
    else if (this.#queue) this.#queue.push(message);
    else this.#queue = [message];
  }

  peerClosed(): void {
    this.#peerClosed = true;
    // Queued messages stay readable; only waiters with nothing left to read fail.
    this.#rejectWaiters();
  }

  #takeWaiter(): Waiter | undefined {
    const waiter = this.#waiter;
    this.#waiter = this.#waiters?.shift();
    return waiter;
  }

  #rejectWaiters(): void {
    for (let waiter = this.#takeWaiter(); waiter; waiter = this.#takeWaiter()) {
      waiter.reject(this.closed);
    }
  }
}

class MemoryListener implements Listener {
  #handler: ((socket: Socket) => void) | undefined;
  readonly #sockets = new Set<MemorySocket>();
  readonly #forget = (socket: MemorySocket) => this.#sockets.delete(socket);
  #clients = 0;

  /** The close errors of this listener's conversations, client side and server side. */
  readonly #closedForClients: Error;
  readonly #closedForServer: Error;

  constructor(
    readonly address: string,
    private readonly maxMessageSize: number,
  ) {
    this.#closedForClients = closedError(address);
    this.#closedForServer = closedError(`a caller of ${address}`);
  }

  accept(handler: (socket: Socket) => void): void {
    this.#handler = handler;
  }

  connect(maxMessageSize: number): MemorySocket {
    const clientAddress = `memory-client-${++this.#clients}`;
    const client = new MemorySocket(
      clientAddress,
      this.address,
      maxMessageSize,
      undefined,
      this.#closedForClients,
    );
    const server = new MemorySocket(
      this.address,
      clientAddress,
      this.maxMessageSize,
      this.#forget,
      this.#closedForServer,
    );
    client.peer = server;
    server.peer = client;
    this.#sockets.add(server);
    const handler = this.#handler;
    if (handler) handler(server);
    else void server.close();
    return client;
  }

  close(): Promise<void> {
    if (listeners.get(this.address) === this) listeners.delete(this.address);
    for (const socket of [...this.#sockets]) void socket.close();
    return RESOLVED;
  }
}

/**
 * An in-process transport: dial reaches a listener in the same process with no
 * I/O, so the whole RPC stack runs in one process for tests and single-process apps.
 * Addresses look like `127.0.0.1:<port>` but no port is bound.
 */
export class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly #maxMessageSize: number;

  /** @param options the maximum message size */
  constructor(options: MemoryTransportOptions = {}) {
    this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  dial(address: string): Promise<Socket> {
    const listener = listeners.get(address);
    if (!listener) {
      return Promise.reject(unavailable(ErrorIds.transport, `connection refused: ${address}`));
    }
    return Promise.resolve(listener.connect(this.#maxMessageSize));
  }

  listen(address: string): Promise<Listener> {
    const colon = address.lastIndexOf(':');
    const host = (colon === -1 ? address : address.slice(0, colon)) || '127.0.0.1';
    let port = colon === -1 ? 0 : Number(address.slice(colon + 1));
    if (port === 0) {
      while (listeners.has(`${host}:${nextPort}`)) nextPort++;
      port = nextPort++;
    }
    const bound = `${host}:${port}`;
    if (listeners.has(bound)) {
      return Promise.reject(unavailable(ErrorIds.transport, `address already in use: ${bound}`));
    }
    const listener = new MemoryListener(bound, this.#maxMessageSize);
    listeners.set(bound, listener);
    return Promise.resolve(listener);
  }

  close(): Promise<void> {
    return RESOLVED;
  }
}

/**
 * Creates the in-process transport.
 * @param options the maximum message size
 */
export function createMemoryTransport(options?: MemoryTransportOptions): MemoryTransport {
  return new MemoryTransport(options);
}
