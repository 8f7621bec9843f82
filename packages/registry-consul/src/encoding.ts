/**
 * go-micro's Consul layout (go-micro `registry/consul/encoding.go` and `consul.go`):
 * node metadata, endpoints and version travel as service tags, each one
 * `<letter>-` + hex(zlib(bytes)); addresses are split into Consul's Address and Port;
 * durations are Go duration strings.
 */
import { isIP } from 'node:net';
import {
  compareGoMapKeys,
  decodeGoEndpoint,
  decodeGoStringMap,
  decodeZlibHex,
  type Endpoint,
  encodeGoEndpoint,
  encodeGoStringMap,
  encodeZlibHex,
} from '@micro/core';

/**
 * The tags go-micro registers for one node: one `t-` tag per metadata key (keys
 * sorted here; Go's map order is random), one `e-` tag per endpoint, then the
 * `v-` version tag.
 * @param metadata the node's metadata
 * @param endpoints the service's endpoints
 * @param version the service version
 */
export function encodeTags(
  metadata: Readonly<Record<string, string>> | null | undefined,
  endpoints: readonly Endpoint[] | null | undefined,
  version: string,
): string[] {
  const tags: string[] = [];
  for (const key of Object.keys(metadata ?? {}).sort(compareGoMapKeys)) {
    tags.push(`t-${encodeZlibHex(encodeGoStringMap({ [key]: metadata![key]! }, 'metadata'))}`);
  }
  for (const [i, endpoint] of (endpoints ?? []).entries()) {
    tags.push(`e-${encodeZlibHex(encodeGoEndpoint(endpoint, `endpoints[${i}]`))}`);
  }
  tags.push(`v-${encodeZlibHex(version)}`);
  return tags;
}

/** go-micro's `decode`: invalid hex or zlib gives nothing. */
function inflate(hex: string): string | undefined {
  try {
    return decodeZlibHex(hex);
  } catch {
    return undefined;
  }
}

/** The payload of a `<letter>-` (hex zlib) or legacy `<letter>=` (plain) tag. */
function payload(tag: string): string | undefined {
  return tag[1] === '=' ? tag.slice(2) : inflate(tag.slice(2));
}

/**
 * The tags of one kind, in go-micro's decoding order: it locks onto the format
 * (`-` or `=`) of the first such tag and ignores tags in the other format.
 */
function tagsOf(tags: readonly string[], letter: 't' | 'e'): string[] {
  let format: string | undefined;
  const out: string[] = [];
  for (const tag of tags) {
    if (tag[0] !== letter || (tag[1] !== '-' && tag[1] !== '=')) continue;
    format ??= tag[1];
    if (tag[1] === format) out.push(tag);
  }
  return out;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A payload as go-micro's `json.Unmarshal` reads it; undefined for one it rejects. */
function decodeOrSkip<T>(text: string | undefined, decode: (json: unknown) => T): T | undefined {
  const json = parseJson(text);
  if (json === undefined) return undefined;
  try {
    return decode(json);
  } catch {
    return undefined;
  }
}

/**
 * Node metadata from `t-`/`t=` tags (go-micro `decodeMetadata`). A tag that does not
 * decode to a JSON object of strings is skipped.
 * @param tags a Consul service's tags
 */
export function decodeMetadata(tags: readonly string[]): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const tag of tagsOf(tags, 't')) {
    const value = decodeOrSkip(payload(tag), (json) => decodeGoStringMap(json, 'metadata'));
    if (value) Object.assign(metadata, value);
  }
  return metadata;
}

/**
 * Endpoints from `e-`/`e=` tags (go-micro `decodeEndpoints`). A tag that does not
 * decode to an endpoint is skipped.
 * @param tags a Consul service's tags
 */
export function decodeEndpoints(tags: readonly string[]): Endpoint[] {
  const endpoints: Endpoint[] = [];
  for (const tag of tagsOf(tags, 'e')) {
    const endpoint = decodeOrSkip(payload(tag), (json) => decodeGoEndpoint(json));
    if (endpoint) endpoints.push(endpoint);
  }
  return endpoints;
}

/**
 * The version from the first `v-`/`v=` tag (go-micro `decodeVersion`); an
 * undecodable `v-` tag gives `''`, as in Go.
 * @param tags a Consul service's tags
 * @returns the version, or undefined when no tag carries one
 */
export function decodeVersion(tags: readonly string[]): string | undefined {
  for (const tag of tags) {
    if (tag.length < 2 || tag[0] !== 'v') continue;
    if (tag[1] === '=') return tag.slice(2);
    if (tag[1] === '-') return inflate(tag.slice(2)) ?? '';
  }
  return undefined;
}

/**
 * Go's `net.SplitHostPort`.
 * @param address `host:port` or `[ipv6]:port`
 * @returns host and port, or undefined when the address has no valid port part
 */
export function splitHostPort(address: string): { host: string; port: string } | undefined {
  const colon = address.lastIndexOf(':');
  if (colon === -1) return undefined;
  let host: string;
  if (address[0] === '[') {
    const end = address.indexOf(']');
    if (end === -1 || end + 1 !== colon) return undefined;
    host = address.slice(1, end);
    if (host.includes('[') || host.includes(']')) return undefined;
  } else {
    host = address.slice(0, colon);
    if (host.includes(':') || host.includes('[') || host.includes(']')) return undefined;
  }
  const port = address.slice(colon + 1);
  if (port.includes('[') || port.includes(']')) return undefined;
  return { host, port };
}

/**
 * Consul's Address and Port for a node address, as go-micro's Register splits
 * it: an address without a port keeps the whole string as host and port 0.
 * @param address the node address
 */
export function consulAddress(address: string): { host: string; port: number } {
  const split = splitHostPort(address);
  const host = split?.host || address;
  const port = split && /^[+-]?\d+$/.test(split.port) ? Number.parseInt(split.port, 10) : 0;
  return { host, port: Number.isSafeInteger(port) ? port : 0 };
}

/**
 * A node address from Consul's Address and Port (go-micro `mnet.HostPort`): IPv6
 * in brackets; port 0 with a non-IP host gives the host alone.
 * @param host Consul's service (or node) address
 * @param port Consul's service port
 */
export function hostPort(host: string, port: number): string {
  const bracketed = host.includes(':') ? `[${host}]` : host;
  if (port === 0 && isIP(bracketed) === 0) return bracketed;
  return `${bracketed}:${port}`;
}

const NS_PER_MS = 1_000_000n;

/** Go's `fmtFrac`: the integer part of v / 10^precision with the fraction, trailing zeros cut. */
function fraction(value: bigint, precision: number): { rest: bigint; text: string } {
  let digits = '';
  let printed = false;
  let v = value;
  for (let i = 0; i < precision; i++) {
    const digit = v % 10n;
    printed ||= digit !== 0n;
    if (printed) digits = `${digit}${digits}`;
    v /= 10n;
  }
  return { rest: v, text: printed ? `.${digits}` : '' };
}

/**
 * A duration as Go's `time.Duration.String()` prints it, which Consul parses:
 * `"1m30s"`, `"1m0s"`, `"2s"`, `"1.5s"`, `"500ms"`.
 * @param milliseconds the duration; fractions down to a nanosecond count
 */
export function goDuration(milliseconds: number): string {
  if (!Number.isFinite(milliseconds)) throw new RangeError(`not a duration: ${milliseconds}`);
  let ns = BigInt(Math.round(milliseconds * 1_000_000));
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  if (ns < 0n) ns = -ns;
  if (ns < 1_000_000_000n) {
    if (ns < 1000n) return `${sign}${ns}ns`;
    if (ns < NS_PER_MS) {
      const { rest, text } = fraction(ns, 3);
      return `${sign}${rest}${text}µs`;
    }
    const { rest, text } = fraction(ns, 6);
    return `${sign}${rest}${text}ms`;
  }
  const { rest: seconds, text } = fraction(ns, 9);
  let out = `${seconds % 60n}${text}s`;
  const minutes = seconds / 60n;
  if (minutes > 0n) {
    out = `${minutes % 60n}m${out}`;
    const hours = minutes / 60n;
    if (hours > 0n) out = `${hours}h${out}`;
  }
  return `${sign}${out}`;
}

/** Consul's minimum for DeregisterCriticalServiceAfter is one minute; go-micro adds 5 s. */
const DEREGISTER_SPLAY = 5_000;

/**
 * go-micro's `getDeregisterTTL`: how long Consul keeps a service whose check is
 * critical before removing it: TTL + 5 s, but at least 1m5s.
 * @param ttl the check TTL or interval, in milliseconds
 * @returns milliseconds
 */
export function deregisterCriticalAfter(ttl: number): number {
  return ttl < 60_000 ? 60_000 + DEREGISTER_SPLAY : ttl + DEREGISTER_SPLAY;
}

/** Consul's limits on service Meta (agent/structs: validateMetaPair). */
export const META_LIMITS = {
  maxPairs: 64,
  maxKeyLength: 128,
  maxValueLength: 512,
  reservedPrefix: 'consul-',
} as const;

const META_KEY = /^[a-zA-Z0-9_-]+$/;

/** A metadata pair left out of Consul's Meta, and why. */
export interface DroppedMeta {
  key: string;
  reason: string;
}

/**
 * Node metadata as Consul accepts it in a service's Meta. Consul rejects the
 * whole registration for one bad pair, so pairs it would reject are left out
 * (they still travel in the `t-` tags, which is where go-micro reads them).
 * @param metadata the node's metadata
 */
export function consulMeta(metadata: Readonly<Record<string, string>> | null | undefined): {
  meta: Record<string, string>;
  dropped: DroppedMeta[];
} {
  const meta: Record<string, string> = {};
  const dropped: DroppedMeta[] = [];
  let pairs = 0;
  for (const key of Object.keys(metadata ?? {}).sort(compareGoMapKeys)) {
    const value = String(metadata![key]);
    let reason: string | undefined;
    if (!META_KEY.test(key)) reason = 'key has characters other than letters, digits, - and _';
    else if (key.length > META_LIMITS.maxKeyLength)
      reason = `key longer than ${META_LIMITS.maxKeyLength} characters`;
    else if (key.startsWith(META_LIMITS.reservedPrefix))
      reason = `key prefix ${META_LIMITS.reservedPrefix} is reserved by Consul`;
    else if (value.length > META_LIMITS.maxValueLength)
      reason = `value longer than ${META_LIMITS.maxValueLength} characters`;
    else if (pairs >= META_LIMITS.maxPairs) reason = `more than ${META_LIMITS.maxPairs} pairs`;
    if (reason) {
      dropped.push({ key, reason });
      continue;
    }
    meta[key] = value;
    pairs++;
  }
  return { meta, dropped };
}
