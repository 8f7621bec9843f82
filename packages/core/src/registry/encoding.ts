import { deflateSync, inflateSync } from 'node:zlib';
import {
  decodeGoList,
  decodeGoString,
  decodeGoStringMap,
  encodeGoString,
  encodeGoStringMap,
  goJsonError,
  isJsonObject,
  jsonKind,
  readGoFields,
} from '../codec/go-json.js';
import type { Endpoint, Node, Service, Value } from './registry.js';

/**
 * go-micro's compact encoding for registry data in Consul tags and mDNS TXT
 * records: lowercase hex of zlib-deflated bytes.
 * @param text usually JSON
 */
export function encodeZlibHex(text: string): string {
  return deflateSync(Buffer.from(text, 'utf8')).toString('hex');
}

/** The largest record {@link decodeZlibHex} inflates by default: 1 MiB. */
export const MAX_DECODED_RECORD = 1024 * 1024;

/**
 * Reverses {@link encodeZlibHex}. Output is bounded, so a small packet from the
 * network cannot inflate into megabytes.
 * @param hex the encoded text
 * @param maxLength the most bytes the record may inflate to
 * @throws Error when the input is not hex of zlib data, or inflates past `maxLength`
 */
export function decodeZlibHex(hex: string, maxLength = MAX_DECODED_RECORD): string {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new Error('not a hex string');
  return inflateSync(Buffer.from(hex, 'hex'), { maxOutputLength: maxLength }).toString('utf8');
}

// ---------------------------------------------------------------------------------------
// go-micro's registry records as JSON (registry/registry.go), byte for byte as Go's
// encoding/json writes them: etcd stores a Service, Consul tags and mDNS TXT
// carry Endpoints and metadata maps.

/** Deeper than any go-micro extractor writes (it stops at 3), far short of a stack overflow. */
const MAX_VALUE_DEPTH = 64;

/** A Go `string` field: null or undefined is the zero value `""`. */
function stringField(value: unknown, what: string): string {
  if (value === null || value === undefined) return '""';
  if (typeof value !== 'string')
    throw goJsonError(`${what} is not a string (got ${jsonKind(value)})`);
  return encodeGoString(value);
}

/** A Go slice: null or undefined is a nil slice, `null`. */
function listJson<T>(
  list: readonly T[] | null | undefined,
  what: string,
  item: (value: T, what: string) => string,
): string {
  if (list === null || list === undefined) return 'null';
  if (!Array.isArray(list)) throw goJsonError(`${what} is not an array (got ${jsonKind(list)})`);
  let out = '[';
  for (let i = 0; i < list.length; i++) {
    out += `${i === 0 ? '' : ','}${item(list[i] as T, `${what}[${i}]`)}`;
  }
  return `${out}]`;
}

/** A struct given by pointer whose nil go-micro would trip over: refused rather than written as null. */
function checkStruct(value: unknown, what: string): void {
  if (!isJsonObject(value)) throw goJsonError(`${what} is not an object (got ${jsonKind(value)})`);
}

function valueJson(value: Value | null | undefined, what: string, depth: number): string {
  if (value === null || value === undefined) return 'null';
  checkStruct(value, what);
  if (depth > MAX_VALUE_DEPTH) throw goJsonError(`${what} is nested too deeply`);
  return (
    `{"name":${stringField(value.name, `${what}.name`)},` +
    `"type":${stringField(value.type, `${what}.type`)},` +
    `"values":${listJson(value.values, `${what}.values`, (v, w) => valueJson(v, w, depth + 1))}}`
  );
}

/**
 * go-micro's `registry.Value` as Go's `json.Marshal` writes it: `name, type,
 * values`, a nil (null or undefined) value or list as `null`.
 * @param value the value
 * @param what how error messages name it
 * @default what `value`
 * @returns the JSON text
 * @throws {@link MicroError} 400 (`go.micro.codec`) when a field has the wrong type or
 *   values nest more than 64 deep
 * @example
 * encodeGoValue({ name: 'name', type: 'string' }); // '{"name":"name","type":"string","values":null}'
 */
export function encodeGoValue(value: Value | null | undefined, what = 'value'): string {
  return valueJson(value, what, 0);
}

/**
 * go-micro's `registry.Endpoint` as Go's `json.Marshal` writes it: field order
 * `request, response, metadata, name`, nil as `null`, metadata keys sorted.
 * @param endpoint the endpoint
 * @param what how error messages name it
 * @default what `endpoint`
 * @returns the JSON text
 * @throws {@link MicroError} 400 (`go.micro.codec`) when it is not an object or a field has the wrong type
 * @example
 * encodeGoEndpoint({ name: 'Greeter.Hello', metadata: { stream: 'false' } });
 * // '{"request":null,"response":null,"metadata":{"stream":"false"},"name":"Greeter.Hello"}'
 */
export function encodeGoEndpoint(endpoint: Endpoint, what = 'endpoint'): string {
  checkStruct(endpoint, what);
  return (
    `{"request":${valueJson(endpoint.request, `${what}.request`, 0)},` +
    `"response":${valueJson(endpoint.response, `${what}.response`, 0)},` +
    `"metadata":${encodeGoStringMap(endpoint.metadata, `${what}.metadata`)},` +
    `"name":${stringField(endpoint.name, `${what}.name`)}}`
  );
}

/**
 * A Go `[]*registry.Endpoint` as `json.Marshal` writes it; null or undefined (a nil
 * slice) as `null`.
 * @param endpoints the endpoints
 * @param what how error messages name the list
 * @default what `endpoints`
 * @returns the JSON text
 * @throws {@link MicroError} 400 (`go.micro.codec`) when it is not an array, or an element is
 *   null or has a field of the wrong type
 */
export function encodeGoEndpoints(
  endpoints: readonly Endpoint[] | null | undefined,
  what = 'endpoints',
): string {
  return listJson(endpoints, what, encodeGoEndpoint);
}

/**
 * go-micro's `registry.Node` as Go's `json.Marshal` writes it: field order
 * `metadata, id, address`.
 * @param node the node
 * @param what how error messages name it
 * @default what `node`
 * @returns the JSON text
 * @throws {@link MicroError} 400 (`go.micro.codec`) when it is not an object or a field has the wrong type
 * @example
 * encodeGoNode({ id: 'n1', address: '10.0.0.5:8080' }); // '{"metadata":null,"id":"n1","address":"10.0.0.5:8080"}'
 */
export function encodeGoNode(node: Node, what = 'node'): string {
  checkStruct(node, what);
  return (
    `{"metadata":${encodeGoStringMap(node.metadata, `${what}.metadata`)},` +
    `"id":${stringField(node.id, `${what}.id`)},` +
    `"address":${stringField(node.address, `${what}.address`)}}`
  );
}

/**
 * go-micro's `registry.Service` as Go's `json.Marshal` writes it: field order
 * `name, version, metadata, endpoints, nodes`, nil maps and slices as `null`, map
 * keys sorted, strings HTML-safe. This is the value go-micro's etcd registry stores.
 * @param service the service, with the nodes to write
 * @param what how error messages name it
 * @default what `service`
 * @returns the JSON text
 * @throws {@link MicroError} 400 (`go.micro.codec`) when a field has the wrong type, so a
 *   record Go cannot read is never written
 * @example
 * encodeGoService({ name: 'a', version: '1', nodes: [{ id: 'n', address: 'h:1' }] });
 * // '{"name":"a","version":"1","metadata":null,"endpoints":null,"nodes":[{"metadata":null,"id":"n","address":"h:1"}]}'
 */
export function encodeGoService(service: Service, what = 'service'): string {
  checkStruct(service, what);
  return (
    `{"name":${stringField(service.name, `${what}.name`)},` +
    `"version":${stringField(service.version, `${what}.version`)},` +
    `"metadata":${encodeGoStringMap(service.metadata, `${what}.metadata`)},` +
    `"endpoints":${encodeGoEndpoints(service.endpoints, `${what}.endpoints`)},` +
    `"nodes":${listJson(service.nodes, `${what}.nodes`, encodeGoNode)}}`
  );
}

const VALUE_FIELDS = ['name', 'type', 'values'] as const;
const ENDPOINT_FIELDS = ['request', 'response', 'metadata', 'name'] as const;
const NODE_FIELDS = ['metadata', 'id', 'address'] as const;
const SERVICE_FIELDS = ['name', 'version', 'metadata', 'endpoints', 'nodes'] as const;

function readValue(json: unknown, what: string, depth: number): Value | null {
  const fields = readGoFields(json, what, VALUE_FIELDS);
  if (fields === null) return null;
  if (depth > MAX_VALUE_DEPTH) throw goJsonError(`${what} is nested too deeply`);
  return {
    name: decodeGoString(fields.name, `${what}.name`),
    type: decodeGoString(fields.type, `${what}.type`),
    values: decodeGoList(fields.values, `${what}.values`, (v, w) => readValue(v, w, depth + 1)),
  };
}

/**
 * Reads a go-micro `registry.Value` from parsed JSON as Go's `json.Unmarshal` does:
 * field names in any case, unknown fields ignored, `null` or missing fields as zero
 * values (`values` stays null, as Go keeps a nil slice), null list elements left out.
 * @param json the parsed JSON value
 * @param what how error messages name it
 * @default what `value`
 * @returns the value, or null for a JSON `null`
 * @throws {@link MicroError} 400 (`go.micro.codec`) when a field has the wrong JSON type or
 *   values nest more than 64 deep
 */
export function decodeGoValue(json: unknown, what = 'value'): Value | null {
  return readValue(json, what, 0);
}

/**
 * Reads a go-micro `registry.Endpoint` from parsed JSON as Go's `json.Unmarshal`
 * does (see {@link decodeGoValue}); a null `metadata` stays null.
 * @param json the parsed JSON value
 * @param what how error messages name it
 * @default what `endpoint`
 * @returns the endpoint, or null for a JSON `null`
 * @throws {@link MicroError} 400 (`go.micro.codec`) when a field has the wrong JSON type
 * @example
 * decodeGoEndpoint(JSON.parse('{"Name":"A.B","metadata":{"stream":"true"}}'));
 * // { name: 'A.B', request: null, response: null, metadata: { stream: 'true' } }
 */
export function decodeGoEndpoint(json: unknown, what = 'endpoint'): Endpoint | null {
  const fields = readGoFields(json, what, ENDPOINT_FIELDS);
  if (fields === null) return null;
  return {
    name: decodeGoString(fields.name, `${what}.name`),
    request: readValue(fields.request, `${what}.request`, 0),
    response: readValue(fields.response, `${what}.response`, 0),
    metadata: decodeGoStringMap(fields.metadata, `${what}.metadata`),
  };
}

/**
 * Reads a Go `[]*registry.Endpoint` from parsed JSON: null as null (a nil slice),
 * null elements left out.
 * @param json the parsed JSON value
 * @param what how error messages name the list
 * @default what `endpoints`
 * @returns the endpoints, or null
 * @throws {@link MicroError} 400 (`go.micro.codec`) when it is not an array or an element does not decode
 */
export function decodeGoEndpoints(json: unknown, what = 'endpoints'): Endpoint[] | null {
  return decodeGoList(json, what, decodeGoEndpoint);
}

/**
 * Reads a go-micro `registry.Node` from parsed JSON as Go's `json.Unmarshal` does
 * (see {@link decodeGoValue}); a null `metadata` stays null.
 * @param json the parsed JSON value
 * @param what how error messages name it
 * @default what `node`
 * @returns the node, or null for a JSON `null`
 * @throws {@link MicroError} 400 (`go.micro.codec`) when a field has the wrong JSON type
 */
export function decodeGoNode(json: unknown, what = 'node'): Node | null {
  const fields = readGoFields(json, what, NODE_FIELDS);
  if (fields === null) return null;
  return {
    id: decodeGoString(fields.id, `${what}.id`),
    address: decodeGoString(fields.address, `${what}.address`),
    metadata: decodeGoStringMap(fields.metadata, `${what}.metadata`),
  };
}

/**
 * Reads a go-micro `registry.Service` from parsed JSON as Go's `json.Unmarshal`
 * does: field names in any case, unknown fields ignored, `null` maps and lists kept
 * as null (nodes as `[]`), null list elements left out, a lone surrogate escape as
 * U+FFFD. {@link normalizeService} turns the nulls into the `{}` and `[]` every
 * registry returns.
 * @param json the parsed JSON value
 * @param what how error messages name it
 * @default what `service`
 * @returns the service, or null for a JSON `null`
 * @throws {@link MicroError} 400 (`go.micro.codec`) when a field has the wrong JSON type,
 *   e.g. `service.nodes[0].id is not a string (got number)`
 * @example
 * decodeGoService(JSON.parse('{"NAME":"a","nodes":[{"id":"n","address":"h:1"}]}'));
 * // { name: 'a', version: '', metadata: null, endpoints: null, nodes: [{ id: 'n', address: 'h:1', metadata: null }] }
 */
export function decodeGoService(json: unknown, what = 'service'): Service | null {
  const fields = readGoFields(json, what, SERVICE_FIELDS);
  if (fields === null) return null;
  return {
    name: decodeGoString(fields.name, `${what}.name`),
    version: decodeGoString(fields.version, `${what}.version`),
    metadata: decodeGoStringMap(fields.metadata, `${what}.metadata`),
    endpoints: decodeGoEndpoints(fields.endpoints, `${what}.endpoints`),
    nodes: decodeGoList(fields.nodes, `${what}.nodes`, decodeGoNode) ?? [],
  };
}
