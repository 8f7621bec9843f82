/**
 * The server side of RPC and pub/sub: handlers are plain objects or class
 * instances whose methods become endpoints named `<Handler>.<Method>`.
 */
import type { Broker } from '../broker/broker.js';
import type { Codecs } from '../codec/codec.js';
import type { Logger } from '../logger/logger.js';
import type { Metadata } from '../metadata/metadata.js';
import type { Endpoint, Value } from '../registry/registry.js';
import type { Transport } from '../transport/transport.js';

/** What a handler learns about the call it serves. */
export interface Context {
  /** The caller's metadata (request headers), matched case-insensitively. */
  readonly metadata: Metadata;
  /** Aborts when the caller's deadline passes, the caller goes away or the server stops waiting. */
  readonly signal: AbortSignal;
  /** The caller's deadline (epoch milliseconds), if it sent one. */
  readonly deadline: number | undefined;
  /** The caller's address. */
  readonly remote: string;
  /** The service name the caller asked for. */
  readonly service: string;
  /** The endpoint, e.g. `Greeter.Hello`. */
  readonly endpoint: string;
}

/** The server end of a bidirectional stream. */
export interface ServerStream<Recv, Send> extends AsyncIterable<Recv> {
  /** Sends one message; waits while the transport applies backpressure. */
  send(message: Send): Promise<void>;
  /** @returns the next message, or undefined once the client closed its side */
  recv(): Promise<Recv | undefined>;
}

const STREAM = Symbol.for('@micro/core/stream-handler');

/** A stream endpoint: marked with {@link stream}. */
export type StreamHandler<Recv, Send> = ((
  stream: ServerStream<Recv, Send>,
  context: Context,
) => Promise<void>) & { readonly [STREAM]: true };

/**
 * Marks a handler method as a bidirectional stream endpoint (registered with
 * metadata `stream: "true"`, as go-micro does).
 *
 * @example
 * class Greeter {
 *   async Hello(req: { name: string }) { return { msg: `Hello ${req.name}` }; }
 *   Chat = stream<{ text: string }, { text: string }>(async (s) => {
 *     for await (const m of s) await s.send({ text: m.text.toUpperCase() });
 *   });
 * }
 */
export function stream<Recv, Send>(
  handler: (stream: ServerStream<Recv, Send>, context: Context) => Promise<void>,
): StreamHandler<Recv, Send> {
  return Object.assign(handler, { [STREAM]: true as const });
}

/** True for a function marked with {@link stream}. */
export function isStreamHandler(value: unknown): value is StreamHandler<unknown, unknown> {
  return typeof value === 'function' && (value as { [STREAM]?: unknown })[STREAM] === true;
}

/** One request as handler wrappers see it. */
export interface ServerRequest {
  readonly service: string;
  readonly endpoint: string;
  readonly contentType: string;
  /** The decoded request; for streams, the stream. */
  readonly body: unknown;
  readonly stream: boolean;
  readonly context: Context;
}

/** Serves one request; returns the response (undefined for streams). */
export type HandlerFunc = (request: ServerRequest) => Promise<unknown>;

/** Middleware around every handler call: logging, auth, metrics. */
export type HandlerWrapper = (next: HandlerFunc) => HandlerFunc;

/** What a subscriber handler receives besides the payload. */
export interface MessageContext {
  readonly topic: string;
  /** The message headers, matched case-insensitively. */
  readonly metadata: Metadata;
  readonly contentType: string;
}

/** One broker message as subscriber wrappers see it. */
export interface ServerMessage {
  readonly topic: string;
  /** The decoded payload. */
  readonly payload: unknown;
  readonly context: MessageContext;
}

/** Handles one decoded message. */
export type SubscriberFunc = (message: ServerMessage) => Promise<void>;

/** Middleware around every subscriber call. */
export type SubscriberWrapper = (next: SubscriberFunc) => SubscriberFunc;

/** Describes an endpoint for the registry, where TypeScript types cannot be reflected. */
export interface EndpointDescription {
  request?: Value | null;
  response?: Value | null;
  metadata?: Record<string, string>;
}

/** Options for {@link Server.handle}. */
export interface HandleOptions {
  /**
   * The handler name in `<Handler>.<Method>`.
   * @default the instance's class name
   */
  name?: string;
  /** Registry descriptions per method name. */
  endpoints?: Record<string, EndpointDescription>;
}

/** Options for {@link Server.subscribe}. */
export interface ServerSubscribeOptions {
  /** A queue group: each message goes to one subscriber of the group. */
  queue?: string;
  /**
   * Ack when the handler resolves, nack when it throws.
   * @default true
   */
  autoAck?: boolean;
  /**
   * The endpoint name registered for this subscriber.
   * @default the handler function's name, else the topic
   */
  name?: string;
}

/** A subscriber handler: gets the decoded payload. */
export type SubscriberHandler<T = unknown> = (
  payload: T,
  context: MessageContext,
) => Promise<void> | void;

/** Options for the RPC server. */
export interface ServerOptions {
  /** The service name callers ask for. */
  name: string;
  /**
   * The address to listen on.
   * @default '127.0.0.1:0'
   */
  address?: string;
  /** Carries requests. */
  transport: Transport;
  /** Carries subscriptions. */
  broker: Broker;
  /** Decodes requests by their Content-Type. */
  codecs: Codecs;
  /**
   * How long `stop()` waits for in-flight calls and streams, in milliseconds.
   * @default 10000
   */
  shutdownTimeout?: number;
  handlerWrappers?: readonly HandlerWrapper[];
  subscriberWrappers?: readonly SubscriberWrapper[];
  logger?: Logger;
}

/** Serves RPC endpoints and broker subscriptions. */
export interface Server {
  /**
   * Registers a handler's methods as endpoints `<Handler>.<Method>`.
   * @param handler a class instance or an object of async methods
   * @throws TypeError when the name cannot be inferred or is taken
   */
  handle(handler: object, options?: HandleOptions): this;
  /** Subscribes a handler to a topic once the server starts. */
  subscribe<T = unknown>(
    topic: string,
    handler: SubscriberHandler<T>,
    options?: ServerSubscribeOptions,
  ): this;
  /** Listens and subscribes. */
  start(): Promise<void>;
  /**
   * Refuses new calls with 503, waits for in-flight calls and streams (up to the
   * shutdown timeout), unsubscribes, and closes the listener.
   */
  stop(): Promise<void>;
  /** The bound address once started. */
  readonly address: string;
  /** Endpoints for the registry, go-micro style. */
  endpoints(): Endpoint[];
}
