// Public API of @micro/core, re-exported by explicit name.

export type {
  Broker,
  BrokerHandler,
  BrokerMessage,
  BrokerOptions,
  Event,
  NackOptions,
  PublishOptions,
  SubscribeOptions,
  Subscriber,
} from './broker/broker.js';
export { type DispatchOptions, dispatchEvent } from './broker/dispatch.js';
export { decodeEnvelope, encodeEnvelope } from './broker/envelope.js';
export { createMemoryBroker, MemoryBroker, type MemoryBrokerOptions } from './broker/memory.js';
export type {
  CallFunc,
  CallOptions,
  CallWrapper,
  Client,
  ClientEndpoint,
  ClientOptions,
  ClientRequest,
  ClientStream,
  HandlerClient,
  PublishOptions as ClientPublishOptions,
  RequestOptions,
  ServiceClient,
  StreamOptions,
} from './client/client.js';
export { type CreateClientOptions, createClient } from './client/create-client.js';
export { DEFAULT_POOL_SIZE, DEFAULT_POOL_TTL } from './client/pool.js';
export { DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRIES, RpcClient } from './client/rpc-client.js';
export { BytesCodec, bytesCodec } from './codec/bytes.js';
export { type Codec, Codecs, codecError, normalizeContentType } from './codec/codec.js';
export {
  compareGoMapKeys,
  decodeGoBytes,
  decodeGoList,
  decodeGoString,
  decodeGoStringMap,
  encodeGoString,
  encodeGoStringMap,
  readGoFields,
} from './codec/go-json.js';
export { JsonCodec, jsonCodec } from './codec/json.js';
export {
  defaultBroker,
  defaultCodecs,
  defaultRegistry,
  defaultTransport,
} from './defaults.js';
export {
  badRequest,
  cancelled,
  conflict,
  ErrorIds,
  errorMessage,
  forbidden,
  fromError,
  internalServerError,
  isError,
  isMicroError,
  isRetryable,
  MicroError,
  type MicroErrorJSON,
  type MicroErrorOptions,
  methodNotAllowed,
  notFound,
  parseError,
  payloadTooLarge,
  statusText,
  timeout,
  unauthorized,
  unavailable,
  unsupportedMediaType,
} from './errors/errors.js';
export { AsyncQueue } from './internal/async-queue.js';
export { type BackoffOptions, backoffDelay, sleep } from './internal/backoff.js';
export { InFlight } from './internal/in-flight.js';
export {
  type ConsoleLoggerOptions,
  createConsoleLogger,
  type LogFields,
  type Logger,
  type LogLevel,
  silentLogger,
} from './logger/logger.js';
export { getHeader, Metadata, type MetadataInit } from './metadata/metadata.js';
export {
  decodeGoEndpoint,
  decodeGoEndpoints,
  decodeGoNode,
  decodeGoService,
  decodeGoValue,
  decodeZlibHex,
  encodeGoEndpoint,
  encodeGoEndpoints,
  encodeGoNode,
  encodeGoService,
  encodeGoValue,
  encodeZlibHex,
  MAX_DECODED_RECORD,
} from './registry/encoding.js';
export { createMemoryRegistry, MemoryRegistry } from './registry/memory.js';
export {
  DEFAULT_REGISTER_INTERVAL,
  DEFAULT_REGISTER_TTL,
  type Endpoint,
  type Node,
  type RegisterOptions,
  type Registry,
  type RegistryOptions,
  type Service,
  type Value,
  type WatchAction,
  type WatchEvent,
  type Watcher,
  type WatchOptions,
} from './registry/registry.js';
export { RetryingWatch, type RetryingWatchOptions } from './registry/retrying-watch.js';
export { mergeByVersion, normalizeService } from './registry/util.js';
export { DEFAULT_MAX_UNREAD_EVENTS, QueueWatcher } from './registry/watcher.js';
export { filterEndpoint, filterLabel, filterVersion } from './selector/filters.js';
export { random } from './selector/random.js';
export {
  createRegistrySelector,
  RegistrySelector,
  type RegistrySelectorOptions,
} from './selector/registry-selector.js';
export {
  DEFAULT_CACHE_TTL,
  DEFAULT_COOLDOWN,
  type Filter,
  type Next,
  type SelectOptions,
  type Selector,
  type SelectorOptions,
  type Strategy,
} from './selector/selector.js';
export { DEFAULT_SHUTDOWN_TIMEOUT, type LocalRequest, RpcServer } from './server/rpc-server.js';
export {
  type Context,
  type EndpointDescription,
  type HandleOptions,
  type HandlerFunc,
  type HandlerWrapper,
  isStreamHandler,
  type MessageContext,
  type Server,
  type ServerMessage,
  type ServerOptions,
  type ServerRequest,
  type ServerStream,
  type ServerSubscribeOptions,
  type StreamHandler,
  type SubscriberFunc,
  type SubscriberHandler,
  type SubscriberWrapper,
  stream,
} from './server/server.js';
export {
  type EnvConfig,
  loadPlugin,
  type PluginKind,
  parseDuration,
  readEnv,
} from './service/env.js';
export {
  createService,
  type Hook,
  type MicroService,
  type SelectorFactoryContext,
  type ServiceOptions,
} from './service/service.js';
export { formatAddress, type HostPort, parseAddress } from './transport/address.js';
export {
  createMemoryTransport,
  MemoryTransport,
  type MemoryTransportOptions,
} from './transport/memory.js';
export {
  DEFAULT_DIAL_TIMEOUT,
  DEFAULT_MAX_MESSAGE_SIZE,
  type DialOptions,
  type Header,
  type Listener,
  type ListenOptions,
  type Message,
  type Socket,
  setHeaderEntry,
  type Transport,
  type TransportOptions,
} from './transport/transport.js';
