import { ErrorIds, errorMessage, isMicroError, isRetryable, notFound } from '../errors/errors.js';
import { type Logger, silentLogger } from '../logger/logger.js';
import type { Node, Registry, Service, WatchEvent } from '../registry/registry.js';
import { RetryingWatch } from '../registry/retrying-watch.js';
import { normalizeService } from '../registry/util.js';
import { random } from './random.js';
import {
  DEFAULT_CACHE_TTL,
  DEFAULT_COOLDOWN,
  type Filter,
  type Next,
  type SelectOptions,
  type Selector,
  type SelectorOptions,
  type Strategy,
} from './selector.js';

/** Options for {@link RegistrySelector}. */
export interface RegistrySelectorOptions extends SelectorOptions {
  /** Where nodes come from. */
  registry: Registry;
  /**
   * How a node is picked among the live ones.
   * @default {@link random}
   */
  strategy?: Strategy;
}

interface CacheEntry {
  services: Service[];
  /** The resolved Next for unfiltered selects, made on first use. */
  next?: Promise<Next>;
  /** Every node of every version, flattened for the no-filter fast path. */
  nodes: Node[];
  fetchedAt: number;
  refreshing: boolean;
}

/**
 * The selector every strategy shares: a per-service cache filled from the registry
 * and kept current by one registry watch (a deregistered node is dropped at
 * once), and a cool-down for nodes marked failing. Plugins such as round-robin
 * supply only a {@link Strategy}.
 */
export class RegistrySelector implements Selector {
  readonly name: string;
  readonly #registry: Registry;
  readonly #strategy: Strategy;
  readonly #cooldown: number;
  readonly #cacheTtl: number;
  readonly #logger: Logger;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #pending = new Map<string, Promise<CacheEntry>>();
  /** service → node id → time the cool-down ends */
  readonly #failing = new Map<string, Map<string, number>>();
  readonly #watch: RetryingWatch;
  #closed = false;

  /** @param options the registry, strategy, cool-down and cache TTL */
  constructor(options: RegistrySelectorOptions) {
    this.#registry = options.registry;
    this.#strategy = options.strategy ?? random;
    this.name = this.#strategy.name;
    this.#cooldown = options.cooldown ?? DEFAULT_COOLDOWN;
    this.#cacheTtl = options.cacheTtl ?? DEFAULT_CACHE_TTL;
    this.#logger = options.logger ?? silentLogger;
    this.#watch = new RetryingWatch(this.#registry, {
      onEvent: (event) => this.#apply(event),
      // Nodes cached while changes went unseen may be gone: load them afresh.
      onGap: () => this.#cache.clear(),
      logger: this.#logger,
      name: 'selector',
    });
  }

  select(service: string, options?: SelectOptions): Promise<Next> {
    const entry = this.#cache.get(service);
    if (entry && !options?.filters?.length) {
      // The hot path: a cached service, no filters; the same promise every time.
      if (Date.now() - entry.fetchedAt > this.#cacheTtl) this.#refresh(service, entry);
      if (!entry.next) entry.next = Promise.resolve(this.#pick(service, []));
      return entry.next;
    }
    return this.#selectSlow(service, options?.filters ?? [], entry);
  }

  async #selectSlow(
    service: string,
    filters: readonly Filter[],
    cached: CacheEntry | undefined,
  ): Promise<Next> {
    let entry = cached;
    if (!entry) entry = await this.#load(service);
    else if (Date.now() - entry.fetchedAt > this.#cacheTtl) this.#refresh(service, entry);
    if (this.#candidates(service, filters, entry).length === 0) {
      throw notFound(
        ErrorIds.selector,
        `service ${service}: ${filters.length > 0 ? 'no node matches the filters' : 'no nodes'}`,
      );
    }
    return this.#pick(service, filters, entry);
  }

  /** The current nodes of a service after filters; the watch keeps them current. */
  #candidates(service: string, filters: readonly Filter[], fallback?: CacheEntry): Node[] {
    const current = this.#cache.get(service) ?? fallback;
    if (!current) return [];
    if (filters.length === 0) return current.nodes;
    let services = current.services;
    for (const filter of filters) services = filter(services);
    return services.flatMap((s) => s.nodes);
  }

  /** A Next that reads the live cache on every attempt. */
  #pick(service: string, filters: readonly Filter[], fallback?: CacheEntry): Next {
    return () => {
      const nodes = this.#candidates(service, filters, fallback);
      if (nodes.length === 0) throw notFound(ErrorIds.selector, `service ${service}: no nodes`);
      return this.#strategy.pick(service, this.#live(service, nodes));
    };
  }

  mark(service: string, node: Node, error?: unknown): void {
    if (error === undefined) {
      this.#failing.get(service)?.delete(node.id);
      return;
    }
    // Only failures of the node itself count; an error the handler answered does not.
    if (isMicroError(error) && !isRetryable(error)) return;
    let failing = this.#failing.get(service);
    if (!failing) {
      failing = new Map();
      this.#failing.set(service, failing);
    }
    failing.set(node.id, Date.now() + this.#cooldown);
    this.#logger.debug('selector: node marked failing', {
      service,
      node: node.id,
      address: node.address,
      cooldownMs: this.#cooldown,
      error: errorMessage(error),
    });
  }

  reset(service: string): void {
    this.#failing.delete(service);
    this.#cache.delete(service);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watch.stop();
    this.#cache.clear();
  }

  /** Nodes not in cool-down; all of them when every one is (better a try than none). */
  #live(service: string, nodes: Node[]): Node[] {
    const failing = this.#failing.get(service);
    if (!failing || failing.size === 0) return nodes;
    const now = Date.now();
    const live = nodes.filter((node) => {
      const until = failing.get(node.id);
      if (until === undefined) return true;
      if (until > now) return false;
      failing.delete(node.id);
      return true;
    });
    return live.length > 0 ? live : nodes;
  }

  async #load(service: string): Promise<CacheEntry> {
    const pending = this.#pending.get(service);
    if (pending) return pending;
    const load = (async () => {
      await this.#watch.start();
      const services = (await this.#registry.getService(service)).map(normalizeService);
      const entry = makeEntry(services);
      if (!this.#closed) this.#cache.set(service, entry);
      return entry;
    })();
    this.#pending.set(service, load);
    try {
      return await load;
    } finally {
      this.#pending.delete(service);
    }
  }

  /** Refetches in the background; on failure the cached nodes keep serving. */
  #refresh(service: string, entry: CacheEntry): void {
    if (entry.refreshing) return;
    entry.refreshing = true;
    this.#registry.getService(service).then(
      (services) => {
        if (this.#cache.get(service) === entry) {
          this.#cache.set(service, makeEntry(services.map(normalizeService)));
        }
      },
      (error: unknown) => {
        entry.refreshing = false;
        if (isMicroError(error) && error.code === 404) {
          this.#cache.delete(service);
          return;
        }
        entry.fetchedAt = Date.now();
        this.#logger.warn('selector: registry refresh failed; using cached nodes', {
          service,
          error: errorMessage(error),
        });
      },
    );
  }

  #apply({ action, service }: WatchEvent): void {
    if (action === 'create') {
      for (const node of service.nodes) this.#failing.get(service.name)?.delete(node.id);
    }
    const entry = this.#cache.get(service.name);
    if (!entry) return;
    const ids = new Set(service.nodes.map((node) => node.id));
    let services = entry.services
      .map((s) => ({ ...s, nodes: s.nodes.filter((node) => !ids.has(node.id)) }))
      .filter((s) => s.nodes.length > 0 || s.version === service.version);
    if (action !== 'delete') {
      const normalized = normalizeService(service);
      const index = services.findIndex((s) => s.version === service.version);
      if (index === -1) services.push(normalized);
      else {
        const current = services[index]!;
        services[index] = {
          ...current,
          endpoints: normalized.endpoints,
          metadata: normalized.metadata,
          nodes: [...current.nodes, ...normalized.nodes],
        };
      }
    }
    services = services.filter((s) => s.nodes.length > 0);
    if (services.length === 0) {
      this.#cache.delete(service.name);
      return;
    }
    this.#cache.set(service.name, { ...makeEntry(services), fetchedAt: entry.fetchedAt });
  }
}

function makeEntry(services: Service[]): CacheEntry {
  return {
    services,
    nodes: services.flatMap((s) => s.nodes),
    fetchedAt: Date.now(),
    refreshing: false,
  };
}

/**
 * Creates the default selector: random strategy over registry nodes.
 * @param options the registry and tuning
 */
export function createRegistrySelector(options: RegistrySelectorOptions): RegistrySelector {
  return new RegistrySelector(options);
}
