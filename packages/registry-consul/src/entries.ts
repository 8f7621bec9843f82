import type { Service } from '@micro/core';
import type { HealthEntry } from './client.js';
import { decodeEndpoints, decodeMetadata, decodeVersion, hostPort } from './encoding.js';

/**
 * True when any check of the entry is critical: go-micro skips such a node in
 * GetService and in its watcher.
 * @param entry one `/v1/health/service` entry
 */
export function isCritical(entry: HealthEntry): boolean {
  return (entry.Checks ?? []).some((check) => check?.Status === 'critical');
}

/**
 * The go-micro record of one Consul service instance: the node from its ID and
 * address, node metadata, endpoints and version from its tags (not from Meta).
 * @param entry one `/v1/health/service` entry
 * @param name the service asked for; entries of other services give undefined
 * @returns a Service with exactly one node
 */
export function entryToService(entry: HealthEntry, name: string): Service | undefined {
  const service = entry.Service;
  if (!service || service.Service !== name || typeof service.ID !== 'string') return undefined;
  const tags = Array.isArray(service.Tags) ? service.Tags.filter((t) => typeof t === 'string') : [];
  const address = service.Address || entry.Node?.Address || '';
  const port = typeof service.Port === 'number' ? service.Port : 0;
  return {
    name,
    version: decodeVersion(tags) ?? '',
    metadata: {},
    endpoints: decodeEndpoints(tags),
    nodes: [{ id: service.ID, address: hostPort(address, port), metadata: decodeMetadata(tags) }],
  };
}
