/**
 * One subscription: its own channel, queue, binding and consumer, restored on
 * every new connection (go-micro `broker/rabbitmq/rabbitmq.go` `resubscribe`).
 */
import {
  type BrokerHandler,
  backoffDelay,
  dispatchEvent,
  type Event,
  InFlight,
  type NackOptions,
  type Subscriber,
  sleep,
} from '@micro/core';
import type { Channel, ConsumeMessage, Options } from 'amqplib';
import { toMicroError } from './errors.js';
import { fromAmqpHeaders } from './headers.js';
import { bounded, ignore, type Link, messageOf } from './internal.js';
import type { ResolvedOptions } from './options.js';

/** A delivery from RabbitMQ, with AMQP's redelivery flag. */
export interface RabbitMQEvent extends Event {
  /**
   * True when RabbitMQ delivered this message before (to this or another
   * consumer) without an ack: the handler may be seeing it twice.
   */
  readonly redelivered: boolean;
}

/** An active subscription of a {@link RabbitMQBroker}. */
export interface RabbitMQSubscription extends Subscriber {
  /**
   * True while RabbitMQ delivers to it; false while it is being restored after
   * a lost connection or a cancelled consumer.
   */
  readonly consuming: boolean;
}

/** What a subscription needs from its broker. */
export interface SubscriptionHost {
  /** The live connection, or undefined while disconnected or reconnecting. */
  readonly link: Link | undefined;
  readonly options: ResolvedOptions;
  /** Forgets a subscription that has unsubscribed. */
  remove(subscription: RabbitMQSubscriber): void;
}

/** The settings of one subscription, with the broker's defaults filled in. */
export interface SubscriptionSettings {
  readonly queue: string | undefined;
  readonly autoAck: boolean;
  readonly durableQueue: boolean;
  readonly requeueOnError: boolean;
  readonly prefetch: number;
  readonly queueArguments: Record<string, unknown>;
  readonly bindArguments: Record<string, unknown> | undefined;
}

interface Delivery {
  readonly channel: Channel;
  readonly message: ConsumeMessage;
}

/**
 * The subscription behind {@link RabbitMQSubscription}. Handlers of one
 * subscription run one at a time, in delivery order, as in go-micro.
 */
export class RabbitMQSubscriber implements RabbitMQSubscription {
  readonly #host: SubscriptionHost;
  readonly #handler: BrokerHandler;
  readonly #settings: SubscriptionSettings;
  readonly #inFlight = new InFlight();
  readonly #stop = new AbortController();
  #active = true;
  #channel: Channel | undefined;
  #channelLink: Link | undefined;
  #consumerTag: string | undefined;
  #attaching: { link: Link; promise: Promise<void> } | undefined;
  #recovering = false;
  #pending: Delivery[] = [];
  #pumping = false;
  #unsubscribing: Promise<void> | undefined;

  /** Created by {@link RabbitMQBroker.subscribe}. */
  constructor(
    readonly topic: string,
    host: SubscriptionHost,
    handler: BrokerHandler,
    settings: SubscriptionSettings,
  ) {
    this.#host = host;
    this.#handler = handler;
    this.#settings = settings;
  }

  /** The queue group, or undefined for a broadcast subscription. */
  get queue(): string | undefined {
    return this.#settings.queue;
  }

  /** True while RabbitMQ delivers to this subscription. */
  get consuming(): boolean {
    return this.#channel !== undefined && this.#consumerTag !== undefined;
  }

  /**
   * Declares the queue, binds it and starts consuming on `link`; one attempt.
   * @internal
   * @throws {@link MicroError} mapped from the AMQP failure
   */
  attach(link: Link): Promise<void> {
    if (this.#channel && this.#channelLink === link) return Promise.resolve();
    if (this.#attaching?.link === link) return this.#attaching.promise;
    const promise = this.#attachOnce(link).finally(() => {
      if (this.#attaching?.promise === promise) this.#attaching = undefined;
    });
    this.#attaching = { link, promise };
    return promise;
  }

  /**
   * Re-establishes consumption on the broker's current connection in the
   * background, retrying with backoff while that connection lives.
   * @internal
   */
  resume(): void {
    if (!this.#active || this.#recovering) return;
    this.#recovering = true;
    void this.#recover().finally(() => {
      this.#recovering = false;
    });
  }

  /**
   * Forgets the channel of a connection that is gone; deliveries not yet
   * handled go back to the queue with it.
   * @internal
   */
  detach(): void {
    this.#channel = undefined;
    this.#channelLink = undefined;
    this.#consumerTag = undefined;
    this.#pending = [];
  }

  async unsubscribe(): Promise<void> {
    if (this.#unsubscribing) return this.#unsubscribing;
    this.#active = false;
    this.#stop.abort();
    this.#host.remove(this);
    this.#unsubscribing = this.#shutdown();
    return this.#unsubscribing;
  }

  async #shutdown(): Promise<void> {
    const { connectTimeout, drainTimeout, logger } = this.#host.options;
    const channel = this.#channel;
    const tag = this.#consumerTag;
    // Wait for an attach in progress, so its consumer is cancelled too
    if (this.#attaching) {
      await this.#attaching.promise.catch(ignore);
      return this.#shutdown();
    }
    if (channel && tag) {
      await bounded(channel.cancel(tag), connectTimeout, 'cancel consumer').catch(ignore);
    }
    // Unstarted deliveries stay unacked: RabbitMQ requeues them when the channel closes
    this.#pending = [];
    const idle = await this.#inFlight.drain(drainTimeout);
    if (!idle) {
      logger.warn('rabbitmq: handlers still running after the drain timeout; closing anyway', {
        topic: this.topic,
        drainTimeout,
      });
    }
    this.detach();
    if (channel) await bounded(channel.close(), connectTimeout, 'close channel').catch(ignore);
  }

  async #recover(): Promise<void> {
    const { reconnect, logger } = this.#host.options;
    const base = reconnect?.initialDelay ?? 100;
    const max = reconnect?.maxDelay ?? 30_000;
    for (let attempt = 0; this.#active; attempt++) {
      const link = this.#host.link;
      // No connection: the broker resumes every subscription once it has one again
      if (!link || link.closed) return;
      if (this.#channel && this.#channelLink === link) return;
      try {
        await this.attach(link);
        logger.info('rabbitmq: subscription resumed', { topic: this.topic, queue: this.queue });
        return;
      } catch (error) {
        const delay = backoffDelay(attempt, { base, max });
        logger.warn('rabbitmq: resubscribe failed; retrying', {
          topic: this.topic,
          attempt: attempt + 1,
          delay: Math.round(delay),
          error: messageOf(error),
        });
        try {
          await sleep(delay, this.#stop.signal);
        } catch {
          return;
        }
      }
    }
  }

  async #attachOnce(link: Link): Promise<void> {
    const { options } = this.#host;
    const settings = this.#settings;
    const what = `subscribe to ${this.topic}`;
    let channel: Channel;
    try {
      channel = await link.model.createChannel();
    } catch (error) {
      throw toMicroError(error, what);
    }
    channel.on('error', (error: Error) => {
      options.logger.warn('rabbitmq: subscription channel error', {
        topic: this.topic,
        error: error.message,
      });
    });
    channel.on('close', () => this.#onChannelClosed(channel, link));
    try {
      await channel.prefetch(settings.prefetch);
      const { queue } = await channel.assertQueue(settings.queue ?? '', this.#queueOptions());
      if (options.exchange !== '') {
        await channel.bindQueue(queue, options.exchange, this.topic, settings.bindArguments);
      }
      if (!this.#active || link.closed) throw new Error('subscription ended while starting');
      this.#channel = channel;
      this.#channelLink = link;
      this.#pending = [];
      const { consumerTag } = await channel.consume(
        queue,
        (message) => this.#onDelivery(channel, message),
        { noAck: false },
      );
      if (this.#channel === channel) this.#consumerTag = consumerTag;
    } catch (error) {
      if (this.#channel === channel) this.detach();
      channel.close().catch(ignore);
      throw toMicroError(error, what);
    }
  }

  #queueOptions(): Options.AssertQueue {
    const { queue, durableQueue, queueArguments } = this.#settings;
    const args = Object.keys(queueArguments).length > 0 ? queueArguments : undefined;
    if (queue === undefined) {
      // Broadcast: a server-named queue of this subscription alone (exclusive to
      // its connection), deleted when the consumer goes
      return { durable: false, autoDelete: true, exclusive: true, arguments: args };
    }
    // go-micro's DeclareDurableQueue / DeclareQueue
    return durableQueue
      ? { durable: true, autoDelete: false, exclusive: false, arguments: args }
      : { durable: false, autoDelete: true, exclusive: false, arguments: args };
  }

  #onChannelClosed(channel: Channel, link: Link): void {
    if (channel !== this.#channel) return;
    this.detach();
    if (!this.#active) return;
    // A connection closes its channels before it reports its own close: look
    // again once it has, and recover here only when the connection lives on
    setImmediate(() => {
      if (!link.closed && this.#host.link === link) {
        this.#host.options.logger.warn('rabbitmq: subscription channel closed; resubscribing', {
          topic: this.topic,
        });
        this.resume();
      }
    });
  }

  #onDelivery(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // RabbitMQ cancelled the consumer, e.g. because the queue was deleted
      if (channel !== this.#channel || !this.#active) return;
      this.#host.options.logger.warn('rabbitmq: consumer cancelled by the server; resubscribing', {
        topic: this.topic,
        queue: this.queue,
      });
      this.detach();
      channel.close().catch(ignore);
      this.resume();
      return;
    }
    // Not acked: RabbitMQ requeues it when the channel closes
    if (!this.#active || channel !== this.#channel) return;
    this.#pending.push({ channel, message });
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    const end = this.#inFlight.begin();
    try {
      let delivery = this.#pending.shift();
      while (delivery && this.#active) {
        if (delivery.channel === this.#channel) {
          await dispatchEvent(this.#handler, this.#event(delivery), {
            autoAck: this.#settings.autoAck,
            logger: this.#host.options.logger,
          });
        }
        delivery = this.#pending.shift();
      }
    } finally {
      this.#pumping = false;
      end();
    }
  }

  #event({ channel, message }: Delivery): RabbitMQEvent {
    const { fields, properties, content } = message;
    const topic = fields.routingKey;
    let settled = false;
    return {
      topic,
      message: { header: fromAmqpHeaders(properties.headers, topic), body: content },
      redelivered: fields.redelivered,
      ack: async () => {
        if (settled) return;
        settled = true;
        try {
          channel.ack(message);
        } catch (error) {
          throw toMicroError(error, `ack a message of ${topic} (RabbitMQ will deliver it again)`);
        }
      },
      nack: async (options: NackOptions = {}) => {
        if (settled) return;
        settled = true;
        const requeue = options.requeue ?? this.#settings.requeueOnError;
        try {
          channel.nack(message, false, requeue);
        } catch (error) {
          throw toMicroError(error, `nack a message of ${topic} (RabbitMQ will deliver it again)`);
        }
      },
    };
  }
}
