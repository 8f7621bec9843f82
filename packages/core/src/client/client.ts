/**
 * The client side: calls with one total deadline and retries that help, bidirectional
 * streams, publishing, and a typed view of a service's handlers.
 */
import type { Broker } from '../broker/broker.js';
import type { Codecs } from '../codec/codec.js';
import type { BackoffOptions } from '../internal/backoff.js';
import type { Logger } from '../logger/logger.js';
import type { MetadataInit } from '../metadata/metadata.js';
import type { Filter, Selector } from '../selector/selector.js';
import type { Context, StreamHandler } from '../server/server.js';
import type { Transport } from '../transport/transport.js';

/** Options shared by calls and streams. */
export interface RequestOptions {
  /** Aborts the call or stream; the caller gets a 499. */
  signal?: AbortSignal;
  /** Call this address directly instead of asking the selector. */
  address?: string;
  /** Selector filters, e.g. `filterVersion('v2')`. */
  filters?: readonly Filter[];
  /** Metadata sent as request headers. */
  metadata?: MetadataInit;
  /**
   * The request's content type; the server answers in the same.
   * @default the client's `contentType` (`application/json`)
   */
  contentType?: string;
  /**
   * The context of the request being served: its remaining deadline caps this
   * call, its cancellation cancels it, and its metadata travels on.
   */
  context?: Context;
}

/** Per-call options. */
export interface CallOptions extends RequestOptions {
  /**
   * The total deadline of the call, retries included, in milliseconds.
   * @default the client's `requestTimeout` (30000, as go-micro)
   */
  timeout?: number;
  /**
   * The longest one attempt may take, in milliseconds; never past the deadline.
   * @default the time left before the deadline
   */
  attemptTimeout?: number;
  /**
   * How many times a failed attempt is retried (on another node where there is one).
   * Only connection failures, unavailable nodes (503) and timeouts (408) retry.
   * @default the client's `retries` (3)
   */
  retries?: number;
}

/** Per-stream options. */
export interface StreamOptions extends RequestOptions {
  /** A deadline for the whole stream, in milliseconds. Streams have none by default. */
  timeout?: number;
}

/** Per-publish options. */
export interface PublishOptions {
  /** @default the client's `contentType` (`application/json`) */
  contentType?: string;
  /** Extra message headers. */
  metadata?: MetadataInit;
}

/** The client end of a bidirectional stream. */
export interface ClientStream<Send, Recv> extends AsyncIterable<Recv> {
  /** Sends one message; waits while the transport applies backpressure. */
  send(message: Send): Promise<void>;
  /**
   * @returns the next message, or undefined once the server ended the stream
   * @throws {@link MicroError} the server's error, 408 past the stream's timeout,
   *   499 when cancelled, 503 when the connection failed
   */
  recv(): Promise<Recv | undefined>;
  /** Tells the server the client is done sending (go-micro's EOS); replies still arrive. */
  closeSend(): Promise<void>;
  /** Cancels the stream in both directions; the server's handler sees its signal abort. */
  close(): Promise<void>;
}

/** One call as call wrappers see it. */
export interface ClientRequest {
  readonly service: string;
  readonly endpoint: string;
  readonly body: unknown;
  readonly options: CallOptions;
}

/** Performs one call (all its attempts). */
export type CallFunc = (request: ClientRequest) => Promise<unknown>;

/** Middleware around every call: logging, auth headers, metrics, circuit breaking. */
export type CallWrapper = (next: CallFunc) => CallFunc;

/** Options for the RPC client. */
export interface ClientOptions {
  transport: Transport;
  selector: Selector;
  broker: Broker;
  codecs: Codecs;
  /**
   * The default content type of requests and publications.
   * @default 'application/json'
   */
  contentType?: string;
  /**
   * The default total deadline of a call, in milliseconds.
   * @default 30000 (go-micro v4.10+)
   */
  requestTimeout?: number;
  /**
   * The default number of retries.
   * @default 3
   */
  retries?: number;
  /**
   * How long a dial may take, in milliseconds; never past the attempt's time.
   * @default 5000
   */
  dialTimeout?: number;
  /**
   * The delay between attempts: exponential with full jitter.
   * @default { base: 50, max: 1000 }
   */
  backoff?: BackoffOptions;
  /**
   * Idle conversations kept per address for later calls (go-micro's pool size);
   * 0 dials for every call.
   * @default 100
   */
  poolSize?: number;
  /**
   * How long an idle pooled conversation is kept, in milliseconds.
   * @default 60000
   */
  poolTtl?: number;
  /**
   * Call servers running in this same process directly: no transport, no codec,
   * request and response passed by reference (so neither side may change them
   * afterwards). Routing, wrappers, deadlines, retries and errors are unchanged;
   * streams always use the transport. go-micro v6 calls this `client.Local`.
   * @default false
   */
  local?: boolean;
  wrappers?: readonly CallWrapper[];
  logger?: Logger;
}

/** Makes calls, opens streams and publishes. */
export interface Client {
  /**
   * Calls `endpoint` of `service` and returns the decoded response.
   * @example const { msg } = await client.call<{ msg: string }>('helloworld', 'Greeter.Hello', { name: 'John' });
   * @throws {@link MicroError} the handler's error, 404 for an unknown service or
   *   endpoint, 408 past the deadline, 499 when cancelled, 503 when no node answered
   */
  call<Response = unknown>(
    service: string,
    endpoint: string,
    request: unknown,
    options?: CallOptions,
  ): Promise<Response>;
  /**
   * Opens a bidirectional stream; the first `send` carries the call to the server.
   * @throws {@link MicroError} 404 for an unknown service, 503 when no node answered
   */
  stream<Send = unknown, Recv = unknown>(
    service: string,
    endpoint: string,
    options?: StreamOptions,
  ): Promise<ClientStream<Send, Recv>>;
  /**
   * Publishes a message through the broker with `Content-Type`, `Micro-Topic` and `Micro-ID`.
   * @throws {@link MicroError} 503 when the broker cannot take it
   */
  publish(topic: string, message: unknown, options?: PublishOptions): Promise<void>;
  /**
   * A typed view of a service, from the TypeScript types of its handlers.
   * @example
   * const greeter = client.service<{ Greeter: Greeter }>('helloworld');
   * const { msg } = await greeter.Greeter.Hello({ name: 'John' });
   * const chat = await greeter.Greeter.Chat.stream();
   */
  service<Handlers extends object>(name: string, defaults?: CallOptions): ServiceClient<Handlers>;
  /** Closes the pooled idle conversations; a Service does this when it stops. */
  close(): Promise<void>;
}

/** A typed endpoint: a function for unary methods, `.stream()` for stream handlers. */
export type ClientEndpoint<Method> =
  Method extends StreamHandler<infer Recv, infer Send>
    ? { stream(options?: StreamOptions): Promise<ClientStream<Recv, Send>> }
    : Method extends (request: infer Request, ...rest: never[]) => infer Response
      ? (request: Request, options?: CallOptions) => Promise<Awaited<Response>>
      : never;

/** The client view of one handler's methods. */
export type HandlerClient<Handler> = {
  [Method in keyof Handler as Handler[Method] extends (...args: never[]) => unknown
    ? Method
    : never]: ClientEndpoint<Handler[Method]>;
};

/** The client view of a service: `{ Greeter: Greeter }` gives `svc.Greeter.Hello(req)`. */
export type ServiceClient<Handlers> = {
  [Name in keyof Handlers]: HandlerClient<Handlers[Name]>;
};
