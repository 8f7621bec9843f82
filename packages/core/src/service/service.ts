import { randomUUID } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import type { Broker } from '../broker/broker.js';
import type { CallWrapper, Client, ClientOptions } from '../client/client.js';
import { RpcClient } from '../client/rpc-client.js';
import { type Codec, Codecs } from '../codec/codec.js';
import { defaultBroker, defaultCodecs, defaultRegistry, defaultTransport } from '../defaults.js';
import { errorMessage } from '../errors/errors.js';
import { backoffDelay, sleep } from '../internal/backoff.js';
import { localServers } from '../internal/local.js';
import { createConsoleLogger, type Logger } from '../logger/logger.js';
import {
  DEFAULT_REGISTER_INTERVAL,
  DEFAULT_REGISTER_TTL,
  type Node,
  type Registry,
  type Service as ServiceRecord,
} from '../registry/registry.js';
import { RegistrySelector } from '../selector/registry-selector.js';
import type { Selector } from '../selector/selector.js';
import { RpcServer } from '../server/rpc-server.js';
import type {
  HandleOptions,
  HandlerWrapper,
  Server,
  ServerSubscribeOptions,
  SubscriberHandler,
  SubscriberWrapper,
} from '../server/server.js';
import type { Transport } from '../transport/transport.js';
import { type EnvConfig, loadPlugin, readEnv } from './env.js';

/** What a selector factory receives from the Service. */
export interface SelectorFactoryContext {
  registry: Registry;
  logger: Logger;
}

/** A lifecycle hook. */
export type Hook = () => void | Promise<void>;

/** Options for {@link createService}. Code wins over `MICRO_*` variables, which win over defaults. */
export interface ServiceOptions {
  /** The service name callers use (`MICRO_SERVER_NAME`). */
  name?: string;
  /**
   * @default 'latest' (`MICRO_SERVER_VERSION`)
   */
  version?: string;
  /** Added to the node's metadata in the registry (`MICRO_SERVER_METADATA=k=v,k2=v2`). */
  metadata?: Record<string, string>;
  /**
   * The listen address (`MICRO_SERVER_ADDRESS`). Loopback by default: use
   * `0.0.0.0:<port>` to accept other hosts.
   * @default '127.0.0.1:0'
   */
  address?: string;
  /**
   * The address registered for callers (`MICRO_SERVER_ADVERTISE`).
   * @default the bound address, with 0.0.0.0 replaced by a private IP of this host
   */
  advertise?: string;
  /** @default the process-wide in-memory transport, or `MICRO_TRANSPORT` */
  transport?: Transport;
  /** @default the process-wide in-memory registry, or `MICRO_REGISTRY` */
  registry?: Registry;
  /** @default the process-wide in-memory broker, or `MICRO_BROKER` */
  broker?: Broker;
  /**
   * A selector, or a factory given the service's registry, e.g.
   * `createRoundRobinSelector`.
   * @default a random selector over the registry, or `MICRO_SELECTOR`
   */
  selector?: Selector | ((context: SelectorFactoryContext) => Selector);
  /** Codecs beyond the built-in JSON and bytes. */
  codecs?: readonly Codec[];
  /**
   * How long the registration lives without renewal, in ms (`MICRO_REGISTER_TTL`, seconds).
   * @default 90000
   */
  registerTtl?: number;
  /**
   * How often the registration is renewed, in ms (`MICRO_REGISTER_INTERVAL`, seconds).
   * @default 30000
   */
  registerInterval?: number;
  /**
   * How long `stop()` waits for in-flight calls and streams, in ms.
   * @default 10000
   */
  shutdownTimeout?: number;
  /** Client defaults (`MICRO_CLIENT_REQUEST_TIMEOUT`, `MICRO_CLIENT_RETRIES`). */
  client?: Pick<
    ClientOptions,
    | 'contentType'
    | 'requestTimeout'
    | 'retries'
    | 'dialTimeout'
    | 'backoff'
    | 'local'
    | 'poolSize'
    | 'poolTtl'
  >;
  wrappers?: {
    handler?: readonly HandlerWrapper[];
    subscriber?: readonly SubscriberWrapper[];
    call?: readonly CallWrapper[];
  };
  hooks?: {
    beforeStart?: Hook | readonly Hook[];
    afterStart?: Hook | readonly Hook[];
    beforeStop?: Hook | readonly Hook[];
    afterStop?: Hook | readonly Hook[];
  };
  /** @default a console logger named after the service (`MICRO_LOG_LEVEL`) */
  logger?: Logger;
}

/** A microservice: a server, a client, and their registration. */
export interface MicroService {
  readonly name: string;
  readonly version: string;
  /** The node id, `<name>-<uuid>`. */
  readonly id: string;
  readonly client: Client;
  readonly server: Server;
  readonly registry: Registry;
  readonly transport: Transport;
  readonly broker: Broker;
  readonly logger: Logger;
  /** The registered node, once started. */
  readonly node: Node | undefined;
  /** Shortcut for `server.handle`. */
  handle(handler: object, options?: HandleOptions): this;
  /** Shortcut for `server.subscribe`. */
  subscribe<T = unknown>(
    topic: string,
    handler: SubscriberHandler<T>,
    options?: ServerSubscribeOptions,
  ): this;
  /**
   * Connects the broker, starts the server and registers (retrying with backoff).
   * @throws when the server cannot listen or registration keeps failing
   */
  start(): Promise<void>;
  /**
   * Deregisters, drains in-flight calls and streams (refusing new ones with 503),
   * closes the listener, disconnects the broker (unless another running service
   * in this process uses it) and closes what the service created from `MICRO_*`
   * variables or defaults. A registry or transport you passed in stays yours to close.
   */
  stop(): Promise<void>;
  /** Starts, waits for SIGINT or SIGTERM, then stops. A second signal exits at once. */
  run(): Promise<void>;
}

const REGISTER_ATTEMPTS = 3;

type Settings = ServiceOptions & { registerTtl: number; registerInterval: number };

class ServiceRuntime implements MicroService {
  readonly name: string;
  readonly version: string;
  readonly id: string;
  readonly client: Client;
  readonly server: RpcServer;
  readonly registry: Registry;
  readonly transport: Transport;
  readonly broker: Broker;
  readonly logger: Logger;
  readonly #selector: Selector;
  readonly #owned: { close(): Promise<void> }[];
  readonly #options: Settings;
  readonly #metadata: Record<string, string>;
  #node: Node | undefined;
  #timer: NodeJS.Timeout | undefined;
  #registering: Promise<void> | undefined;
  #started = false;

  constructor(init: {
    name: string;
    version: string;
    id: string;
    options: Settings;
    metadata: Record<string, string>;
    registry: Registry;
    transport: Transport;
    broker: Broker;
    selector: Selector;
    codecs: Codecs;
    logger: Logger;
    owned: { close(): Promise<void> }[];
  }) {
    this.name = init.name;
    this.version = init.version;
    this.id = init.id;
    this.#options = init.options;
    this.#metadata = init.metadata;
    this.registry = init.registry;
    this.transport = init.transport;
    this.broker = init.broker;
    this.#selector = init.selector;
    this.logger = init.logger;
    this.#owned = init.owned;
    const options = init.options;
    this.server = new RpcServer({
      name: this.name,
      address: options.address,
      transport: this.transport,
      broker: this.broker,
      codecs: init.codecs,
      shutdownTimeout: options.shutdownTimeout,
      handlerWrappers: options.wrappers?.handler,
      subscriberWrappers: options.wrappers?.subscriber,
      logger: this.logger,
    });
    this.client = new RpcClient({
      ...options.client,
      transport: this.transport,
      selector: this.#selector,
      broker: this.broker,
      codecs: init.codecs,
      wrappers: options.wrappers?.call,
      logger: this.logger,
    });
  }

  get node(): Node | undefined {
    return this.#node;
  }

  handle(handler: object, options?: HandleOptions): this {
    this.server.handle(handler, options);
    return this;
  }

  subscribe<T = unknown>(
    topic: string,
    handler: SubscriberHandler<T>,
    options?: ServerSubscribeOptions,
  ): this {
    this.server.subscribe(topic, handler, options);
    return this;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    await runHooks(this.#options.hooks?.beforeStart);
    await connectBroker(this.broker);
    await this.server.start();
    this.#started = true;
    this.#node = {
      id: this.id,
      address: advertised(this.#options.advertise ?? this.server.address),
      metadata: {
        ...this.#metadata,
        protocol: 'mucp',
        server: 'mucp',
        transport: this.transport.name,
        broker: this.broker.name,
        registry: this.registry.name,
      },
    };
    localServers.add(this.#node.address, this.server);
    try {
      await this.#register(REGISTER_ATTEMPTS);
    } catch (error) {
      this.logger.error('service: registration failed; stopping', { error: String(error) });
      await this.stop();
      throw error;
    }
    this.#timer = setInterval(() => {
      void this.#register(1).catch((error: unknown) =>
        this.logger.warn('service: re-registration failed; trying again next interval', {
          error: errorMessage(error),
          intervalMs: this.#options.registerInterval,
        }),
      );
    }, this.#options.registerInterval);
    const address = this.server.address;
    this.logger.info(`service ${this.name} started`, {
      id: this.id,
      address,
      advertise: this.#node.address,
      transport: this.transport.name,
      registry: this.registry.name,
      broker: this.broker.name,
    });
    if (address.startsWith('127.') || address.startsWith('[::1]')) {
      this.logger.debug(
        'service: listening on loopback only; set MICRO_SERVER_ADDRESS=0.0.0.0:<port> for other hosts',
      );
    }
    await runHooks(this.#options.hooks?.afterStart);
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await runHooks(this.#options.hooks?.beforeStop);
    clearInterval(this.#timer);
    await this.#registering?.catch(() => {});
    const record = this.#record();
    if (record) {
      try {
        await this.registry.deregister(record);
        this.logger.info(`service ${this.name} deregistered`, { id: this.id });
      } catch (error) {
        this.logger.warn('service: deregistration failed; the record expires with its TTL', {
          error: errorMessage(error),
          ttlMs: this.#options.registerTtl,
        });
      }
    }
    await this.server.stop();
    await this.client.close();
    if (this.#node) localServers.remove(this.#node.address, this.server);
    await disconnectBroker(this.broker).catch((error: unknown) =>
      this.logger.warn('service: disconnecting the broker failed', { error: errorMessage(error) }),
    );
    for (const component of this.#owned) {
      await component
        .close()
        .catch((error: unknown) =>
          this.logger.warn('service: closing a component failed', { error: String(error) }),
        );
    }
    this.logger.info(`service ${this.name} stopped`, { id: this.id });
    await runHooks(this.#options.hooks?.afterStop);
  }

  async run(): Promise<void> {
    await this.start();
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      const onSignal = (received: NodeJS.Signals) => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolve(received);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    this.logger.info(`service ${this.name} received ${signal}; stopping`);
    const force = () => {
      this.logger.warn(`service ${this.name}: second signal; exiting without draining`);
      process.exit(1);
    };
    process.once('SIGINT', force);
    process.once('SIGTERM', force);
    try {
      await this.stop();
    } finally {
      process.off('SIGINT', force);
      process.off('SIGTERM', force);
    }
  }

  #record(): ServiceRecord | undefined {
    if (!this.#node) return undefined;
    return {
      name: this.name,
      version: this.version,
      metadata: { ...this.#metadata },
      endpoints: this.server.endpoints(),
      nodes: [this.#node],
    };
  }

  /** Registers, retrying with backoff; one registration runs at a time. */
  #register(attempts: number): Promise<void> {
    if (this.#registering) return this.#registering;
    const record = this.#record();
    if (!record) return Promise.resolve();
    const run = async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.registry.register(record, { ttl: this.#options.registerTtl });
          return;
        } catch (error) {
          if (attempt + 1 >= attempts) throw error;
          this.logger.warn('service: registration failed; retrying', {
            attempt: attempt + 1,
            error: errorMessage(error),
          });
          await sleep(backoffDelay(attempt, { base: 200, max: 2_000 }));
        }
      }
    };
    this.#registering = run().finally(() => {
      this.#registering = undefined;
    });
    return this.#registering;
  }
}

/**
 * How many started services use each broker in this process: the service that
 * connects a broker disconnects it when it stops, unless another running service
 * still uses it (services in one process may share one).
 */
const brokerUsers = new WeakMap<Broker, number>();

async function connectBroker(broker: Broker): Promise<void> {
  await broker.connect();
  brokerUsers.set(broker, (brokerUsers.get(broker) ?? 0) + 1);
}

async function disconnectBroker(broker: Broker): Promise<void> {
  const users = (brokerUsers.get(broker) ?? 1) - 1;
  brokerUsers.set(broker, users);
  if (users === 0) await broker.disconnect();
}

async function runHooks(hooks: Hook | readonly Hook[] | undefined): Promise<void> {
  if (!hooks) return;
  for (const hook of typeof hooks === 'function' ? [hooks] : hooks) await hook();
}

/** Replaces an unspecified host with a private IPv4 of this machine, as go-micro's addr.Extract. */
function advertised(address: string): string {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  if (host !== '' && host !== '0.0.0.0' && host !== '::') return address;
  const candidates = Object.values(networkInterfaces())
    .flat()
    .filter((info) => info && info.family === 'IPv4' && !info.internal);
  const ip =
    candidates.find((info) => /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(info!.address)) ??
    candidates[0];
  return `${ip?.address ?? '127.0.0.1'}${address.slice(colon)}`;
}

/**
 * Creates a service. Each component comes from the options, else from the
 * `MICRO_*` environment (`MICRO_REGISTRY=etcd` loads `@micro/registry-etcd`),
 * else from the in-process defaults, so a service with no configuration runs
 * and finds the others in the same process.
 *
 * @example
 * const service = await createService({ name: 'helloworld' });
 * service.handle(new Greeter());
 * await service.run();
 * @throws Error when a `MICRO_*` variable is malformed or names a plugin that is not installed
 */
export async function createService(options: ServiceOptions = {}): Promise<MicroService> {
  const env: EnvConfig = readEnv();
  const name = options.name ?? env.name;
  if (!name) throw new TypeError('a service needs a name: pass { name } or set MICRO_SERVER_NAME');
  const logger = options.logger ?? createConsoleLogger({ name });
  const owned: { close(): Promise<void> }[] = [];
  const load = async <T extends { close?(): Promise<void> }>(
    given: T | undefined,
    kind: 'registry' | 'transport',
    plugin: string | undefined,
    addresses: string[] | undefined,
    fallback: () => T,
  ): Promise<T> => {
    if (given) return given;
    if (!plugin || plugin === 'memory') return fallback();
    const component = await loadPlugin<T>(kind, plugin, { addresses, logger });
    if (component.close) owned.push(component as { close(): Promise<void> });
    return component;
  };
  const registry = await load(
    options.registry,
    'registry',
    env.registry,
    env.registryAddress,
    defaultRegistry,
  );
  const transport = await load(
    options.transport,
    'transport',
    env.transport,
    env.transportAddress,
    defaultTransport,
  );
  let broker = options.broker;
  if (!broker) {
    if (!env.broker || env.broker === 'memory') broker = defaultBroker();
    else {
      // Brokers that find subscribers through the registry (the HTTP broker) get it too.
      const loaded = await loadPlugin<Broker>('broker', env.broker, {
        addresses: env.brokerAddress,
        logger,
        registry,
      });
      broker = loaded;
    }
  }
  let selector: Selector;
  if (options.selector && typeof options.selector !== 'function') selector = options.selector;
  else {
    if (typeof options.selector === 'function') selector = options.selector({ registry, logger });
    else if (env.selector && env.selector !== 'random') {
      selector = await loadPlugin<Selector>('selector', env.selector, { registry, logger });
    } else selector = new RegistrySelector({ registry, logger });
    owned.unshift(selector);
  }
  const settings = {
    ...options,
    address: options.address ?? env.address ?? '127.0.0.1:0',
    advertise: options.advertise ?? env.advertise,
    registerTtl: options.registerTtl ?? env.registerTtl ?? DEFAULT_REGISTER_TTL,
    registerInterval: options.registerInterval ?? env.registerInterval ?? DEFAULT_REGISTER_INTERVAL,
    client: {
      ...options.client,
      requestTimeout: options.client?.requestTimeout ?? env.requestTimeout,
      retries: options.client?.retries ?? env.retries,
      poolSize: options.client?.poolSize ?? env.poolSize,
      poolTtl: options.client?.poolTtl ?? env.poolTtl,
    },
  };
  return new ServiceRuntime({
    name,
    version: options.version ?? env.version ?? 'latest',
    id: `${name}-${env.id ?? randomUUID()}`,
    options: settings,
    metadata: { ...env.metadata, ...options.metadata },
    registry,
    transport,
    broker,
    selector,
    codecs: new Codecs([...defaultCodecs(), ...(options.codecs ?? [])]),
    logger,
    owned,
  });
}
