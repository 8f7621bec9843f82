import { randomUUID } from 'node:crypto';
import {
  type Broker,
  type BrokerHandler,
  type BrokerMessage,
  badRequest,
  ErrorIds,
  type PublishOptions,
  type SubscribeOptions,
  unavailable,
} from '@micro/core';
import kafkajs, { type Admin, type Kafka, type Producer } from 'kafkajs';
import { errorCode, toMicroError } from './errors.js';
import { kafkaLogCreator } from './log.js';
import {
  type KafkaBrokerOptions,
  type ResolvedKafkaOptions,
  resolveOptions,
  validateTopic,
} from './options.js';
import { encodeRecord } from './record.js';
import { KafkaSubscription } from './subscription.js';
import { withTimeout } from './timeout.js';

const { Kafka: KafkaClient, Partitioners, logLevel } = kafkajs;

/** Disconnects a kafkajs client once its pending connect settles, however it ends. */
function closeWhenSettled(connecting: Promise<unknown>, client: { disconnect(): Promise<void> }) {
  void connecting
    .catch(() => {})
    .then(() => client.disconnect())
    .catch(() => {});
}

/**
 * A {@link Broker} on Apache Kafka through kafkajs, with go-micro's Kafka layout:
 * the record value is go-micro's JSON envelope (no key, no Kafka headers), the topic
 * is the topic, and each subscriber is a consumer group: the queue name, or a random
 * UUID for broadcast. Go and TypeScript services publish to and consume from each
 * other.
 *
 * Delivery is at least once: a message's offset is committed only after its handler
 * succeeded; a handler that throws gets the same message again after a backoff.
 * Duplicates are possible (after a failure, a crash or a rebalance); order is kept
 * per partition.
 *
 * @example
 * const broker = createKafkaBroker({ addresses: ['127.0.0.1:9092'] });
 * await broker.connect();
 * await broker.subscribe('orders', async (event) => {
 *   console.log(event.message.header['Micro-Topic'], event.message.body);
 * }, { queue: 'billing' });
 * await broker.publish('orders', { header: { 'Content-Type': 'application/json' }, body });
 */
export class KafkaBroker implements Broker {
  /** go-micro's name for this broker (`String()`), as written in node metadata. */
  readonly name = 'kafka';
  /** The first bootstrap address, as go-micro's `Address()`. */
  readonly address: string;
  readonly #options: ResolvedKafkaOptions;
  readonly #kafka: Kafka;
  readonly #subscriptions = new Set<KafkaSubscription>();
  /** Topics created (or found) by this connection. */
  readonly #topics = new Map<string, Promise<void>>();
  #producer: Producer | undefined;
  #admin: Admin | undefined;
  #connecting: Promise<void> | undefined;
  #disconnecting: Promise<void> | undefined;

  /**
   * @param options addresses, security, topic, producer and consumer settings
   * @throws {@link MicroError} 400 for an option out of range
   */
  constructor(options: KafkaBrokerOptions = {}) {
    this.#options = resolveOptions(options);
    const o = this.#options;
    this.address = o.addresses[0]!;
    this.#kafka = new KafkaClient({
      brokers: o.addresses,
      clientId: o.clientId,
      ...(o.ssl === undefined ? {} : { ssl: o.ssl }),
      ...(o.sasl === undefined ? {} : { sasl: o.sasl }),
      connectionTimeout: o.connectionTimeout,
      ...(o.requestTimeout === undefined ? {} : { requestTimeout: o.requestTimeout }),
      retry: o.retry,
      logLevel: logLevel.INFO,
      logCreator: kafkaLogCreator(o.logger),
    });
  }

  /**
   * Connects the producer and the admin client; idempotent.
   * @throws {@link MicroError} 503 when no broker answers within `timeout`
   */
  async connect(): Promise<void> {
    if (this.#disconnecting) await this.#disconnecting;
    if (this.#producer) return;
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(): Promise<void> {
    const { createTopics, retry, timeout, addresses, logger } = this.#options;
    const producer = this.#kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: !createTopics,
      retry,
    });
    const admin = this.#kafka.admin({ retry });
    const connecting = [producer.connect(), admin.connect()];
    try {
      await withTimeout(
        Promise.all(connecting),
        timeout,
        () =>
          `kafka unreachable: connect to ${addresses.join(',')} did not finish within ${timeout} ms`,
      );
    } catch (error) {
      closeWhenSettled(connecting[0]!, producer);
      closeWhenSettled(connecting[1]!, admin);
      throw toMicroError(error, `connect to ${addresses.join(',')}`);
    }
    this.#producer = producer;
    this.#admin = admin;
    logger.info('kafka: connected', { addresses: addresses.join(',') });
  }

  /**
   * Stops every subscription (each waits for its running handler, then commits),
   * then disconnects the producer and the admin client. Publishing keeps working
   * while handlers finish.
   */
  async disconnect(): Promise<void> {
    if (this.#connecting) await this.#connecting.catch(() => {});
    this.#disconnecting ??= this.#close().finally(() => {
      this.#disconnecting = undefined;
    });
    return this.#disconnecting;
  }

  async #close(): Promise<void> {
    const producer = this.#producer;
    const admin = this.#admin;
    if (!producer || !admin) return;
    await Promise.all([...this.#subscriptions].map((s) => s.unsubscribe()));
    this.#producer = undefined;
    this.#admin = undefined;
    this.#topics.clear();
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    this.#options.logger.info('kafka: disconnected', {
      addresses: this.#options.addresses.join(','),
    });
  }

  /**
   * Publishes one record: value = go-micro's envelope, no key. Resolves once Kafka
   * acknowledged it (per `acks`).
   * @param topic a Kafka topic name
   * @param message the header and body
   * @param _options none for Kafka
   * @throws {@link MicroError} 400 for a topic Kafka does not allow; 413 for a
   *   record over the broker's `message.max.bytes`; 503 when not connected or when
   *   Kafka did not acknowledge within `timeout` (the record may still be written
   *   later, so a retry can duplicate it); 401/403/404 from Kafka's answer
   */
  async publish(topic: string, message: BrokerMessage, _options?: PublishOptions): Promise<void> {
    const producer = this.#producer;
    if (!producer) {
      throw unavailable(ErrorIds.broker, `kafka broker not connected: cannot publish to ${topic}`);
    }
    validateTopic(topic);
    const { acks, timeout } = this.#options;
    const value = encodeRecord(message);
    const sending = this.#ensureTopic(topic).then(() =>
      producer.send({ topic, acks, messages: [{ value }] }),
    );
    try {
      await withTimeout(
        sending,
        timeout,
        () => `kafka unreachable: publish to "${topic}" was not acknowledged within ${timeout} ms`,
      );
    } catch (error) {
      if (errorCode(error) === 404) this.#topics.delete(topic);
      throw toMicroError(error, `publish to "${topic}"`);
    }
  }

  /**
   * Subscribes through a consumer group: `queue`, or a random UUID (broadcast) that is
   * deleted again on unsubscribe. A new group starts at the end of the topic, and
   * that position is committed before this resolves, so every message published
   * afterwards is delivered.
   * @param topic a Kafka topic name
   * @param handler called once per delivery
   * @param options queue group and autoAck
   * @returns the subscription; its `groupId` is the consumer group
   * @throws {@link MicroError} 400 for a topic Kafka does not allow or an empty
   *   queue; 503 when not connected, when Kafka cannot be reached within `timeout`,
   *   or when the group join takes longer than `timeout` + `rebalanceTimeout`
   */
  async subscribe(
    topic: string,
    handler: BrokerHandler,
    options: SubscribeOptions = {},
  ): Promise<KafkaSubscription> {
    const admin = this.#admin;
    if (!admin || this.#disconnecting !== undefined) {
      throw unavailable(
        ErrorIds.broker,
        `kafka broker not connected: cannot subscribe to ${topic}`,
      );
    }
    validateTopic(topic);
    const { queue } = options;
    if (queue !== undefined && (typeof queue !== 'string' || queue.length === 0)) {
      throw badRequest(ErrorIds.broker, 'kafka: queue must be a non-empty string');
    }
    const subscription = new KafkaSubscription(
      {
        kafka: this.#kafka,
        admin,
        options: this.#options,
        ensureTopic: (t) => this.#ensureTopic(t),
        publish: (t, m) => this.publish(t, m),
        closed: (s) => this.#subscriptions.delete(s),
      },
      topic,
      queue ?? randomUUID(),
      queue,
      handler,
      options.autoAck ?? true,
    );
    this.#subscriptions.add(subscription);
    await subscription.start();
    return subscription;
  }

  /** Creates the topic when missing; one request per topic and connection. */
  #ensureTopic(topic: string): Promise<void> {
    const { createTopics, numPartitions, replicationFactor, timeout } = this.#options;
    const admin = this.#admin;
    if (!createTopics || !admin) return Promise.resolve();
    let ready = this.#topics.get(topic);
    if (!ready) {
      ready = admin
        .createTopics({
          topics: [{ topic, numPartitions, replicationFactor }],
          waitForLeaders: true,
          timeout,
        })
        .then((created) => {
          if (created) this.#options.logger.debug('kafka: created topic', { topic });
        });
      this.#topics.set(topic, ready);
      ready.catch(() => this.#topics.delete(topic));
    }
    return ready;
  }
}

/**
 * Creates a {@link KafkaBroker}.
 * @param options addresses, security, topic, producer and consumer settings
 * @returns the broker, not yet connected
 * @throws {@link MicroError} 400 for an option out of range
 * @example
 * const broker = createKafkaBroker({ addresses: ['kafka:9092'], clientId: 'orders' });
 * await broker.connect();
 */
export function createKafkaBroker(options?: KafkaBrokerOptions): KafkaBroker {
  return new KafkaBroker(options);
}
