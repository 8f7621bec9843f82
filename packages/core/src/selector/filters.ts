import type { Filter } from './selector.js';

/**
 * Keeps only the given versions.
 * @example client.call('greeter', 'Greeter.Hello', req, { filters: [filterVersion('v2')] })
 */
export function filterVersion(...versions: string[]): Filter {
  return (services) => services.filter((service) => versions.includes(service.version));
}

/** Keeps only nodes whose metadata has `key` equal to `value` (go-micro's label filter). */
export function filterLabel(key: string, value: string): Filter {
  return (services) =>
    services.map((service) => ({
      ...service,
      nodes: service.nodes.filter((node) => node.metadata?.[key] === value),
    }));
}

/** Keeps only the versions that serve `endpoint`, e.g. `Greeter.Hello`. */
export function filterEndpoint(endpoint: string): Filter {
  return (services) =>
    services.filter((service) => (service.endpoints ?? []).some((e) => e.name === endpoint));
}
