/**
 * go-micro's mDNS TXT payload (go-micro `registry/mdns_registry.go`, `encode` and
 * `decode`): the JSON of `mdnsTxt{Metadata, Service, Version, Endpoints}` (no json
 * tags, so capitalised keys), zlib-deflated, hex-encoded, and cut into TXT strings of
 * at most 255 characters.
 */
import { decodeZlibHex, type Endpoint, encodeZlibHex, type Node, type Value } from '@micro/core';

/** The longest string one TXT character-string holds (one length byte). */
export const TXT_STRING_MAX = 255;

/** go-micro's `mdnsTxt`: what a node's TXT record carries once decoded. */
export interface MdnsTxt {
  /** The node's metadata (not the service's: go-micro's mDNS layout drops that). */
  Metadata: Record<string, string> | null;
  /** The service name. */
  Service: string;
  /** The service version. */
  Version: string;
  /** The service's endpoints. */
  Endpoints: Endpoint[] | null;
}

const GO_HTML_ESCAPES = /[<>&\u2028\u2029]/g;

/** A JSON string literal as Go's `encoding/json` writes it (it also escapes `<`, `>`, `&`). */
function goString(value: string): string {
  return JSON.stringify(value).replace(
    GO_HTML_ESCAPES,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Go sorts map keys by their UTF-8 bytes. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A Go `map[string]string`: keys sorted, nil as `null`. */
function goMap(map: Readonly<Record<string, string>> | null | undefined): string {
  if (map === null || map === undefined) return 'null';
  const keys = Object.keys(map).sort(compareBytes);
  return `{${keys.map((key) => `${goString(key)}:${goString(String(map[key]))}`).join(',')}}`;
}

/** go-micro's `registry.Value`: `name, type, values`. */
function goValue(value: Value | null | undefined): string {
  if (value === null || value === undefined) return 'null';
  const values =
    value.values === null || value.values === undefined
      ? 'null'
      : `[${value.values.map(goValue).join(',')}]`;
  return `{"name":${goString(value.name ?? '')},"type":${goString(value.type ?? '')},"values":${values}}`;
}

/** go-micro's `registry.Endpoint`: `request, response, metadata, name`. */
function goEndpoint(endpoint: Endpoint | null | undefined): string {
  if (endpoint === null || endpoint === undefined) return 'null';
  return `{"request":${goValue(endpoint.request)},"response":${goValue(endpoint.response)},"metadata":${goMap(endpoint.metadata)},"name":${goString(endpoint.name ?? '')}}`;
}

/**
 * The JSON go-micro compresses into a node's TXT record, byte for byte as Go's
 * `json.Marshal` writes it: `{"Metadata":…,"Service":…,"Version":…,"Endpoints":[…]}`.
 * @param service the service's name, version and endpoints (`null` endpoints stay `null`)
 * @param node the node whose metadata goes in
 * @returns the JSON text
 */
export function mdnsTxtJson(
  service: { name: string; version: string; endpoints?: Endpoint[] | null },
  node: Pick<Node, 'metadata'>,
): string {
  const endpoints =
    service.endpoints === null || service.endpoints === undefined
      ? 'null'
      : `[${service.endpoints.map(goEndpoint).join(',')}]`;
  return `{"Metadata":${goMap(node.metadata)},"Service":${goString(service.name)},"Version":${goString(service.version ?? '')},"Endpoints":${endpoints}}`;
}

/**
 * Cuts text into TXT character-strings of at most 255 characters, as go-micro does.
 * @param text ASCII text (the hex payload)
 * @returns one string when it fits, else 255-character pieces and the rest
 */
export function splitTxt(text: string): string[] {
  if (text.length <= TXT_STRING_MAX) return [text];
  const parts: string[] = [];
  for (let offset = 0; offset < text.length; offset += TXT_STRING_MAX) {
    parts.push(text.slice(offset, offset + TXT_STRING_MAX));
  }
  return parts;
}

/**
 * Encodes a node's TXT record as go-micro does: hex(zlib(JSON)) split into strings of
 * at most 255 characters.
 * @param service the service's name, version and endpoints
 * @param node the node whose metadata goes in
 * @returns the TXT character-strings
 * @example
 * encodeMdnsTxt({ name: 'helloworld', version: 'latest', endpoints: [] }, { metadata: { protocol: 'mucp' } });
 * // ['789c…']
 */
export function encodeMdnsTxt(
  service: { name: string; version: string; endpoints?: Endpoint[] | null },
  node: Pick<Node, 'metadata'>,
): string[] {
  return splitTxt(encodeZlibHex(mdnsTxtJson(service, node)));
}

function fail(detail: string): never {
  throw new TypeError(`not a go-micro mDNS TXT record: ${detail}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Go's decoder matches a key to a field exactly, else case-insensitively. */
function field(object: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(object, name)) return object[name];
  const lower = name.toLowerCase();
  const key = Object.keys(object).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : object[key];
}

/** Go's decoder: a `map[string]string` is an object of strings or `null`. */
function readMap(value: unknown, what: string): Record<string, string> | null {
  if (value === null || value === undefined) return null;
  if (!isObject(value)) fail(`${what} is not an object`);
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') fail(`${what}.${key} is not a string`);
    out[key] = item;
  }
  return out;
}

function readString(value: unknown, what: string): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') fail(`${what} is not a string`);
  return value;
}

function readValue(value: unknown, what: string, depth: number): Value | null {
  if (value === null || value === undefined) return null;
  if (!isObject(value)) fail(`${what} is not an object`);
  if (depth > 32) fail(`${what} is nested too deeply`);
  const values = field(value, 'values');
  if (values !== null && values !== undefined && !Array.isArray(values)) {
    fail(`${what}.values is not an array`);
  }
  return {
    name: readString(field(value, 'name'), `${what}.name`),
    type: readString(field(value, 'type'), `${what}.type`),
    values: Array.isArray(values)
      ? values
          .map((item, i) => readValue(item, `${what}.values[${i}]`, depth + 1))
          .filter((item): item is Value => item !== null)
      : null,
  };
}

function readEndpoint(value: unknown, what: string): Endpoint | null {
  if (value === null) return null;
  if (!isObject(value)) fail(`${what} is not an object`);
  return {
    name: readString(field(value, 'name'), `${what}.name`),
    request: readValue(field(value, 'request'), `${what}.request`, 0),
    response: readValue(field(value, 'response'), `${what}.response`, 0),
    metadata: readMap(field(value, 'metadata'), `${what}.metadata`),
  };
}

/**
 * Decodes a node's TXT record as go-micro does: join the strings, hex-decode, inflate,
 * parse the JSON. Field types are checked as Go's `json.Unmarshal` would.
 * @param strings the TXT character-strings, in order
 * @returns the decoded payload
 * @throws TypeError or Error when the strings are not go-micro's encoding
 */
export function decodeMdnsTxt(strings: readonly string[]): MdnsTxt {
  const hex = strings.join('');
  if (hex.length === 0) fail('empty');
  let json: string;
  try {
    json = decodeZlibHex(hex);
  } catch (error) {
    fail(`not hex of zlib data (${error instanceof Error ? error.message : String(error)})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    fail('not JSON');
  }
  if (!isObject(value)) fail('not a JSON object');
  const endpoints = field(value, 'Endpoints');
  if (endpoints !== null && endpoints !== undefined && !Array.isArray(endpoints)) {
    fail('Endpoints is not an array');
  }
  return {
    Metadata: readMap(field(value, 'Metadata'), 'Metadata'),
    Service: readString(field(value, 'Service'), 'Service'),
    Version: readString(field(value, 'Version'), 'Version'),
    Endpoints: Array.isArray(endpoints)
      ? endpoints
          .map((item, i) => readEndpoint(item, `Endpoints[${i}]`))
          .filter((item): item is Endpoint => item !== null)
      : null,
  };
}
