/** A parsed `host:port`. */
export interface HostPort {
  /** The host without brackets; empty for every interface (`:8080`). */
  host: string;
  port: number;
}

/**
 * Parses `host:port`, `[ipv6]:port` or `:port`.
 * @param address a transport address
 * @returns undefined when the address has no valid port, or an unbracketed IPv6 host
 */
export function parseAddress(address: string): HostPort | undefined {
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
 * Joins a host and a port, bracketing an IPv6 host.
 * @param host a host name or IP address, without brackets
 * @param port a port number
 */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
