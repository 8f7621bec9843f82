// Public API of @micro/transport-grpc, re-exported by explicit name.

export { GrpcStatusError } from './errors.js';
export { createGrpcTransport, GrpcTransport } from './grpc-transport.js';
export {
  decodeMessage,
  encodeMessage,
  MessageDecodeError,
  type SizedMessage,
  sizeMessage,
} from './message-codec.js';
export {
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_KEEPALIVE_TIME,
  DEFAULT_KEEPALIVE_TIMEOUT,
  DEFAULT_MAX_HEADER_SIZE,
  DEFAULT_MAX_RECONNECT_BACKOFF,
  DEFAULT_SERVER_KEEPALIVE_TIME,
  DEFAULT_SHUTDOWN_TIMEOUT,
  defaultChannelOptions,
  defaultServerOptions,
  type GrpcCredentials,
  type GrpcKeepaliveOptions,
  type GrpcTlsOptions,
  type GrpcTransportOptions,
  grpcMessageLimit,
} from './options.js';
export { STREAM_PATH, TRANSPORT_SERVICE_NAME } from './service.js';
