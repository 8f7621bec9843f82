// Public API of @micro/testing, re-exported by explicit name.

export { type BrokerCapabilities, brokerConformance } from './broker.js';
export { type CodecCapabilities, codecConformance } from './codec.js';
export {
  controlServer,
  describeWithServer,
  randomName,
  rejection,
  thrownMicroError,
  type WaitOptions,
  waitFor,
  within,
} from './helpers.js';
export { type LogLine, type RecordingLogger, recordingLogger } from './logger.js';
export type { PluginModule } from './process/plugin.js';
export type { TransportModule } from './process/probe.js';
export { type RegistryCapabilities, registryConformance } from './registry.js';
export { type RpcConformanceOptions, rpcConformance } from './rpc.js';
export { type SelectorFactoryOptions, selectorConformance } from './selector.js';
export { type TransportCapabilities, transportConformance } from './transport.js';
