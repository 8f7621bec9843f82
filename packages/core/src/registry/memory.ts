import { ErrorIds, notFound } from '../errors/errors.js';
import {
  DEFAULT_REGISTER_TTL,
  type RegisterOptions,
  type Registry,
  type Service,
  type WatchAction,
  type Watcher,
  type WatchOptions,
} from './registry.js';
import { mergeByVersion, normalizeService } from './util.js';
import { QueueWatcher } from './watcher.js';

interface NodeRecord {
  /** The service with just this node. */
  service: Service;
  timer: NodeJS.Timeout | undefined;
}

/**
 * An in-process registry with TTL expiry and watch: the default for tests and
 * single-process apps. Records live in this instance only.
 */
export class MemoryRegistry implements Registry {
  readonly name = 'memory';
  /** service name → node id → record */
  readonly #services = new Map<string, Map<string, NodeRecord>>();
  readonly #watchers = new Set<{ watcher: QueueWatcher; service: string | undefined }>();

  async register(service: Service, options: RegisterOptions = {}): Promise<void> {
    const ttl = options.ttl ?? DEFAULT_REGISTER_TTL;
    const normalized = normalizeService(service);
    let nodes = this.#services.get(service.name);
    if (!nodes) {
      nodes = new Map();
      this.#services.set(service.name, nodes);
    }
    for (const node of normalized.nodes) {
      const existing = nodes.get(node.id);
      if (existing?.timer) clearTimeout(existing.timer);
      const record: NodeRecord = { service: { ...normalized, nodes: [node] }, timer: undefined };
      if (ttl > 0) {
        record.timer = setTimeout(() => this.#expire(service.name, node.id, record), ttl);
        record.timer.unref();
      }
      nodes.set(node.id, record);
      this.#emit(existing ? 'update' : 'create', record.service);
    }
  }

  async deregister(service: Service): Promise<void> {
    const nodes = this.#services.get(service.name);
    if (!nodes) return;
    for (const node of service.nodes) {
      const record = nodes.get(node.id);
      if (!record) continue;
      this.#remove(service.name, node.id, record);
    }
  }

  async getService(name: string): Promise<Service[]> {
    const nodes = this.#services.get(name);
    if (!nodes || nodes.size === 0) throw notFound(ErrorIds.registry, `service ${name}: not found`);
    return mergeByVersion([...nodes.values()].map((record) => record.service));
  }

  async listServices(): Promise<Service[]> {
    const out: Service[] = [];
    for (const nodes of this.#services.values()) {
      for (const service of mergeByVersion([...nodes.values()].map((r) => r.service))) {
        out.push(service);
      }
    }
    return out;
  }

  async watch(options: WatchOptions = {}): Promise<Watcher> {
    const entry = {
      watcher: new QueueWatcher(() => this.#watchers.delete(entry)),
      service: options.service,
    };
    this.#watchers.add(entry);
    return entry.watcher;
  }

  async close(): Promise<void> {
    for (const { watcher } of [...this.#watchers]) watcher.stop();
  }

  #expire(name: string, nodeId: string, record: NodeRecord): void {
    if (this.#services.get(name)?.get(nodeId) === record) this.#remove(name, nodeId, record);
  }

  #remove(name: string, nodeId: string, record: NodeRecord): void {
    if (record.timer) clearTimeout(record.timer);
    const nodes = this.#services.get(name);
    nodes?.delete(nodeId);
    if (nodes?.size === 0) this.#services.delete(name);
    this.#emit('delete', record.service);
  }

  #emit(action: WatchAction, service: Service): void {
    for (const entry of this.#watchers) {
      if (entry.service === undefined || entry.service === service.name) {
        entry.watcher.push({ action, service: normalizeService(service) });
      }
    }
  }
}

/** Creates an in-process registry. */
export function createMemoryRegistry(): MemoryRegistry {
  return new MemoryRegistry();
}
