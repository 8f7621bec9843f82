/**
 * Selectors choose the node a call goes to. They learn from `mark`: a node that
 * failed is skipped for a cool-down, which go-micro's default selector never does.
 */
import type { Logger } from '../logger/logger.js';
import type { Node, Registry, Service } from '../registry/registry.js';

/** Returns the node for the next attempt of one call. */
export type Next = () => Node;

/** Narrows the candidate services, e.g. to one version (go-micro `selector.Filter`). */
export type Filter = (services: Service[]) => Service[];

/** Picks one node among the live candidates of a service. */
export interface Strategy {
  /** e.g. `random`, `roundrobin`. */
  readonly name: string;
  /**
   * @param service the service name, for strategies that keep state per service
   * @param nodes the candidates, never empty
   */
  pick(service: string, nodes: readonly Node[]): Node;
}

/** Per-select options. */
export interface SelectOptions {
  /** Applied in order to the service's versions before a node is picked. */
  filters?: readonly Filter[];
}

/** Options every selector accepts; a plugin's options type extends this. */
export interface SelectorOptions {
  /** Where nodes come from. */
  registry?: Registry;
  /**
   * How long a node that failed is skipped, in milliseconds.
   * @default 30000 ({@link DEFAULT_COOLDOWN})
   */
  cooldown?: number;
  /**
   * How long a service's node list is trusted before it is fetched again, in
   * milliseconds; the registry watch keeps it current in between.
   * @default 60000 ({@link DEFAULT_CACHE_TTL})
   */
  cacheTtl?: number;
  /** Where the selector logs. */
  logger?: Logger;
}

/** Chooses nodes for calls. */
export interface Selector {
  /** e.g. `random`. */
  readonly name: string;
  /**
   * Prepares the choice for one call.
   * @returns a function giving the node for each attempt
   * @throws {@link MicroError} 404 when the service has no (matching) node;
   *   503 when the registry cannot be reached and nothing is cached
   */
  select(service: string, options?: SelectOptions): Promise<Next>;
  /**
   * Reports an attempt's outcome: `error` undefined for success. A node that was
   * unreachable or timed out (408, 503) is skipped for the cool-down.
   */
  mark(service: string, node: Node, error?: unknown): void;
  /** Forgets cached nodes and failure marks of a service. */
  reset(service: string): void;
  /** Stops the registry watch. */
  close(): Promise<void>;
}

/** The default cool-down of a failing node: 30 s. */
export const DEFAULT_COOLDOWN = 30_000;
/** The default selector cache TTL: 1 min, go-micro's registry cache TTL. */
export const DEFAULT_CACHE_TTL = 60_000;
