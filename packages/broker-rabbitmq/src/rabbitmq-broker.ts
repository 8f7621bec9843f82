/**
 * The RabbitMQ broker: go-micro's wire format (`broker/rabbitmq/*.go`) with
 * publisher confirms, manual acks, and reconnection that restores every
 * subscription.
 */
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import {
  type Broker,
  type BrokerHandler,
  type BrokerMessage,
  backoffDelay,
  ErrorIds,
  type Logger,
  payloadTooLarge,
  sleep,
  timeout,
  unavailable,
} from '@micro/core';
import { connect as amqpConnect, type Channel, type ConfirmChannel } from 'amqplib';
import { AmqpReplyCode, toMicroError } from './errors.js';
import { bounded, ignore, type Link, messageOf } from './internal.js';
import {
  checkPrefetch,
  type RabbitMQBrokerOptions,
  type RabbitMQPublishOptions,
  type RabbitMQSubscribeOptions,
  type ResolvedOptions,
  redact,
  resolveOptions,
  withHeartbeat,
} from './options.js';
import { checkTopic, publishProperties } from './publish.js';
import {
  RabbitMQSubscriber,
  type RabbitMQSubscription,
  type SubscriptionHost,
} from './subscription.js';

/** Where a {@link RabbitMQBroker} is in its life. */
export type RabbitMQBrokerState =
  | 'disconnected'
  | 'connecting'
  | 'connected'
  | 'reconnecting'
  | 'disconnecting';

/**
 * A {@link Broker} on RabbitMQ that Go go-micro services interoperate with: it
 * publishes to the `micro` topic exchange with the topic as routing key, the raw
 * body and the headers as AMQP headers, exactly as go-micro's rabbitmq broker.
 *
 * - `publish` resolves once RabbitMQ confirms the message (publisher confirms);
 *   while disconnected it rejects at once with 503; it never drops silently.
 * - A subscription without a queue gets every message (a server-named queue of
 *   its own); subscriptions sharing a queue name share its messages.
 * - Handlers run one at a time per subscription; the message is acked when the
 *   handler resolves and nacked (requeued with `requeueOnError`) when it throws.
 * - After a lost connection it reconnects with jittered backoff and restores the
 *   exchange, every queue, binding and consumer.
 *
 * @example
 * const broker = createRabbitMQBroker({ url: 'amqp://guest:guest@127.0.0.1:5672', prefetch: 50 });
 * await broker.connect();
 * await broker.subscribe('orders.created', async (event) => {
 *   console.log(event.message.header['Micro-Topic'], event.message.body);
 * }, { queue: 'billing' });
 * await broker.publish('orders.created', { header: { 'Content-Type': 'application/json' }, body });
 */
export class RabbitMQBroker implements Broker {
  /** go-micro's name for this broker (`String()`), used in node metadata. */
  readonly name = 'rabbitmq';
  readonly #options: ResolvedOptions;
  readonly #log: Logger;
  readonly #subscriptions = new Set<RabbitMQSubscriber>();
  readonly #host: SubscriptionHost;
  #state: RabbitMQBrokerState = 'disconnected';
  #link: Link | undefined;
  #publisher: Promise<Channel> | undefined;
  /** The channel `#publisher` resolved to, so a publish need not await it again. */
  #opened: { publisher: Promise<Channel>; channel: Channel } | undefined;
  #connecting: Promise<void> | undefined;
  #disconnecting: Promise<void> | undefined;
  #stopReconnect: AbortController | undefined;
  #urlIndex = 0;

  /**
   * @param options connection, exchange, queue and delivery options; see {@link RabbitMQBrokerOptions}
   * @throws {@link MicroError} 400 for an invalid option
   */
  constructor(options: RabbitMQBrokerOptions = {}) {
    this.#options = resolveOptions(options);
    this.#log = this.#options.logger;
    const broker = this;
    this.#host = {
      get link() {
        const link = broker.#link;
        return link && !link.closed ? link : undefined;
      },
      options: this.#options,
      remove: (subscription) => this.#subscriptions.delete(subscription),
    };
  }

  /** The server's URL with the password hidden, as go-micro's `Address()`. */
  get address(): string {
    return redact(this.#options.urls[this.#urlIndex]!);
  }

  /** Where the broker is in its life; `reconnecting` after a lost connection. */
  get state(): RabbitMQBrokerState {
    return this.#state;
  }

  /**
   * Connects, declares the exchange and opens the publishing channel. Idempotent;
   * with several addresses each is tried in turn.
   * @throws {@link MicroError} 503 when no server answers within `connectTimeout`;
   *   401 when the login is refused; 404 for an unknown vhost
   */
  async connect(): Promise<void> {
    if (this.#disconnecting) await this.#disconnecting;
    if (this.#state === 'connected' || this.#state === 'reconnecting') return;
    if (this.#connecting) return this.#connecting;
    this.#state = 'connecting';
    this.#connecting = this.#connectFirst().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /**
   * Cancels every consumer, waits for running handlers (at most `drainTimeout`),
   * then closes the channels and the connection. Idempotent.
   */
  async disconnect(): Promise<void> {
    if (this.#disconnecting) return this.#disconnecting;
    if (this.#state === 'disconnected' && !this.#connecting && this.#subscriptions.size === 0) {
      return;
    }
    this.#disconnecting = this.#shutdown().finally(() => {
      this.#disconnecting = undefined;
    });
    return this.#disconnecting;
  }

  /**
   * Publishes to the exchange with the topic as routing key, the body as it is
   * and the headers as AMQP string headers. Resolves once RabbitMQ confirms it.
   * @param topic the routing key
   * @param message headers and body
   * @param options AMQP properties (content type, persistence, priority, ...)
   * @throws {@link MicroError} 503 when not connected or the message was not
   *   confirmed (nacked, or the connection failed first); 408 when no confirm came
   *   within `publishTimeout`; 413 when the body exceeds `maxMessageSize`; 400 for
   *   a bad topic or header
   */
  async publish(
    topic: string,
    message: BrokerMessage,
    options: RabbitMQPublishOptions = {},
  ): Promise<void> {
    checkTopic(topic);
    const { body } = message;
    if (body.byteLength > this.#options.maxMessageSize) {
      throw payloadTooLarge(
        ErrorIds.broker,
        `rabbitmq: message of ${body.byteLength} bytes exceeds maxMessageSize ${this.#options.maxMessageSize}`,
      );
    }
    const properties = publishProperties(message.header, options, this.#options.persistent);
    const link = this.#link;
    if (this.#state !== 'connected' || !link) {
      throw unavailable(
        ErrorIds.broker,
        `rabbitmq: not connected (${this.#state}): message to ${topic} was not published`,
      );
    }
    const opened = this.#opened;
    const channel =
      opened !== undefined && opened.publisher === this.#publisher
        ? opened.channel
        : await this.#publishChannel(link);
    const content = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const { exchange } = this.#options;
    if (!this.#options.confirmPublish) {
      try {
        if (!channel.publish(exchange, topic, content, properties)) await this.#drained(channel);
      } catch (error) {
        throw toMicroError(error, `publish to ${topic}`);
      }
      return;
    }
    const wait = options.timeout ?? this.#options.publishTimeout;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          timeout(
            ErrorIds.broker,
            `rabbitmq: publish to ${topic} not confirmed within ${wait} ms; it may or may not have been delivered`,
          ),
        );
      }, wait);
      try {
        (channel as ConfirmChannel).publish(exchange, topic, content, properties, (error) => {
          clearTimeout(timer);
          if (error) {
            reject(
              unavailable(
                ErrorIds.broker,
                `rabbitmq: publish to ${topic} not confirmed: ${messageOf(error)}`,
                error,
              ),
            );
          } else {
            resolve();
          }
        });
      } catch (error) {
        clearTimeout(timer);
        reject(toMicroError(error, `publish to ${topic}`));
      }
    });
  }

  /**
   * Subscribes to a topic (a routing-key pattern on a topic exchange). Without
   * `queue` every subscription gets every message; with one, the subscriptions
   * sharing it share the messages. Resolves once the queue is bound, so messages
   * published afterwards are delivered.
   * @param topic the routing key, or a pattern such as `orders.*`
   * @param handler runs once per message; a rejection nacks it
   * @param options queue group, auto-ack, durability, prefetch, requeue-on-error
   * @returns the subscription
   * @throws {@link MicroError} 503 when not connected; 409 when the queue exists
   *   with other properties; 403 when access is refused
   */
  async subscribe(
    topic: string,
    handler: BrokerHandler,
    options: RabbitMQSubscribeOptions = {},
  ): Promise<RabbitMQSubscription> {
    checkTopic(topic);
    const link = this.#link;
    if (this.#state !== 'connected' || !link) {
      throw unavailable(
        ErrorIds.broker,
        `rabbitmq: not connected (${this.#state}): cannot subscribe to ${topic}`,
      );
    }
    const subscription = new RabbitMQSubscriber(topic, this.#host, handler, {
      queue: options.queue === '' ? undefined : options.queue,
      autoAck: options.autoAck ?? true,
      durableQueue: options.durableQueue ?? this.#options.durableQueues,
      requeueOnError: options.requeueOnError ?? this.#options.requeueOnError,
      prefetch: checkPrefetch(options.prefetch ?? this.#options.prefetch),
      queueArguments: { ...this.#options.queueArguments, ...options.queueArguments },
      bindArguments: options.bindArguments,
    });
    this.#subscriptions.add(subscription);
    try {
      await subscription.attach(link);
    } catch (error) {
      await subscription.unsubscribe();
      throw error;
    }
    return subscription;
  }

  async #connectFirst(): Promise<void> {
    const { urls } = this.#options;
    let lastError: unknown;
    for (let i = 0; i < urls.length; i++) {
      const index = (this.#urlIndex + i) % urls.length;
      try {
        const link = await this.#open(urls[index]!);
        this.#urlIndex = index;
        this.#install(link);
        // after giving up reconnecting, the subscriptions still registered come back too
        const failed = await this.#restore(link);
        if (link.closed) throw unavailable(ErrorIds.broker, 'connection closed while starting');
        this.#state = 'connected';
        this.#log.info('rabbitmq: connected', { address: this.address });
        for (const subscription of failed) subscription.resume();
        return;
      } catch (error) {
        lastError = error;
      }
    }
    this.#state = 'disconnected';
    throw toMicroError(lastError, `connect to ${redact(urls[this.#urlIndex]!)}`);
  }

  /** Opens a connection and declares the exchange, within `connectTimeout`. */
  async #open(url: string): Promise<Link> {
    const { connectTimeout, heartbeat, tls, connectionName } = this.#options;
    const opening = amqpConnect(withHeartbeat(url, heartbeat), {
      ...tls,
      // Go's net package disables Nagle by default; without this every confirm
      // waits on a delayed ACK (about 40 ms)
      noDelay: true,
      timeout: connectTimeout,
      clientProperties: connectionName ? { connection_name: connectionName } : {},
    }).then(async (model) => {
      const link: Link = { model, url, closed: false };
      model.on('error', (error: Error) => {
        this.#log.debug('rabbitmq: connection error', { error: error.message });
      });
      model.on('close', (error?: Error) => {
        link.closed = true;
        this.#onConnectionClosed(link, error);
      });
      model.on('blocked', (reason: string) => {
        this.#log.warn('rabbitmq: server blocked publishing (resource alarm)', { reason });
      });
      model.on('unblocked', () => this.#log.info('rabbitmq: server unblocked publishing'));
      try {
        await this.#declareExchange(link);
      } catch (error) {
        await model.close().catch(ignore);
        throw error;
      }
      return link;
    });
    return bounded(opening, connectTimeout, `connect to ${redact(url)}`, (late) => {
      late.model.close().catch(ignore);
    });
  }

  /**
   * Declares the exchange on a channel of its own. An exchange that exists with
   * other properties (another service declared it durable, say) is used as it
   * is, as go-micro does.
   */
  async #declareExchange(link: Link): Promise<void> {
    const { exchange, exchangeType, durableExchange } = this.#options;
    if (exchange === '') return; // the default exchange always exists
    const channel = await link.model.createChannel();
    channel.on('error', ignore);
    try {
      await channel.assertExchange(exchange, exchangeType, { durable: durableExchange });
      await channel.close();
    } catch (error) {
      if ((error as { code?: unknown }).code !== AmqpReplyCode.preconditionFailed) throw error;
      this.#log.warn('rabbitmq: exchange exists with other properties; using it as it is', {
        exchange,
        error: messageOf(error),
      });
    }
  }

  #install(link: Link): void {
    this.#link = link;
    this.#publisher = undefined;
    this.#publishChannel(link).catch((error: unknown) => {
      this.#log.warn('rabbitmq: could not open the publishing channel', {
        error: messageOf(error),
      });
    });
  }

  /** The publishing channel of `link`, opened again when the server closed it. */
  #publishChannel(link: Link): Promise<Channel> {
    if (this.#publisher) return this.#publisher;
    const opening = (
      this.#options.confirmPublish ? link.model.createConfirmChannel() : link.model.createChannel()
    ).then((channel: Channel) => {
      channel.on('error', (error: Error) => {
        this.#log.warn('rabbitmq: publishing channel error', { error: error.message });
      });
      channel.on('close', () => {
        if (this.#publisher === publisher) this.#publisher = undefined;
      });
      return channel;
    });
    const publisher: Promise<Channel> = bounded(
      opening,
      this.#options.connectTimeout,
      'open the publishing channel',
      (late) => late.close().catch(ignore),
    ).catch((error: unknown) => {
      if (this.#publisher === publisher) this.#publisher = undefined;
      throw toMicroError(error, 'open the publishing channel');
    });
    this.#publisher = publisher;
    publisher.then((channel) => {
      if (this.#publisher === publisher) this.#opened = { publisher, channel };
    }, ignore);
    return publisher;
  }

  async #drained(channel: Channel): Promise<void> {
    const abort = new AbortController();
    try {
      await Promise.race([
        once(channel, 'drain', { signal: abort.signal }),
        once(channel, 'close', { signal: abort.signal }).then(() => {
          throw unavailable(ErrorIds.broker, 'rabbitmq: channel closed while publishing');
        }),
      ]);
    } finally {
      abort.abort();
    }
  }

  #onConnectionClosed(link: Link, error: Error | undefined): void {
    if (this.#link !== link) return;
    this.#link = undefined;
    this.#publisher = undefined;
    for (const subscription of this.#subscriptions) subscription.detach();
    if (this.#state !== 'connected') return; // closing on purpose
    const { reconnect } = this.#options;
    this.#log.warn('rabbitmq: connection lost', {
      address: redact(link.url),
      error: error?.message ?? 'closed',
      reconnect: reconnect !== undefined,
    });
    if (!reconnect) {
      this.#state = 'disconnected';
      return;
    }
    this.#state = 'reconnecting';
    const stop = new AbortController();
    this.#stopReconnect = stop;
    void this.#reconnect(stop.signal);
  }

  async #reconnect(signal: AbortSignal): Promise<void> {
    const { reconnect, urls } = this.#options;
    if (!reconnect) return;
    const started = Date.now();
    for (let attempt = 0; attempt < reconnect.maxAttempts; attempt++) {
      const delay = backoffDelay(attempt, {
        base: reconnect.initialDelay,
        max: reconnect.maxDelay,
      });
      try {
        await sleep(delay, signal);
      } catch {
        return; // disconnect() stopped us
      }
      // Fail over to the next address, if there are several
      this.#urlIndex = (this.#urlIndex + 1) % urls.length;
      const url = urls[this.#urlIndex]!;
      let link: Link;
      try {
        link = await this.#open(url);
      } catch (error) {
        this.#log.warn('rabbitmq: reconnect attempt failed', {
          address: redact(url),
          attempt: attempt + 1,
          error: messageOf(error),
        });
        continue;
      }
      if (signal.aborted || this.#state !== 'reconnecting') {
        await link.model.close().catch(ignore);
        return;
      }
      // Restore every subscription before publishing is allowed again, so a
      // message this broker publishes reaches its own subscribers
      this.#install(link);
      const failed = await this.#restore(link);
      if (signal.aborted || this.#state !== 'reconnecting') return;
      if (link.closed) continue;
      this.#state = 'connected';
      this.#log.info('rabbitmq: reconnected', {
        address: redact(url),
        attempts: attempt + 1,
        downtime: Date.now() - started,
        subscriptions: this.#subscriptions.size,
      });
      for (const subscription of failed) subscription.resume();
      return;
    }
    this.#state = 'disconnected';
    this.#log.error('rabbitmq: giving up reconnecting; call connect() to try again', {
      attempts: reconnect.maxAttempts,
    });
  }

  /**
   * Declares, binds and consumes again for every subscription on a new
   * connection; one attempt each.
   * @returns the subscriptions that failed, to retry in the background
   */
  async #restore(link: Link): Promise<RabbitMQSubscriber[]> {
    const failed: RabbitMQSubscriber[] = [];
    await Promise.all(
      [...this.#subscriptions].map(async (subscription) => {
        try {
          await subscription.attach(link);
          this.#log.info('rabbitmq: subscription resumed', {
            topic: subscription.topic,
            queue: subscription.queue,
          });
        } catch (error) {
          failed.push(subscription);
          this.#log.warn('rabbitmq: resubscribe failed; retrying', {
            topic: subscription.topic,
            error: messageOf(error),
          });
        }
      }),
    );
    return failed;
  }

  async #shutdown(): Promise<void> {
    this.#stopReconnect?.abort();
    this.#stopReconnect = undefined;
    if (this.#connecting) await this.#connecting.catch(ignore);
    this.#state = 'disconnecting';
    try {
      await Promise.all([...this.#subscriptions].map((s) => s.unsubscribe()));
      const link = this.#link;
      const publisher = this.#publisher;
      this.#link = undefined;
      this.#publisher = undefined;
      if (link && !link.closed) {
        const channel = await publisher?.catch(() => undefined);
        // wait for outstanding confirms, so publishes in flight settle first
        if (channel && this.#options.confirmPublish) {
          await bounded(
            (channel as ConfirmChannel).waitForConfirms(),
            this.#options.publishTimeout,
            'wait for confirms',
          ).catch(ignore);
        }
        await bounded(link.model.close(), this.#options.connectTimeout, 'close').catch(ignore);
      }
      this.#log.info('rabbitmq: disconnected', { address: this.address });
    } finally {
      this.#state = 'disconnected';
    }
  }
}

/**
 * Creates a RabbitMQ broker (not yet connected).
 * @param options connection, exchange, queue and delivery options
 * @returns the broker; call `connect()` before publishing or subscribing
 * @throws {@link MicroError} 400 for an invalid option
 * @example
 * import { createRabbitMQBroker } from '@micro/broker-rabbitmq';
 * const broker = createRabbitMQBroker({ url: process.env.MICRO_BROKER_ADDRESS, prefetch: 50 });
 * await broker.connect();
 */
export function createRabbitMQBroker(options?: RabbitMQBrokerOptions): RabbitMQBroker {
  return new RabbitMQBroker(options);
}
