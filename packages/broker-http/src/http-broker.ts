import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  type Broker,
  type BrokerHandler,
  type BrokerMessage,
  backoffDelay,
  badRequest,
  createConsoleLogger,
  DEFAULT_COOLDOWN,
  decodeEnvelope,
  dispatchEvent,
  ErrorIds,
  type Event,
  encodeEnvelope,
  errorMessage,
  formatAddress,
  getHeader,
  InFlight,
  internalServerError,
  isMicroError,
  type Logger,
  MicroError,
  methodNotAllowed,
  type NackOptions,
  type Node,
  notFound,
  type PublishOptions,
  parseAddress,
  payloadTooLarge,
  type Service,
  type SubscribeOptions,
  type Subscriber,
  sleep,
  unavailable,
} from '@micro/core';
import { extractHost, isLoopback, type ListenAddress } from './address.js';
import { type Agents, createAgents, deliver } from './delivery.js';
import { type HttpBrokerOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { Aborted, answer, readBody } from './receiver.js';
import { SubscriberCache } from './subscriber-cache.js';
import {
  BROADCAST_VERSION,
  DEFAULT_PATH,
  subscriberRecord,
  subscribes,
  TOPIC_HEADER,
} from './wire.js';

/** How long closing the listener waits for connections to finish before cutting them. */
const CLOSE_GRACE = 1_000;

/** Settles a queue delivery's HTTP answer: undefined for success, else the error to send. */
type Settle = (error: MicroError | undefined) => void;

/**
 * One subscription: a node of `micro.http.broker` in the registry and the handler
 * its deliveries run.
 */
export class HttpSubscription implements Subscriber {
  /** @internal Handlers of this subscription that are running. */
  readonly inFlight = new InFlight();
  /** @internal Queue deliveries whose handler has not acked or nacked yet (autoAck off). */
  readonly pending = new Set<Settle>();
  #active = true;
  #stopped: Promise<void> | undefined;

  /**
   * @internal made by {@link HttpBroker.subscribe}
   * @param id the registry node id, `<topic>-<uuid>`
   * @param topic the topic
   * @param queue the queue group, undefined for broadcast
   * @param handler what runs for each delivery
   * @param autoAck ack when the handler resolves, nack when it throws
   * @param record the registry record of this subscription
   * @param stop deregisters and drains; called once
   */
  constructor(
    readonly id: string,
    readonly topic: string,
    readonly queue: string | undefined,
    readonly handler: BrokerHandler,
    readonly autoAck: boolean,
    readonly record: Service,
    private readonly stop: (subscription: HttpSubscription) => Promise<void>,
  ) {}

  /** False once unsubscribed. */
  get active(): boolean {
    return this.#active;
  }

  /**
   * Deregisters the subscription (new deliveries are refused at once), then waits
   * for its running handlers. Idempotent. Do not await it inside its own handler.
   */
  unsubscribe(): Promise<void> {
    if (!this.#stopped) {
      this.#active = false;
      this.#stopped = this.stop(this);
    }
    return this.#stopped;
  }
}

/** A delivery's failure, or undefined when it succeeded or the subscription had gone. */
type Outcome = MicroError | undefined;

/** A subscriber answered 404: the subscription is gone, there is nothing to deliver to. */
const GONE = Symbol('gone');

/** A refusal another attempt would not change (400, 413, ...); 404, 405, 408, 429 are not. */
function isFinal(error: MicroError): boolean {
  return error.code >= 400 && error.code < 500 && ![404, 405, 408, 429].includes(error.code);
}

/** A lone UTF-16 surrogate: not encodable as UTF-8, so not in a URL or JSON for Go. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0 || LONE_SURROGATE.test(topic)) {
    throw badRequest(
      ErrorIds.broker,
      `http broker: a topic must be a non-empty string, got ${JSON.stringify(topic)}`,
    );
  }
}

/** `id` from a delivery's query string: `id=<node id>`, as every publisher writes it, read directly. */
const PLAIN_ID = /^id=[\w.~-]*$/;

function deliveryId(query: string): string | null {
  return PLAIN_ID.test(query) ? query.slice(3) : new URLSearchParams(query).get('id');
}

function toMicroError(error: unknown, detail: string): MicroError {
  if (isMicroError(error)) return error;
  return unavailable(ErrorIds.broker, `${detail}: ${errorMessage(error)}`, error);
}

/** The answer for a queue delivery whose handler threw: 500 with the handler's error JSON. */
function handlerFailure(error: unknown): MicroError {
  if (isMicroError(error)) {
    return new MicroError(error.id, error.detail, 500, { cause: error });
  }
  return internalServerError(ErrorIds.broker, `subscriber error: ${errorMessage(error)}`, error);
}

function listen(server: http.Server, { host, minPort, maxPort }: ListenAddress): Promise<void> {
  const attempt = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => {
        server.off('listening', onListening);
        reject(error);
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen({ host: host === '' ? undefined : host, port });
    });
  return (async () => {
    for (let port = minPort; ; port++) {
      try {
        await attempt(port);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' && port < maxPort) continue;
        const range = minPort === maxPort ? `${minPort}` : `${minPort}-${maxPort}`;
        const where = `${host.includes(':') ? `[${host}]` : host}:${range}`;
        throw unavailable(
          ErrorIds.broker,
          `http broker: cannot listen on ${where}: ${errorMessage(error)}`,
          error,
        );
      }
    }
  })();
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

interface Running {
  server: http.Server;
  agents: Agents;
  cache: SubscriberCache;
  timer: NodeJS.Timeout;
  /** The listener's `host:port`. */
  address: string;
  /** The `host:port` registered for subscriptions. */
  advertise: string;
}

/**
 * go-micro's default broker, rebuilt on the wire: every subscription registers
 * itself in the registry as a node of `micro.http.broker` (version: the queue, or
 * `ff.http.broadcast`), and a publisher POSTs go-micro's JSON envelope to
 * `http://<node>/?id=<node id>`. Go services using go-micro's HTTP broker and
 * TypeScript services using this one deliver to each other through any shared
 * registry, with no broker server to run.
 *
 * Unlike go-micro, `publish` waits for the deliveries: it resolves once every
 * broadcast subscriber has received the message and one member of every queue
 * group has handled it, and rejects with a {@link MicroError} otherwise (see the
 * README's delivery guarantees).
 *
 * @example
 * const broker = createHttpBroker({ registry: createMdnsRegistry() });
 * await broker.connect();
 * await broker.subscribe('orders.created', async (event) => ship(event.message.body), {
 *   queue: 'shipping',
 * });
 * await broker.publish('orders.created', { header: {}, body: Buffer.from('{"id":42}') });
 */
export class HttpBroker implements Broker {
  /** go-micro's name for this broker (`broker.String()`), registered in node metadata. */
  readonly name = 'http';
  readonly #options: ResolvedOptions;
  readonly #logger: Logger;
  readonly #subscriptions = new Map<string, HttpSubscription>();
  readonly #publishing = new InFlight();
  /** node id → when its cool-down after a connection failure ends (epoch ms). */
  readonly #unreachable = new Map<string, number>();
  #running: Running | undefined;
  #connecting: Promise<void> | undefined;
  #disconnecting: Promise<void> | undefined;

  /**
   * @param options the registry (required), listen address, TLS and limits
   * @throws {@link MicroError} 400 when an option is missing or invalid
   */
  constructor(options: HttpBrokerOptions) {
    this.#options = resolveOptions(options);
    this.#logger = options.logger ?? createConsoleLogger({ name: 'broker-http' });
    if (this.#options.tls?.rejectUnauthorized === false) {
      this.#logger.warn(
        'http broker: TLS verification of subscribers is OFF (tls.rejectUnauthorized: false); ' +
          'anyone on the path can read and forge deliveries (micro/go-micro#2713)',
      );
    }
  }

  /** The listener's `host:port` while connected; the configured listen address otherwise. */
  get address(): string {
    return this.#running?.address ?? this.#options.address;
  }

  /** The `host:port` subscriptions are registered with; undefined while not connected. */
  get advertisedAddress(): string | undefined {
    return this.#running?.advertise;
  }

  /** True between `connect()` and `disconnect()`. */
  get connected(): boolean {
    return this.#running !== undefined && this.#disconnecting === undefined;
  }

  /**
   * Starts the HTTP(S) listener that receives deliveries. Idempotent.
   * @throws {@link MicroError} 503 when the address cannot be listened on
   */
  async connect(): Promise<void> {
    await this.#disconnecting;
    if (this.#running) return;
    this.#connecting ??= this.#start().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #start(): Promise<void> {
    const options = this.#options;
    const tls = options.tls;
    const server = options.secure
      ? https.createServer({
          cert: tls?.cert,
          key: tls?.key,
          ca: tls?.ca,
          requestCert: tls?.requestCert ?? false,
          rejectUnauthorized: tls?.requestCert ?? false,
          minVersion: 'TLSv1.2',
        })
      : http.createServer();
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      this.#receive(request, response).catch((error: unknown) => {
        this.#logger.error('http broker: delivery failed unexpectedly', {
          error: errorMessage(error),
        });
        answer(response, 500, internalServerError(ErrorIds.broker, 'delivery failed'));
      });
    });
    await listen(server, options.listen);
    const bound = server.address() as AddressInfo;
    const address = formatAddress(bound.address, bound.port);
    const advertise = options.advertise ?? formatAddress(extractHost(bound.address), bound.port);
    const timer = setInterval(() => this.#renew(), options.registerInterval);
    timer.unref();
    this.#running = {
      server,
      agents: createAgents(tls),
      cache: new SubscriberCache(options.registry, options.cacheTtl, this.#logger),
      timer,
      address,
      advertise,
    };
    this.#logger.info('http broker listening', {
      address,
      advertise,
      secure: options.secure,
      registry: options.registry.name,
    });
    if (isLoopback(parseAddress(advertise)?.host ?? '')) {
      this.#logger.debug(
        'http broker: subscriptions are registered with a loopback address, so only this host can deliver to them; ' +
          'listen on 0.0.0.0:<port> (MICRO_BROKER_ADDRESS) for other hosts',
      );
    }
  }

  /**
   * Deregisters every subscription, waits for running handlers and publishes
   * (up to `drainTimeout`), then closes the listener and connections. Idempotent.
   */
  async disconnect(): Promise<void> {
    await this.#connecting?.catch(() => {});
    if (!this.#running) return;
    this.#disconnecting ??= this.#stop().finally(() => {
      this.#disconnecting = undefined;
    });
    return this.#disconnecting;
  }

  async #stop(): Promise<void> {
    const running = this.#running!;
    clearInterval(running.timer);
    await Promise.all([...this.#subscriptions.values()].map((s) => s.unsubscribe()));
    if (!(await this.#publishing.drain(this.#options.drainTimeout))) {
      this.#logger.warn('http broker: publishes still running after drainTimeout; cutting them', {
        running: this.#publishing.size,
        drainTimeoutMs: this.#options.drainTimeout,
      });
    }
    running.cache.close();
    await closeServer(running.server);
    running.agents.http.destroy();
    running.agents.https.destroy();
    this.#unreachable.clear();
    this.#running = undefined;
    this.#logger.info('http broker stopped', { address: running.address });
  }

  /**
   * Subscribes: registers `micro.http.broker` version `queue` (or
   * `ff.http.broadcast`) with a node `<topic>-<uuid>` at this broker's address, and
   * resolves once the registry accepted it, so a publish made afterwards (by a
   * process whose registry has seen it) reaches it.
   * @throws {@link MicroError} 503 when not connected or the registry fails; 400 for a bad topic
   */
  async subscribe(
    topic: string,
    handler: BrokerHandler,
    options: SubscribeOptions = {},
  ): Promise<HttpSubscription> {
    checkTopic(topic);
    if (typeof handler !== 'function') {
      throw badRequest(ErrorIds.broker, 'http broker: subscribe needs a handler function');
    }
    if (options.queue !== undefined && typeof options.queue !== 'string') {
      throw badRequest(ErrorIds.broker, 'http broker: queue must be a string');
    }
    const running = this.#running;
    if (!running || this.#disconnecting) {
      throw unavailable(
        ErrorIds.broker,
        `http broker: not connected: call connect() before subscribing to ${topic}`,
      );
    }
    const queue = options.queue ? options.queue : undefined;
    const id = `${topic}-${randomUUID()}`;
    const record = subscriberRecord(topic, queue, id, running.advertise, this.#options.secure);
    const subscription = new HttpSubscription(
      id,
      topic,
      queue,
      handler,
      options.autoAck ?? true,
      record,
      (s) => this.#unsubscribe(s),
    );
    // Listed before it is registered: a registry that notifies synchronously may
    // hand the record to a publisher before register() resolves.
    this.#subscriptions.set(id, subscription);
    try {
      await this.#options.registry.register(record, { ttl: this.#options.registerTtl });
    } catch (error) {
      this.#subscriptions.delete(id);
      throw toMicroError(error, `http broker: cannot register the subscription to ${topic}`);
    }
    if (!subscription.active) {
      // Unsubscribed (by a disconnect) while registering: its deregistration may
      // have run first, so make sure the record does not outlive it.
      await this.#options.registry.deregister(record).catch(() => {});
      throw unavailable(ErrorIds.broker, `http broker: disconnected while subscribing to ${topic}`);
    }
    this.#logger.debug('http broker: subscribed', { topic, queue, id });
    return subscription;
  }

  async #unsubscribe(subscription: HttpSubscription): Promise<void> {
    this.#subscriptions.delete(subscription.id);
    try {
      await this.#options.registry.deregister(subscription.record);
    } catch (error) {
      this.#logger.warn('http broker: deregistration failed; the record expires with its TTL', {
        topic: subscription.topic,
        id: subscription.id,
        error: errorMessage(error),
      });
    }
    if (!(await subscription.inFlight.drain(this.#options.drainTimeout))) {
      this.#logger.warn('http broker: handlers still running after drainTimeout', {
        topic: subscription.topic,
        running: subscription.inFlight.size,
      });
    }
    for (const settle of [...subscription.pending]) {
      settle(
        unavailable(
          ErrorIds.broker,
          `subscriber ${subscription.id} stopped before its handler acknowledged the message`,
        ),
      );
    }
    this.#logger.debug('http broker: unsubscribed', {
      topic: subscription.topic,
      id: subscription.id,
    });
  }

  #renew(): void {
    const now = Date.now();
    for (const [id, until] of this.#unreachable) if (until <= now) this.#unreachable.delete(id);
    for (const subscription of this.#subscriptions.values()) {
      const { registry, registerTtl } = this.#options;
      registry
        .register(subscription.record, { ttl: registerTtl })
        // An unsubscribe that ran while this was in flight must win.
        .then(() => (subscription.active ? undefined : registry.deregister(subscription.record)))
        .catch((error: unknown) =>
          this.#logger.warn('http broker: re-registration failed; trying again next interval', {
            topic: subscription.topic,
            id: subscription.id,
            error: errorMessage(error),
          }),
        );
    }
  }

  /**
   * Publishes: POSTs go-micro's envelope (headers plus `Micro-Topic`) to every
   * broadcast subscriber of the topic and to one member of each queue group, as
   * found in the registry. Resolves when every broadcast subscriber received it and
   * one member of each queue handled it; a topic without subscribers resolves at
   * once (logged at debug).
   * @throws {@link MicroError} 503 when not connected, or a subscriber (or every
   *   member of a queue) cannot be reached; 500 when every attempt of a queue's
   *   handlers failed; 413 when the envelope exceeds `maxMessageSize`; 408 when
   *   `timeout` passes first; 400 for a bad topic or a message a subscriber refused
   */
  async publish(topic: string, message: BrokerMessage, _options?: PublishOptions): Promise<void> {
    checkTopic(topic);
    const running = this.#running;
    if (!running || this.#disconnecting) {
      throw unavailable(ErrorIds.broker, `http broker: not connected: cannot publish to ${topic}`);
    }
    const end = this.#publishing.begin();
    try {
      const payload = encodeEnvelope(
        message.header?.[TOPIC_HEADER] === topic
          ? message
          : { header: { ...message.header, [TOPIC_HEADER]: topic }, body: message.body },
      );
      if (payload.byteLength > this.#options.maxMessageSize) {
        throw payloadTooLarge(
          ErrorIds.broker,
          `http broker: message to ${topic} is ${payload.byteLength} bytes as an envelope, over maxMessageSize (${this.#options.maxMessageSize})`,
        );
      }
      const deadline = Date.now() + this.#options.timeout;
      const deliveries: Promise<Outcome>[] = [];
      for (const service of await running.cache.services()) {
        const nodes = service.nodes.filter((node) => subscribes(node, topic));
        if (nodes.length === 0) continue;
        if (service.version === BROADCAST_VERSION) {
          for (const node of nodes)
            deliveries.push(this.#deliver(running, node, payload, deadline));
        } else {
          deliveries.push(this.#deliverToQueue(running, service.version, nodes, payload, deadline));
        }
      }
      if (deliveries.length === 0) {
        this.#logger.debug('http broker: no subscribers; nothing to deliver', { topic });
        return;
      }
      if (deliveries.length === 1) {
        const failure = await deliveries[0]!;
        if (failure) throw summarize(topic, [failure], 1);
        return;
      }
      const failures = (await Promise.all(deliveries)).filter((f): f is MicroError => !!f);
      if (failures.length > 0) throw summarize(topic, failures, deliveries.length);
    } finally {
      end();
    }
  }

  /** One delivery to a broadcast subscriber; never rejects. */
  async #deliver(
    running: Running,
    node: Node,
    payload: Uint8Array,
    deadline: number,
  ): Promise<Outcome> {
    const result = await this.#attempt(running, node, payload, deadline);
    return result === GONE ? undefined : result;
  }

  /**
   * POSTs to one node. A node that answers 404 no longer has the subscription (it
   * unsubscribed since the registry was read): it is dropped from the cache.
   */
  async #attempt(
    running: Running,
    node: Node,
    payload: Uint8Array,
    deadline: number,
  ): Promise<Outcome | typeof GONE> {
    try {
      await deliver(node, payload, {
        agents: running.agents,
        deadline,
        dialTimeout: this.#options.dialTimeout,
        servername: this.#options.tls?.servername,
      });
      this.#unreachable.delete(node.id);
      return undefined;
    } catch (error) {
      const failure = toMicroError(error, `delivery to ${node.id} failed`);
      if (failure.code === 404) {
        running.cache.forget(node.id);
        this.#logger.debug('http broker: subscriber gone', { id: node.id, address: node.address });
        return GONE;
      }
      if (failure.code === 503 || failure.code === 408) {
        this.#unreachable.set(node.id, Date.now() + DEFAULT_COOLDOWN);
      }
      return failure;
    }
  }

  /**
   * Delivers to one member of a queue group: a member that fails is replaced by
   * one not tried yet; once all were tried, members are tried again after a backoff
   * until `queueAttempts` deliveries were made. Never rejects.
   */
  async #deliverToQueue(
    running: Running,
    queue: string,
    nodes: Node[],
    payload: Uint8Array,
    deadline: number,
  ): Promise<Outcome> {
    const tried = new Set<string>();
    let members = nodes;
    let attempts = 0;
    let retries = 0;
    let last: MicroError | undefined;
    while (members.length > 0) {
      const untried = tried.size === 0 ? members : members.filter((node) => !tried.has(node.id));
      if (untried.length === 0) {
        if (attempts >= this.#options.queueAttempts) break;
        const delay = backoffDelay(retries++);
        if (Date.now() + delay >= deadline) break;
        await sleep(delay);
      }
      const node = this.#pick(untried.length > 0 ? untried : members);
      tried.add(node.id);
      const result = await this.#attempt(running, node, payload, deadline);
      if (result === undefined) return undefined;
      if (result === GONE) {
        members = members.filter((member) => member.id !== node.id);
        continue;
      }
      attempts++;
      last = result;
      if (isFinal(result) || result.code === 408 || Date.now() >= deadline) break;
      this.#logger.debug('http broker: queue member failed; trying again', {
        queue,
        id: node.id,
        error: result.detail,
      });
    }
    if (!last) return undefined;
    return new MicroError(
      last.id,
      `queue ${queue}: not delivered after ${attempts} attempt(s): ${last.detail}`,
      last.code,
      { cause: last },
    );
  }

  /** A random node, preferring those not in a cool-down after a connection failure. */
  #pick(nodes: Node[]): Node {
    if (this.#unreachable.size === 0 || nodes.length === 1) {
      return nodes[Math.floor(Math.random() * nodes.length)]!;
    }
    const now = Date.now();
    const healthy = nodes.filter((node) => (this.#unreachable.get(node.id) ?? 0) <= now);
    const pool = healthy.length > 0 ? healthy : nodes;
    return pool[Math.floor(Math.random() * pool.length)]!;
  }

  /** Serves one POST from a publisher (this broker's or a Go one's). */
  async #receive(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = request.url ?? '';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (path !== DEFAULT_PATH) {
      answer(response, 404, notFound(ErrorIds.broker, `no broker endpoint at ${path}`));
      return;
    }
    if (request.method !== 'POST') {
      answer(response, 405, methodNotAllowed(ErrorIds.broker, 'Method not allowed'), {
        Allow: 'POST',
      });
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(request, this.#options.maxMessageSize);
    } catch (error) {
      if (error instanceof Aborted) return;
      const failure = toMicroError(error, 'cannot read the message');
      this.#logger.warn('http broker: refused a delivery', {
        status: failure.code,
        error: failure.detail,
        from: request.socket.remoteAddress,
      });
      answer(response, failure.code, failure);
      return;
    }
    let message: BrokerMessage;
    try {
      message = decodeEnvelope(body);
    } catch (error) {
      const failure = badRequest(
        ErrorIds.broker,
        `Error parsing request body: ${errorMessage(error)}`,
        error,
      );
      this.#logger.warn('http broker: refused a malformed delivery', {
        error: failure.detail,
        from: request.socket.remoteAddress,
      });
      answer(response, 400, failure);
      return;
    }
    const topic = getHeader(message.header, TOPIC_HEADER);
    if (!topic) {
      answer(response, 400, badRequest(ErrorIds.broker, 'Topic not found'));
      return;
    }
    const id = query === -1 ? null : deliveryId(url.slice(query + 1));
    const subscription = id === null ? undefined : this.#subscriptions.get(id);
    if (!subscription || subscription.topic !== topic) {
      this.#logger.debug('http broker: delivery for an unknown subscriber', { id, topic });
      answer(
        response,
        404,
        notFound(ErrorIds.broker, `no subscriber ${id ?? '(no id)'} for topic ${topic} here`),
      );
      return;
    }
    if (subscription.queue === undefined) {
      // Broadcast: received is delivered; the handler's outcome stays here (logged).
      this.#run(subscription, topic, message);
      answer(response, 202);
      return;
    }
    const failure = await this.#runQueued(subscription, topic, message);
    if (failure) answer(response, failure.code, failure);
    else answer(response, 200);
  }

  /** Runs a broadcast subscriber's handler; ack and nack have no one to tell. */
  #run(subscription: HttpSubscription, topic: string, message: BrokerMessage): void {
    const event: Event = {
      topic,
      message,
      ack: async () => {},
      nack: async () => {},
    };
    void subscription.inFlight.track(
      dispatchEvent(subscription.handler, event, {
        autoAck: subscription.autoAck,
        logger: this.#logger,
      }),
    );
  }

  /**
   * Runs a queue member's handler and resolves with the answer for the publisher:
   * success on ack (or when the handler resolves, with autoAck), a 500 carrying the
   * handler's error on nack or throw (the publisher then tries another member), a
   * 400 on `nack({ requeue: false })` (the publisher gives up).
   */
  #runQueued(
    subscription: HttpSubscription,
    topic: string,
    message: BrokerMessage,
  ): Promise<MicroError | undefined> {
    return new Promise((resolve) => {
      let thrown: unknown;
      const settle: Settle = (error) => {
        if (!subscription.pending.delete(settle)) return;
        resolve(error);
      };
      subscription.pending.add(settle);
      const event: Event = {
        topic,
        message,
        ack: async () => settle(undefined),
        nack: async (options: NackOptions = {}) =>
          settle(
            options.requeue === false
              ? badRequest(ErrorIds.broker, `subscriber ${subscription.id} rejected the message`)
              : handlerFailure(
                  thrown ?? `subscriber ${subscription.id} did not acknowledge the message`,
                ),
          ),
      };
      const handler: BrokerHandler = async (e) => {
        try {
          await subscription.handler(e);
        } catch (error) {
          thrown = error;
          throw error;
        }
      };
      void subscription.inFlight.track(
        dispatchEvent(handler, event, { autoAck: subscription.autoAck, logger: this.#logger }).then(
          (ok) => {
            // With autoAck off a handler that throws without nacking still failed.
            if (!ok) settle(handlerFailure(thrown));
          },
        ),
      );
    });
  }
}

/** One error for every failed delivery of a publish. */
function summarize(topic: string, failures: MicroError[], total: number): MicroError {
  if (failures.length === 1 && total === 1) {
    const [failure] = failures as [MicroError];
    return new MicroError(ErrorIds.broker, `publish to ${topic}: ${failure.detail}`, failure.code, {
      cause: failure,
    });
  }
  const code = failures.find((f) => f.code !== 503)?.code ?? 503;
  return new MicroError(
    ErrorIds.broker,
    `publish to ${topic}: ${failures.length} of ${total} deliveries failed: ${failures
      .map((f) => f.detail)
      .join('; ')}`,
    code,
    { cause: failures[0] },
  );
}

/**
 * Creates go-micro's default broker: pub/sub over plain HTTP between processes,
 * subscribers found through the registry. Loaded by name with `MICRO_BROKER=http`
 * (a Service passes `{ addresses, logger, registry }`).
 * @param options the registry (required) and listen address, TLS and limits
 * @returns a broker; call `connect()` before subscribing or publishing
 * @throws {@link MicroError} 400 when `registry` is missing or an option is invalid
 * @example
 * const broker = createHttpBroker({ registry, address: '0.0.0.0:0' });
 * await broker.connect();
 */
export function createHttpBroker(options: HttpBrokerOptions): HttpBroker {
  return new HttpBroker(options);
}
