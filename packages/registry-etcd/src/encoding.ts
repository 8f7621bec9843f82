/**
 * go-micro's etcd layout: one key per node under `/micro/registry/`, holding the
 * JSON of a single-node Service exactly as Go's `encoding/json` writes it
 * (`registry/etcd/etcd.go` `nodePath`, `encode`, `decode`; `registry/registry.go`).
 */
import { posix } from 'node:path';
import {
  badRequest,
  type Endpoint,
  ErrorIds,
  type Node,
  normalizeService,
  type Service,
  type Value,
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
// Encoding, byte for byte as Go's encoding/json (Go 1.22+) marshals registry.Service

const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  8: '\\b',
  9: '\\t',
  10: '\\n',
  12: '\\f',
  13: '\\r',
  34: '\\"',
  92: '\\\\',
};

/**
 * A JSON string literal as Go writes it: HTML-safe (`<`, `>`, `&` as `\u003c`,
 * `\u003e`, `\u0026`), U+2028/U+2029 escaped, control characters as `\uXXXX`
 * except the short forms, and a lone surrogate (invalid UTF-8 to Go) as `\ufffd`.
 * @param value the string to quote
 */
export function goQuote(value: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    let replacement: string | undefined;
    if (code < 0x20 || code === 0x22 || code === 0x5c) {
      replacement = SHORT_ESCAPES[code] ?? `\\u00${code.toString(16).padStart(2, '0')}`;
    } else if (code === 0x3c || code === 0x3e || code === 0x26) {
      replacement = `\\u00${code.toString(16)}`;
    } else if (code === 0x2028 || code === 0x2029) {
      replacement = `\\u${code.toString(16)}`;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      const next = value.charCodeAt(i + 1);
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++; // a valid pair is written as is
        continue;
      }
      replacement = '\\ufffd';
    }
    if (replacement === undefined) continue;
    out += value.slice(start, i) + replacement;
    start = i + 1;
  }
  return `${out + value.slice(start)}"`;
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Go writes a map with its keys sorted by their bytes; a nil map as null. */
function encodeMetadata(
  metadata: Record<string, string> | null | undefined,
  where: string,
): string {
  if (metadata === null || metadata === undefined) return 'null';
  if (typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw badRequest(ErrorIds.registry, `${where} metadata must be an object of strings`);
  }
  const keys = Object.keys(metadata).sort(compareUtf8);
  const fields = keys.map((key) => {
    const value = metadata[key];
    if (typeof value !== 'string') {
      throw badRequest(
        ErrorIds.registry,
        `${where} metadata ${JSON.stringify(key)} must be a string, not ${typeof value}`,
      );
    }
    return `${goQuote(key)}:${goQuote(value)}`;
  });
  return `{${fields.join(',')}}`;
}

function encodeString(value: unknown, where: string): string {
  if (value === undefined || value === null) return '""';
  if (typeof value !== 'string') throw badRequest(ErrorIds.registry, `${where} must be a string`);
  return goQuote(value);
}

function encodeList<T>(
  list: readonly T[] | null | undefined,
  where: string,
  item: (value: T, where: string) => string,
): string {
  if (list === null || list === undefined) return 'null';
  if (!Array.isArray(list)) throw badRequest(ErrorIds.registry, `${where} must be an array`);
  return `[${list.map((value, i) => item(value, `${where}[${i}]`)).join(',')}]`;
}

function encodeValue(value: Value | null | undefined, where: string, depth = 0): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value !== 'object') throw badRequest(ErrorIds.registry, `${where} must be an object`);
  if (depth > 64) throw badRequest(ErrorIds.registry, `${where} is nested too deeply`);
  return (
    `{"name":${encodeString(value.name, `${where}.name`)},` +
    `"type":${encodeString(value.type, `${where}.type`)},` +
    `"values":${encodeList(value.values, `${where}.values`, (v, w) => encodeValue(v, w, depth + 1))}}`
  );
}

function encodeEndpoint(endpoint: Endpoint, where: string): string {
  if (endpoint === null || typeof endpoint !== 'object') {
    // Go would write null for a nil *Endpoint; a caller passing one is a bug worth reporting
    throw badRequest(ErrorIds.registry, `${where} must be an object`);
  }
  return (
    `{"request":${encodeValue(endpoint.request, `${where}.request`)},` +
    `"response":${encodeValue(endpoint.response, `${where}.response`)},` +
    `"metadata":${encodeMetadata(endpoint.metadata, where)},` +
    `"name":${encodeString(endpoint.name, `${where}.name`)}}`
  );
}

function encodeNode(node: Node, where: string): string {
  if (node === null || typeof node !== 'object') {
    throw badRequest(ErrorIds.registry, `${where} must be an object`);
  }
  return (
    `{"metadata":${encodeMetadata(node.metadata, where)},` +
    `"id":${encodeString(node.id, `${where}.id`)},` +
    `"address":${encodeString(node.address, `${where}.address`)}}`
  );
}

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
  return (
    `{"name":${encodeString(service.name, 'service name')},` +
    `"version":${encodeString(service.version, 'service version')},` +
    `"metadata":${encodeMetadata(service.metadata, 'service')},` +
    `"endpoints":${encodeList(service.endpoints, 'endpoints', encodeEndpoint)},` +
    `"nodes":[${encodeNode(node, 'node')}]}`
  );
}

// ---------------------------------------------------------------------------------------------
// Decoding, as lenient as Go's json.Unmarshal into registry.Service

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Go matches JSON keys to struct fields exactly first, then case-insensitively. */
function field(object: JsonObject, name: string): unknown {
  if (Object.hasOwn(object, name)) return object[name];
  for (const key of Object.keys(object)) {
    if (key.toLowerCase() === name) return object[key];
  }
  return undefined;
}

class DecodeError extends Error {}

function decodeString(value: unknown, where: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new DecodeError(`${where} is not a string`);
  return value;
}

function decodeMetadata(value: unknown, where: string): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw new DecodeError(`${where} metadata is not an object`);
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    // Go leaves a null map value as "" and rejects any other non-string
    if (item !== null && typeof item !== 'string') {
      throw new DecodeError(`${where} metadata ${key} is not a string`);
    }
    out[key] = item ?? '';
  }
  return out;
}

function decodeList<T>(value: unknown, where: string, item: (v: unknown, w: string) => T): T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new DecodeError(`${where} is not an array`);
  const out: T[] = [];
  for (const [i, element] of value.entries()) {
    // a null element is a nil pointer in Go; nothing to keep
    if (element !== null) out.push(item(element, `${where}[${i}]`));
  }
  return out;
}

function decodeValue(value: unknown, where: string, depth = 0): Value | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw new DecodeError(`${where} is not an object`);
  if (depth > 64) throw new DecodeError(`${where} is nested too deeply`);
  const values = field(value, 'values');
  return {
    name: decodeString(field(value, 'name'), `${where}.name`),
    type: decodeString(field(value, 'type'), `${where}.type`),
    // kept as null when Go wrote a nil slice, so the field round-trips unchanged
    values:
      values === null || values === undefined
        ? null
        : decodeList(values, `${where}.values`, (v, w) => decodeValue(v, w, depth + 1)!),
  };
}

function decodeEndpoint(value: unknown, where: string): Endpoint {
  if (!isObject(value)) throw new DecodeError(`${where} is not an object`);
  return {
    name: decodeString(field(value, 'name'), `${where}.name`),
    request: decodeValue(field(value, 'request'), `${where}.request`),
    response: decodeValue(field(value, 'response'), `${where}.response`),
    metadata: decodeMetadata(field(value, 'metadata'), where),
  };
}

function decodeNode(value: unknown, where: string): Node {
  if (!isObject(value)) throw new DecodeError(`${where} is not an object`);
  return {
    id: decodeString(field(value, 'id'), `${where}.id`),
    address: decodeString(field(value, 'address'), `${where}.address`),
    metadata: decodeMetadata(field(value, 'metadata'), where),
  };
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
  if (!isObject(parsed)) throw new DecodeError('not a JSON object');
  const name = decodeString(field(parsed, 'name'), 'name');
  if (name === '') throw new DecodeError('no service name');
  const endpoints = decodeList(field(parsed, 'endpoints'), 'endpoints', decodeEndpoint);
  return normalizeService({
    name,
    version: decodeString(field(parsed, 'version'), 'version'),
    metadata: decodeMetadata(field(parsed, 'metadata'), 'service'),
    endpoints,
    nodes: decodeList(field(parsed, 'nodes'), 'nodes', decodeNode),
  });
}
