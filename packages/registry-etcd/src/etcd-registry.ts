import { createHash } from 'node:crypto';
import {
  badRequest,
  DEFAULT_REGISTER_TTL,
  ErrorIds,
  isMicroError,
  type Logger,
  mergeByVersion,
  notFound,
  type RegisterOptions,
  type Registry,
  type Service,
  sleep,
  unavailable,
  type Watcher,
  type WatchOptions,
} from '@micro/core';
import type { Etcd3, Watcher as EtcdWatcher, IKeyValue, IWatchResponse } from 'etcd3';
import { type CallOptions, createEtcdClient, MAX_RECONNECT_DELAY } from './client.js';
import {
  decodeService,
  encodeService,
  nodeKey,
  REGISTRY_PREFIX,
  servicePrefix,
} from './encoding.js';
import { timedOut, toMicroError } from './errors.js';
import { type EtcdRegistryOptions, resolveOptions } from './options.js';
import { EtcdWatch, prefixEnd } from './watcher.js';

/** One node this client registered, what it wants in etcd and what etcd holds. */
interface Registration {
  readonly key: string;
  readonly service: string;
  readonly nodeId: string;
  /** The record as last registered. */
  value: string;
  hash: string;
  /** Lease TTL in whole seconds; 0 for no lease. */
  ttl: number;
  /** Until when the caller wants the record kept (its last register call plus the TTL). */
  wantedUntil: number;
  /** Hash of the value last put successfully; undefined when etcd may not hold it. */
  storedHash: string | undefined;
  /** The lease the key was put with, and the TTL it was granted for. */
  leaseId: string | undefined;
  leaseTtl: number;
  /** Revision of our last put: older delete events are not about the current record. */
  putRevision: bigint;
  /** Read the key back before trusting {@link storedHash} (a call failed, or the connection dropped). */
  verify: boolean;
  /** Hash of a record etcd refused for good (too large, permission denied): not retried in the background. */
  rejectedHash: string | undefined;
  /** Operations on this key, one at a time. */
  chain: Promise<void>;
  /** Watches the key, so a lost lease or a deleted key is put back without waiting for a register call. */
  guard: EtcdWatcher | undefined;
  guardDisconnected: boolean;
  removed: boolean;
}

function sha256(value: string | Buffer): string {
  return createHash('sha256').update(value).digest('hex');
}

function leaseTtlSeconds(ttl: number): number {
  // etcd leases count whole seconds: round up so a record never lives shorter than asked
  return ttl > 0 ? Math.max(1, Math.ceil(ttl / 1000)) : 0;
}

/**
 * A go-micro compatible registry on etcd v3: one key per node,
 * `/micro/registry/<service>/<nodeId>`, holding the single-node Service JSON under
 * a lease of the register TTL; Go and TypeScript services see each other.
 *
 * Registering an unchanged node again only renews its lease. A lease lost while
 * the node is still registered (etcd restored from a backup, the lease revoked,
 * the key deleted) is granted and put again as soon as etcd answers, without
 * waiting for the next register call. Every call is bounded by the timeout and
 * fails with a 503 when etcd cannot be reached.
 *
 * @example
 * const registry = createEtcdRegistry({ addresses: ['127.0.0.1:2379'] });
 * await registry.register(service, { ttl: 90_000 });
 * const [latest] = await registry.getService('helloworld');
 */
export class EtcdRegistry implements Registry {
  /** go-micro's name for this registry, stored in node metadata `registry`. */
  readonly name = 'etcd';
  readonly #client: Etcd3;
  readonly #logger: Logger;
  readonly #timeout: number;
  readonly #registrations = new Map<string, Registration>();
  readonly #watches = new Set<EtcdWatch>();
  readonly #closing = new AbortController();
  #repairing = false;
  #repairAgain = false;
  #closed = false;

  /**
   * @param options addresses, credentials, TLS, timeout and logger
   * @throws {@link MicroError} 400 when an option is malformed
   */
  constructor(options: EtcdRegistryOptions = {}) {
    const resolved = resolveOptions(options);
    this.#logger = resolved.logger;
    this.#timeout = resolved.timeout;
    this.#client = createEtcdClient(resolved, (error) => {
      const mapped = toMicroError(error, '');
      return mapped.code === 503;
    });
  }

  /**
   * Records each node of the service under its own key, with a lease of the TTL.
   * A node registered before with the same record only has its lease renewed.
   * @param service the service with the nodes to record
   * @param options `ttl` in milliseconds (rounded up to whole seconds; 0 for no lease)
   * @throws {@link MicroError} 400 for a service without nodes or with malformed fields;
   *   503 when etcd cannot be reached within the timeout (the node is then put as soon
   *   as etcd answers, while the TTL since this call lasts)
   */
  async register(service: Service, options: RegisterOptions = {}): Promise<void> {
    this.#checkOpen();
    if (service === null || typeof service !== 'object') {
      throw badRequest(ErrorIds.registry, 'register needs a service');
    }
    if (!Array.isArray(service.nodes) || service.nodes.length === 0) {
      throw badRequest(ErrorIds.registry, `service ${service.name}: require at least one node`);
    }
    const ttlMs = options.ttl ?? DEFAULT_REGISTER_TTL;
    if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 0) {
      throw badRequest(ErrorIds.registry, `register ttl must be >= 0 ms, not ${ttlMs}`);
    }
    const ttl = leaseTtlSeconds(ttlMs);
    // encode every node first: bad input fails before anything is written
    const records = service.nodes.map((node) => ({
      key: nodeKey(service.name, node?.id),
      nodeId: node.id,
      value: encodeService(service, node),
    }));
    const now = Date.now();
    const deadline = now + this.#timeout;
    const results = await Promise.allSettled(
      records.map(({ key, nodeId, value }) => {
        const registration = this.#registration(key, service.name, nodeId);
        registration.value = value;
        registration.hash = sha256(value);
        registration.ttl = ttl;
        registration.wantedUntil = ttl > 0 ? now + ttlMs : Number.POSITIVE_INFINITY;
        const what = `register ${service.name} node ${nodeId}`;
        return this.#bounded(
          what,
          deadline,
          this.#enqueue(registration, () => this.#sync(registration, deadline, what)),
        );
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      this.#scheduleRepair();
      throw toMicroError(failed.reason, `register ${service.name}`);
    }
  }

  /**
   * Deletes each node's key and revokes its lease when no other key of this client uses it.
   * Removing a node nobody registered is not an error.
   * @param service the service with the nodes to remove
   * @throws {@link MicroError} 400 for a malformed service; 503 when etcd cannot be
   *   reached within the timeout (the record then lasts until its TTL)
   */
  async deregister(service: Service): Promise<void> {
    this.#checkOpen();
    if (service === null || typeof service !== 'object' || !Array.isArray(service.nodes)) {
      throw badRequest(ErrorIds.registry, 'deregister needs a service with nodes');
    }
    const keys = service.nodes.map((node) => ({
      key: nodeKey(service.name, node?.id),
      nodeId: node.id,
    }));
    const deadline = Date.now() + this.#timeout;
    const results = await Promise.allSettled(
      keys.map(({ key, nodeId }) => {
        const what = `deregister ${service.name} node ${nodeId}`;
        const registration = this.#registrations.get(key);
        const remove = async () => {
          await this.#call(what, deadline, (o) =>
            this.#client.kv.deleteRange({ key: Buffer.from(key) }, o),
          );
          if (registration?.leaseId) {
            await this.#releaseLease(registration.leaseId, registration, deadline);
          }
        };
        if (!registration) return remove();
        registration.removed = true;
        this.#registrations.delete(key);
        this.#stopGuard(registration);
        return this.#bounded(what, deadline, this.#enqueue(registration, remove));
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw toMicroError(failed.reason, `deregister ${service.name}`);
  }

  /**
   * @param name the service name
   * @returns one Service per version, with the nodes of that version
   * @throws {@link MicroError} 404 when no node of the service is registered; 400 for
   *   an empty name; 503 when etcd cannot be reached within the timeout
   */
  async getService(name: string): Promise<Service[]> {
    this.#checkOpen();
    const prefix = servicePrefix(name);
    const records = await this.#readPrefix(prefix, `get service ${name}`);
    if (records.length === 0) throw notFound(ErrorIds.registry, `service ${name}: not found`);
    return mergeByVersion(records);
  }

  /**
   * @returns every registered service, one entry per name and version, sorted by name
   * @throws {@link MicroError} 503 when etcd cannot be reached within the timeout
   */
  async listServices(): Promise<Service[]> {
    this.#checkOpen();
    const records = await this.#readPrefix(REGISTRY_PREFIX, 'list services');
    const byName = new Map<string, Service[]>();
    for (const record of records) {
      const list = byName.get(record.name);
      if (list) list.push(record);
      else byName.set(record.name, [record]);
    }
    const names = [...byName.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return names.flatMap((name) => mergeByVersion(byName.get(name)!));
  }

  /**
   * Watches every service, or one. Resolves once etcd confirmed the watch; the
   * watch survives etcd restarts and reports what changed meanwhile.
   * @param options `service` to watch only that service
   * @returns a watcher of create, update and delete events
   * @throws {@link MicroError} 503 when etcd cannot be reached within the timeout
   */
  async watch(options: WatchOptions = {}): Promise<Watcher> {
    this.#checkOpen();
    const prefix = options.service ? servicePrefix(options.service) : REGISTRY_PREFIX;
    const watch: EtcdWatch = new EtcdWatch(
      {
        client: this.#client,
        logger: this.#logger,
        timeout: this.#timeout,
        call: (what, deadline, run) => this.#call(what, deadline, run),
      },
      prefix,
      () => this.#watches.delete(watch),
    );
    this.#watches.add(watch);
    await watch.start().catch((error: unknown) => {
      this.#watches.delete(watch);
      throw error;
    });
    return watch.watcher;
  }

  /**
   * Stops the watches and the background repair and closes the connection.
   * Records stay in etcd until their TTL or deregistration. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    const cancelled: Promise<void>[] = [];
    for (const watch of [...this.#watches]) {
      watch.watcher.stop();
      cancelled.push(watch.cancelled);
    }
    for (const registration of this.#registrations.values()) {
      cancelled.push(this.#stopGuard(registration));
    }
    // let etcd confirm the cancels, so no watch tries to reconnect over a closed client
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(cancelled),
      new Promise((resolve) => {
        timer = setTimeout(resolve, Math.min(this.#timeout, 1_000));
      }),
    ]);
    clearTimeout(timer);
    this.#client.close();
  }

  // ---------------------------------------------------------------------------------------
  // registrations

  #registration(key: string, service: string, nodeId: string): Registration {
    const existing = this.#registrations.get(key);
    if (existing) return existing;
    const registration: Registration = {
      key,
      service,
      nodeId,
      value: '',
      hash: '',
      ttl: 0,
      wantedUntil: 0,
      storedHash: undefined,
      leaseId: undefined,
      leaseTtl: 0,
      putRevision: 0n,
      verify: false,
      rejectedHash: undefined,
      chain: Promise.resolve(),
      guard: undefined,
      guardDisconnected: false,
      removed: false,
    };
    this.#registrations.set(key, registration);
    this.#startGuard(registration);
    return registration;
  }

  /** Runs `work` after the operations already queued on the registration's key. */
  #enqueue(registration: Registration, work: () => Promise<void>): Promise<void> {
    const run = registration.chain.then(work);
    registration.chain = run.catch(() => {});
    return run;
  }

  /**
   * Makes etcd hold the registration: renews the lease, and grants a new one and
   * puts the record when the lease is gone, the TTL changed, or the record changed.
   */
  async #sync(registration: Registration, deadline: number, what: string): Promise<void> {
    const key = Buffer.from(registration.key);
    // a register call may change the record while this runs: work on one snapshot of it
    const { ttl, value, hash } = registration;
    try {
      if (registration.verify) {
        const response = await this.#call(what, deadline, (o) => this.#client.kv.range({ key }, o));
        const kv = response.kvs[0];
        const lease = registration.leaseId ?? '0';
        if (!kv || sha256(kv.value) !== registration.storedHash || kv.lease !== lease) {
          registration.storedHash = undefined;
        }
        registration.verify = false;
      }
      let lease = registration.leaseId;
      if (lease !== undefined && ttl > 0 && registration.leaseTtl === ttl) {
        const remaining = await this.#renew(lease, deadline, what);
        if (remaining <= 0) {
          this.#logger.warn('etcd lease lost; registering again', {
            service: registration.service,
            node: registration.nodeId,
            lease,
          });
          registration.leaseId = undefined;
          registration.storedHash = undefined;
          lease = undefined;
        }
      } else if (lease !== undefined) {
        lease = undefined; // TTL changed or dropped: replaced below
      }
      if (registration.storedHash === hash && lease === registration.leaseId) {
        return; // unchanged: the renewal was all it needed
      }
      let granted: string | undefined;
      if (ttl > 0 && lease === undefined) {
        const response = await this.#call(what, deadline, (o) =>
          this.#client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 }, o),
        );
        if (response.error) throw unavailable(ErrorIds.registry, `etcd ${what}: ${response.error}`);
        granted = response.ID;
        lease = granted;
      }
      let revision: bigint;
      try {
        const response = await this.#call(what, deadline, (o) =>
          this.#client.kv.put({ key, value: Buffer.from(value), lease: lease ?? 0 }, o),
        );
        revision = BigInt(response.header.revision);
      } catch (error) {
        if (granted) this.#revokeQuietly(granted);
        throw error;
      }
      const previous = registration.leaseId;
      registration.leaseId = lease;
      registration.leaseTtl = ttl;
      registration.storedHash = hash;
      registration.putRevision = revision;
      registration.rejectedHash = undefined;
      this.#logger.debug('registered in etcd', {
        key: registration.key,
        lease: lease ?? 'none',
        ttl,
      });
      if (previous !== undefined && previous !== lease) {
        await this.#releaseLease(previous, registration, deadline).catch(() => {});
      }
    } catch (error) {
      if (isMicroError(error) && error.code !== 503) {
        registration.rejectedHash = hash;
      } else {
        registration.verify = true;
      }
      throw error;
    }
  }

  /** KeepAliveOnce: renews the lease and returns its TTL, or 0 when etcd no longer has it. */
  async #renew(lease: string, deadline: number, what: string): Promise<number> {
    return this.#call(what, deadline, async (options) => {
      const stream = await this.#client.leaseClient.leaseKeepAlive(options);
      try {
        return await new Promise<number>((resolve, reject) => {
          stream.on('data', (response) => resolve(Number(response.TTL)));
          stream.on('error', reject);
          stream.on('end', () => reject(unavailable(ErrorIds.registry, 'lease keepalive ended')));
          stream.write({ ID: lease });
        });
      } finally {
        stream.end();
      }
    });
  }

  /** Revokes a lease that no registration of this client uses any more. */
  async #releaseLease(lease: string, owner: Registration, deadline: number): Promise<void> {
    for (const other of this.#registrations.values()) {
      if (other !== owner && other.leaseId === lease) return;
    }
    try {
      await this.#call(`revoke lease ${lease}`, deadline, (o) =>
        this.#client.leaseClient.leaseRevoke({ ID: lease }, o),
      );
    } catch (error) {
      // an unknown lease is already gone; anything else expires with its TTL
      if (!/lease not found/i.test(isMicroError(error) ? error.detail : String(error))) throw error;
    }
  }

  #revokeQuietly(lease: string): void {
    const deadline = Date.now() + this.#timeout;
    this.#call(`revoke lease ${lease}`, deadline, (o) =>
      this.#client.leaseClient.leaseRevoke({ ID: lease }, o),
    ).catch(() => {});
  }

  #startGuard(registration: Registration): void {
    const guard = this.#client.watch().key(registration.key).withPreviousKV().watcher();
    registration.guard = guard;
    guard.on('data', (response: IWatchResponse) => this.#onGuardData(registration, response));
    guard.on('disconnected', () => {
      registration.guardDisconnected = true;
    });
    guard.on('connected', () => {
      if (!registration.guardDisconnected) return;
      // etcd was away: it may have come back without our lease (restored, replaced)
      registration.guardDisconnected = false;
      registration.verify = true;
      this.#scheduleRepair();
    });
    guard.on('error', (error: Error) => {
      // cancelled by etcd (history compacted): watch again and check the key
      this.#logger.debug('etcd registration watch cancelled; restarting it', {
        key: registration.key,
        error: error.message,
      });
      if (registration.removed || this.#closed) return;
      this.#startGuard(registration);
      registration.verify = true;
      this.#scheduleRepair();
    });
  }

  #stopGuard(registration: Registration): Promise<void> {
    const guard = registration.guard;
    registration.guard = undefined;
    if (!guard) return Promise.resolve();
    guard.removeAllListeners();
    guard.on('error', () => {});
    return guard.cancel().catch(() => {});
  }

  #onGuardData(registration: Registration, response: IWatchResponse): void {
    if (registration.removed || this.#closed) return;
    for (const event of response.events) {
      if (event.type !== 'Delete') continue;
      if (BigInt(event.kv.mod_revision) <= registration.putRevision) continue;
      registration.storedHash = undefined;
      if (Date.now() < registration.wantedUntil) {
        this.#logger.warn(
          'etcd removed a registered node (lease lost or key deleted); putting it back',
          { key: registration.key },
        );
        this.#scheduleRepair();
        continue;
      }
      // its TTL ran out without a register call: the record expired as it should; forget it
      this.#logger.debug('etcd registration expired', { key: registration.key });
      registration.removed = true;
      if (this.#registrations.get(registration.key) === registration) {
        this.#registrations.delete(registration.key);
      }
      void this.#stopGuard(registration);
      return;
    }
  }

  #needsRepair(registration: Registration): boolean {
    return (
      !registration.removed &&
      Date.now() < registration.wantedUntil &&
      registration.rejectedHash !== registration.hash &&
      (registration.verify ||
        registration.storedHash !== registration.hash ||
        (registration.ttl > 0 && registration.leaseId === undefined))
    );
  }

  /** Puts back, as soon as etcd answers, every registration etcd may have lost. */
  #scheduleRepair(): void {
    if (this.#closed) return;
    if (this.#repairing) {
      this.#repairAgain = true;
      return;
    }
    this.#repairing = true;
    void (async () => {
      for (let attempt = 0; !this.#closed; ) {
        this.#repairAgain = false;
        const pending = [...this.#registrations.values()].filter((r) => this.#needsRepair(r));
        if (pending.length === 0) break;
        const deadline = Date.now() + this.#timeout;
        const results = await Promise.allSettled(
          pending.map((registration) =>
            this.#enqueue(registration, async () => {
              if (!this.#needsRepair(registration)) return;
              await this.#sync(registration, deadline, `restore ${registration.key}`);
              this.#logger.info('etcd registration restored', { key: registration.key });
            }),
          ),
        );
        if (results.every((r) => r.status === 'fulfilled') && !this.#repairAgain) {
          attempt = 0;
          continue;
        }
        if (results.some((r) => r.status === 'rejected')) {
          const delay = Math.min(MAX_RECONNECT_DELAY, 100 * 2 ** attempt++);
          await sleep(delay, this.#closing.signal).catch(() => {});
        }
      }
      this.#repairing = false;
    })();
  }

  // ---------------------------------------------------------------------------------------
  // reads and calls

  async #readPrefix(prefix: string, what: string): Promise<Service[]> {
    const key = Buffer.from(prefix);
    const response = await this.#call(what, Date.now() + this.#timeout, (o) =>
      // serializable, as go-micro: a read may be served by any member
      this.#client.kv.range({ key, range_end: prefixEnd(key), serializable: true }, o),
    );
    const records: Service[] = [];
    for (const kv of response.kvs) {
      const record = this.#decode(kv);
      if (record) records.push(record);
    }
    return records;
  }

  #decode(kv: IKeyValue): Service | undefined {
    try {
      return decodeService(kv.value);
    } catch (error) {
      this.#logger.warn('skipping an etcd registry record that does not decode', {
        key: kv.key.toString(),
        error: (error as Error).message,
      });
      return undefined;
    }
  }

  /** Runs one etcd call, bounded by `deadline`; failures become MicroErrors. */
  async #call<T>(
    what: string,
    deadline: number,
    run: (options: CallOptions) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw unavailable(ErrorIds.registry, `etcd ${what}: registry closed`);
    try {
      return await this.#bounded(what, deadline, run({ deadline: new Date(deadline) }));
    } catch (error) {
      throw toMicroError(error, what);
    }
  }

  /** Rejects with a 503 when `work` has not settled by `deadline`. */
  async #bounded<T>(what: string, deadline: number, work: Promise<T>): Promise<T> {
    const remaining = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timedOut(what, this.#timeout)), Math.max(0, remaining));
    });
    try {
      return await Promise.race([work, limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw unavailable(ErrorIds.registry, 'etcd registry closed');
  }
}

/**
 * Creates a go-micro compatible etcd registry.
 * @param options addresses (default `127.0.0.1:2379`), credentials, TLS, timeout (default 5 s) and logger
 * @returns the registry; it connects on first use
 * @throws {@link MicroError} 400 when an option is malformed
 * @example
 * import { createEtcdRegistry } from '@micro/registry-etcd';
 * const registry = createEtcdRegistry({ addresses: ['10.0.0.2:2379'], timeout: 3_000 });
 */
export function createEtcdRegistry(options: EtcdRegistryOptions = {}): EtcdRegistry {
  return new EtcdRegistry(options);
}
