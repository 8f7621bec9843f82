import {
  ErrorIds,
  errorMessage,
  isMicroError,
  type Logger,
  normalizeService,
  type Registry,
  RetryingWatch,
  type Service,
  unavailable,
  type WatchEvent,
} from '@micro/core';
import { SERVICE_NAME } from './wire.js';

/** While the watch is down, the list is fetched again at least this often. */
const UNWATCHED_TTL = 5_000;

interface Entry {
  services: Service[];
  fetchedAt: number;
}

/**
 * Applies one watch event to a list of versions: the event's nodes replace (or,
 * for `delete`, remove) nodes of the same id; empty versions are dropped.
 */
function apply(services: Service[], { action, service }: WatchEvent): Service[] {
  const ids = new Set(service.nodes.map((node) => node.id));
  const next = services.map((s) => ({ ...s, nodes: s.nodes.filter((n) => !ids.has(n.id)) }));
  if (action !== 'delete') {
    const added = normalizeService(service);
    const version = next.find((s) => s.version === added.version);
    if (version) version.nodes.push(...added.nodes);
    else next.push(added);
  }
  return next.filter((s) => s.nodes.length > 0);
}

/**
 * The subscribers registered as `micro.http.broker`, as go-micro's publisher reads
 * them through its registry cache: fetched once, kept current by a registry watch,
 * fetched again after `ttl`. "Nobody subscribes" is cached too, so publishing to a
 * topic without subscribers is not one registry query per message.
 */
export class SubscriberCache {
  readonly #registry: Registry;
  readonly #ttl: number;
  readonly #logger: Logger;
  #entry: Entry | undefined;
  #loading: Promise<Service[]> | undefined;
  /** Events seen while a fetch is in flight, replayed onto its result. */
  #buffered: WatchEvent[] | undefined;
  readonly #watch: RetryingWatch;
  #closed = false;

  /**
   * @param registry where subscribers are registered
   * @param ttl how long a fetched list is trusted, in milliseconds
   * @param logger where watch and refresh failures are logged
   */
  constructor(registry: Registry, ttl: number, logger: Logger) {
    this.#registry = registry;
    this.#ttl = ttl;
    this.#logger = logger;
    this.#watch = new RetryingWatch(registry, {
      service: SERVICE_NAME,
      onEvent: (event) => {
        if (event.service.name !== SERVICE_NAME) return;
        this.#buffered?.push(event);
        if (this.#entry) this.#entry.services = apply(this.#entry.services, event);
      },
      // Changes may have been missed: fetch afresh on the next publish.
      onGap: () => {
        this.#entry = undefined;
      },
      logger,
      name: 'http broker',
    });
  }

  /**
   * @returns every version of `micro.http.broker` with its nodes (empty when none)
   * @throws {@link MicroError} 503 when the registry cannot be reached and nothing is cached
   */
  services(): Promise<Service[]> {
    if (this.#closed) {
      return Promise.reject(unavailable(ErrorIds.broker, 'http broker: not connected'));
    }
    const entry = this.#entry;
    if (!entry) return this.#load();
    const ttl = this.#watch.active ? this.#ttl : Math.min(this.#ttl, UNWATCHED_TTL);
    if (Date.now() - entry.fetchedAt > ttl && !this.#loading) {
      this.#load().catch((error: unknown) => {
        if (this.#entry === entry) entry.fetchedAt = Date.now();
        this.#logger.warn('http broker: registry refresh failed; using the cached subscribers', {
          error: errorMessage(error),
        });
      });
    }
    return Promise.resolve(entry.services);
  }

  /** Drops a node a subscriber said is gone (it answered 404), until the registry reports it again. */
  forget(nodeId: string): void {
    const entry = this.#entry;
    if (!entry) return;
    entry.services = apply(entry.services, {
      action: 'delete',
      service: { name: SERVICE_NAME, version: '', nodes: [{ id: nodeId, address: '' }] },
    });
  }

  /** Stops the watch. */
  close(): void {
    this.#closed = true;
    this.#watch.stop();
    this.#entry = undefined;
  }

  #load(): Promise<Service[]> {
    this.#loading ??= (async () => {
      await this.#watch.start();
      const buffered: WatchEvent[] = [];
      this.#buffered = buffered;
      try {
        let services = await this.#fetch();
        for (const event of buffered) services = apply(services, event);
        if (!this.#closed) this.#entry = { services, fetchedAt: Date.now() };
        return services;
      } finally {
        this.#buffered = undefined;
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  async #fetch(): Promise<Service[]> {
    try {
      return (await this.#registry.getService(SERVICE_NAME)).map(normalizeService);
    } catch (error) {
      if (isMicroError(error) && error.code === 404) return [];
      if (isMicroError(error)) throw error;
      throw unavailable(
        ErrorIds.broker,
        `http broker: cannot look up subscribers in the ${this.#registry.name} registry: ${errorMessage(error)}`,
        error,
      );
    }
  }
}
