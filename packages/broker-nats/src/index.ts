// Public API of @micro/broker-nats, re-exported by explicit name.

export { checkQueue, checkTopic, encodeMessage } from './envelope.js';
export { toMicroError } from './errors.js';
export { createNatsBroker, NatsBroker } from './nats-broker.js';
export {
  DEFAULT_DRAIN_TIMEOUT,
  DEFAULT_MAX_PENDING_BYTES,
  DEFAULT_MAX_PENDING_MESSAGES,
  DEFAULT_MAX_PING_OUT,
  DEFAULT_NATS_ADDRESS,
  DEFAULT_PING_INTERVAL,
  DEFAULT_PUBLISH_TIMEOUT,
  DEFAULT_RECONNECT_BUFFER_SIZE,
  DEFAULT_RECONNECT_JITTER,
  DEFAULT_RECONNECT_JITTER_TLS,
  DEFAULT_RECONNECT_TIME_WAIT,
  DEFAULT_TIMEOUT,
  type NatsBrokerOptions,
  type NatsTlsOptions,
} from './options.js';
