// Public API of @micro/registry-etcd, re-exported by explicit name.

export { createEtcdRegistry, EtcdRegistry } from './etcd-registry.js';
export {
  DEFAULT_ETCD_ADDRESS,
  DEFAULT_ETCD_PORT,
  DEFAULT_ETCD_TIMEOUT,
  type EtcdRegistryOptions,
  type EtcdTlsOptions,
} from './options.js';
