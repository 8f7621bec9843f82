import { ErrorIds, unavailable } from '../errors/errors.js';
import { InFlight } from '../internal/in-flight.js';
import { type Logger, silentLogger } from '../logger/logger.js';
import type {
  Broker,
  BrokerHandler,
  BrokerMessage,
  BrokerOptions,
  Event,
  NackOptions,
  SubscribeOptions,
  Subscriber,
} from './broker.js';
import { dispatchEvent } from './dispatch.js';

/** Options for the in-process broker. */
export interface MemoryBrokerOptions extends Pick<BrokerOptions, 'logger'> {
  /**
   * Redeliver a message whose handler failed (or that was nacked without a
   * `requeue` choice), up to {@link maxRedeliveries} times.
   * @default false
   */
  requeueOnError?: boolean;
  /**
   * How many times one message is redelivered at most.
   * @default 10
   */
  maxRedeliveries?: number;
}

class MemorySubscriber implements Subscriber {
  readonly inFlight = new InFlight();
  active = true;

  constructor(
    readonly topic: string,
    readonly queue: string | undefined,
    readonly handler: BrokerHandler,
    readonly autoAck: boolean,
    private readonly remove: (subscriber: MemorySubscriber) => void,
  ) {}

  async unsubscribe(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.remove(this);
    await this.inFlight.drain();
  }
}

/**
 * An in-process broker with go-micro's semantics: broadcast to every subscriber
 * without a queue, and one member per queue group (in turn). Delivery is
 * asynchronous: `publish` resolves before handlers run.
 */
export class MemoryBroker implements Broker {
  readonly name = 'memory';
  readonly address = 'memory';
  readonly #topics = new Map<string, MemorySubscriber[]>();
  readonly #turn = new Map<string, number>();
  readonly #logger: Logger;
  readonly #requeueOnError: boolean;
  readonly #maxRedeliveries: number;
  #connected = false;

  /** @param options logger and redelivery */
  constructor(options: MemoryBrokerOptions = {}) {
    this.#logger = options.logger ?? silentLogger;
    this.#requeueOnError = options.requeueOnError ?? false;
    this.#maxRedeliveries = options.maxRedeliveries ?? 10;
  }

  async connect(): Promise<void> {
    this.#connected = true;
  }

  async disconnect(): Promise<void> {
    const subscribers = [...this.#topics.values()].flat();
    await Promise.all(subscribers.map((s) => s.unsubscribe()));
    this.#connected = false;
  }

  async publish(topic: string, message: BrokerMessage): Promise<void> {
    if (!this.#connected) {
      throw unavailable(ErrorIds.broker, `memory broker not connected: cannot publish to ${topic}`);
    }
    const subscribers = this.#topics.get(topic) ?? [];
    const groups = new Map<string, MemorySubscriber[]>();
    for (const subscriber of subscribers) {
      if (subscriber.queue === undefined) this.#deliver(subscriber, topic, message, 0);
      else groups.set(subscriber.queue, [...(groups.get(subscriber.queue) ?? []), subscriber]);
    }
    for (const [queue, members] of groups) {
      this.#deliver(this.#next(topic, queue, members), topic, message, 0);
    }
  }

  async subscribe(
    topic: string,
    handler: BrokerHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscriber> {
    if (!this.#connected) {
      throw unavailable(
        ErrorIds.broker,
        `memory broker not connected: cannot subscribe to ${topic}`,
      );
    }
    const subscriber = new MemorySubscriber(
      topic,
      options.queue,
      handler,
      options.autoAck ?? true,
      (s) =>
        this.#topics.set(
          topic,
          (this.#topics.get(topic) ?? []).filter((x) => x !== s),
        ),
    );
    this.#topics.set(topic, [...(this.#topics.get(topic) ?? []), subscriber]);
    return subscriber;
  }

  #next(topic: string, queue: string, members: MemorySubscriber[]): MemorySubscriber {
    const key = `${topic}\u0000${queue}`;
    const turn = this.#turn.get(key) ?? 0;
    this.#turn.set(key, turn + 1);
    return members[turn % members.length]!;
  }

  #deliver(
    subscriber: MemorySubscriber,
    topic: string,
    message: BrokerMessage,
    attempt: number,
  ): void {
    const end = subscriber.inFlight.begin();
    setImmediate(() => {
      if (!subscriber.active) {
        end();
        return;
      }
      let settled = false;
      const event: Event = {
        topic,
        message: { header: { ...message.header }, body: message.body },
        ack: async () => {
          settled = true;
        },
        nack: async (options: NackOptions = {}) => {
          if (settled) return;
          settled = true;
          if ((options.requeue ?? this.#requeueOnError) && attempt < this.#maxRedeliveries) {
            this.#redeliver(subscriber, topic, message, attempt + 1);
          }
        },
      };
      void dispatchEvent(subscriber.handler, event, {
        autoAck: subscriber.autoAck,
        logger: this.#logger,
      }).finally(end);
    });
  }

  #redeliver(from: MemorySubscriber, topic: string, message: BrokerMessage, attempt: number): void {
    const members = (this.#topics.get(topic) ?? []).filter(
      (s) => s.queue === from.queue && (from.queue !== undefined || s === from),
    );
    if (members.length === 0) return;
    const target = from.queue === undefined ? from : this.#next(topic, from.queue, members);
    this.#deliver(target, topic, message, attempt);
  }
}

/**
 * Creates the in-process broker.
 * @param options logger and redelivery
 */
export function createMemoryBroker(options?: MemoryBrokerOptions): MemoryBroker {
  return new MemoryBroker(options);
}
