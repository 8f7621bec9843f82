import {
  badRequest,
  createConsoleLogger,
  ErrorIds,
  type Logger,
  type RegistryOptions,
} from '@micro/core';

/** go-micro's etcd endpoint when none is configured (`registry/etcd/etcd.go`). */
export const DEFAULT_ETCD_ADDRESS = '127.0.0.1:2379';
/** The port appended to an address that has none, as go-micro does. */
export const DEFAULT_ETCD_PORT = 2379;
/** go-micro's etcd registry timeout: 5 s. */
export const DEFAULT_ETCD_TIMEOUT = 5_000;

/** TLS material for talking to etcd; PEM text or bytes. */
export interface EtcdTlsOptions {
  /** CA certificate(s) that sign etcd's server certificate. @default the system's roots */
  ca?: string | Buffer;
  /** Client certificate chain, for mutual TLS (etcd `--client-cert-auth`); needs `key`. */
  cert?: string | Buffer;
  /** Private key of `cert`. */
  key?: string | Buffer;
}

/**
 * Options of {@link createEtcdRegistry}.
 *
 * @example
 * createEtcdRegistry({
 *   addresses: ['etcd-0.internal:2379', 'etcd-1.internal'],
 *   username: 'micro',
 *   password: process.env.ETCD_PASSWORD,
 *   tls: { ca: readFileSync('ca.pem') },
 * });
 */
export interface EtcdRegistryOptions extends RegistryOptions {
  /**
   * etcd client endpoints, `host[:port]` (port 2379 when missing). An `https://`
   * prefix turns TLS on; `http://` is accepted and ignored.
   * @default the comma-separated `MICRO_REGISTRY_ADDRESS` environment variable, else `['127.0.0.1:2379']`
   */
  addresses?: string[];
  /**
   * etcd user for password authentication; used only together with `password`.
   * @default the `ETCD_USERNAME` environment variable
   */
  username?: string;
  /**
   * Password of `username`.
   * @default the `ETCD_PASSWORD` environment variable
   */
  password?: string;
  /**
   * TLS to etcd: `true` for TLS with the system's CAs, or the CA, certificate and key to use.
   * @default false (plain gRPC), unless an address starts with `https://`
   */
  tls?: boolean | EtcdTlsOptions;
  /**
   * How long one registry operation may take, in milliseconds; a server that does
   * not answer within it makes the call reject with a 503.
   * @default 5000
   */
  timeout?: number;
  /**
   * Where the registry logs.
   * @default createConsoleLogger({ name: 'registry-etcd' })
   */
  logger?: Logger;
}

/** {@link EtcdRegistryOptions} with defaults applied and input checked. */
export interface ResolvedEtcdOptions {
  /** `host:port` endpoints, without a scheme. */
  hosts: string[];
  /** Password authentication, when both parts are set. */
  auth: { username: string; password: string } | undefined;
  /** TLS material, or undefined for plain gRPC. */
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined;
  timeout: number;
  logger: Logger;
}

/**
 * Splits `host[:port]` (IPv6 in brackets, or bare) and appends the default port,
 * as go-micro's `net.SplitHostPort` / `net.JoinHostPort` handling does.
 * @param address one configured address, e.g. `etcd:2379`, `10.0.0.1`, `[::1]:2379`, `https://etcd`
 * @returns the `host:port` etcd3 dials and whether the address asked for TLS
 * @throws {@link MicroError} 400 when the address is malformed
 */
export function parseAddress(address: string): { host: string; secure: boolean } {
  let rest = address.trim();
  let secure = false;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name !== 'http' && name !== 'https') {
      throw badRequest(ErrorIds.registry, `etcd address ${address}: unsupported scheme ${name}`);
    }
    secure = name === 'https';
    rest = rest.slice(scheme[0].length).replace(/\/+$/, '');
  }
  const invalid = (why: string) => badRequest(ErrorIds.registry, `etcd address ${address}: ${why}`);
  if (rest === '' || /[\s/]/.test(rest)) throw invalid('expected host[:port]');
  let host: string;
  let port: string | undefined;
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end === -1) throw invalid('unterminated [ipv6] host');
    host = rest.slice(1, end);
    const after = rest.slice(end + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw invalid('expected :port after ]');
      port = after.slice(1);
    }
    if (!host.includes(':')) throw invalid('brackets hold an IPv6 address');
  } else if (rest.indexOf(':') !== rest.lastIndexOf(':')) {
    // several colons and no brackets: a bare IPv6 address, which has no port
    host = rest;
  } else {
    const colon = rest.indexOf(':');
    host = colon === -1 ? rest : rest.slice(0, colon);
    port = colon === -1 ? undefined : rest.slice(colon + 1);
  }
  if (host === '') throw invalid('empty host');
  if (port !== undefined && !/^\d{1,5}$/.test(port)) throw invalid(`invalid port ${port}`);
  const portNumber = port === undefined ? DEFAULT_ETCD_PORT : Number(port);
  if (portNumber < 1 || portNumber > 65_535) throw invalid(`port ${port} out of range`);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return { host: `${hostPart}:${portNumber}`, secure };
}

function toBuffer(value: string | Buffer | undefined, what: string): Buffer | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return Buffer.from(value);
  if (Buffer.isBuffer(value)) return value;
  throw badRequest(ErrorIds.registry, `etcd tls.${what} must be PEM text or a Buffer`);
}

/**
 * Applies the defaults and environment fallbacks of {@link EtcdRegistryOptions}.
 * @param options what the caller passed
 * @param env where `MICRO_REGISTRY_ADDRESS`, `ETCD_USERNAME` and `ETCD_PASSWORD` are read
 * @throws {@link MicroError} 400 for a malformed address, timeout or TLS option
 */
export function resolveOptions(
  options: EtcdRegistryOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedEtcdOptions {
  const configured =
    options.addresses ??
    (env.MICRO_REGISTRY_ADDRESS ? env.MICRO_REGISTRY_ADDRESS.split(',') : undefined);
  // go-micro skips empty entries and keeps its default when nothing is left
  const addresses = (configured ?? []).filter((a) => a.trim() !== '');
  const parsed = (addresses.length > 0 ? addresses : [DEFAULT_ETCD_ADDRESS]).map(parseAddress);
  const hosts = [...new Set(parsed.map((p) => p.host))];

  const timeout = options.timeout ?? DEFAULT_ETCD_TIMEOUT;
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw badRequest(
      ErrorIds.registry,
      `etcd timeout must be a positive number of ms, not ${timeout}`,
    );
  }

  // as go-micro: credentials count only when both parts are non-empty
  const username = options.username ?? env.ETCD_USERNAME ?? '';
  const password = options.password ?? env.ETCD_PASSWORD ?? '';
  const auth = username !== '' && password !== '' ? { username, password } : undefined;

  let tls: ResolvedEtcdOptions['tls'];
  if (options.tls === true || (options.tls === undefined && parsed.some((p) => p.secure))) {
    tls = {};
  } else if (typeof options.tls === 'object' && options.tls !== null) {
    const ca = toBuffer(options.tls.ca, 'ca');
    const cert = toBuffer(options.tls.cert, 'cert');
    const key = toBuffer(options.tls.key, 'key');
    if ((cert === undefined) !== (key === undefined)) {
      throw badRequest(ErrorIds.registry, 'etcd tls.cert and tls.key go together');
    }
    tls = {
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
    };
  }

  return {
    hosts,
    auth,
    tls,
    timeout,
    logger: options.logger ?? createConsoleLogger({ name: 'registry-etcd' }),
  };
}
