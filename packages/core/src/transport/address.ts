/** A transport address split into host and port. */
export interface HostPort {
  /** The host without brackets; empty for "every interface" (`:8080`). */
  host: string;
  /** The port, 0 to 65535. */
  port: number;
}

/**
 * Parses a transport address: `host:port`, `[ipv6]:port` or `:port`. An unbracketed
 * IPv6 address is refused, since `::1:80` could be read either way.
 * @param address the address, e.g. `10.0.0.5:8080` or `[::1]:50051`
 * @returns host and port, or undefined when the address has no valid port (0 to
 *   65535) or is not a string; callers answer that with a 400
 * @example
 * parseAddress('[::1]:50051'); // { host: '::1', port: 50051 }
 * parseAddress('localhost');   // undefined
 */
export function parseAddress(address: string): HostPort | undefined {
  if (typeof address !== 'string') return undefined;
  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close === -1 || address[close + 1] !== ':') return undefined;
    host = address.slice(1, close);
    portText = address.slice(close + 2);
  } else {
    const colon = address.lastIndexOf(':');
    if (colon === -1) return undefined;
    host = address.slice(0, colon);
    if (host.includes(':')) return undefined;
    portText = address.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65_535) return undefined;
  return { host, port };
}

/**
 * Joins a host and a port into a transport address, bracketing an IPv6 host.
 * @param host a host name or IP address, without brackets
 * @param port the port
 * @returns `host:port` or `[ipv6]:port`
 * @example
 * formatAddress('::1', 80); // '[::1]:80'
 */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
