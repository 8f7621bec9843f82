// Public API of @micro/registry-consul, re-exported by explicit name.

export { ConsulRegistry, createConsulRegistry } from './consul-registry.js';
export type {
  ConsulHttpCheck,
  ConsulRegistryOptions,
  ConsulTcpCheck,
  ConsulTlsOptions,
} from './options.js';
