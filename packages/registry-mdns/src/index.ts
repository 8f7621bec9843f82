// Public API of @micro/registry-mdns, re-exported by explicit name.

export { decodeMdnsTxt, encodeMdnsTxt, type MdnsTxt, mdnsTxtJson } from './encoding.js';
export { createMdnsRegistry, MdnsRegistry } from './mdns-registry.js';
export {
  DEFAULT_MDNS_DOMAIN,
  DEFAULT_MDNS_PORT,
  DEFAULT_MDNS_TIMEOUT,
  MDNS_RECORD_TTL,
  type MdnsRegistryOptions,
} from './options.js';
