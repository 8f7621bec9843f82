/**
 * One subscription: a kafkajs consumer in its own consumer group (the queue, or a
 * fresh UUID for broadcast), delivering at least once.
 */
import {
  type BrokerHandler,
  type BrokerMessage,
  backoffDelay,
  dispatchEvent,
  ErrorIds,
  type Event,
  InFlight,
  type MicroError,
  type NackOptions,
  type Subscriber,
  sleep,
  unavailable,
} from '@micro/core';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { toMicroError } from './errors.js';
import type { ResolvedKafkaOptions } from './options.js';
import { type ConsumedRecord, decodeRecord } from './record.js';
import { withTimeout } from './timeout.js';

/** What a subscription needs from its broker. */
export interface SubscriptionContext {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly options: ResolvedKafkaOptions;
  /** Creates the topic when missing (shared with publish). */
  ensureTopic(topic: string): Promise<void>;
  /** Publishes through the broker's producer (for dead letters). */
  publish(topic: string, message: BrokerMessage): Promise<void>;
  /** Called once the subscription has stopped. */
  closed(subscription: KafkaSubscription): void;
}

/** How one delivery ended. */
type Outcome = 'ack' | 'nack' | 'drop';

interface Delivery {
  outcome: Outcome;
  /** What the handler threw, when it threw. */
  error: unknown;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
  settled: boolean;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const result: Deferred = {
    promise,
    settled: false,
    resolve: () => {
      result.settled = true;
      resolve();
    },
    reject: (error) => {
      result.settled = true;
      reject(error);
    },
  };
  // The subscribe call awaits it; a rejection nobody awaits any more is not an error.
  promise.catch(() => {});
  return result;
}

/**
 * A {@link Subscriber} backed by one kafkajs consumer, as returned by
 * {@link KafkaBroker.subscribe}.
 *
 * Offsets are committed only for messages whose handler succeeded; a handler that
 * throws gets the message again after a backoff, in place, so order per partition
 * holds. A new group's start position (the end of each partition) is committed
 * before `subscribe()` resolves, so every message published afterwards is delivered
 * even if the partition moves to another member before this one fetched it.
 */
export class KafkaSubscription implements Subscriber {
  readonly topic: string;
  readonly queue: string | undefined;
  /** The consumer group: the queue, or a random UUID (broadcast) as go-micro. */
  readonly groupId: string;
  readonly #context: SubscriptionContext;
  readonly #options: ResolvedKafkaOptions;
  readonly #handler: BrokerHandler;
  readonly #autoAck: boolean;
  readonly #inFlight = new InFlight();
  readonly #abort = new AbortController();
  #consumer: Consumer | undefined;
  #ready = deferred();
  #closed = false;
  #closing: Promise<void> | undefined;
  /** The group exists on Kafka (a consumer joined it at least once). */
  #joined = false;
  #restarts = 0;

  /**
   * @param context the broker's shared clients and options
   * @param topic the topic
   * @param groupId the consumer group
   * @param queue the queue option, undefined for broadcast
   * @param handler the subscriber's handler
   * @param autoAck ack on success, nack on failure
   */
  constructor(
    context: SubscriptionContext,
    topic: string,
    groupId: string,
    queue: string | undefined,
    handler: BrokerHandler,
    autoAck: boolean,
  ) {
    this.#context = context;
    this.#options = context.options;
    this.topic = topic;
    this.groupId = groupId;
    this.queue = queue;
    this.#handler = handler;
    this.#autoAck = autoAck;
  }

  /**
   * Creates the topic when missing, joins the group and fixes a new group's start
   * position; resolves once messages published afterwards will be delivered.
   * @throws {@link MicroError} 503 when Kafka cannot be reached or the group join
   *   does not finish within `timeout` + `rebalanceTimeout`; other codes from
   *   {@link toMicroError}
   */
  async start(): Promise<void> {
    const { timeout, rebalanceTimeout } = this.#options;
    const action = `subscribe to "${this.topic}"`;
    try {
      await withTimeout(
        this.#context.ensureTopic(this.topic),
        timeout,
        () => `kafka unreachable: ${action}: the topic was not ready within ${timeout} ms`,
      );
      this.#throwIfClosed();
      const joinBound = timeout + rebalanceTimeout;
      await withTimeout(
        this.#startConsumer().then(() => this.#ready.promise),
        joinBound,
        () =>
          `kafka unreachable: ${action}: consumer group "${this.groupId}" was not joined within ${joinBound} ms`,
      );
      this.#throwIfClosed();
    } catch (error) {
      await this.unsubscribe();
      throw toMicroError(error, action);
    }
    this.#context.options.logger.debug('kafka: subscribed', {
      topic: this.topic,
      group: this.groupId,
    });
  }

  /** Stops delivery; resolves once no handler of this subscription runs. */
  unsubscribe(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  #throwIfClosed(): void {
    if (this.#closed) {
      throw unavailable(
        ErrorIds.broker,
        `kafka: subscription to "${this.topic}" closed while it was starting`,
      );
    }
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    if (!this.#ready.settled) this.#ready.reject(new Error('subscription closed'));
    const consumer = this.#consumer;
    this.#consumer = undefined;
    const { logger, timeout } = this.#options;
    if (consumer) {
      // kafkajs's stop waits for the running batch (and so for its handler) to end,
      // commits what was handled, and leaves the group.
      await consumer.disconnect().catch((error: unknown) =>
        logger.warn('kafka: consumer did not disconnect cleanly', {
          topic: this.topic,
          group: this.groupId,
          error: String(error),
        }),
      );
    }
    await this.#inFlight.drain();
    if (this.queue === undefined && this.#joined) {
      // A broadcast group is this subscriber's alone: remove it so groups do not pile
      // up. Best effort; Kafka also expires an empty group's offsets on its own.
      await withTimeout(this.#context.admin.deleteGroups([this.groupId]), timeout, () => 'timeout')
        .then(() => logger.debug('kafka: deleted broadcast group', { group: this.groupId }))
        .catch((error: unknown) =>
          logger.debug('kafka: could not delete broadcast group', {
            group: this.groupId,
            error: error instanceof Error ? error.message : String(error),
          }),
        );
    }
    this.#context.closed(this);
  }

  async #startConsumer(): Promise<void> {
    const { kafka } = this.#context;
    const o = this.#options;
    const consumer = kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: o.sessionTimeout,
      heartbeatInterval: o.heartbeatInterval,
      rebalanceTimeout: o.rebalanceTimeout,
      maxWaitTimeInMs: o.maxWaitTime,
      allowAutoTopicCreation: !o.createTopics,
      retry: { ...o.retry, restartOnFailure: async () => !this.#closed },
    });
    this.#consumer = consumer;
    let assignment: number[] | undefined;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      assignment = event.payload.memberAssignment[this.topic] ?? [];
      this.#joined = true;
      this.#restarts = 0;
    });
    // The first fetch after a join: the runner is running, so commits go through.
    consumer.on(consumer.events.FETCH_START, () => {
      if (assignment === undefined) return;
      const partitions = assignment;
      assignment = undefined;
      void this.#pinStartOffsets(consumer, partitions);
    });
    consumer.on(consumer.events.CRASH, (event) => {
      this.#crashed(consumer, event.payload.error, event.payload.restart);
    });
    // unsubscribe() may run while this starts: it disconnects the consumer it saw, so
    // one that got this far after it must be disconnected here.
    const superseded = () => this.#closed || this.#consumer !== consumer;
    await consumer.connect();
    if (!superseded()) await consumer.subscribe({ topic: this.topic, fromBeginning: false });
    if (!superseded()) {
      await consumer.run({
        autoCommit: true,
        autoCommitInterval: o.commitInterval,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: o.partitionsConsumedConcurrently,
        eachBatch: (payload) => this.#handleBatch(payload),
      });
    }
    if (superseded()) await consumer.disconnect().catch(() => {});
  }

  /**
   * Commits the end offset of every assigned partition that has no committed offset
   * yet (a new group), so the group's start position is explicit and survives a
   * rebalance. go-micro starts new groups at the newest offset too, but only in
   * memory, so messages published while a partition changes hands can be skipped.
   */
  async #pinStartOffsets(consumer: Consumer, partitions: number[]): Promise<void> {
    const { admin } = this.#context;
    const { logger } = this.#options;
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (this.#closed || this.#consumer !== consumer) return;
      try {
        const missing = await this.#uncommitted(partitions);
        if (missing.length > 0) {
          const ends = await admin.fetchTopicOffsets(this.topic);
          await consumer.commitOffsets(
            missing.map((partition) => ({
              topic: this.topic,
              partition,
              offset: ends.find((end) => end.partition === partition)?.high ?? '0',
            })),
          );
          // kafkajs skips a commit silently when its runner is not running: check.
          const still = await this.#uncommitted(missing);
          if (still.length > 0) throw new Error(`partitions ${still.join(',')} still uncommitted`);
          logger.debug('kafka: new consumer group starts at the end of the topic', {
            topic: this.topic,
            group: this.groupId,
            partitions: missing,
          });
        }
        this.#ready.resolve();
        return;
      } catch (error) {
        lastError = error;
        await sleep(backoffDelay(attempt, { base: 200, max: 2_000 }), this.#abort.signal).catch(
          () => {},
        );
      }
    }
    if (!this.#ready.settled) {
      this.#ready.reject(lastError);
    } else {
      logger.warn('kafka: could not commit the start offsets of newly assigned partitions', {
        topic: this.topic,
        group: this.groupId,
        error: lastError instanceof Error ? lastError.message : String(lastError),
      });
    }
  }

  async #uncommitted(partitions: number[]): Promise<number[]> {
    if (partitions.length === 0) return [];
    const offsets = await this.#context.admin.fetchOffsets({
      groupId: this.groupId,
      topics: [this.topic],
    });
    const committed = offsets.find((t) => t.topic === this.topic)?.partitions ?? [];
    return partitions.filter((partition) => {
      const entry = committed.find((p) => p.partition === partition);
      return entry === undefined || Number(entry.offset) < 0;
    });
  }

  #crashed(consumer: Consumer, error: Error, restarting: boolean): void {
    if (this.#closed || this.#consumer !== consumer) return;
    const { logger } = this.#options;
    if (restarting) {
      logger.warn('kafka: consumer failed; kafkajs restarts it', {
        topic: this.topic,
        group: this.groupId,
        error: error.message,
      });
      return;
    }
    if (!this.#ready.settled) {
      this.#ready.reject(error);
      return;
    }
    // kafkajs gives up on errors it deems permanent; a subscription must not stop
    // silently, so start a new consumer with a backoff until unsubscribe.
    const delay = backoffDelay(this.#restarts++, { base: 1_000, max: 30_000 });
    logger.error('kafka: consumer stopped; starting a new one', {
      topic: this.topic,
      group: this.groupId,
      error: error.message,
      retryIn: Math.round(delay),
    });
    void sleep(delay, this.#abort.signal)
      .then(async () => {
        if (this.#closed || this.#consumer !== consumer) return;
        await consumer.disconnect().catch(() => {});
        await this.#startConsumer();
      })
      .catch((restartError: unknown) => {
        if (this.#closed) return;
        const current = this.#consumer;
        if (current) this.#crashed(current, toMicroError(restartError, 'restart consumer'), false);
      });
  }

  async #handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } =
      payload;
    const stopKeepAlive = this.#keepAlive(payload);
    try {
      for (const record of batch.messages) {
        if (this.#closed || !isRunning() || isStale()) break;
        const handled = await this.#handleRecord(batch.topic, batch.partition, record, payload);
        // Stopped or rebalanced while waiting to redeliver: leave the offset unresolved
        // so the next owner of the partition gets the message.
        if (!handled) break;
        resolveOffset(record.offset);
        await commitOffsetsIfNecessary();
        await heartbeat();
      }
    } finally {
      stopKeepAlive();
    }
  }

  /** @returns false when the message must stay uncommitted (stopped while retrying) */
  async #handleRecord(
    topic: string,
    partition: number,
    record: ConsumedRecord & { offset: string },
    payload: EachBatchPayload,
  ): Promise<boolean> {
    const { logger, maxRedeliveries, redeliveryBackoff } = this.#options;
    const where = { topic, partition, offset: record.offset };
    let message: BrokerMessage;
    try {
      message = decodeRecord(record, topic);
    } catch (error) {
      logger.warn('kafka: skipped a record that is not a go-micro broker envelope', {
        ...where,
        error: (error as MicroError).message,
      });
      return true;
    }
    for (let attempt = 0; ; attempt++) {
      const { outcome, error } = await this.#deliver(topic, message, attempt);
      if (outcome === 'ack') return true;
      if (outcome === 'drop') {
        logger.warn('kafka: message nacked without requeue; skipped', where);
        return true;
      }
      if (attempt >= maxRedeliveries) {
        return this.#giveUp(message, where, attempt + 1, error, payload);
      }
      const delay = backoffDelay(attempt, redeliveryBackoff);
      logger.debug('kafka: delivering the message again', {
        ...where,
        attempt: attempt + 1,
        delay: Math.round(delay),
      });
      if (!(await this.#wait(delay, payload))) return false;
    }
  }

  /**
   * A message spent its redeliveries: publish it to the dead-letter topic (retrying
   * until that works) or, without one, log it as an error and skip it.
   * @returns false when the subscription stopped before the dead letter was written
   */
  async #giveUp(
    message: BrokerMessage,
    where: { topic: string; partition: number; offset: string },
    deliveries: number,
    error: unknown,
    payload: EachBatchPayload,
  ): Promise<boolean> {
    const { logger, deadLetterTopic, redeliveryBackoff } = this.#options;
    const reason =
      error instanceof Error ? error.message : error === undefined ? 'nacked' : String(error);
    if (!deadLetterTopic) {
      logger.error('kafka: message failed on every delivery; skipped', {
        ...where,
        deliveries,
        error: reason,
      });
      return true;
    }
    const target = deadLetterTopic(where.topic);
    const letter: BrokerMessage = {
      header: {
        ...message.header,
        'Micro-Dead-Letter-Topic': where.topic,
        'Micro-Dead-Letter-Partition': String(where.partition),
        'Micro-Dead-Letter-Offset': where.offset,
        'Micro-Dead-Letter-Deliveries': String(deliveries),
        'Micro-Dead-Letter-Error': reason,
      },
      body: message.body,
    };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#context.publish(target, letter);
        logger.warn('kafka: message failed on every delivery; moved to the dead-letter topic', {
          ...where,
          deliveries,
          deadLetterTopic: target,
          error: reason,
        });
        return true;
      } catch (publishError) {
        logger.error('kafka: could not publish to the dead-letter topic; retrying', {
          ...where,
          deadLetterTopic: target,
          error: publishError instanceof Error ? publishError.message : String(publishError),
        });
      }
      if (!(await this.#wait(backoffDelay(attempt, redeliveryBackoff), payload))) return false;
    }
  }

  async #deliver(topic: string, message: BrokerMessage, attempt: number): Promise<Delivery> {
    const { logger } = this.#options;
    let outcome: Outcome | undefined;
    let thrown: unknown;
    let settled = false;
    const late = (what: string) =>
      logger.debug(`kafka: ${what} after the handler returned has no effect`, { topic });
    const event: Event = {
      topic,
      // A redelivery gets its own header object: the last attempt may have changed it.
      message: attempt === 0 ? message : { header: { ...message.header }, body: message.body },
      ack: async () => {
        if (settled) return late('ack');
        outcome ??= 'ack';
      },
      nack: async (options: NackOptions = {}) => {
        if (settled) return late('nack');
        outcome ??= options.requeue === false ? 'drop' : 'nack';
      },
    };
    const handler = this.#handler;
    const end = this.#inFlight.begin();
    try {
      const succeeded = await dispatchEvent(
        async (e) => {
          try {
            await handler(e);
          } catch (error) {
            thrown = error;
            throw error;
          }
        },
        event,
        { autoAck: this.#autoAck, logger },
      );
      // autoAck off and the handler neither acked nor nacked: its result decides.
      return { outcome: outcome ?? (succeeded ? 'ack' : 'nack'), error: thrown };
    } finally {
      settled = true;
      end();
    }
  }

  /** Sleeps before a redelivery; false when the subscription stopped or lost the partition. */
  async #wait(ms: number, payload: EachBatchPayload): Promise<boolean> {
    try {
      await sleep(ms, this.#abort.signal);
    } catch {
      return false;
    }
    return !this.#closed && payload.isRunning() && !payload.isStale();
  }

  /**
   * Heartbeats while a batch is handled, so a slow handler or a redelivery backoff
   * does not cost the partition (kafkajs only heartbeats between messages; it sends
   * one only when `heartbeatInterval` has passed). A rebalance error is left for
   * kafkajs's own heartbeat after the message, which rejoins.
   */
  #keepAlive(payload: EachBatchPayload): () => void {
    const timer = setInterval(() => {
      payload.heartbeat().catch(() => {});
    }, this.#options.heartbeatInterval);
    timer.unref();
    return () => clearInterval(timer);
  }
}
