/**
 * Service discovery. The data types are go-micro's, field for field, so a record
 * written by a Go service reads here and the other way round.
 */
import type { Logger } from '../logger/logger.js';

/** A request or response field description (go-micro `registry.Value`). */
export interface Value {
  name: string;
  type: string;
  values?: Value[] | null;
}

/** One endpoint of a service, e.g. `Greeter.Hello` (go-micro `registry.Endpoint`). */
export interface Endpoint {
  name: string;
  request?: Value | null;
  response?: Value | null;
  /** `{stream: "true"}` for streams, `{topic, subscriber: "true"}` for subscribers. */
  metadata?: Record<string, string> | null;
}

/** One running instance of a service (go-micro `registry.Node`). */
export interface Node {
  /** `<service>-<uuid>` by convention. */
  id: string;
  /** `host:port` the instance listens on. */
  address: string;
  /** `protocol`, `transport`, `broker`, `registry`, `server`, plus user metadata. */
  metadata?: Record<string, string> | null;
}

/** A service at one version with some of its nodes (go-micro `registry.Service`). */
export interface Service {
  name: string;
  version: string;
  metadata?: Record<string, string> | null;
  endpoints?: Endpoint[] | null;
  nodes: Node[];
}

/** What changed, as go-micro's watcher reports it. */
export type WatchAction = 'create' | 'update' | 'delete';

/** One change seen by a {@link Watcher}: the service holds the node(s) that changed. */
export interface WatchEvent {
  action: WatchAction;
  service: Service;
}

/** A stream of registry changes. Iterate it with `for await`; `stop()` ends the loop. */
export interface Watcher extends AsyncIterable<WatchEvent> {
  /**
   * @returns the next change
   * @throws {@link MicroError} 503 when the watch stopped or the registry failed
   */
  next(): Promise<WatchEvent>;
  /** Ends the watch; pending and later `next()` calls reject. Idempotent. */
  stop(): void;
}

/** Options for {@link Registry.register}. */
export interface RegisterOptions {
  /**
   * How long the record lives without being registered again, in milliseconds;
   * 0 keeps it until deregistered.
   * @default 90000 ({@link DEFAULT_REGISTER_TTL})
   */
  ttl?: number;
}

/** Options for {@link Registry.watch}. */
export interface WatchOptions {
  /** Only report changes to this service. */
  service?: string;
}

/** Options every registry accepts; a plugin's options type extends this. */
export interface RegistryOptions {
  /** Server addresses; the meaning is the plugin's. */
  addresses?: string[];
  /**
   * How long one registry operation may take, in milliseconds.
   * @default 5000
   */
  timeout?: number;
  /** Where the registry logs. */
  logger?: Logger;
}

/** Service discovery: who runs which service, where. */
export interface Registry {
  /** The name registered in node metadata (`registry`), e.g. `etcd`. */
  readonly name: string;
  /** Records the service's nodes, replacing earlier records of the same node ids. */
  register(service: Service, options?: RegisterOptions): Promise<void>;
  /** Removes the service's nodes. Removing an unknown node is not an error. */
  deregister(service: Service): Promise<void>;
  /**
   * @returns one Service per version, each with its live nodes
   * @throws {@link MicroError} 404 when no node of the service is registered;
   *   503 when the registry cannot be reached within its timeout
   */
  getService(name: string): Promise<Service[]>;
  /** @returns every service known, one entry per name and version (nodes may be empty) */
  listServices(): Promise<Service[]>;
  /** Starts a watch; resolves once changes made afterwards will be reported. */
  watch(options?: WatchOptions): Promise<Watcher>;
  /** Releases connections. Records this client registered stay until their TTL or deregistration. */
  close(): Promise<void>;
}

/** go-micro's default register TTL: 90 s. */
export const DEFAULT_REGISTER_TTL = 90_000;
/** go-micro's default re-register interval: 30 s. */
export const DEFAULT_REGISTER_INTERVAL = 30_000;
