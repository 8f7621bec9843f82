import type { Logger, RegistryOptions } from '@micro/core';

/** The mDNS port, as go-micro and every mDNS responder use it (RFC 6762). */
export const DEFAULT_MDNS_PORT = 5353;

/** go-micro's mDNS domain: `micro.`, not `local.`, so micro services stay apart from printers. */
export const DEFAULT_MDNS_DOMAIN = 'micro.';

/**
 * How long {@link MdnsRegistry.getService} and `listServices` collect answers, in
 * milliseconds. go-micro waits 100 ms; answers on loopback and a quiet LAN come in
 * within a few milliseconds, but a loaded machine or Wi-Fi sometimes needs more, and a
 * lookup that misses a node is worse than one that takes a little longer (the selector
 * caches results anyway).
 */
export const DEFAULT_MDNS_TIMEOUT = 500;

/** The TTL of every record served, in seconds: go-micro's `defaultTTL`. */
export const MDNS_RECORD_TTL = 120;

/** The IPv4 mDNS group. */
export const MDNS_GROUP_IPV4 = '224.0.0.251';

/** Options of {@link createMdnsRegistry}. */
export interface MdnsRegistryOptions extends RegistryOptions {
  /**
   * The IPv4 address of the network interface to multicast on, e.g. `'192.168.1.20'`,
   * or `'127.0.0.1'` to keep everything on this host. Packets from outside this
   * interface's subnet are ignored.
   * @default all interfaces (as go-micro): the group is joined on every interface and
   *   queries leave through the system's default multicast route
   */
  interface?: string;
  /**
   * The UDP port of the mDNS group. Every process that should see each other must use
   * the same port; Go go-micro services always use 5353.
   * @default 5353 ({@link DEFAULT_MDNS_PORT})
   */
  port?: number;
  /**
   * The DNS domain services are published under. go-micro reads it from the
   * `mdns.domain` context key.
   * @default 'micro.' ({@link DEFAULT_MDNS_DOMAIN})
   */
  domain?: string;
  /**
   * How long `getService` and `listServices` collect answers, in milliseconds; every
   * lookup takes this long, since mDNS cannot know when the last answer has arrived.
   * @default 500 ({@link DEFAULT_MDNS_TIMEOUT}); go-micro uses 100
   */
  timeout?: number;
  /**
   * Where the registry logs. Malformed packets and foreign records are logged at debug.
   * @default createConsoleLogger({ name: 'registry-mdns' })
   */
  logger?: Logger;
  /** Not used: mDNS needs no server address. */
  addresses?: string[];
}
