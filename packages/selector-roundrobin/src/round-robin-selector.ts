import {
  createConsoleLogger,
  type Registry,
  RegistrySelector,
  type SelectorOptions,
} from '@micro/core';
import { RoundRobinStrategy } from './round-robin-strategy.js';

/** Options for {@link RoundRobinSelector}: core's selector options with a registry. */
export interface RoundRobinSelectorOptions extends SelectorOptions {
  /** Where nodes come from; a Service passes its own. */
  registry: Registry;
}

/**
 * A selector that takes a service's nodes in turn. It is core's registry selector
 * (a per-service cache kept current by one registry watch, failing nodes skipped
 * for their cool-down, filters) with a {@link RoundRobinStrategy} of its own.
 *
 * Unlike go-micro's `RoundRobin`, whose counter starts again on every `Select`
 * (go-micro issue #2799), the rotation lives in the selector: consecutive calls
 * go to consecutive nodes, for every caller of the same selector. With filters it
 * rotates within the nodes that pass them.
 *
 * @example
 * const service = await createService({ name: 'frontend', selector: createRoundRobinSelector });
 */
export class RoundRobinSelector extends RegistrySelector {
  readonly #strategy: RoundRobinStrategy;

  /** @param options the registry, cool-down, cache TTL and logger */
  constructor(options: RoundRobinSelectorOptions) {
    const strategy = new RoundRobinStrategy();
    super({
      ...options,
      logger: options.logger ?? createConsoleLogger({ name: 'selector-roundrobin' }),
      strategy,
    });
    this.#strategy = strategy;
  }

  /**
   * Forgets a service's cached nodes, failure marks and rotation position.
   * @param service the service name
   */
  override reset(service: string): void {
    super.reset(service);
    this.#strategy.forget(service);
  }
}

/**
 * Creates a {@link RoundRobinSelector}. It also serves as a Service's selector
 * factory, which calls it with the Service's registry and logger, and core loads it
 * by name for `MICRO_SELECTOR=roundrobin`.
 * @param options the registry, cool-down (default 30 s), cache TTL (default 1 min) and logger
 * @returns the selector
 * @example
 * const service = await createService({ name: 'frontend', selector: createRoundRobinSelector });
 * // or on its own:
 * const selector = createRoundRobinSelector({ registry, cooldown: 10_000 });
 */
export function createRoundRobinSelector(options: RoundRobinSelectorOptions): RoundRobinSelector {
  return new RoundRobinSelector(options);
}
