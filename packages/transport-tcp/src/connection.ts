/**
 * One TCP (or TLS) connection carrying many streams, and the Socket of one stream.
 * Internal: the transport and listener create these.
 */
import type { Socket as NetSocket } from 'node:net';
import {
  badRequest,
  ErrorIds,
  formatAddress,
  type Header,
  internalServerError,
  type Logger,
  type Message,
  type MicroError,
  parseError,
  payloadTooLarge,
  type Socket,
  unavailable,
} from '@micro/core';
import { networkError } from './errors.js';
import {
  decodeHeaderBlock,
  FIXED_PAYLOAD,
  FrameFlags,
  FrameReader,
  type FrameSink,
  FrameType,
  FrameWriter,
  headerBlockSize,
  PREFIX_SIZE,
  PROTOCOL_VERSION,
  ProtocolError,
  readUint32,
} from './frame.js';

/** The limits one side enforces and announces in its SETTINGS frame. */
export interface Limits {
  maxMessageSize: number;
  maxHeaderSize: number;
  streamWindow: number;
  maxStreams: number;
  writeHighWaterMark: number;
  connectionBufferLimit: number;
}

/** What a connection tells its owner. */
export interface ConnectionHooks {
  /** A stream the peer opened (listener side only). */
  accept?(socket: TcpSocket): void;
  /** The peer's SETTINGS arrived: the connection is usable. */
  ready?(connection: Connection): void;
  /** The connection is gone; every stream on it has been failed with `error`. */
  closed(connection: Connection, error: MicroError): void;
}

const HANDSHAKE = 0;
const OPEN = 1;
const CLOSED = 2;

/**
 * How many encoded bytes are written at once instead of at the end of the tick.
 * One write per tick makes two busy peers take turns (each idle while the other
 * works); writing from 4 KiB on lets the peer start on the first answers. Measured
 * best among 1-8 KiB by bench/transports.mjs (c64: 0.91x -> 1.56x raw).
 */
export const EARLY_WRITE_BYTES = 4096;

/** How long a closing connection waits for the peer to close before it is destroyed. */
const CLOSE_GRACE = 2_000;

const RESOLVED: Promise<void> = Promise.resolve();
const EMPTY = new Uint8Array(0);

function flushConnection(connection: Connection): void {
  connection.flush();
}

/**
 * Frames written while a 'data' event is handled are flushed by a nextTick queued
 * from a microtask: Node runs nextTicks before microtasks, so a plain nextTick
 * queued there would fire before the promise continuations (handlers answering
 * those frames) have run, and split one tick's frames over two writes. Frames
 * written anywhere else (in a continuation) use a plain nextTick, which then runs
 * after the microtask queue has drained.
 */
function deferFlush(this: Connection): void {
  process.nextTick(flushConnection, this);
}

function readSetting(header: Header, key: string, fallback: number): number {
  const text = header[key];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1 || value > 0xffffffff) {
    throw new ProtocolError(`invalid SETTINGS value ${key}=${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * One connection, client or listener side. Frames for the whole connection are
 * encoded into one {@link FrameWriter} and written once per tick.
 */
export class Connection implements FrameSink {
  /** Streams by id: an array indexed by small recycled ids, never a growing map. */
  streams: (TcpSocket | undefined)[] = [];
  readonly #freeIds: number[] = [];
  #nextId = 1;
  /** Streams in the table (not yet closed in both directions). */
  openStreams = 0;
  /** Consecutive idle sweeps that found no open stream (dialed connections only). */
  idleSweeps = 0;
  #state = HANDSHAKE;
  /** Why the connection closed. */
  failure: MicroError | undefined;
  /** The largest body this side may send: its own limit and the peer's, whichever is smaller. */
  sendMessageLimit: number;
  /** The largest header block this side may send. */
  sendHeaderLimit: number;
  /** The window a new stream starts with for sending: the peer's `stream-window`. */
  peerStreamWindow: number;
  #peerMaxStreams: number;
  readonly writer = new FrameWriter();
  readonly #reader: FrameReader;
  #flushScheduled = false;
  /** True while {@link flush} writes, so frames encoded meanwhile wait for the next one. */
  #flushing = false;
  /** True while frames are being handled inside a 'data' event. */
  #reading = false;
  #flushAfterRead = false;
  readonly #deferFlush = deferFlush.bind(this);
  #blocked: (TcpSocket | undefined)[] = [];
  #blockedHead = 0;
  /** Bytes that arrived and wait in stream queues. */
  bufferedBytes = 0;
  #paused = false;
  /** Half the stream window: a stream grants more window once it has read this much. */
  readonly windowThreshold: number;
  #timer: NodeJS.Timeout | undefined;
  #deadline = 0;
  #ready!: Promise<void>;
  #resolveReady: (() => void) | undefined;
  #rejectReady: ((error: MicroError) => void) | undefined;
  /** This end's address. */
  local: string;
  #closedErrors: [local: MicroError | undefined, byPeer: MicroError | undefined] = [
    undefined,
    undefined,
  ];

  /**
   * @param socket a connected or connecting node:net / node:tls socket
   * @param role `client` for dialed connections (they open streams), `server` for accepted ones
   * @param remote the peer's address, as dialed or as seen by the listener
   * @param local this end's address (the listener's, or filled in once connected)
   */
  constructor(
    readonly socket: NetSocket,
    readonly role: 'client' | 'server',
    readonly remote: string,
    local: string,
    readonly limits: Limits,
    readonly logger: Logger,
    readonly hooks: ConnectionHooks,
  ) {
    this.local = local;
    this.sendMessageLimit = limits.maxMessageSize;
    this.sendHeaderLimit = limits.maxHeaderSize;
    this.peerStreamWindow = limits.streamWindow;
    this.#peerMaxStreams = limits.maxStreams;
    this.windowThreshold = Math.max(1, Math.floor(limits.streamWindow / 2));
    // Until the handshake, only a SETTINGS frame is acceptable: keep the limit small.
    this.#reader = new FrameReader(this, FIXED_PAYLOAD + limits.maxHeaderSize);
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.#ready.catch(() => {});
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#release());
    socket.on('end', () => this.#onEnd());
    socket.on('error', (error: Error) => this.#onError(error));
    socket.on('close', () => this.#onClose());
    this.writer.writeMessage(
      0,
      FrameType.Settings,
      {
        version: String(PROTOCOL_VERSION),
        'max-message-size': String(limits.maxMessageSize),
        'max-header-size': String(limits.maxHeaderSize),
        'stream-window': String(limits.streamWindow),
        'max-streams': String(limits.maxStreams),
      },
      EMPTY,
      limits.maxHeaderSize,
    );
    this.flush();
  }

  /** Resolves once the peer's SETTINGS arrived; rejects with a 503 if the connection fails first. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** True once the handshake is done and until the connection closes. */
  get isOpen(): boolean {
    return this.#state === OPEN;
  }

  /** True once the connection has closed or started closing. */
  get isClosed(): boolean {
    return this.#state === CLOSED;
  }

  /**
   * Fails the connection unless the handshake completes within `ms` from now. A
   * later deadline replaces an earlier one, never the reverse: concurrent dials
   * share the connect, which lasts as long as the most patient of them.
   */
  handshakeDeadline(ms: number, describe: () => MicroError): void {
    if (this.#state !== HANDSHAKE) return;
    const deadline = Date.now() + ms;
    if (this.#timer !== undefined) {
      if (deadline <= this.#deadline) return;
      clearTimeout(this.#timer);
    }
    this.#deadline = deadline;
    this.#timer = setTimeout(() => {
      if (this.#state === HANDSHAKE) this.fail(describe(), false);
    }, ms);
    this.#timer.unref();
  }

  // ---------------------------------------------------------------------------------------
  // streams

  /**
   * Opens a stream on a dialed connection: no frame is sent until its first message.
   * @throws {@link MicroError} 503 when the connection is closed or has too many streams
   */
  openStream(): TcpSocket {
    if (this.#state !== OPEN) {
      throw (
        this.failure ?? unavailable(ErrorIds.transport, `connection to ${this.remote} is closed`)
      );
    }
    let id = this.#freeIds.pop();
    if (id === undefined) {
      if (this.#nextId > this.#peerMaxStreams) {
        throw unavailable(
          ErrorIds.transport,
          `too many open sockets to ${this.remote}: the peer allows ${this.#peerMaxStreams} per connection`,
        );
      }
      id = this.#nextId++;
    }
    const socket = new TcpSocket(this, id, false);
    this.streams[id] = socket;
    // A dialed connection keeps the process alive only while it carries a Socket,
    // like http.Agent's free sockets: an idle pool never holds a process open.
    if (this.openStreams++ === 0) this.socket.ref();
    this.idleSweeps = 0;
    return socket;
  }

  /** Forgets a stream that is closed in both directions; its id can be used again. */
  release(socket: TcpSocket): void {
    const id = socket.id;
    if (this.streams[id] !== socket) return;
    this.streams[id] = undefined;
    this.openStreams--;
    if (this.role === 'client') {
      this.#freeIds.push(id);
      if (this.openStreams === 0) this.socket.unref();
    }
  }

  /** The error of a Socket closed normally, built once per connection. */
  closedError(byPeer: boolean): MicroError {
    const index = byPeer ? 1 : 0;
    let error = this.#closedErrors[index];
    if (error === undefined) {
      error = unavailable(
        ErrorIds.transport,
        byPeer ? `socket closed by peer: ${this.remote}` : `socket closed: ${this.remote}`,
      );
      this.#closedErrors[index] = error;
    }
    return error;
  }

  // ---------------------------------------------------------------------------------------
  // writing

  /** True when a new message may be written now: nothing is waiting and the buffer is below its mark. */
  canWrite(): boolean {
    return this.#blockedHead === this.#blocked.length && this.hasRoom();
  }

  /** True when the bytes waiting to be written are below the high-water mark. */
  hasRoom(): boolean {
    return this.writer.bytes + this.socket.writableLength < this.limits.writeHighWaterMark;
  }

  /** Queues a stream that has messages to send once the socket drains. */
  block(socket: TcpSocket): void {
    this.#blocked.push(socket);
  }

  /** Writes what was encoded this tick, once (sooner once {@link EARLY_WRITE_BYTES} wait). */
  scheduleFlush(): void {
    // Not from inside flush: its release of blocked streams encodes more frames.
    if (!this.#flushing && this.writer.bytes >= EARLY_WRITE_BYTES) {
      this.flush();
      return;
    }
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    if (this.#reading) this.#flushAfterRead = true;
    else process.nextTick(flushConnection, this);
  }

  /** Writes everything encoded so far, in one write (or one writev). */
  flush(): void {
    this.#flushScheduled = false;
    if (this.writer.empty || this.#flushing) return;
    this.#flushing = true;
    try {
      this.#write();
    } finally {
      this.#flushing = false;
    }
    if (!this.writer.empty) this.scheduleFlush();
  }

  #write(): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      this.writer.take();
      return;
    }
    const single = this.writer.takeSingle();
    if (single !== undefined) {
      socket.write(single);
    } else {
      const chunks = this.writer.take();
      socket.cork();
      for (const chunk of chunks) socket.write(chunk);
      socket.uncork();
    }
    if (this.#blockedHead < this.#blocked.length) this.#release();
  }

  /** Lets blocked streams write while there is room, first blocked first. */
  #release(): void {
    const blocked = this.#blocked;
    while (this.#blockedHead < blocked.length && this.#state !== CLOSED) {
      if (!this.hasRoom()) return;
      const socket = blocked[this.#blockedHead]!;
      blocked[this.#blockedHead++] = undefined;
      socket.blocked = false;
      socket.pump();
    }
    if (this.#blockedHead === blocked.length) {
      this.#blocked = [];
      this.#blockedHead = 0;
    }
  }

  /** Queues a control frame; control frames never wait for the high-water mark. */
  writeControl(
    id: number,
    type: typeof FrameType.Close | typeof FrameType.Reset,
    body?: Uint8Array,
  ): void {
    if (this.#state === CLOSED) return;
    this.writer.writeControl(id, type, body);
    this.scheduleFlush();
  }

  /** Grants the peer `increment` more bytes of window on a stream. */
  writeWindow(id: number, increment: number): void {
    if (this.#state === CLOSED) return;
    this.writer.writeWindow(id, increment);
    this.scheduleFlush();
  }

  // ---------------------------------------------------------------------------------------
  // reading

  /** Counts bytes queued in a stream; pauses reading when the connection holds too many. */
  buffered(bytes: number): void {
    this.bufferedBytes += bytes;
    if (!this.#paused && this.bufferedBytes > this.limits.connectionBufferLimit) {
      this.#paused = true;
      this.socket.pause();
      this.logger.debug('paused reading: unread messages over the connection buffer limit', {
        remote: this.remote,
        buffered: this.bufferedBytes,
      });
    }
  }

  /** Counts bytes a stream handed to its reader; resumes reading below half the limit. */
  unbuffered(bytes: number): void {
    this.bufferedBytes -= bytes;
    if (this.#paused && this.bufferedBytes <= this.limits.connectionBufferLimit / 2) {
      this.#paused = false;
      if (this.#state !== CLOSED) this.socket.resume();
    }
  }

  #onData(chunk: Buffer): void {
    this.#reading = true;
    try {
      this.#reader.push(chunk);
      this.#reading = false;
      if (this.#flushAfterRead) {
        this.#flushAfterRead = false;
        // A promise reaction, not queueMicrotask: Node wraps the latter in an AsyncResource.
        RESOLVED.then(this.#deferFlush);
      }
    } catch (error) {
      this.#reading = false;
      this.#flushAfterRead = false;
      if (error instanceof ProtocolError) this.#protocolError(error);
      else {
        this.logger.error('unexpected error while reading a connection', {
          remote: this.remote,
          error,
        });
        this.fail(internalServerError(ErrorIds.transport, 'transport error', error), false);
      }
    }
  }

  /** Handles one frame (called by the reader). */
  frame(buffer: Buffer, start: number, length: number): void {
    const id = readUint32(buffer, start + 4);
    const type = buffer[start + 8]!;
    const headerLength = readUint32(buffer, start + 10);
    if (headerLength > length - FIXED_PAYLOAD) {
      throw new ProtocolError('header block overruns the frame', 400, id);
    }
    const headerStart = start + PREFIX_SIZE;
    const bodyStart = headerStart + headerLength;
    const end = start + 4 + length;
    if (this.#state !== OPEN) {
      if (this.#state === CLOSED) return;
      if (type !== FrameType.Settings || id !== 0) {
        throw new ProtocolError(`expected a SETTINGS frame first, got type ${type}`);
      }
      this.#settings(decodeHeaderBlock(buffer, headerStart, headerLength));
      return;
    }
    switch (type) {
      case FrameType.Data: {
        if (id === 0) throw new ProtocolError('DATA frame on stream 0');
        if (headerLength > this.limits.maxHeaderSize) {
          throw new ProtocolError(
            `header block of ${headerLength} bytes exceeds the limit of ${this.limits.maxHeaderSize}`,
            413,
            id,
          );
        }
        if (end - bodyStart > this.limits.maxMessageSize) {
          throw new ProtocolError(
            `body of ${end - bodyStart} bytes exceeds the limit of ${this.limits.maxMessageSize}`,
            413,
            id,
          );
        }
        const header = decodeHeaderBlock(buffer, headerStart, headerLength);
        const body = buffer.subarray(bodyStart, end);
        let socket = this.streams[id];
        if (socket === undefined) {
          if (this.role === 'client') return; // a stream this side already forgot
          if (id > this.limits.maxStreams) {
            throw new ProtocolError(
              `stream id ${id} exceeds max-streams ${this.limits.maxStreams}`,
            );
          }
          socket = new TcpSocket(this, id, true);
          this.streams[id] = socket;
          this.openStreams++;
          // Accept first: a handler that calls recv at once gets the message without a queue.
          this.#accept(socket);
        }
        socket.deliver(header, body, length);
        if ((buffer[start + 9]! & FrameFlags.End) !== 0) socket.remoteClose(undefined);
        return;
      }
      case FrameType.Close:
        this.streams[id]?.remoteClose(undefined);
        return;
      case FrameType.Reset: {
        const socket = this.streams[id];
        if (socket !== undefined) {
          const error = parseError(buffer.toString('utf8', bodyStart, end));
          socket.remoteClose(
            error.code === 0 ? unavailable(ErrorIds.transport, error.detail) : error,
          );
        }
        return;
      }
      case FrameType.Window:
        if (end - bodyStart !== 4)
          throw new ProtocolError('WINDOW frame without a 4-byte body', 400, id);
        this.streams[id]?.grant(buffer.readUInt32BE(bodyStart));
        return;
      case FrameType.Settings:
        throw new ProtocolError('SETTINGS frame after the handshake');
      default:
        throw new ProtocolError(`unknown frame type ${type}`, 400, id);
    }
  }

  #accept(socket: TcpSocket): void {
    const accept = this.hooks.accept;
    if (accept === undefined) {
      socket.abort(unavailable(ErrorIds.transport, 'this connection does not accept streams'));
      return;
    }
    try {
      accept(socket);
    } catch (error) {
      this.logger.error('accept handler threw', { remote: this.remote, error });
      socket.abort(internalServerError(ErrorIds.transport, 'accept handler failed', error));
    }
  }

  #settings(header: Header): void {
    const version = readSetting(header, 'version', 0);
    if (version < PROTOCOL_VERSION) {
      throw new ProtocolError(`unsupported protocol version ${version}`);
    }
    const maxMessageSize = readSetting(header, 'max-message-size', this.limits.maxMessageSize);
    const maxHeaderSize = readSetting(header, 'max-header-size', this.limits.maxHeaderSize);
    this.sendMessageLimit = Math.min(this.limits.maxMessageSize, maxMessageSize);
    this.sendHeaderLimit = Math.min(this.limits.maxHeaderSize, maxHeaderSize);
    this.peerStreamWindow = readSetting(header, 'stream-window', this.limits.streamWindow);
    this.#peerMaxStreams = Math.min(
      readSetting(header, 'max-streams', this.limits.maxStreams),
      0x7fffffff,
    );
    this.#state = OPEN;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.role === 'client' && this.socket.localAddress !== undefined) {
      this.local = formatAddress(this.socket.localAddress, this.socket.localPort ?? 0);
    }
    this.#reader.setMaxLength(
      FIXED_PAYLOAD + this.limits.maxHeaderSize + this.limits.maxMessageSize,
    );
    this.#resolveReady?.();
    this.hooks.ready?.(this);
  }

  #protocolError(error: ProtocolError): void {
    this.logger.warn('closing a connection that broke the protocol', {
      remote: this.remote,
      error: error.message,
    });
    if (error.streamId > 0 && this.#state === OPEN) {
      const detail = `${error.message}; closing the connection`;
      const failure =
        error.code === 413
          ? payloadTooLarge(ErrorIds.transport, detail)
          : badRequest(ErrorIds.transport, detail);
      const socket = this.streams[error.streamId];
      if (socket !== undefined) socket.abort(failure);
      else this.writeControl(error.streamId, FrameType.Reset, Buffer.from(failure.toString()));
    }
    this.fail(
      unavailable(ErrorIds.transport, `protocol error from ${this.remote}: ${error.message}`),
      true,
    );
  }

  // ---------------------------------------------------------------------------------------
  // closing

  /**
   * Closes the connection and fails every stream on it with `error`. Graceful:
   * what was written is flushed and the socket ended (destroyed after a grace
   * period); otherwise destroyed at once.
   */
  fail(error: MicroError, graceful: boolean): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    this.failure = error;
    this.#reader.stop();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const streams = this.streams;
    this.streams = [];
    this.openStreams = 0;
    for (const socket of streams) socket?.connectionFailed(error);
    this.#blocked = [];
    this.#blockedHead = 0;
    this.#rejectReady?.(error);
    this.#rejectReady = undefined;
    this.#resolveReady = undefined;
    this.hooks.closed(this, error);
    const socket = this.socket;
    if (graceful && !socket.destroyed) {
      this.flush();
      socket.end();
      if (this.#paused) socket.resume();
      this.#timer = setTimeout(() => socket.destroy(), CLOSE_GRACE);
      this.#timer.unref();
    } else {
      socket.destroy();
    }
  }

  #onEnd(): void {
    if (this.#state === CLOSED) return;
    if (this.#reader.midFrame) {
      this.logger.warn('connection closed in the middle of a frame', { remote: this.remote });
    }
    const detail =
      this.#state === HANDSHAKE
        ? `${this.remote} closed the connection during the handshake (not a @micro tcp listener, or a TLS mismatch)`
        : `connection closed by ${this.remote}`;
    this.fail(unavailable(ErrorIds.transport, detail), true);
  }

  #onError(error: Error): void {
    if (this.#state === CLOSED) return;
    const failure = networkError(this.remote, error, this.#state === HANDSHAKE);
    if (this.#state === OPEN && this.openStreams > 0) {
      this.logger.warn('connection failed', {
        remote: this.remote,
        sockets: this.openStreams,
        error: failure.detail,
      });
    } else {
      this.logger.debug('connection failed', { remote: this.remote, error: failure.detail });
    }
    this.fail(failure, false);
  }

  #onClose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#state !== CLOSED) {
      this.fail(unavailable(ErrorIds.transport, `connection to ${this.remote} closed`), false);
    }
  }
}

interface Waiter {
  resolve(message: Message): void;
  reject(error: Error): void;
}

interface PendingSend {
  header: Header;
  body: Uint8Array;
  resolve(): void;
  reject(error: Error): void;
}

type Resolve = (message: Message) => void;
type Reject = (error: Error) => void;

/**
 * One conversation over a multiplexed connection. Created by dial (client side)
 * or by the first DATA frame of a new stream id (listener side). Kept lean: an
 * RPC call creates one per side, so queues are allocated only when needed.
 */
export class TcpSocket implements Socket {
  readonly local: string;
  readonly remote: string;
  /** Messages that arrived before anyone asked; null while none have. */
  #queue: (Message | undefined)[] | null = null;
  #sizes: number[] | null = null;
  #head = 0;
  /** The first pending recv, and any further ones (rare: concurrent recv on one socket). */
  #resolve: Resolve | undefined;
  #reject: Reject | undefined;
  #waiters: Waiter[] | null = null;
  #pending: (PendingSend | undefined)[] | null = null;
  #pendingHead = 0;
  /** Bytes this side may still send before the peer grants more. */
  sendWindow: number;
  /** Bytes received and not granted back yet: the peer may not push this past the window. */
  #outstanding = 0;
  /** Bytes read by the application since the last grant. */
  #consumed = 0;
  /** True once the peer knows this stream (its first DATA went out, or it came from the peer). */
  #opened: boolean;
  #userClosed = false;
  #sentClose = false;
  #remoteClosed = false;
  #closedByPeer = false;
  #error: MicroError | undefined;
  /** True while queued in the connection's blocked list. */
  blocked = false;
  /** Where the flags byte of this stream's last DATA frame is, while it may still be unwritten. */
  #lastFlags: Buffer | undefined;
  #lastFlagsAt = 0;
  #lastGeneration = -1;

  /**
   * @param connection the connection this stream lives on
   * @param id the stream id
   * @param opened true for a stream the peer opened
   */
  constructor(
    readonly connection: Connection,
    readonly id: number,
    opened: boolean,
  ) {
    this.local = connection.local;
    this.remote = connection.remote;
    this.sendWindow = connection.peerStreamWindow;
    this.#opened = opened;
  }

  send(message: Message): Promise<void> {
    if (this.#sentClose || this.#remoteClosed) return Promise.reject(this.#closedError());
    const body = message.body;
    if (!(body instanceof Uint8Array)) {
      return Promise.reject(badRequest(ErrorIds.transport, 'message body must be a Uint8Array'));
    }
    const connection = this.connection;
    if (body.byteLength > connection.sendMessageLimit) {
      return Promise.reject(
        payloadTooLarge(
          ErrorIds.transport,
          `message body of ${body.byteLength} bytes exceeds the maximum of ${connection.sendMessageLimit}`,
        ),
      );
    }
    const header = message.header ?? {};
    if (this.#pending === null && this.sendWindow > 0 && connection.canWrite()) {
      const length = connection.writer.writeMessage(
        this.id,
        FrameType.Data,
        header,
        body,
        connection.sendHeaderLimit,
      );
      if (length < 0) return Promise.reject(this.#headerTooLarge(header));
      this.#noteLastFrame();
      this.sendWindow -= length;
      this.#opened = true;
      connection.scheduleFlush();
      return RESOLVED;
    }
    if (headerBlockSize(header) > connection.sendHeaderLimit) {
      return Promise.reject(this.#headerTooLarge(header));
    }
    return new Promise<void>((resolve, reject) => {
      if (this.#pending === null) this.#pending = [];
      this.#pending.push({ header, body, resolve, reject });
      this.pump();
    });
  }

  #noteLastFrame(): void {
    const writer = this.connection.writer;
    this.#lastFlags = writer.lastFlagsBuffer;
    this.#lastFlagsAt = writer.lastFlagsAt;
    this.#lastGeneration = writer.generation;
  }

  /** Sends the CLOSE: as a flag on the last DATA frame when that is not written yet, else as a frame. */
  #sendClose(): void {
    const connection = this.connection;
    if (
      this.#lastFlags !== undefined &&
      connection.writer.setFlags(
        this.#lastFlags,
        this.#lastFlagsAt,
        this.#lastGeneration,
        FrameFlags.End,
      )
    ) {
      this.#lastFlags = undefined;
      return;
    }
    connection.writeControl(this.id, FrameType.Close);
  }

  #headerTooLarge(header: Header): MicroError {
    return payloadTooLarge(
      ErrorIds.transport,
      `message header of ${headerBlockSize(header)} bytes exceeds the maximum of ${this.connection.sendHeaderLimit}`,
    );
  }

  /** Writes waiting messages while the window and the connection's buffer allow. */
  pump(): void {
    const pending = this.#pending;
    if (pending === null) return;
    const connection = this.connection;
    while (this.#pendingHead < pending.length) {
      if (this.sendWindow <= 0) return;
      if (!connection.hasRoom()) {
        if (!this.blocked) {
          this.blocked = true;
          connection.block(this);
        }
        return;
      }
      const next = pending[this.#pendingHead]!;
      pending[this.#pendingHead++] = undefined;
      const length = connection.writer.writeMessage(
        this.id,
        FrameType.Data,
        next.header,
        next.body,
        connection.sendHeaderLimit,
      );
      if (length < 0) {
        next.reject(this.#headerTooLarge(next.header));
        continue;
      }
      this.#noteLastFrame();
      this.sendWindow -= length;
      this.#opened = true;
      connection.scheduleFlush();
      next.resolve();
    }
    this.#pending = null;
    this.#pendingHead = 0;
  }

  recv(): Promise<Message> {
    const queue = this.#queue;
    if (queue !== null) {
      const message = queue[this.#head]!;
      const size = this.#sizes![this.#head]!;
      queue[this.#head++] = undefined;
      if (this.#head === queue.length) {
        this.#queue = null;
        this.#sizes = null;
        this.#head = 0;
      }
      this.connection.unbuffered(size);
      this.#consume(size);
      return Promise.resolve(message);
    }
    if (this.#userClosed || this.#remoteClosed) return Promise.reject(this.#closedError());
    return new Promise<Message>((resolve, reject) => {
      if (this.#resolve === undefined) {
        this.#resolve = resolve;
        this.#reject = reject;
      } else {
        if (this.#waiters === null) this.#waiters = [];
        this.#waiters.push({ resolve, reject });
      }
    });
  }

  close(): Promise<void> {
    if (this.#userClosed) return RESOLVED;
    this.#userClosed = true;
    this.#dropQueue();
    this.#failWaiters();
    if (!this.#sentClose) {
      this.#sentClose = true;
      if (this.#opened) this.#sendClose();
      // A stream the peer never saw has nothing to wait for.
      else this.#remoteClosed = true;
    }
    this.#maybeRelease();
    return RESOLVED;
  }

  /** Closes this stream with an error the peer receives in a RESET frame. */
  abort(error: MicroError): void {
    this.#userClosed = true;
    this.#error ??= error;
    this.#dropQueue();
    this.#failWaiters();
    if (!this.#sentClose) {
      this.#sentClose = true;
      if (this.#opened) {
        this.connection.writeControl(this.id, FrameType.Reset, Buffer.from(error.toString()));
      } else this.#remoteClosed = true;
    }
    this.#maybeRelease();
  }

  /** A DATA frame for this stream arrived. */
  deliver(header: Header, body: Buffer, size: number): void {
    if (this.#userClosed || this.#remoteClosed) return;
    if (this.#outstanding >= this.connection.limits.streamWindow) {
      throw new ProtocolError('DATA beyond the stream window', 400, this.id);
    }
    this.#outstanding += size;
    const message: Message = { header, body };
    const resolve = this.#resolve;
    if (resolve !== undefined) {
      const waiters = this.#waiters;
      if (waiters !== null && waiters.length > 0) {
        const next = waiters.shift()!;
        this.#resolve = next.resolve;
        this.#reject = next.reject;
      } else {
        this.#resolve = undefined;
        this.#reject = undefined;
      }
      resolve(message);
      this.#consume(size);
      return;
    }
    if (this.#queue === null) {
      this.#queue = [message];
      this.#sizes = [size];
    } else {
      this.#queue.push(message);
      this.#sizes!.push(size);
    }
    this.connection.buffered(size);
  }

  #consume(size: number): void {
    this.#consumed += size;
    const connection = this.connection;
    if (this.#consumed >= connection.windowThreshold && !this.#remoteClosed && !this.#userClosed) {
      connection.writeWindow(this.id, this.#consumed);
      this.#outstanding -= this.#consumed;
      this.#consumed = 0;
    }
  }

  /** The peer granted more window. */
  grant(increment: number): void {
    this.sendWindow += increment;
    if (this.#pending !== null && !this.blocked) this.pump();
  }

  /** The peer closed (CLOSE) or aborted (RESET, with `error`) this stream. */
  remoteClose(error: MicroError | undefined): void {
    if (this.#remoteClosed) return;
    this.#remoteClosed = true;
    if (error !== undefined) this.#error ??= error;
    else if (!this.#userClosed) this.#closedByPeer = true;
    // Messages already queued stay readable; only waiters (who have none) fail now.
    this.#failWaiters();
    if (!this.#sentClose) {
      this.#sentClose = true;
      this.#sendClose();
    }
    this.#maybeRelease();
  }

  /** The connection is gone. */
  connectionFailed(error: MicroError): void {
    this.#remoteClosed = true;
    this.#sentClose = true;
    if (!this.#userClosed && !this.#closedByPeer) this.#error ??= error;
    this.#failWaiters();
  }

  #maybeRelease(): void {
    if (this.#sentClose && this.#remoteClosed) this.connection.release(this);
  }

  #dropQueue(): void {
    const sizes = this.#sizes;
    if (sizes !== null) {
      let bytes = 0;
      for (let i = this.#head; i < sizes.length; i++) bytes += sizes[i]!;
      if (bytes > 0) this.connection.unbuffered(bytes);
    }
    this.#queue = null;
    this.#sizes = null;
    this.#head = 0;
  }

  #failWaiters(): void {
    const reject = this.#reject;
    if (reject !== undefined) {
      const error = this.#closedError();
      const waiters = this.#waiters;
      this.#resolve = undefined;
      this.#reject = undefined;
      this.#waiters = null;
      reject(error);
      if (waiters !== null) for (const waiter of waiters) waiter.reject(error);
    }
    const pending = this.#pending;
    if (pending !== null) {
      const head = this.#pendingHead;
      this.#pending = null;
      this.#pendingHead = 0;
      const error = this.#closedError();
      for (let i = head; i < pending.length; i++) pending[i]!.reject(error);
    }
  }

  /**
   * Why recv and send fail now. Plain closes share one error per connection:
   * building an Error captures a stack, too costly to do for every call.
   */
  #closedError(): MicroError {
    return this.#error ?? this.connection.closedError(this.#closedByPeer);
  }
}
