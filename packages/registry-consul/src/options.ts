import type { ConnectionOptions } from 'node:tls';
import {
  badRequest,
  createConsoleLogger,
  ErrorIds,
  type Logger,
  type RegistryOptions,
} from '@micro/core';
import { splitHostPort } from './encoding.js';

/** TLS material for an HTTPS Consul agent; PEM contents, not file paths. */
export type ConsulTlsOptions = Pick<
  ConnectionOptions,
  'ca' | 'cert' | 'key' | 'passphrase' | 'servername' | 'rejectUnauthorized'
>;

/** go-micro's `consul.TCPCheck(interval)`: Consul dials the node address every interval. */
export interface ConsulTcpCheck {
  /** How often Consul dials the node, in milliseconds (Consul's minimum is 1 s). */
  interval: number;
}

/** go-micro's `consul.HTTPCheck(...)`: Consul GETs a URL every interval. */
export interface ConsulHttpCheck {
  /**
   * The URL Consul requests; `{host}` is replaced by the node's host, e.g.
   * `http://{host}:8080/health`.
   */
  url: string;
  /** How often Consul requests it, in milliseconds (Consul's minimum is 1 s). */
  interval: number;
  /** How long one request may take, in milliseconds. */
  timeout: number;
}

/** Options of {@link ConsulRegistry}. */
export interface ConsulRegistryOptions extends RegistryOptions {
  /**
   * The Consul agent's HTTP address: `host:port`, `host` (port 8500), or a URL
   * `http://host:port` / `https://host:port`. Takes precedence over `addresses`;
   * with several addresses the registry moves to the next one when one cannot be
   * reached.
   * @default the `CONSUL_HTTP_ADDR` environment variable, else `'127.0.0.1:8500'`
   */
  address?: string;
  /**
   * ACL token sent as `X-Consul-Token`.
   * @default the `CONSUL_HTTP_TOKEN` environment variable, else none
   */
  token?: string;
  /** Datacenter for reads and watches. @default the agent's own */
  datacenter?: string;
  /**
   * Talk HTTPS to Consul. Implied by an `https://` address or by `tls`.
   * @default false
   */
  secure?: boolean;
  /** CA, client certificate and key for HTTPS; certificates are verified unless `rejectUnauthorized: false`. */
  tls?: ConsulTlsOptions;
  /**
   * Let any Consul server answer reads, not only the leader (go-micro's
   * `consul.AllowStale`, on by default there too).
   * @default true
   */
  allowStale?: boolean;
  /**
   * How long one registry operation may take, in milliseconds; Consul not
   * answering within it gives a 503.
   * @default 5000
   */
  timeout?: number;
  /**
   * How long one blocking query of a watch waits for a change, in milliseconds
   * (Consul caps it at 10 minutes).
   * @default 60000
   */
  watchWait?: number;
  /** Health-check each node with a TCP dial instead of a TTL (go-micro `consul.TCPCheck`). */
  tcpCheck?: ConsulTcpCheck;
  /** Health-check each node with an HTTP GET instead of a TTL (go-micro `consul.HTTPCheck`). */
  httpCheck?: ConsulHttpCheck;
  /** @default `createConsoleLogger({ name: 'registry-consul' })` */
  logger?: Logger;
}

/** Where one Consul agent answers. */
export interface ConsulEndpoint {
  host: string;
  port: number;
  secure: boolean;
}

/** {@link ConsulRegistryOptions} with defaults applied and checked. */
export interface ResolvedOptions {
  endpoints: ConsulEndpoint[];
  token: string | undefined;
  datacenter: string | undefined;
  tls: ConsulTlsOptions | undefined;
  allowStale: boolean;
  timeout: number;
  watchWait: number;
  tcpCheck: ConsulTcpCheck | undefined;
  httpCheck: ConsulHttpCheck | undefined;
  logger: Logger;
}

/** go-micro's registry timeout. */
export const DEFAULT_TIMEOUT = 5_000;
/** Consul's default agent address. */
export const DEFAULT_ADDRESS = '127.0.0.1:8500';
/** How long a watch's blocking query waits. */
export const DEFAULT_WATCH_WAIT = 60_000;
const MAX_WATCH_WAIT = 600_000;

function invalid(detail: string): Error {
  return badRequest(ErrorIds.registry, `consul registry options: ${detail}`);
}

function positive(name: string, value: number | undefined, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw invalid(`${name} is required`);
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalid(`${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}

/**
 * Parses one Consul address the way go-micro does (`net.SplitHostPort`, port 8500
 * when missing), also accepting an `http://` or `https://` URL.
 * @param address e.g. `127.0.0.1:8500`, `consul.internal`, `https://[::1]:8501`
 * @param secure HTTPS unless the URL says otherwise
 * @throws {@link MicroError} 400 when the address cannot be parsed
 */
export function parseAddress(address: string, secure: boolean): ConsulEndpoint {
  let rest = address.trim();
  let isSecure = secure;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name !== 'http' && name !== 'https') throw invalid(`unsupported scheme in ${address}`);
    isSecure = name === 'https';
    rest = rest.slice(scheme[0].length).replace(/\/+$/, '');
    if (rest.includes('/')) throw invalid(`address ${address} must not have a path`);
  }
  if (rest === '') throw invalid(`empty address ${JSON.stringify(address)}`);
  const split = splitHostPort(rest);
  let host: string;
  let port: number;
  if (split) {
    host = split.host;
    port = Number(split.port);
    if (!/^\d+$/.test(split.port) || port < 1 || port > 65535) {
      throw invalid(`bad port in address ${address}`);
    }
  } else if (!rest.includes(':') || (rest.startsWith('[') && rest.endsWith(']'))) {
    host = rest.replace(/^\[(.*)\]$/, '$1');
    port = 8500;
  } else {
    throw invalid(`cannot parse address ${address}`);
  }
  if (host === '') throw invalid(`address ${address} has no host`);
  return { host, port, secure: isSecure };
}

/**
 * Applies defaults and checks options.
 * @param options what the user passed
 * @param env the environment, for `CONSUL_HTTP_ADDR` and `CONSUL_HTTP_TOKEN`
 * @throws {@link MicroError} 400 for an invalid option
 */
export function resolveOptions(
  options: ConsulRegistryOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedOptions {
  const secure = options.secure === true || options.tls !== undefined;
  let addresses: string[];
  if (options.address !== undefined) addresses = [options.address];
  else if (options.addresses && options.addresses.length > 0) addresses = [...options.addresses];
  else addresses = [env.CONSUL_HTTP_ADDR || DEFAULT_ADDRESS];
  const endpoints = addresses
    .flatMap((address) => address.split(','))
    .map((address) => address.trim())
    .filter((address) => address !== '')
    .map((address) => parseAddress(address, secure));
  if (endpoints.length === 0) throw invalid('no address');

  const tcpCheck = options.tcpCheck && {
    interval: positive('tcpCheck.interval', options.tcpCheck.interval),
  };
  let httpCheck: ConsulHttpCheck | undefined;
  if (options.httpCheck) {
    const { url } = options.httpCheck;
    if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) {
      throw invalid(`httpCheck.url must be an http(s) URL, got ${String(url)}`);
    }
    httpCheck = {
      url,
      interval: positive('httpCheck.interval', options.httpCheck.interval),
      timeout: positive('httpCheck.timeout', options.httpCheck.timeout),
    };
  }
  if (tcpCheck && httpCheck) throw invalid('choose tcpCheck or httpCheck, not both');

  const watchWait = positive('watchWait', options.watchWait, DEFAULT_WATCH_WAIT);
  if (watchWait > MAX_WATCH_WAIT) throw invalid('watchWait must be at most 600000 (10 minutes)');

  return {
    endpoints,
    token: options.token ?? (env.CONSUL_HTTP_TOKEN || undefined),
    datacenter: options.datacenter || undefined,
    tls: options.tls,
    allowStale: options.allowStale ?? true,
    timeout: positive('timeout', options.timeout, DEFAULT_TIMEOUT),
    watchWait,
    tcpCheck,
    httpCheck,
    logger: options.logger ?? createConsoleLogger({ name: 'registry-consul' }),
  };
}
