/** A parsed `host:port`. */
export interface HostPort {
  /** The host without brackets; empty for "every interface" (`:8080`). */
  host: string;
  port: number;
}

/**
 * Parses `host:port`, `[v6]:port` or `:port`.
 * @returns undefined when the address has no valid port
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
    // An unbracketed IPv6 address is ambiguous: `::1:80` could be either.
    if (host.includes(':')) return undefined;
    portText = address.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65_535) return undefined;
  return { host, port };
}
