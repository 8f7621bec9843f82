/**
 * Publish/subscribe. Messages are `{header, body}` like transport messages; each
 * broker plugin puts them on its wire the way go-micro does.
 */
import type { Logger } from '../logger/logger.js';
import type { Header } from '../transport/transport.js';

/** A published message (go-micro `broker.Message`). */
export interface BrokerMessage {
  header: Header;
  body: Uint8Array;
}

/** Options for {@link Event.nack}. */
export interface NackOptions {
  /**
   * Deliver the message again (to this or another subscriber of the queue).
   * @default the broker's own setting
   */
  requeue?: boolean;
}

/** One delivery to a subscriber. */
export interface Event {
  readonly topic: string;
  readonly message: BrokerMessage;
  /** Confirms the message; with `autoAck` the broker does this when the handler resolves. */
  ack(): Promise<void>;
  /** Rejects the message; with `autoAck` the broker does this when the handler throws. */
  nack(options?: NackOptions): Promise<void>;
}

/** Handles deliveries; a rejection counts as a failed delivery. */
export type BrokerHandler = (event: Event) => void | Promise<void>;

/** Options for {@link Broker.subscribe}. */
export interface SubscribeOptions {
  /**
   * A queue group: each message goes to one member of the group. Without one,
   * every subscriber gets every message (broadcast).
   */
  queue?: string;
  /**
   * Ack when the handler resolves and nack when it throws. Off: the handler calls
   * `event.ack()` / `event.nack()` itself.
   * @default true
   */
  autoAck?: boolean;
}

/** An active subscription. */
export interface Subscriber {
  readonly topic: string;
  readonly queue: string | undefined;
  /** Stops delivery; resolves once no handler of this subscription is running. */
  unsubscribe(): Promise<void>;
}

/** Per-publish options; plugins extend this. */
export type PublishOptions = Record<never, never>;

/** Options every broker accepts; a plugin's options type extends this. */
export interface BrokerOptions {
  /** Server addresses; the meaning is the plugin's. */
  addresses?: string[];
  /** Where the broker logs, including handler failures. */
  logger?: Logger;
}

/** A message broker. */
export interface Broker {
  /** The name registered in node metadata (`broker`), e.g. `nats`. */
  readonly name: string;
  /** The address the broker connects to, for logs and node metadata. */
  readonly address: string;
  /**
   * Connects; idempotent.
   * @throws {@link MicroError} 503 when the server cannot be reached
   */
  connect(): Promise<void>;
  /** Stops every subscription, waits for running handlers, then disconnects. */
  disconnect(): Promise<void>;
  /**
   * Publishes a message.
   * @throws {@link MicroError} 503 when it cannot be handed to the server; a
   *   message is never silently dropped
   */
  publish(topic: string, message: BrokerMessage, options?: PublishOptions): Promise<void>;
  /** Subscribes; resolves once messages published afterwards will be delivered. */
  subscribe(topic: string, handler: BrokerHandler, options?: SubscribeOptions): Promise<Subscriber>;
}
