import type { Endpoint, Node, Service } from './registry.js';

/**
 * Returns a deep copy with every go-micro nullable field filled (`metadata: {}`,
 * `endpoints: []`), the shape every registry hands back.
 * @param service a service as registered or decoded from any registry
 */
export function normalizeService(service: Service): Service {
  return {
    name: service.name,
    version: service.version ?? '',
    metadata: { ...(service.metadata ?? {}) },
    endpoints: (service.endpoints ?? []).map(
      (endpoint): Endpoint => ({
        name: endpoint.name,
        request: endpoint.request ?? null,
        response: endpoint.response ?? null,
        metadata: { ...(endpoint.metadata ?? {}) },
      }),
    ),
    nodes: (service.nodes ?? []).map(
      (node): Node => ({
        id: node.id,
        address: node.address,
        metadata: { ...(node.metadata ?? {}) },
      }),
    ),
  };
}

/**
 * Groups single-node records by version into one Service per version with the
 * nodes merged, as go-micro's GetService returns them.
 * @param records services as stored, typically one node each
 */
export function mergeByVersion(records: Iterable<Service>): Service[] {
  const byVersion = new Map<string, Service>();
  for (const record of records) {
    const existing = byVersion.get(record.version);
    if (!existing) {
      byVersion.set(record.version, normalizeService(record));
      continue;
    }
    for (const node of normalizeService(record).nodes) {
      const index = existing.nodes.findIndex((n) => n.id === node.id);
      if (index === -1) existing.nodes.push(node);
      else existing.nodes[index] = node;
    }
  }
  return [...byVersion.values()];
}
