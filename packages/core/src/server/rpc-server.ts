import type { Subscriber } from '../broker/broker.js';
import type { Codec } from '../codec/codec.js';
import {
  badRequest,
  cancelled,
  ErrorIds,
  errorMessage,
  fromError,
  internalServerError,
  isError,
  isMicroError,
  type MicroError,
  notFound,
  parseError,
  timeout,
  unavailable,
} from '../errors/errors.js';
import { Headers } from '../internal/headers.js';
import { InFlight } from '../internal/in-flight.js';
import { RpcStream } from '../internal/rpc-stream.js';
import { type Logger, silentLogger } from '../logger/logger.js';
import { getHeader } from '../metadata/metadata.js';
import type { Endpoint } from '../registry/registry.js';
import type { Header, Listener, Message, Socket } from '../transport/transport.js';
import { type CallerWatch, EventContext, RequestContext } from './context.js';
import {
  type EndpointDescription,
  type HandleOptions,
  type HandlerFunc,
  isStreamHandler,
  type Server,
  type ServerOptions,
  type ServerRequest,
  type ServerSubscribeOptions,
  type SubscriberFunc,
  type SubscriberHandler,
} from './server.js';

interface Route {
  endpoint: string;
  method: (...args: unknown[]) => unknown;
  target: object;
  stream: boolean;
  description: EndpointDescription | undefined;
}

interface Subscription {
  topic: string;
  name: string;
  /** The handler behind the subscriber wrappers. */
  deliver: SubscriberFunc;
  options: ServerSubscribeOptions;
  active: Subscriber | undefined;
}

const DEFAULT_CONTENT_TYPE = 'application/json';
/** The caller address a handler sees for a local call. */
const LOCAL_ADDRESS = 'local';
/** What a handler sees as the content type of a local call: values, not bytes. */
const LOCAL_CONTENT_TYPE = 'application/x-local';

/** A unary call made in this process (see {@link RpcServer.invokeLocal}). */
export interface LocalRequest {
  service: string;
  endpoint: string;
  /** The request value itself, not encoded. */
  body: unknown;
  /** Request headers, as a network call would carry them. */
  header: Header;
  /** The caller's deadline, epoch ms. */
  deadline: number | undefined;
  /** Lets the handler's signal learn when the caller gives up. */
  watch?: CallerWatch;
}
const EMPTY = new Uint8Array(0);

/** The default shutdown drain bound: 10 s. */
export const DEFAULT_SHUTDOWN_TIMEOUT = 10_000;

/**
 * The RPC server: routes each incoming conversation to `<Handler>.<Method>`,
 * decodes with the codec the request names, answers in the same codec, and
 * turns every failure into a go-micro error without ever going down.
 */
export class RpcServer implements Server {
  readonly #options: ServerOptions;
  readonly #logger: Logger;
  readonly #routes = new Map<string, Route>();
  readonly #subscriptions: Subscription[] = [];
  readonly #inFlight = new InFlight();
  readonly #contexts = new Set<RequestContext>();
  readonly #call: HandlerFunc;
  #listener: Listener | undefined;
  #draining = false;

  /** @param options transport, broker, codecs, wrappers and limits */
  constructor(options: ServerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#call = (options.handlerWrappers ?? []).reduceRight<HandlerFunc>(
      (next, wrap) => wrap(next),
      (request) => this.#invoke(request),
    );
  }

  get address(): string {
    if (!this.#listener) throw new Error('server not started');
    return this.#listener.address;
  }

  handle(handler: object, options: HandleOptions = {}): this {
    const name = options.name ?? handlerName(handler);
    const methods = methodNames(handler);
    if (methods.length === 0) throw new TypeError(`handler ${name} has no methods`);
    for (const method of methods) {
      const endpoint = `${name}.${method}`;
      if (this.#routes.has(endpoint))
        throw new TypeError(`endpoint ${endpoint} is already handled`);
      const fn = (handler as Record<string, (...args: unknown[]) => unknown>)[method]!;
      this.#routes.set(endpoint, {
        endpoint,
        method: fn,
        target: handler,
        stream: isStreamHandler(fn),
        description: options.endpoints?.[method],
      });
    }
    return this;
  }

  subscribe<T = unknown>(
    topic: string,
    handler: SubscriberHandler<T>,
    options: ServerSubscribeOptions = {},
  ): this {
    if (this.#listener) throw new Error('subscribe before the server starts');
    const deliver = (this.#options.subscriberWrappers ?? []).reduceRight<SubscriberFunc>(
      (next, wrap) => wrap(next),
      (message) => {
        // Not an async function: one promise fewer per message when the handler
        // returns its own (or none); a throw still becomes a rejection.
        try {
          const result = handler(message.payload as T, message.context);
          return result === undefined ? DELIVERED : Promise.resolve(result);
        } catch (error) {
          return Promise.reject(error);
        }
      },
    );
    this.#subscriptions.push({
      topic,
      name: options.name ?? (handler.name || topic),
      deliver,
      options,
      active: undefined,
    });
    return this;
  }

  endpoints(): Endpoint[] {
    const endpoints: Endpoint[] = [];
    for (const route of this.#routes.values()) {
      endpoints.push({
        name: route.endpoint,
        request: route.description?.request ?? null,
        response: route.description?.response ?? null,
        metadata: {
          ...route.description?.metadata,
          ...(route.stream ? { stream: 'true' } : {}),
        },
      });
    }
    for (const subscription of this.#subscriptions) {
      endpoints.push({
        name: subscription.name,
        request: null,
        response: null,
        metadata: {
          topic: subscription.topic,
          subscriber: 'true',
          ...(subscription.options.queue ? { queue: subscription.options.queue } : {}),
        },
      });
    }
    return endpoints;
  }

  async start(): Promise<void> {
    if (this.#listener) return;
    this.#draining = false;
    const listener = await this.#options.transport.listen(this.#options.address ?? '127.0.0.1:0');
    listener.accept((socket) => {
      void this.#serve(socket);
    });
    this.#listener = listener;
    try {
      for (const subscription of this.#subscriptions) {
        subscription.active = await this.#options.broker.subscribe(
          subscription.topic,
          (event) => this.#onEvent(subscription, event.topic, event.message),
          { queue: subscription.options.queue, autoAck: subscription.options.autoAck ?? true },
        );
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    const listener = this.#listener;
    if (!listener) return;
    this.#draining = true;
    const timeoutMs = this.#options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT;
    const drained = this.#inFlight.drain(timeoutMs);
    const unsubscribed = Promise.all(
      this.#subscriptions.map(async (subscription) => {
        const active = subscription.active;
        subscription.active = undefined;
        await active?.unsubscribe();
      }),
    );
    if (!(await drained)) {
      this.#logger.warn('server: calls still running after the shutdown timeout; cancelling them', {
        running: this.#inFlight.size,
        timeoutMs,
      });
      for (const context of this.#contexts) {
        context.abort(unavailable(ErrorIds.server, 'server stopped before the call finished'));
      }
    }
    await unsubscribed;
    this.#listener = undefined;
    await listener.close();
  }

  /** Serves one conversation: one unary call or one stream. */
  /**
   * Serves one conversation. A stream owns it to the end; unary calls are served
   * one after another for as long as the caller keeps it open, because go-micro's
   * clients pool a socket and send their next call on it (ours close after one).
   */
  async #serve(socket: Socket): Promise<void> {
    let next = readNext(socket);
    try {
      while (true) {
        const message = await next;
        if (message === undefined) return; // the caller closed the conversation
        // A notice from a caller that gave up on a call already answered: nothing to do.
        if (isLeaveNotice(message)) {
          next = readNext(socket);
          continue;
        }
        const route = this.#routeOf(message.header);
        if (route?.stream) {
          await this.#serveStream(route, socket, message);
          return;
        }
        // Read ahead while the handler runs: the caller either leaves (and says why)
        // or, after the reply, sends its next call.
        next = readNext(socket);
        await this.#serveUnary(socket, message, route, next);
      }
    } finally {
      void socket.close();
    }
  }

  /** Serves one unary call read from a conversation and sends the reply or the error. */
  async #serveUnary(
    socket: Socket,
    message: Message,
    route: Route | undefined,
    next: Promise<Message | undefined>,
  ): Promise<void> {
    this.#inFlight.enter();
    const header = message.header;
    const id = getHeader(header, Headers.id) ?? '';
    let contentType = DEFAULT_CONTENT_TYPE;
    let context: RequestContext | undefined;
    try {
      const served = route ?? this.#route(endpointOf(header));
      const requested = getHeader(header, Headers.contentType) || DEFAULT_CONTENT_TYPE;
      const codec = this.#options.codecs.require(requested);
      contentType = requested;
      context = new RequestContext(
        header,
        socket.remote,
        getHeader(header, Headers.service) ?? this.#options.name,
        served.endpoint,
        deadlineOf(header),
        watchNext(next, served.endpoint),
      );
      this.#contexts.add(context);
      const result = await this.#unary(served, decode(codec, message.body), contentType, context);
      await socket.send({ header: replyHeader(id, contentType), body: codec.marshal(result) });
    } catch (error) {
      const failure = this.#failure(error, context?.endpoint);
      const reply = replyHeader(id, contentType);
      reply[Headers.error] = failure.toString();
      await socket.send({ header: reply, body: EMPTY }).catch(() => {});
    } finally {
      if (context) {
        context.finish();
        this.#contexts.delete(context);
      }
      this.#inFlight.leave();
    }
  }

  /** The route a message names, or undefined when draining or unknown (served as an error). */
  #routeOf(header: Header): Route | undefined {
    if (this.#draining) return undefined;
    const endpoint = endpointOf(header);
    return endpoint ? this.#routes.get(endpoint) : undefined;
  }

  /**
   * Serves a unary call made in this process without transport or codec: the
   * same routing, wrappers, deadline and error mapping, with values passed by
   * reference. The client's `local` option uses it.
   * @throws {@link MicroError} as the call would answer over a transport
   */
  async invokeLocal(request: LocalRequest): Promise<unknown> {
    this.#inFlight.enter();
    let context: RequestContext | undefined;
    try {
      const route = this.#route(request.endpoint);
      if (route.stream) {
        throw badRequest(
          ErrorIds.server,
          `${route.endpoint} is a stream endpoint: open it with client.stream`,
        );
      }
      context = new RequestContext(
        request.header,
        LOCAL_ADDRESS,
        request.service,
        route.endpoint,
        request.deadline,
        request.watch,
      );
      this.#contexts.add(context);
      return await this.#unary(route, request.body, LOCAL_CONTENT_TYPE, context);
    } catch (error) {
      throw this.#failure(error, context?.endpoint ?? request.endpoint);
    } finally {
      if (context) {
        context.finish();
        this.#contexts.delete(context);
      }
      this.#inFlight.leave();
    }
  }

  /** The route for an endpoint; 503 while draining, 404 when unknown. */
  #route(endpoint: string | undefined): Route {
    if (this.#draining) {
      throw unavailable(ErrorIds.server, `server ${this.#options.name} is shutting down`);
    }
    const route = endpoint ? this.#routes.get(endpoint) : undefined;
    if (route) return route;
    throw notFound(
      ErrorIds.server,
      endpoint
        ? `service ${this.#options.name} has no endpoint ${endpoint}`
        : 'request names no endpoint (Micro-Endpoint header missing)',
    );
  }

  /** Runs a unary handler through the wrappers. */
  async #unary(
    route: Route,
    body: unknown,
    contentType: string,
    context: RequestContext,
  ): Promise<unknown> {
    const result = await this.#call({
      service: context.service,
      endpoint: route.endpoint,
      contentType,
      body,
      stream: false,
      context,
    });
    if (context.expired) {
      // The caller has given up: a late answer would be a lie about the deadline.
      throw timeout(ErrorIds.server, `${route.endpoint} finished after the caller's deadline`);
    }
    return result;
  }

  /** Serves a stream: the conversation belongs to it until either side ends it. */
  async #serveStream(route: Route, socket: Socket, first: Message): Promise<void> {
    this.#inFlight.enter();
    const header = first.header;
    const id = getHeader(header, Headers.id) ?? '';
    let contentType = DEFAULT_CONTENT_TYPE;
    let context: RequestContext | undefined;
    try {
      const requested = getHeader(header, Headers.contentType) || DEFAULT_CONTENT_TYPE;
      const codec = this.#options.codecs.require(requested);
      contentType = requested;
      context = new RequestContext(
        header,
        socket.remote,
        getHeader(header, Headers.service) ?? this.#options.name,
        route.endpoint,
        deadlineOf(header),
      );
      this.#contexts.add(context);
      await this.#runStream(route, socket, codec, first, replyHeader(id, contentType), context);
    } catch (error) {
      const reply = replyHeader(id, contentType);
      reply[Headers.error] = this.#failure(error, route.endpoint).toString();
      await socket.send({ header: reply, body: EMPTY }).catch(() => {});
    } finally {
      if (context) {
        context.finish();
        this.#contexts.delete(context);
      }
      this.#inFlight.leave();
    }
  }

  async #runStream(
    route: Route,
    socket: Socket,
    codec: Codec,
    first: Message,
    reply: Header,
    context: RequestContext,
  ): Promise<void> {
    const rpcStream = new RpcStream<unknown, unknown>(socket, codec, reply, first);
    const stream = {
      send: async (value: unknown) => {
        try {
          await rpcStream.send(value);
        } catch (error) {
          context.abort(error);
          throw error;
        }
      },
      recv: async () => {
        try {
          return await rpcStream.recv();
        } catch (error) {
          context.abort(error);
          throw error;
        }
      },
      async *[Symbol.asyncIterator]() {
        while (true) {
          const value = await stream.recv();
          if (value === undefined && rpcStream.ended) return;
          yield value;
        }
      },
    };
    try {
      await this.#call({
        service: context.service,
        endpoint: route.endpoint,
        contentType: reply[Headers.contentType] ?? DEFAULT_CONTENT_TYPE,
        body: stream,
        stream: true,
        context,
      });
      await rpcStream.closeSend();
    } catch (error) {
      await rpcStream.fail(this.#failure(error, route.endpoint));
    }
  }

  #invoke(request: ServerRequest): Promise<unknown> {
    const route = this.#routes.get(request.endpoint);
    if (!route) {
      return Promise.reject(notFound(ErrorIds.server, `no endpoint ${request.endpoint}`));
    }
    try {
      return Promise.resolve(route.method.call(route.target, request.body, request.context));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Maps anything thrown to the error the caller gets, logging what the caller cannot see. */
  #failure(error: unknown, endpoint: string | undefined): MicroError {
    if (isMicroError(error)) {
      if (error.code >= 500) {
        this.#logger.warn('server: call failed', {
          endpoint,
          code: error.code,
          error: error.detail,
        });
      }
      return error;
    }
    this.#logger.error('server: handler threw', {
      endpoint,
      error: isError(error) ? (error.stack ?? error.message) : String(error),
    });
    const message = errorMessage(error);
    return internalServerError(this.#options.name, message, error);
  }

  /** A message for a subscription; rejects (never throws) when it cannot be decoded or handled. */
  #onEvent(subscription: Subscription, topic: string, message: Message): Promise<void> {
    try {
      const contentType = getHeader(message.header, Headers.contentType) || DEFAULT_CONTENT_TYPE;
      const codec = this.#options.codecs.require(contentType);
      const payload = decode(codec, message.body);
      const context = new EventContext(
        getHeader(message.header, Headers.topic) || topic,
        message.header,
        contentType,
      );
      return subscription.deliver({ topic: subscription.topic, payload, context });
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/** What a subscriber call resolves to when the handler returned no promise. */
const DELIVERED: Promise<void> = Promise.resolve();

function endpointOf(header: Header): string | undefined {
  return getHeader(header, Headers.endpoint) || getHeader(header, Headers.method);
}

/** The caller's deadline from `Timeout` (ns), in whole ms so a timer at the deadline sees it passed. */
function deadlineOf(header: Header): number | undefined {
  const timeoutNs = getHeader(header, Headers.timeout);
  if (!timeoutNs) return undefined;
  const deadline = Date.now() + Math.floor(Number(timeoutNs) / 1e6);
  return Number.isFinite(deadline) ? deadline : undefined;
}

/** A message that only says the caller gave up (`Micro-Error` and no endpoint). */
function isLeaveNotice(message: Message): boolean {
  return (
    getHeader(message.header, Headers.error) !== undefined &&
    endpointOf(message.header) === undefined
  );
}

/**
 * The handler's view of the caller: the message read ahead either says the caller
 * gave up (and why), or the conversation ended; a next call says neither.
 */
function watchNext(next: Promise<Message | undefined>, endpoint: string): CallerWatch {
  return (gone) => {
    void next.then((message) => {
      if (message === undefined) {
        gone(cancelled(ErrorIds.server, `caller went away during ${endpoint}`));
      } else if (isLeaveNotice(message)) {
        gone(parseError(getHeader(message.header, Headers.error)!));
      }
    });
  };
}

const closedConversation = (): undefined => undefined;

/**
 * The next message, or undefined once the conversation closed. Mapped to a value
 * at once: a rejection nobody handles yet costs Node's unhandled-rejection
 * bookkeeping, more than a whole in-process call.
 */
function readNext(socket: Socket): Promise<Message | undefined> {
  return socket.recv().then(undefined, closedConversation);
}

/** The headers of every reply: the request's id and the content type it was answered in. */
function replyHeader(id: string, contentType: string): Header {
  return { [Headers.id]: id, [Headers.contentType]: contentType };
}

/** Decodes a body, answering 400 (never 500) when it cannot be decoded. */
function decode(codec: Codec, body: Uint8Array): unknown {
  try {
    return codec.unmarshal(body);
  } catch (error) {
    const detail = isMicroError(error) ? error.detail : fromError(error).detail;
    throw badRequest(ErrorIds.server, `cannot decode ${codec.contentType} body: ${detail}`, error);
  }
}

function handlerName(handler: object): string {
  const name = handler.constructor?.name;
  if (!name || name === 'Object') {
    throw new TypeError('cannot infer the handler name of a plain object: pass { name }');
  }
  return name;
}

/** Own function properties (object literals, class fields) and prototype methods. */
function methodNames(handler: object): string[] {
  const names = new Set<string>();
  for (let target: object | null = handler; target && target !== Object.prototype; ) {
    for (const key of Object.getOwnPropertyNames(target)) {
      if (key === 'constructor' || key.startsWith('_')) continue;
      const descriptor = Object.getOwnPropertyDescriptor(target, key);
      if (descriptor && typeof descriptor.value === 'function') names.add(key);
    }
    target = Object.getPrototypeOf(target);
  }
  return [...names];
}
