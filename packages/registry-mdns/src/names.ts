/**
 * The DNS names go-micro's mDNS registry publishes (go-micro
 * `internal/util/mdns/zone.go` `NewMDNSService`). Names are handled without the
 * trailing dot, as the DNS packet library reads and writes them.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Trims leading and trailing dots, as go-micro's `trimDot`. */
export function trimDot(name: string): string {
  return name.replace(/^\.+|\.+$/g, '');
}

/**
 * The PTR name of a service: `<service>.<domain>`, e.g. `helloworld.micro`.
 * @param service the go-micro service name, used as-is (no `_`, no `._tcp`)
 * @param domain the mDNS domain, e.g. `micro`
 */
export function serviceName(service: string, domain: string): string {
  return `${trimDot(service)}.${trimDot(domain)}`;
}

/**
 * The instance name of a node: `<nodeId>.<service>.<domain>`.
 * @param nodeId the node id, e.g. `helloworld-6f1c…`
 * @param service the service name
 * @param domain the mDNS domain
 */
export function instanceName(nodeId: string, service: string, domain: string): string {
  return `${nodeId}.${serviceName(service, domain)}`;
}

/** The name go-micro's `ListServices` queries: `_services.<domain>`. */
export function listName(domain: string): string {
  return `_services.${trimDot(domain)}`;
}

/**
 * The instance name of go-micro's per-service wildcard entry, which answers
 * `ListServices`: `<service>._services.<domain>`.
 */
export function wildcardName(service: string, domain: string): string {
  return `${trimDot(service)}.${listName(domain)}`;
}

/** The DNS-SD service type enumeration name (RFC 6763 §9): `_services._dns-sd._udp.<domain>`. */
export function enumerationName(domain: string): string {
  return `_services._dns-sd._udp.${trimDot(domain)}`;
}

/**
 * Recovers a node id from an instance name, as go-micro's
 * `strings.TrimSuffix(name, "."+service+"."+domain+".")` (DNS names compare
 * case-insensitively).
 * @returns the node id, or undefined when the name is not an instance of the service
 */
export function nodeIdOf(instance: string, service: string, domain: string): string | undefined {
  const suffix = `.${serviceName(service, domain)}`;
  const name = trimDot(instance);
  if (name.length <= suffix.length) return undefined;
  if (name.slice(-suffix.length).toLowerCase() !== suffix.toLowerCase()) return undefined;
  return name.slice(0, -suffix.length);
}

/**
 * The service name in a wildcard instance name `<service>._services.<domain>`.
 * @returns the service name, or undefined for any other name
 */
export function serviceOfWildcard(instance: string, domain: string): string | undefined {
  const suffix = `.${listName(domain)}`;
  const name = trimDot(instance);
  if (name.length <= suffix.length) return undefined;
  if (name.slice(-suffix.length).toLowerCase() !== suffix.toLowerCase()) return undefined;
  return name.slice(0, -suffix.length);
}

/**
 * Why a name cannot go into a DNS packet (labels of 1 to 63 bytes, at most 253 bytes
 * in all), or undefined when it can.
 */
export function invalidDnsName(name: string): string | undefined {
  if (Buffer.byteLength(name) > 253) return `${JSON.stringify(name)} is longer than 253 bytes`;
  for (const label of name.split('.')) {
    const length = Buffer.byteLength(label);
    if (length === 0) return `${JSON.stringify(name)} has an empty label`;
    if (length > 63) return `${JSON.stringify(name)} has a label longer than 63 bytes`;
  }
  return undefined;
}

/** A node address taken apart. */
export interface HostPort {
  /** The IP, IPv4 or IPv6, without brackets. */
  ip: string;
  family: 4 | 6;
  port: number;
}

/**
 * Splits `host:port` or `[v6]:port` as Go's `net.SplitHostPort`, then requires an IP
 * (go-micro publishes the host as an A or AAAA record, so a hostname cannot be used)
 * and a port from 1 to 65535. An IPv4-mapped IPv6 address becomes IPv4, as Go's `To4`.
 * @param address a node address
 * @throws Error saying what is wrong
 */
export function parseAddress(address: string): HostPort {
  const match = /^\[([^\]]*)\]:([^:]*)$/.exec(address) ?? /^([^:[\]]*):([^:]*)$/.exec(address);
  if (!match) throw new Error(`address ${JSON.stringify(address)} is not host:port`);
  let ip = match[1]!;
  const portText = match[2]!;
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new Error(`address ${JSON.stringify(address)} has no valid port`);
  }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1]!;
  if (isIPv4(ip)) return { ip, family: 4, port };
  if (isIPv6(ip)) return { ip, family: 6, port };
  throw new Error(`address ${JSON.stringify(address)} does not start with an IP address`);
}

/** Joins an IP and a port as Go's `net.JoinHostPort`: IPv6 in brackets. */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
