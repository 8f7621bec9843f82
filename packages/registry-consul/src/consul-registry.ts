import { createHash } from 'node:crypto';
import {
  badRequest,
  DEFAULT_REGISTER_TTL,
  ErrorIds,
  isMicroError,
  type Logger,
  mergeByVersion,
  type Node,
  normalizeService,
  notFound,
  type RegisterOptions,
  type Registry,
  type Service,
  unavailable,
  type Watcher,
  type WatchOptions,
} from '@micro/core';
import {
  type CheckDefinition,
  ConsulClient,
  type HealthEntry,
  type ServiceRegistration,
} from './client.js';
import {
  consulAddress,
  consulMeta,
  decodeVersion,
  deregisterCriticalAfter,
  encodeTags,
  goDuration,
} from './encoding.js';
import { entryToService, isCritical } from './entries.js';
import { type ConsulRegistryOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { ConsulWatch } from './watch.js';

/**
 * The check go-micro attaches to a node's agent service: a TCP or HTTP check when
 * configured, else a TTL check when the TTL is above 0, else none.
 * @param options resolved registry options
 * @param node the node registered
 * @param ttl the register TTL, in milliseconds
 */
export function checkFor(
  options: Pick<ResolvedOptions, 'tcpCheck' | 'httpCheck'>,
  node: Node,
  ttl: number,
): CheckDefinition | undefined {
  if (options.tcpCheck) {
    return {
      tcp: node.address,
      interval: goDuration(options.tcpCheck.interval),
      deregistercriticalserviceafter: goDuration(
        deregisterCriticalAfter(options.tcpCheck.interval),
      ),
    };
  }
  if (options.httpCheck) {
    const { host } = consulAddress(node.address);
    return {
      http: options.httpCheck.url.replace('{host}', host),
      interval: goDuration(options.httpCheck.interval),
      timeout: goDuration(options.httpCheck.timeout),
      deregistercriticalserviceafter: goDuration(
        deregisterCriticalAfter(options.httpCheck.interval),
      ),
    };
  }
  if (ttl > 0) {
    return {
      ttl: goDuration(ttl),
      deregistercriticalserviceafter: goDuration(deregisterCriticalAfter(ttl)),
    };
  }
  return undefined;
}

/**
 * go-micro's agent service for one node: ID = node id, Name = service name,
 * Address/Port from the node address, the `t-`/`e-`/`v-` tags, node metadata as
 * Meta, and the check.
 * @param service the service (its nodes are ignored)
 * @param node the node to register
 * @param check from {@link checkFor}
 * @returns the registration and the metadata keys Consul's Meta could not take
 */
export function registrationFor(
  service: Service,
  node: Node,
  check: CheckDefinition | undefined,
): { registration: ServiceRegistration; dropped: { key: string; reason: string }[] } {
  const { host, port } = consulAddress(node.address);
  const { meta, dropped } = consulMeta(node.metadata);
  const registration: ServiceRegistration = {
    id: node.id,
    name: service.name,
    tags: encodeTags(node.metadata, service.endpoints, service.version ?? ''),
    address: host,
    port,
  };
  if (Object.keys(meta).length > 0) registration.meta = meta;
  if (check) registration.check = check;
  return { registration, dropped };
}

function fingerprint(registration: ServiceRegistration): string {
  return createHash('sha256').update(JSON.stringify(registration)).digest('base64url');
}

/**
 * A go-micro compatible registry on Consul: each node is one agent service with
 * go-micro's tags, kept alive by a TTL check; Go and TypeScript services find
 * each other through it.
 *
 * @example
 * const registry = createConsulRegistry({ address: '127.0.0.1:8500' });
 * await registry.register(service, { ttl: 60_000 });
 * const [helloworld] = await registry.getService('helloworld');
 */
export class ConsulRegistry implements Registry {
  /** go-micro's name for this registry, written into node metadata as `registry`. */
  readonly name = 'consul';
  readonly #options: ResolvedOptions;
  readonly #client: ConsulClient;
  readonly #logger: Logger;
  /** node id → fingerprint of the registration last accepted by the agent */
  readonly #registered = new Map<string, string>();
  readonly #watches = new Set<ConsulWatch>();
  #closed = false;

  /**
   * @param options address, ACL token, TLS, timeouts, checks and logger
   * @throws {@link MicroError} 400 for invalid options
   */
  constructor(options: ConsulRegistryOptions = {}) {
    this.#options = resolveOptions(options);
    this.#logger = this.#options.logger;
    this.#client = new ConsulClient(this.#options);
  }

  /**
   * Registers each node as a Consul agent service. Registering an unchanged node
   * again only passes its TTL check; if the agent lost it (say Consul restarted),
   * it is registered in full again.
   * @param service the service with the nodes to register
   * @param options `ttl` in milliseconds (0: no check, the node stays until deregistered)
   * @throws {@link MicroError} 400 for a service without name or nodes, or one Consul
   *   rejects; 403 when the ACL token may not register it; 503 when Consul cannot be
   *   reached within the timeout
   */
  async register(service: Service, options: RegisterOptions = {}): Promise<void> {
    this.#assertOpen();
    const ttl = options.ttl ?? DEFAULT_REGISTER_TTL;
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) {
      throw badRequest(ErrorIds.registry, `invalid register ttl ${String(ttl)}`);
    }
    const nodes = validate(service);
    const deadline = Date.now() + this.#options.timeout;
    await Promise.all(nodes.map((node) => this.#registerNode(service, node, ttl, deadline)));
  }

  async #registerNode(service: Service, node: Node, ttl: number, deadline: number): Promise<void> {
    const check = checkFor(this.#options, node, ttl);
    const { registration, dropped } = registrationFor(service, node, check);
    const hash = fingerprint(registration);
    const ttlCheck = check?.ttl !== undefined;
    const checkId = `service:${node.id}`;

    if (ttlCheck && this.#registered.get(node.id) === hash) {
      try {
        await this.#client.passTtl(checkId, deadline);
        return;
      } catch (error) {
        // go-micro: the state is unknown, so register in full again.
        this.#logger.debug('consul: passing the TTL failed; registering again', {
          node: node.id,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }

    if (dropped.length > 0 && this.#registered.get(node.id) !== hash) {
      this.#logger.warn('consul: node metadata left out of Meta (it is still in the tags)', {
        node: node.id,
        dropped: dropped.map((d) => `${d.key}: ${d.reason}`),
      });
    }
    this.#registered.delete(node.id);
    await this.#client.registerService(registration, deadline);
    if (ttlCheck) await this.#client.passTtl(checkId, deadline);
    this.#registered.set(node.id, hash);
  }

  /**
   * Removes each node's agent service. A node the agent does not know is skipped.
   * @param service the service with the nodes to remove
   * @throws {@link MicroError} 503 when Consul cannot be reached within the timeout
   */
  async deregister(service: Service): Promise<void> {
    this.#assertOpen();
    const deadline = Date.now() + this.#options.timeout;
    await Promise.all(
      (service?.nodes ?? []).map(async (node) => {
        if (typeof node?.id !== 'string' || node.id === '') return;
        this.#registered.delete(node.id);
        try {
          await this.#client.deregisterService(node.id, deadline);
        } catch (error) {
          if (isMicroError(error) && error.code === 404) return;
          throw error;
        }
      }),
    );
  }

  /**
   * The live nodes of a service, one Service per version. Nodes with a critical
   * check are left out, as go-micro does.
   * @param name the service name
   * @returns one Service per version
   * @throws {@link MicroError} 404 when no live node is registered; 503 when Consul
   *   cannot be reached within the timeout
   */
  async getService(name: string): Promise<Service[]> {
    this.#assertOpen();
    if (typeof name !== 'string' || name === '') {
      throw badRequest(ErrorIds.registry, 'service name is required');
    }
    const { body } = await this.#client.healthService(name, {
      deadline: Date.now() + this.#options.timeout,
    });
    const services = recordsOf(body, name);
    if (services.length === 0) throw notFound(ErrorIds.registry, `service ${name}: not found`);
    return services;
  }

  /**
   * Every service in Consul's catalog, one entry per name and version (versions
   * read from the catalog's tags; nodes are empty).
   * @throws {@link MicroError} 503 when Consul cannot be reached within the timeout
   */
  async listServices(): Promise<Service[]> {
    this.#assertOpen();
    const { body } = await this.#client.catalogServices({
      deadline: Date.now() + this.#options.timeout,
    });
    const out: Service[] = [];
    for (const [name, tags] of Object.entries(body)) {
      const versions = new Set<string>();
      for (const tag of Array.isArray(tags) ? tags : []) {
        if (typeof tag !== 'string') continue;
        const version = decodeVersion([tag]);
        if (version !== undefined) versions.add(version);
      }
      if (versions.size === 0) versions.add('');
      for (const version of versions) out.push(normalizeService({ name, version, nodes: [] }));
    }
    return out;
  }

  /**
   * Watches the catalog and the health of every service (or of one) with Consul
   * blocking queries. Resolves once the current state is read; only later changes
   * are reported. Survives Consul restarts: it backs off, resumes and reports
   * what changed meanwhile.
   * @throws {@link MicroError} 503 when Consul cannot be reached within the timeout
   */
  async watch(options: WatchOptions = {}): Promise<Watcher> {
    this.#assertOpen();
    const watch = new ConsulWatch(
      {
        client: this.#client,
        timeout: this.#options.timeout,
        wait: this.#options.watchWait,
        logger: this.#logger,
      },
      options.service,
      () => this.#watches.delete(watch),
    );
    this.#watches.add(watch);
    await watch.start();
    return watch.watcher;
  }

  /** Stops every watch and closes connections. Registered nodes stay until their TTL or deregistration. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const watch of [...this.#watches]) watch.stop();
    this.#client.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw unavailable(ErrorIds.registry, 'consul registry is closed');
  }
}

function validate(service: Service): Node[] {
  if (typeof service !== 'object' || service === null) {
    throw badRequest(ErrorIds.registry, 'a service is required');
  }
  if (typeof service.name !== 'string' || service.name === '') {
    throw badRequest(ErrorIds.registry, 'service name is required');
  }
  if (!Array.isArray(service.nodes) || service.nodes.length === 0) {
    throw badRequest(ErrorIds.registry, `service ${service.name}: at least one node is required`);
  }
  for (const node of service.nodes) {
    if (typeof node?.id !== 'string' || node.id === '') {
      throw badRequest(ErrorIds.registry, `service ${service.name}: every node needs an id`);
    }
    if (typeof node.address !== 'string') {
      throw badRequest(ErrorIds.registry, `node ${node.id}: address must be a string`);
    }
  }
  return service.nodes;
}

/** go-micro's GetService over health entries: skip critical nodes, group by version. */
function recordsOf(entries: readonly HealthEntry[], name: string): Service[] {
  const records: Service[] = [];
  for (const entry of entries) {
    if (isCritical(entry)) continue;
    const record = entryToService(entry, name);
    if (record) records.push(record);
  }
  return mergeByVersion(records);
}

/**
 * Creates a {@link ConsulRegistry}.
 * @param options address (default `127.0.0.1:8500`), ACL token, TLS, `allowStale`
 *   (default true), timeout (default 5 s), TCP/HTTP checks, logger
 * @returns the registry
 * @throws {@link MicroError} 400 for invalid options
 * @example
 * const registry = createConsulRegistry({ address: 'consul.internal:8500', token: process.env.CONSUL_TOKEN });
 */
export function createConsulRegistry(options: ConsulRegistryOptions = {}): ConsulRegistry {
  return new ConsulRegistry(options);
}
