// Public API of @micro/transport-tcp, re-exported by explicit name.

export {
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_KEEPALIVE_DELAY,
  DEFAULT_MAX_HEADER_SIZE,
  DEFAULT_MAX_STREAMS,
  DEFAULT_STREAM_WINDOW,
  DEFAULT_WRITE_HIGH_WATER_MARK,
  type TcpTlsOptions,
  type TcpTransportOptions,
} from './options.js';
export { createTcpTransport, TcpTransport, type TcpTransportStats } from './tcp-transport.js';
