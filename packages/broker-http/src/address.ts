import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { badRequest, ErrorIds, type HostPort, parseAddress } from '@micro/core';

/** A parsed listen address: `host` empty for every interface, ports inclusive. */
export interface ListenAddress {
  host: string;
  minPort: number;
  maxPort: number;
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]']);

/** go-micro's port range form, `host:min-max` (`internal/util/net.Listen`). */
const PORT_RANGE = /^(.*):(\d{1,5})-(\d{1,5})$/;

/**
 * Parses a listen address: `host:port`, `[ipv6]:port`, `:port` (every interface) or
 * go-micro's port range `host:min-max` (the first free port is bound).
 * @param address the listen address
 * @throws {@link MicroError} 400 when it is malformed
 */
export function parseListenAddress(address: string): ListenAddress {
  const range = typeof address === 'string' ? PORT_RANGE.exec(address) : null;
  const parsed = parseAddress(range ? `${range[1]}:${range[2]}` : address);
  const maxPort = range ? Number(range[3]) : parsed?.port;
  if (!parsed || maxPort === undefined || maxPort > 65_535 || maxPort < parsed.port) {
    throw badRequest(
      ErrorIds.broker,
      `http broker: listen address must be host:port or host:min-max (e.g. 127.0.0.1:0 or 0.0.0.0:8001), got ${JSON.stringify(address)}`,
    );
  }
  return { host: parsed.host, minPort: parsed.port, maxPort };
}

/**
 * Checks an advertised address: `host:port` with a concrete host and a port other than 0.
 * @param address the address to register
 * @throws {@link MicroError} 400 when it is malformed
 */
export function parseAdvertise(address: string): HostPort {
  const parsed = parseAddress(address);
  if (!parsed || WILDCARDS.has(parsed.host) || parsed.port === 0) {
    throw badRequest(
      ErrorIds.broker,
      `http broker: advertise must be host:port with a concrete host and port, got ${JSON.stringify(address)}`,
    );
  }
  return parsed;
}

/**
 * Splits a registered node address for dialling.
 * @param address `host:port` or `[ipv6]:port`
 * @returns the parts, or undefined when the address is not dialable
 */
export function dialAddress(address: string): HostPort | undefined {
  const parsed = parseAddress(address);
  return parsed && parsed.host !== '' && parsed.port !== 0 ? parsed : undefined;
}

/** go-micro's `findIP` order: a private address, else a public one, else loopback. */
function isPrivate(address: string, family: string): boolean {
  if (family === 'IPv4') return /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(address);
  return /^f[cd]/i.test(address);
}

/**
 * The host to register for a listener bound to `host`, as go-micro's
 * `addr.Extract`: a concrete host is kept (loopback too); a wildcard becomes this
 * host's first private IP (`10/8`, `172.16/12`, `192.168/16`, `fc00::/7`), else
 * its first public one, else `127.0.0.1`. IPv4 comes before IPv6 at each step;
 * `0.0.0.0` only considers IPv4 (the listener accepts nothing else); link-local
 * IPv6 addresses are skipped (they need a zone to be dialled).
 * @param host the listener's host
 * @returns the host other processes should dial
 */
export function extractHost(host: string): string {
  if (!WILDCARDS.has(host)) return host;
  const ipv4Only = host === '0.0.0.0';
  const candidates = Object.values(networkInterfaces())
    .flat()
    .filter((info) => info !== undefined && !info.internal)
    .filter((info) => info!.family === 'IPv4' || (!ipv4Only && !/^fe80:/i.test(info!.address)));
  const rank = (info: (typeof candidates)[number]) =>
    (isPrivate(info!.address, info!.family) ? 0 : 2) + (info!.family === 'IPv4' ? 0 : 1);
  const [chosen] = candidates.sort((a, b) => rank(a) - rank(b));
  return chosen?.address ?? '127.0.0.1';
}

/** True for a loopback host, which no other machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}
