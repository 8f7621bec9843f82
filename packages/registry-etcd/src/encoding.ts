/**
 * go-micro's etcd layout: one key per node under `/micro/registry/`, holding the
 * JSON of a single-node Service exactly as Go's `encoding/json` writes it
 * (`registry/etcd/etcd.go` `nodePath`, `encode`, `decode`; `registry/registry.go`).
 */
import { posix } from 'node:path';
import {
  badRequest,
  decodeGoService,
  ErrorIds,
  encodeGoService,
  type Node,
  normalizeService,
  type Service,
} from '@micro/core';

/** The key prefix every go-micro etcd registry shares. */
export const REGISTRY_PREFIX = '/micro/registry/';

function escapeSegment(segment: string): string {
  return segment.replaceAll('/', '-');
}

function checkSegment(segment: unknown, what: string): string {
  if (typeof segment !== 'string') {
    throw badRequest(ErrorIds.registry, `${what} must be a string`);
  }
  const escaped = escapeSegment(segment);
  // go-micro joins with path.Join, which would resolve these out of the registry prefix
  if (escaped === '' || escaped === '.' || escaped === '..') {
    throw badRequest(ErrorIds.registry, `invalid ${what} ${JSON.stringify(segment)}`);
  }
  return escaped;
}

/**
 * The key of one node: `/micro/registry/<service>/<nodeId>`, with any `/` in
 * either part replaced by `-` (go-micro `nodePath`).
 * @param service the service name
 * @param nodeId the node id
 * @throws {@link MicroError} 400 for an empty name or id, or one that is `.` or `..`
 */
export function nodeKey(service: string, nodeId: string): string {
  return posix.join(
    REGISTRY_PREFIX,
    checkSegment(service, 'service name'),
    checkSegment(nodeId, 'node id'),
  );
}

/**
 * The prefix under which a service's nodes live: `/micro/registry/<service>/`
 * (go-micro `servicePath` plus the `/` its GetService and Watch append).
 * @param service the service name
 * @throws {@link MicroError} 400 for an empty name, or one that is `.` or `..`
 */
export function servicePrefix(service: string): string {
  return `${posix.join(REGISTRY_PREFIX, checkSegment(service, 'service name'))}/`;
}

// ---------------------------------------------------------------------------------------------
// The record: core's go-micro registry JSON (Go's encoding/json, byte for byte)

class DecodeError extends Error {}

/**
 * The value go-micro stores for one node: the JSON of the Service with only that
 * node, field order and escaping as Go's `json.Marshal` produces them (`nil`
 * maps and slices as `null`, map keys sorted).
 * @param service the service being registered
 * @param node the one node this record is for
 * @returns the JSON text to store
 * @throws {@link MicroError} 400 when a field has the wrong type
 */
export function encodeService(service: Service, node: Node): string {
  return encodeGoService({ ...service, nodes: [node] });
}

/**
 * Reads a record written by go-micro or by {@link encodeService}. Missing fields
 * and `null` maps or lists read as empty (`metadata: {}`, `endpoints: []`), the
 * shape every registry returns.
 * @param value the stored JSON
 * @returns the service, with its node(s)
 * @throws Error when the value is not JSON of a Service (the caller logs and skips it)
 */
export function decodeService(value: string | Buffer): Service {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (error) {
    throw new DecodeError(`not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DecodeError('not a JSON object');
  }
  const service = decodeGoService(parsed)!;
  if (service.name === '') throw new DecodeError('no service name');
  return normalizeService(service);
}
