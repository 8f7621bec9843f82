// Public API of @micro/broker-kafka, re-exported by explicit name.

export { errorCode, toMicroError } from './errors.js';
export { createKafkaBroker, KafkaBroker } from './kafka-broker.js';
export {
  DEFAULT_KAFKA_ADDRESS,
  DEFAULT_KAFKA_TIMEOUT,
  DEFAULT_REDELIVERY_BACKOFF,
  type KafkaAcks,
  type KafkaBrokerOptions,
} from './options.js';
export { decodeRecord, encodeRecord } from './record.js';
export type { KafkaSubscription } from './subscription.js';
