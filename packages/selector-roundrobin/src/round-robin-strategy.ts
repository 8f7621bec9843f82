import type { Node, Strategy } from '@micro/core';

/**
 * The round-robin {@link Strategy} with its own rotation state, one position per
 * service.
 *
 * The position is the id of the node picked last, not an index: each pick takes
 * the candidate with the smallest id greater than it, wrapping around to the
 * smallest id. The rotation therefore stays even however the candidate list
 * changes between picks: a node that joins takes its place in id order within the
 * current round, a node that leaves (deregistered, filtered out, in cool-down) is
 * passed over and its turn goes to the next, and no node is picked twice in a
 * round while another waits. Each pick scans the candidates once (no sorting, no
 * allocation).
 */
export class RoundRobinStrategy implements Strategy {
  readonly name = 'roundrobin';
  /** service → id of the node picked last */
  readonly #last = new Map<string, string>();

  /**
   * @param service the service the candidates belong to; each service rotates on its own
   * @param nodes the candidates, never empty
   * @returns the next node in id order after the one picked last
   */
  pick(service: string, nodes: readonly Node[]): Node {
    const last = this.#last.get(service);
    let first: Node | undefined;
    let next: Node | undefined;
    for (const node of nodes) {
      const id = node.id;
      if (first === undefined || id < first.id) first = node;
      if (last !== undefined && id > last && (next === undefined || id < next.id)) next = node;
    }
    const chosen = (next ?? first)!;
    this.#last.set(service, chosen.id);
    return chosen;
  }

  /**
   * Forgets a service's position: its next pick starts again at the smallest id.
   * @param service the service name
   */
  forget(service: string): void {
    this.#last.delete(service);
  }
}

/**
 * Creates a round-robin strategy with rotation state of its own, e.g. for
 * `createRegistrySelector({ registry, strategy: createRoundRobinStrategy() })`.
 * @returns a new {@link RoundRobinStrategy}
 * @example
 * const selector = createRegistrySelector({ registry, strategy: createRoundRobinStrategy() });
 */
export function createRoundRobinStrategy(): RoundRobinStrategy {
  return new RoundRobinStrategy();
}

/**
 * A process-wide round-robin strategy, the counterpart of core's `random`. Every
 * selector given it shares one rotation per service name; a
 * {@link RoundRobinSelector} has its own instead.
 * @example
 * const selector = createRegistrySelector({ registry, strategy: roundRobin });
 */
export const roundRobin: RoundRobinStrategy = new RoundRobinStrategy();
