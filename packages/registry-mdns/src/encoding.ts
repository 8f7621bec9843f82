/**
 * go-micro's mDNS TXT payload (go-micro `registry/mdns_registry.go`, `encode` and
 * `decode`): the JSON of `mdnsTxt{Metadata, Service, Version, Endpoints}` (no json
 * tags, so capitalised keys), zlib-deflated, hex-encoded, and cut into TXT strings of
 * at most 255 characters.
 */
import {
  decodeGoEndpoints,
  decodeGoString,
  decodeGoStringMap,
  decodeZlibHex,
  type Endpoint,
  encodeGoEndpoints,
  encodeGoString,
  encodeGoStringMap,
  encodeZlibHex,
  type Node,
  readGoFields,
} from '@micro/core';

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
  return (
    `{"Metadata":${encodeGoStringMap(node.metadata, 'Metadata')},` +
    `"Service":${encodeGoString(service.name)},` +
    `"Version":${encodeGoString(service.version ?? '')},` +
    `"Endpoints":${encodeGoEndpoints(service.endpoints, 'Endpoints')}}`
  );
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

const TXT_FIELDS = ['Metadata', 'Service', 'Version', 'Endpoints'] as const;

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
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail('not a JSON object');
  try {
    const fields = readGoFields(value, 'TXT', TXT_FIELDS)!;
    return {
      Metadata: decodeGoStringMap(fields.Metadata, 'Metadata'),
      Service: decodeGoString(fields.Service, 'Service'),
      Version: decodeGoString(fields.Version, 'Version'),
      Endpoints: decodeGoEndpoints(fields.Endpoints, 'Endpoints'),
    };
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}
