// Public API of @micro/broker-rabbitmq, re-exported by explicit name.

export {
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_DRAIN_TIMEOUT,
  DEFAULT_EXCHANGE,
  DEFAULT_EXCHANGE_TYPE,
  DEFAULT_HEARTBEAT,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_PUBLISH_TIMEOUT,
  DEFAULT_URL,
  type ExchangeType,
  type RabbitMQBrokerOptions,
  type RabbitMQPublishOptions,
  type RabbitMQSubscribeOptions,
  type ReconnectOptions,
} from './options.js';
export {
  createRabbitMQBroker,
  RabbitMQBroker,
  type RabbitMQBrokerState,
} from './rabbitmq-broker.js';
export type { RabbitMQEvent, RabbitMQSubscription } from './subscription.js';
