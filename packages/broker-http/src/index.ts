// Public API of @micro/broker-http, re-exported by explicit name.

export {
  createHttpBroker,
  HttpBroker,
  HttpSubscription,
} from './http-broker.js';
export {
  BROKER_REGISTER_INTERVAL,
  BROKER_REGISTER_TTL,
  DEFAULT_ADDRESS,
  DEFAULT_DRAIN_TIMEOUT,
  DEFAULT_PUBLISH_TIMEOUT,
  DEFAULT_QUEUE_ATTEMPTS,
  type HttpBrokerOptions,
  type HttpBrokerTlsOptions,
} from './options.js';
export {
  BROADCAST_VERSION,
  DEFAULT_PATH,
  SERVICE_NAME,
  TOPIC_HEADER,
} from './wire.js';
