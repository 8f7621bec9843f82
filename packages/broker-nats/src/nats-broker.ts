import {
  type Broker,
  type BrokerHandler,
  type BrokerMessage,
  createConsoleLogger,
  decodeEnvelope,
  dispatchEvent,
  ErrorIds,
  type Event,
  encodeEnvelope,
  errorMessage,
  InFlight,
  type Logger,
  type MicroError,
  type PublishOptions,
  payloadTooLarge,
  type SubscribeOptions,
  type Subscriber,
  unavailable,
} from '@micro/core';
import {
  type ConnectionOptions,
  connect,
  DebugEvents,
  Events,
  type Msg,
  type NatsConnection,
  type NatsError,
  type Status,
  type Subscription,
} from 'nats';
import { checkQueue, checkTopic } from './envelope.js';
import { toMicroError } from './errors.js';
import {
  type NatsBrokerOptions,
  type ResolvedNatsBrokerOptions,
  resolveOptions,
} from './options.js';

const noop = (): void => {};

// NATS core has no acknowledgements: a message is delivered at most once, so
// ack and nack have nothing to tell the server (go-micro's publication.Ack
// returns nil too).
const settled = (): Promise<void> => Promise.resolve();

/**
 * nats.js v2 sets `protocol.connected` to false the moment the socket closes, before
 * the Disconnect status reaches the status iterator. A publish in that gap would go
 * into the client's outbound buffer, which the next dial attempt empties without a
 * word, so the broker checks this flag as well as its own state.
 */
function socketUp(connection: NatsConnection): boolean {
  const protocol = (connection as unknown as { protocol?: { connected?: unknown } }).protocol;
  return typeof protocol?.connected === 'boolean' ? protocol.connected : true;
}

/** Rejects with `onTimeout()` when `promise` has not settled after `ms`. */
function deadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** A publish made while disconnected, waiting for the connection to come back. */
interface HeldPublish {
  topic: string;
  payload: Uint8Array;
  resolve: () => void;
  reject: (error: MicroError) => void;
  timer: NodeJS.Timeout;
}

interface Delivery {
  event: Event;
  size: number;
}

interface SubscriberContext {
  logger: Logger;
  handlers: InFlight;
  maxPendingMessages: number;
  maxPendingBytes: number;
  forget: (subscriber: NatsSubscriber) => void;
}

/**
 * One subscription. Messages are handled one at a time in arrival order (as
 * nats.go runs a subscription's callbacks), so an async handler sees them in order.
 */
class NatsSubscriber implements Subscriber {
  /** Handlers of this subscription that run or wait to run. */
  readonly inFlight = new InFlight();
  #subscription: Subscription | undefined;
  #active = true;
  #items: (Delivery | undefined)[] = [];
  #head = 0;
  #pendingBytes = 0;
  #pumping = false;
  #dropped = 0;

  constructor(
    readonly topic: string,
    readonly queue: string | undefined,
    private readonly handler: BrokerHandler,
    private readonly autoAck: boolean,
    private readonly context: SubscriberContext,
  ) {}

  attach(subscription: Subscription): void {
    this.#subscription = subscription;
  }

  get pending(): number {
    return this.#items.length - this.#head;
  }

  /** The nats client's callback for this subscription. */
  receive(error: NatsError | null, msg: Msg): void {
    const { logger } = this.context;
    if (error) {
      logger.error('nats: subscription error', {
        topic: this.topic,
        queue: this.queue,
        error: error.message,
      });
      return;
    }
    if (!this.#active) return;
    const size = msg.data.byteLength;
    if (
      this.pending >= this.context.maxPendingMessages ||
      this.#pendingBytes + size > this.context.maxPendingBytes
    ) {
      if (this.#dropped++ === 0) {
        logger.error('nats: slow consumer: handlers fall behind, dropping new messages', {
          topic: this.topic,
          queue: this.queue,
          pending: this.pending,
          pendingBytes: this.#pendingBytes,
        });
      }
      return;
    }
    let message: BrokerMessage;
    try {
      message = decodeEnvelope(msg.data);
    } catch (decodeError) {
      // go-micro hands such a message only to the optional error handler, never to
      // the subscriber; the subscription goes on.
      logger.error('nats: dropped a message that is not a go-micro broker envelope', {
        topic: msg.subject,
        queue: this.queue,
        bytes: size,
        error: errorMessage(decodeError),
      });
      return;
    }
    this.#items.push({
      event: { topic: msg.subject, message, ack: settled, nack: settled },
      size,
    });
    this.#pendingBytes += size;
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    const endHere = this.inFlight.begin();
    const endAll = this.context.handlers.begin();
    try {
      while (this.#head < this.#items.length) {
        const delivery = this.#items[this.#head]!;
        this.#items[this.#head++] = undefined;
        if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
          this.#items = this.#items.slice(this.#head);
          this.#head = 0;
        }
        await dispatchEvent(this.handler, delivery.event, {
          autoAck: this.autoAck,
          logger: this.context.logger,
        });
        this.#pendingBytes -= delivery.size;
      }
      this.#items = [];
      this.#head = 0;
      if (this.#dropped > 0) {
        this.context.logger.warn('nats: slow consumer caught up', {
          topic: this.topic,
          queue: this.queue,
          dropped: this.#dropped,
        });
        this.#dropped = 0;
      }
    } finally {
      this.#pumping = false;
      endHere();
      endAll();
    }
  }

  /**
   * Stops delivery: the server is told at once, and no new message is queued.
   * Messages already received are still handled.
   */
  stop(): void {
    if (!this.#active) return;
    this.#active = false;
    this.context.forget(this);
    try {
      this.#subscription?.unsubscribe();
    } catch {
      // the connection is already closed: the server dropped the interest with it
    }
  }

  /**
   * Drops the messages that are received but not started, after a drain timeout.
   * @returns how many were dropped
   */
  abandon(): number {
    const dropped = this.pending;
    this.#items = [];
    this.#head = 0;
    this.#pendingBytes = 0;
    return dropped;
  }

  async unsubscribe(): Promise<void> {
    this.stop();
    await this.inFlight.drain();
  }
}

/**
 * go-micro's NATS broker (`broker/nats`): subject = topic, payload = go-micro's JSON
 * envelope `{"Header":{…},"Body":"<base64>"}`, queue option = NATS queue group.
 *
 * NATS core delivers at most once: `ack` and `nack` are no-ops and a failing
 * handler's message is not delivered again. The connection reconnects by itself
 * and restores every subscription; publishes made while it is down are held (up to
 * `reconnectBufferSize` bytes, for `publishTimeout` ms) and sent when it is back,
 * or fail with a 503: never silently dropped.
 *
 * @example
 * const broker = createNatsBroker({ addresses: ['nats://127.0.0.1:4222'] });
 * await broker.connect();
 * await broker.subscribe('greeter.events', (event) => {
 *   console.log(event.message.header['Micro-Topic'], Buffer.from(event.message.body).toString());
 * });
 * await broker.publish('greeter.events', { header: {}, body: Buffer.from('{"name":"Ada"}') });
 */
export class NatsBroker implements Broker {
  /** go-micro's name for this broker, registered in node metadata (`broker: nats`). */
  readonly name = 'nats';
  readonly #options: ResolvedNatsBrokerOptions;
  readonly #logger: Logger;
  readonly #handlers = new InFlight();
  readonly #subscribers = new Set<NatsSubscriber>();
  /** Topics already checked, so a hot publish path does not re-validate. */
  readonly #checkedTopics = new Set<string>();
  #connection: NatsConnection | undefined;
  #state: 'idle' | 'connected' | 'reconnecting' = 'idle';
  #accepting = false;
  #closing = false;
  #maxPayload = Number.POSITIVE_INFINITY;
  #held: HeldPublish[] = [];
  #heldBytes = 0;
  #lifecycle: Promise<void> = Promise.resolve();

  /**
   * @param options servers, credentials, reconnect and buffering; see {@link NatsBrokerOptions}
   * @throws {@link MicroError} 400 for an unsupported address or an invalid option value
   */
  constructor(options: NatsBrokerOptions = {}) {
    this.#options = resolveOptions(options);
    this.#logger = options.logger ?? createConsoleLogger({ name: 'broker-nats' });
  }

  /**
   * The server in use (`nats://host:port`) while connected, else the first configured
   * address, as go-micro's `Address()`.
   */
  get address(): string {
    const connection = this.#connection;
    if (connection && this.#state === 'connected' && !connection.isClosed()) {
      const server = connection.getServer();
      if (server) return `${this.#options.tls ? 'tls' : 'nats'}://${server}`;
    }
    return this.#options.addresses[0]!;
  }

  /** True while the connection to a server is up (false while reconnecting). */
  get connected(): boolean {
    const connection = this.#connection;
    return connection !== undefined && this.#state === 'connected' && socketUp(connection);
  }

  /**
   * Connects to one of the servers; idempotent.
   * @throws {@link MicroError} 503 when no server answers within `timeout` per address,
   *   401 when the server refuses the credentials
   */
  connect(): Promise<void> {
    return this.#serialize(() => this.#connect());
  }

  /**
   * Stops every subscription, waits for running handlers (at most `drainTimeout`),
   * then drains the connection: messages already published are flushed to the
   * server before it closes. Publishes still held for a reconnect fail with a 503.
   */
  disconnect(): Promise<void> {
    return this.#serialize(() => this.#disconnect());
  }

  /**
   * Publishes go-micro's envelope of `message` on subject `topic`. Resolves once the
   * message is handed to the connection; while the connection is being
   * re-established the message is held and the promise resolves when it is sent.
   * @param topic the NATS subject (no wildcards, no whitespace)
   * @param message header and body
   * @param _options none for NATS
   * @throws {@link MicroError} 400 for an invalid topic or a header value that is not a
   *   string; 413 when the envelope exceeds
   *   the server's max_payload; 503 when not connected, when the reconnect buffer is
   *   full, or when the connection is not back within `publishTimeout`
   */
  async publish(topic: string, message: BrokerMessage, _options?: PublishOptions): Promise<void> {
    if (!this.#checkedTopics.has(topic)) {
      checkTopic(topic, false);
      if (this.#checkedTopics.size >= 1024) this.#checkedTopics.clear();
      this.#checkedTopics.add(topic);
    }
    const connection = this.#connection;
    if (!connection || !this.#accepting) {
      throw unavailable(ErrorIds.broker, `nats: not connected: cannot publish to ${topic}`);
    }
    const payload = encodeEnvelope(message);
    if (payload.byteLength > this.#maxPayload) {
      throw payloadTooLarge(
        ErrorIds.broker,
        `nats: message to ${topic} is ${payload.byteLength} bytes as an envelope; the server accepts at most ${this.#maxPayload}`,
      );
    }
    if (this.#held.length === 0 && this.#state === 'connected' && socketUp(connection)) {
      try {
        connection.publish(topic, payload);
      } catch (error) {
        throw toMicroError(error, `cannot publish to ${topic}`);
      }
      return;
    }
    return this.#hold(topic, payload);
  }

  /**
   * Subscribes to a subject (wildcards `*` and `>` allowed). Resolves once the server
   * has confirmed the subscription, so messages published afterwards are delivered.
   * Handlers of one subscription run one at a time, in arrival order.
   * @param topic the NATS subject
   * @param handler runs for each message; with `autoAck` a throw is logged
   * @param options `queue` makes it a member of a NATS queue group
   * @returns the subscription
   * @throws {@link MicroError} 400 for an invalid topic or queue; 503 when not connected
   *   or when the server does not confirm within `timeout`; 403 when the server denies it
   */
  async subscribe(
    topic: string,
    handler: BrokerHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscriber> {
    checkTopic(topic, true);
    const queue = options.queue === '' ? undefined : options.queue;
    if (queue !== undefined) checkQueue(queue);
    const connection = this.#connection;
    if (!connection || !this.#accepting || this.#closing) {
      throw unavailable(ErrorIds.broker, `nats: not connected: cannot subscribe to ${topic}`);
    }
    const subscriber = new NatsSubscriber(topic, queue, handler, options.autoAck ?? true, {
      logger: this.#logger,
      handlers: this.#handlers,
      maxPendingMessages: this.#options.maxPendingMessages,
      maxPendingBytes: this.#options.maxPendingBytes,
      forget: (s) => this.#subscribers.delete(s),
    });
    try {
      subscriber.attach(
        connection.subscribe(topic, {
          ...(queue === undefined ? {} : { queue }),
          callback: (error, msg) => subscriber.receive(error, msg),
        }),
      );
    } catch (error) {
      throw toMicroError(error, `cannot subscribe to ${topic}`);
    }
    this.#subscribers.add(subscriber);
    const { timeout } = this.#options;
    const flushed = connection.flush();
    flushed.catch(noop);
    try {
      await deadline(flushed, timeout, () =>
        unavailable(
          ErrorIds.broker,
          `nats: the server did not confirm the subscription to ${topic} within ${timeout} ms`,
        ),
      );
    } catch (error) {
      subscriber.stop();
      throw toMicroError(error, `cannot subscribe to ${topic}`);
    }
    return subscriber;
  }

  #serialize(work: () => Promise<void>): Promise<void> {
    const run = this.#lifecycle.then(work, work);
    this.#lifecycle = run.then(noop, noop);
    return run;
  }

  #connectionOptions(): ConnectionOptions {
    const o = this.#options;
    const options: ConnectionOptions = {
      servers: o.addresses,
      timeout: o.timeout,
      reconnect: true,
      maxReconnectAttempts: o.maxReconnectAttempts,
      reconnectTimeWait: o.reconnectTimeWait,
      reconnectJitter: o.reconnectJitter,
      reconnectJitterTLS: o.reconnectJitterTLS,
      pingInterval: o.pingInterval,
      maxPingOut: o.maxPingOut,
      waitOnFirstConnect: false,
    };
    if (o.name !== undefined) options.name = o.name;
    if (o.user !== undefined) options.user = o.user;
    if (o.pass !== undefined) options.pass = o.pass;
    if (o.token !== undefined) options.token = o.token;
    if (o.tls !== undefined) options.tls = { ...o.tls };
    return options;
  }

  async #connect(): Promise<void> {
    if (this.#connection && !this.#connection.isClosed()) return;
    const servers = this.#options.addresses.join(', ');
    // nats.js bounds each attempt by `timeout` and tries each server once on the
    // first connect; this outer bound also covers name resolution.
    const bound = this.#options.timeout * this.#options.addresses.length + 1_000;
    const connecting = connect(this.#connectionOptions());
    let connection: NatsConnection;
    try {
      connection = await deadline(connecting, bound, () =>
        unavailable(ErrorIds.broker, `nats: no answer from ${servers} within ${bound} ms`),
      );
    } catch (error) {
      connecting.then((late) => late.close(), noop);
      throw toMicroError(error, `cannot connect to ${servers}`);
    }
    this.#connection = connection;
    this.#state = 'connected';
    this.#accepting = true;
    this.#maxPayload = connection.info?.max_payload ?? Number.POSITIVE_INFINITY;
    void this.#watch(connection);
    void connection.closed().then((error) => this.#closed(connection, error));
    this.#logger.info('nats: connected', { server: this.address });
  }

  async #watch(connection: NatsConnection): Promise<void> {
    try {
      for await (const status of connection.status()) this.#status(connection, status);
    } catch (error) {
      this.#logger.debug('nats: status stream ended', { error: errorMessage(error) });
    }
  }

  #status(connection: NatsConnection, status: Status): void {
    if (connection !== this.#connection) return;
    const server = typeof status.data === 'string' ? status.data : undefined;
    switch (status.type) {
      case Events.Disconnect:
        this.#state = 'reconnecting';
        this.#logger.warn('nats: disconnected from the server; reconnecting', {
          server,
          subscriptions: this.#subscribers.size,
        });
        break;
      case Events.Reconnect:
        this.#state = 'connected';
        this.#maxPayload = connection.info?.max_payload ?? this.#maxPayload;
        this.#logger.info('nats: reconnected; subscriptions restored', {
          server,
          subscriptions: this.#subscribers.size,
          held: this.#held.length,
        });
        this.#release(connection);
        break;
      case DebugEvents.Reconnecting:
        this.#logger.debug('nats: trying to reconnect', { server });
        break;
      case DebugEvents.StaleConnection:
        this.#logger.warn('nats: the server stopped answering pings; reconnecting');
        break;
      case Events.LDM:
        this.#logger.warn('nats: the server is entering lame duck mode', { server });
        break;
      case Events.Error:
        this.#logger.error('nats: the server reported an error', {
          error: status.data,
          ...(status.permissionContext ?? {}),
        });
        break;
      case Events.Update:
        this.#logger.debug('nats: cluster membership changed', { update: status.data });
        break;
      default:
        break;
    }
  }

  /** The connection closed for good without disconnect(): reconnecting gave up. */
  #closed(connection: NatsConnection, error: unknown): void {
    if (connection !== this.#connection || this.#closing) return;
    this.#logger.error('nats: connection closed; reconnecting gave up, call connect() again', {
      error: error ? errorMessage(error) : undefined,
      subscriptions: this.#subscribers.size,
    });
    this.#connection = undefined;
    this.#state = 'idle';
    this.#accepting = false;
    for (const subscriber of [...this.#subscribers]) subscriber.stop();
    this.#failHeld('the connection closed');
  }

  #hold(topic: string, payload: Uint8Array): Promise<void> {
    const limit = this.#options.reconnectBufferSize;
    if (this.#heldBytes + payload.byteLength > limit) {
      return Promise.reject(
        unavailable(
          ErrorIds.broker,
          `nats: disconnected and the reconnect buffer is full (${this.#heldBytes} of ${limit} bytes held): message to ${topic} not sent`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const held: HeldPublish = {
        topic,
        payload,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#drop(held);
          reject(
            unavailable(
              ErrorIds.broker,
              `nats: not reconnected within ${this.#options.publishTimeout} ms: message to ${topic} not sent`,
            ),
          );
        }, this.#options.publishTimeout),
      };
      this.#held.push(held);
      this.#heldBytes += payload.byteLength;
    });
  }

  #drop(held: HeldPublish): void {
    // timeouts fire oldest first, so the entry is almost always at index 0
    const index = this.#held.indexOf(held);
    if (index < 0) return;
    this.#held.splice(index, 1);
    this.#heldBytes -= held.payload.byteLength;
  }

  /** Sends the held publishes, in order, on the re-established connection. */
  #release(connection: NatsConnection): void {
    if (this.#held.length === 0 || !socketUp(connection)) return;
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    for (const entry of held) {
      clearTimeout(entry.timer);
      try {
        connection.publish(entry.topic, entry.payload);
        entry.resolve();
      } catch (error) {
        entry.reject(toMicroError(error, `cannot publish to ${entry.topic}`));
      }
    }
    this.#logger.info('nats: sent the messages held while reconnecting', { count: held.length });
  }

  #failHeld(why: string): void {
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    for (const entry of held) {
      clearTimeout(entry.timer);
      entry.reject(
        unavailable(ErrorIds.broker, `nats: ${why} before the message to ${entry.topic} was sent`),
      );
    }
  }

  async #disconnect(): Promise<void> {
    const connection = this.#connection;
    if (!connection) return;
    this.#closing = true;
    try {
      const subscribers = [...this.#subscribers];
      for (const subscriber of subscribers) subscriber.stop();
      // Handlers may still publish while they finish.
      const idle = await this.#handlers.drain(this.#options.drainTimeout);
      if (!idle) {
        let abandoned = 0;
        for (const subscriber of subscribers) abandoned += subscriber.abandon();
        this.#logger.warn('nats: handlers still running after drainTimeout; disconnecting anyway', {
          drainTimeout: this.#options.drainTimeout,
          running: this.#handlers.size,
          abandoned,
        });
      }
      this.#accepting = false;
      if (this.#state === 'connected') this.#release(connection);
      this.#failHeld('the broker disconnected');
      if (!connection.isClosed() && this.#state === 'connected' && socketUp(connection)) {
        // drain = flush what was published, wait for the server's PONG, then close
        const drained = connection.drain();
        drained.catch(noop);
        await deadline(drained, this.#options.timeout, () => new Error('drain timed out')).catch(
          (error: unknown) =>
            this.#logger.warn('nats: could not drain the connection; closing it', {
              error: errorMessage(error),
            }),
        );
      }
      if (!connection.isClosed()) await connection.close();
    } finally {
      this.#connection = undefined;
      this.#state = 'idle';
      this.#accepting = false;
      this.#closing = false;
    }
    this.#logger.info('nats: disconnected');
  }
}

/**
 * Creates go-micro's NATS broker.
 * @param options servers, credentials, reconnect and buffering; see {@link NatsBrokerOptions}
 * @returns a broker; call `connect()` before publishing or subscribing
 * @throws {@link MicroError} 400 for an unsupported address or an invalid option value
 * @example
 * const broker = createNatsBroker({ addresses: ['nats://nats-1:4222', 'nats://nats-2:4222'] });
 */
export function createNatsBroker(options?: NatsBrokerOptions): NatsBroker {
  return new NatsBroker(options);
}
