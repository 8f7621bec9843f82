import { randomUUID } from 'node:crypto';
import type { Codec } from '../codec/codec.js';
import {
  cancelled,
  ErrorIds,
  errorMessage,
  internalServerError,
  isMicroError,
  isRetryable,
  type MicroError,
  parseError,
  timeout,
} from '../errors/errors.js';
import { backoffDelay, sleep } from '../internal/backoff.js';
import { deadlines } from '../internal/deadlines.js';
import { Headers, PROTOCOL_HEADERS } from '../internal/headers.js';
import { type LocalServer, localServers } from '../internal/local.js';
import { RpcStream } from '../internal/rpc-stream.js';
import { type Logger, silentLogger } from '../logger/logger.js';
import { getHeader, Metadata } from '../metadata/metadata.js';
import type { Node } from '../registry/registry.js';
import type { Next } from '../selector/selector.js';
import type { Header, Message, Socket } from '../transport/transport.js';
import type {
  CallFunc,
  CallOptions,
  Client,
  ClientOptions,
  ClientRequest,
  ClientStream,
  PublishOptions,
  RequestOptions,
  ServiceClient,
  StreamOptions,
} from './client.js';
import { DEFAULT_POOL_SIZE, DEFAULT_POOL_TTL, SocketPool } from './pool.js';

/** go-micro v4.10+'s request timeout. */
export const DEFAULT_REQUEST_TIMEOUT = 30_000;
/** Retries after the first attempt. */
export const DEFAULT_RETRIES = 3;

const DEFAULT_CONTENT_TYPE = 'application/json';
const DEFAULT_DIAL_TIMEOUT = 5_000;
const EMPTY = new Uint8Array(0);

/**
 * The RPC client. One call has one deadline; each attempt gets the time left
 * (or less), sends that budget downstream in `Timeout`, and a failure that a
 * retry can fix (503, 408) is retried on another node after a jittered backoff.
 */
export class RpcClient implements Client {
  readonly #options: ClientOptions;
  readonly #logger: Logger;
  readonly #contentType: string;
  readonly #requestTimeout: number;
  readonly #retries: number;
  readonly #dialTimeout: number;
  readonly #backoff: { base: number; max: number };
  readonly #local: boolean;
  readonly #pool: SocketPool;
  readonly #call: CallFunc;
  #sequence = 0;

  /** @param options transport, selector, broker, codecs and defaults */
  constructor(options: ClientOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#contentType = options.contentType ?? DEFAULT_CONTENT_TYPE;
    this.#requestTimeout = options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT;
    this.#retries = options.retries ?? DEFAULT_RETRIES;
    this.#dialTimeout = options.dialTimeout ?? DEFAULT_DIAL_TIMEOUT;
    this.#backoff = { base: options.backoff?.base ?? 50, max: options.backoff?.max ?? 1_000 };
    this.#local = options.local ?? false;
    this.#pool = new SocketPool(
      options.poolSize ?? DEFAULT_POOL_SIZE,
      options.poolTtl ?? DEFAULT_POOL_TTL,
    );
    this.#call = (options.wrappers ?? []).reduceRight<CallFunc>(
      (next, wrap) => wrap(next),
      (request) => this.#execute(request),
    );
  }

  call<Response = unknown>(
    service: string,
    endpoint: string,
    request: unknown,
    options: CallOptions = {},
  ): Promise<Response> {
    return this.#call({ service, endpoint, body: request, options }) as Promise<Response>;
  }

  async publish(topic: string, message: unknown, options: PublishOptions = {}): Promise<void> {
    const contentType = options.contentType ?? this.#contentType;
    const codec = this.#options.codecs.require(contentType);
    const header: Header = {};
    if (options.metadata)
      for (const [key, value] of new Metadata(options.metadata)) header[key] = value;
    header[Headers.contentType] = contentType;
    header[Headers.topic] = topic;
    // go-micro writes this key literally: it lives in a broker envelope, never in HTTP.
    header['Micro-ID'] = randomUUID();
    await this.#options.broker.publish(topic, { header, body: codec.marshal(message) });
  }

  service<Handlers extends object>(
    name: string,
    defaults: CallOptions = {},
  ): ServiceClient<Handlers> {
    const handlers = new Map<string, object>();
    return new Proxy({} as ServiceClient<Handlers>, {
      get: (_target, handler) => {
        if (typeof handler !== 'string') return undefined;
        let methods = handlers.get(handler);
        if (!methods) {
          methods = this.#handlerProxy(name, handler, defaults);
          handlers.set(handler, methods);
        }
        return methods;
      },
    });
  }

  #handlerProxy(service: string, handler: string, defaults: CallOptions): object {
    return new Proxy(
      {},
      {
        get: (_target, method) => {
          if (typeof method !== 'string') return undefined;
          const endpoint = `${handler}.${method}`;
          const call = (request: unknown, options?: CallOptions) =>
            this.call(service, endpoint, request, options ? { ...defaults, ...options } : defaults);
          return Object.assign(call, {
            stream: (options?: StreamOptions) =>
              this.stream(service, endpoint, options ? { ...defaults, ...options } : defaults),
          });
        },
      },
    );
  }

  /** Every attempt of one call. */
  async #execute(request: ClientRequest): Promise<unknown> {
    const { service, endpoint, options } = request;
    const contentType = options.contentType ?? this.#contentType;
    const codec = this.#options.codecs.require(contentType);
    // Encoded on the first attempt that needs bytes: a local call needs none.
    let outgoing: Outgoing | undefined;
    const parent = options.context;
    let deadline = Date.now() + (options.timeout ?? this.#requestTimeout);
    if (parent?.deadline !== undefined && parent.deadline < deadline) deadline = parent.deadline;
    const signal = combine(options.signal, parent?.signal);
    const metadata = this.#metadata(options);
    const retries = Math.max(0, options.retries ?? this.#retries);
    let next: Next | undefined;
    let lastError: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (signal?.aborted) throw this.#cancelled(service, endpoint, signal);
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      let node: Node | undefined;
      try {
        if (!next) next = await this.#next(service, options);
        node = next();
        const attemptTimeout = Math.min(options.attemptTimeout ?? remaining, remaining);
        const local = this.#local ? localServers.get(node.address) : undefined;
        if (!local && !outgoing) {
          const body = codec.marshal(request.body);
          outgoing = { request, contentType, codec, metadata, body, signal };
        }
        const response = local
          ? await this.#attemptLocal(local, request, metadata, attemptTimeout, signal)
          : await this.#attempt(node, outgoing!, attemptTimeout);
        if (!options.address) this.#options.selector.mark(service, node);
        return response;
      } catch (error) {
        lastError = error;
        if (node && !options.address) this.#options.selector.mark(service, node, error);
        if (signal?.aborted) throw this.#cancelled(service, endpoint, signal);
        if (!isRetryable(error) || attempt === retries) throw error;
        this.#logger.debug('client: retrying', {
          service,
          endpoint,
          attempt: attempt + 1,
          node: node?.address,
          error: errorMessage(error),
        });
      }
      const pause = Math.min(backoffDelay(attempt, this.#backoff), deadline - Date.now());
      if (pause > 0) {
        try {
          await sleep(pause, signal);
        } catch {
          throw this.#cancelled(service, endpoint, signal!);
        }
      }
    }
    const last = lastError === undefined ? '' : `; last error: ${errorMessage(lastError)}`;
    throw timeout(
      ErrorIds.client,
      `call to ${service} ${endpoint} timed out after ${options.timeout ?? this.#requestTimeout} ms${last}`,
      lastError,
    );
  }

  /** One attempt on a server in this process: no transport, no codec, values by reference. */
  #attemptLocal(
    local: LocalServer,
    request: ClientRequest,
    metadata: Header | undefined,
    attemptTimeout: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const header: Header = {
      [Headers.id]: String(++this.#sequence),
      [Headers.service]: request.service,
      [Headers.endpoint]: request.endpoint,
      [Headers.method]: request.endpoint,
    };
    if (metadata) {
      for (const key in metadata) if (!(key in header)) header[key] = metadata[key]!;
    }
    const deadline = Date.now() + attemptTimeout;
    return new Promise((resolve, reject) => {
      let settled = false;
      let gone: ((reason: unknown) => void) | undefined;
      const settle = () => {
        settled = true;
        deadlines.clear(entry);
        signal?.removeEventListener('abort', onAbort);
      };
      const leave = (error: MicroError) => {
        if (settled) return;
        settle();
        gone?.(error);
        reject(error);
      };
      const entry = deadlines.add(deadline, () =>
        leave(
          timeout(
            ErrorIds.client,
            `call to ${request.service} ${request.endpoint} (local) timed out after ${attemptTimeout} ms`,
          ),
        ),
      );
      const onAbort = () => leave(this.#cancelled(request.service, request.endpoint, signal!));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      local
        .invokeLocal({
          service: request.service,
          endpoint: request.endpoint,
          body: request.body,
          header,
          deadline,
          watch: (callback) => {
            gone = callback;
          },
        })
        .then(
          (value) => {
            if (settled) return;
            settle();
            resolve(value);
          },
          (error: unknown) => {
            if (settled) return;
            settle();
            reject(error);
          },
        );
    });
  }

  /**
   * One attempt on one node, on a pooled conversation when there is one. A pooled
   * conversation that turns out closed (the server restarted or stopped since)
   * is replaced by a fresh dial at once: nothing reached a handler.
   */
  async #attempt(node: Node, outgoing: Outgoing, attemptTimeout: number): Promise<unknown> {
    const started = Date.now();
    // First a pooled conversation if there is one, then (or else) a fresh dial
    for (let pooled = this.#pool.take(node.address); ; pooled = undefined) {
      const socket =
        pooled ??
        (await this.#options.transport.dial(node.address, {
          timeout: Math.min(this.#dialTimeout, attemptTimeout - (Date.now() - started)),
          signal: outgoing.signal,
        }));
      try {
        return await this.#exchange(socket, node, outgoing, attemptTimeout, started);
      } catch (error) {
        if (!(error instanceof StaleConversation)) throw error;
        if (pooled === undefined) throw error.cause;
      }
    }
  }

  /**
   * Sends the request and reads the reply on one conversation. The conversation
   * goes back to the pool after any reply (a handler's error included) and is
   * closed otherwise. One already closed when the request is sent is reported as
   * {@link StaleConversation}: nothing reached a server.
   */
  async #exchange(
    socket: Socket,
    node: Node,
    outgoing: Outgoing,
    attemptTimeout: number,
    started: number,
  ): Promise<unknown> {
    const { request, contentType, codec, metadata, body, signal } = outgoing;
    const budget = Math.max(1, attemptTimeout - (Date.now() - started));
    // A fresh literal per attempt: cheap, and a server still reading an earlier
    // attempt's header never sees it change.
    const header: Header = {
      [Headers.id]: String(++this.#sequence),
      [Headers.service]: request.service,
      [Headers.endpoint]: request.endpoint,
      [Headers.method]: request.endpoint,
      [Headers.contentType]: contentType,
      [Headers.accept]: contentType,
      // The budget left for the server, in go-micro's unit (nanoseconds).
      [Headers.timeout]: String(Math.round(budget * 1_000_000)),
    };
    if (metadata) {
      for (const key in metadata) if (!(key in header)) header[key] = metadata[key]!;
    }
    try {
      await socket.send({ header, body });
    } catch (error) {
      void socket.close();
      // Refused before anything left: the conversation was already closed.
      if (isMicroError(error) && error.code === 503) throw new StaleConversation(error);
      throw error;
    }
    let response: Message;
    try {
      response = await awaitReply(
        socket,
        budget,
        signal,
        () =>
          timeout(
            ErrorIds.client,
            `call to ${request.service} ${request.endpoint} at ${node.address} timed out after ${attemptTimeout} ms`,
          ),
        () => this.#cancelled(request.service, request.endpoint, signal!),
      );
    } catch (error) {
      void socket.close();
      throw error;
    }
    this.#pool.give(node.address, socket);
    const failure = getHeader(response.header, Headers.error);
    if (failure !== undefined && failure !== '') throw remoteError(failure);
    const responseType = getHeader(response.header, Headers.contentType);
    const responseCodec =
      responseType && responseType !== codec.contentType
        ? this.#options.codecs.require(responseType)
        : codec;
    try {
      return responseCodec.unmarshal(response.body);
    } catch (error) {
      throw internalServerError(
        `${ErrorIds.client}.codec`,
        `cannot decode the response of ${request.service} ${request.endpoint}: ${(error as Error).message}`,
        error,
      );
    }
  }

  /** Closes the idle pooled conversations. */
  close(): Promise<void> {
    return this.#pool.close();
  }

  async stream<Send = unknown, Recv = unknown>(
    service: string,
    endpoint: string,
    options: StreamOptions = {},
  ): Promise<ClientStream<Send, Recv>> {
    const contentType = options.contentType ?? this.#contentType;
    const codec = this.#options.codecs.require(contentType);
    const parent = options.context;
    const signals = [options.signal, parent?.signal].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    let deadline = options.timeout === undefined ? undefined : Date.now() + options.timeout;
    if (parent?.deadline !== undefined && (deadline === undefined || parent.deadline < deadline)) {
      deadline = parent.deadline;
    }
    const id = String(++this.#sequence);
    const header: Header = { ...this.#metadata(options) };
    header[Headers.id] = id;
    header[Headers.stream] = id;
    header[Headers.service] = service;
    header[Headers.endpoint] = endpoint;
    header[Headers.method] = endpoint;
    header[Headers.contentType] = contentType;
    header[Headers.accept] = contentType;
    if (deadline !== undefined) {
      header[Headers.timeout] = String(Math.round(Math.max(1, deadline - Date.now()) * 1_000_000));
    }
    // Only the dial can be retried: nothing has reached a server yet.
    const next = options.address ? undefined : await this.#next(service, options);
    let socket: Socket | undefined;
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.#retries && !socket; attempt++) {
      const node = next ? next() : { id: options.address!, address: options.address! };
      try {
        socket = await this.#options.transport.dial(node.address, {
          timeout: this.#dialTimeout,
          signal,
        });
        if (next) this.#options.selector.mark(service, node);
      } catch (error) {
        lastError = error;
        if (next) this.#options.selector.mark(service, node, error);
        if (signal?.aborted) throw this.#cancelled(service, endpoint, signal);
        if (!isRetryable(error)) throw error;
        await sleep(backoffDelay(attempt, this.#backoff), signal).catch(() => {});
      }
    }
    if (!socket) throw lastError;
    return new RpcClientStream<Send, Recv>(
      new RpcStream<Send, Recv>(socket, codec, header),
      signal,
      deadline,
      () => this.#cancelled(service, endpoint, signal!),
      () => timeout(ErrorIds.client, `stream ${service} ${endpoint} passed its deadline`),
    );
  }

  #next(service: string, options: RequestOptions): Promise<Next> {
    if (options.address) {
      const node: Node = { id: options.address, address: options.address };
      return Promise.resolve(() => node);
    }
    return this.#options.selector.select(
      service,
      options.filters ? { filters: options.filters } : undefined,
    );
  }

  /** The caller's metadata: inherited from a served request's context, then the call's own. */
  #metadata(options: RequestOptions): Header | undefined {
    const inherited = options.context?.metadata;
    if (!inherited && !options.metadata) return undefined;
    const header: Header = {};
    if (inherited) {
      for (const [key, value] of inherited) {
        if (!PROTOCOL_HEADERS.has(key.toLowerCase())) header[key] = value;
      }
    }
    if (options.metadata) {
      for (const [key, value] of new Metadata(options.metadata)) header[key] = value;
    }
    return header;
  }

  #cancelled(service: string, endpoint: string, signal: AbortSignal): MicroError {
    const reason = signal.reason;
    if (isMicroError(reason)) return reason;
    return cancelled(
      ErrorIds.client,
      `call to ${service} ${endpoint} cancelled by the caller`,
      reason,
    );
  }
}

/** One signal for a call from its own and its parent's. */
function combine(
  own: AbortSignal | undefined,
  parent: AbortSignal | undefined,
): AbortSignal | undefined {
  if (own && parent) return AbortSignal.any([own, parent]);
  return own ?? parent;
}

/**
 * Waits for the reply. At the deadline, or when the caller aborts, it tells the
 * server why (so the handler's signal says 408 or 499) and closes the socket,
 * which ends the wait: no promise or timer beyond the socket's own.
 */
async function awaitReply(
  socket: Socket,
  ms: number,
  signal: AbortSignal | undefined,
  onTimeout: () => MicroError,
  onCancel: () => MicroError,
): Promise<Message> {
  let reason: MicroError | undefined;
  const leave = (error: MicroError) => {
    if (reason) return;
    reason = error;
    void socket
      .send({ header: { [Headers.error]: error.toString() }, body: EMPTY })
      .catch(() => {});
    void socket.close();
  };
  const entry = deadlines.add(Date.now() + ms, () => leave(onTimeout()));
  const onAbort = () => leave(onCancel());
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await socket.recv();
  } catch (error) {
    throw reason ?? error;
  } finally {
    deadlines.clear(entry);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** A conversation found closed when sending: safe to replace with a fresh one. */
class StaleConversation extends Error {
  constructor(override readonly cause: MicroError) {
    super(cause.message);
  }
}

/** What every network attempt of one call sends: encoded once, on the first. */
interface Outgoing {
  readonly request: ClientRequest;
  readonly contentType: string;
  readonly codec: Codec;
  readonly metadata: Header | undefined;
  readonly body: Uint8Array;
  readonly signal: AbortSignal | undefined;
}

/** A go-micro error from `Micro-Error`; an unstructured one becomes a 500. */
function remoteError(text: string): MicroError {
  const error = parseError(text);
  if (error.code !== 0) return error;
  return internalServerError(error.id || ErrorIds.client, error.detail);
}

/** Adds cancellation and a deadline to a stream. */
class RpcClientStream<Send, Recv> implements ClientStream<Send, Recv> {
  #failure: MicroError | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #onAbort = () => this.#end(this.onCancel());

  constructor(
    private readonly rpc: RpcStream<Send, Recv>,
    private readonly signal: AbortSignal | undefined,
    deadline: number | undefined,
    private readonly onCancel: () => MicroError,
    onTimeout: () => MicroError,
  ) {
    if (signal?.aborted) this.#end(onCancel());
    else signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (deadline !== undefined) {
      this.#timer = setTimeout(() => this.#end(onTimeout()), Math.max(0, deadline - Date.now()));
      this.#timer.unref();
    }
  }

  async send(message: Send): Promise<void> {
    if (this.#failure) throw this.#failure;
    try {
      await this.rpc.send(message);
    } catch (error) {
      throw this.#failure ?? error;
    }
  }

  async recv(): Promise<Recv | undefined> {
    if (this.#failure) throw this.#failure;
    try {
      const value = await this.rpc.recv();
      if (this.rpc.ended) this.#release();
      return value;
    } catch (error) {
      this.#release();
      throw this.#failure ?? error;
    }
  }

  closeSend(): Promise<void> {
    return this.rpc.closeSend();
  }

  async close(): Promise<void> {
    this.#release();
    await this.rpc.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Recv> {
    while (true) {
      const value = await this.recv();
      if (value === undefined && this.rpc.ended) return;
      yield value as Recv;
    }
  }

  #end(error: MicroError): void {
    if (this.#failure) return;
    this.#failure = error;
    void this.close();
  }

  #release(): void {
    clearTimeout(this.#timer);
    this.signal?.removeEventListener('abort', this.#onAbort);
  }
}
