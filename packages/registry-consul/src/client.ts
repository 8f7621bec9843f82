/**
 * A small typed layer over the `consul` npm client: the few calls the registry
 * makes, one deadline per operation, failover between agent addresses, and every
 * failure turned into a MicroError.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { types } from 'node:util';
import {
  badRequest,
  ErrorIds,
  forbidden,
  internalServerError,
  isMicroError,
  MicroError,
  notFound,
  unauthorized,
  unavailable,
} from '@micro/core';
import Consul from 'consul';
import { goDuration } from './encoding.js';
import type { ConsulEndpoint, ResolvedOptions } from './options.js';

/** A Consul health check as go-micro registers it (`api.AgentServiceCheck`). */
export interface CheckDefinition {
  ttl?: string;
  tcp?: string;
  http?: string;
  interval?: string;
  timeout?: string;
  deregistercriticalserviceafter: string;
}

/** An agent service registration as go-micro sends it (`api.AgentServiceRegistration`). */
export interface ServiceRegistration {
  id: string;
  name: string;
  tags: string[];
  address: string;
  port: number;
  meta?: Record<string, string>;
  check?: CheckDefinition;
}

/** One entry of `GET /v1/health/service/:name`, as far as it is read here. */
export interface HealthEntry {
  Node?: { Node?: string; Address?: string } | null;
  Service?: {
    ID?: string;
    Service?: string;
    Tags?: string[] | null;
    Address?: string;
    Port?: number;
    Meta?: Record<string, string> | null;
  } | null;
  Checks?: { CheckID?: string; ServiceID?: string; Status?: string }[] | null;
}

/** A read that may block until Consul's index passes `index`. */
export interface QueryOptions {
  /** The `X-Consul-Index` of the previous answer; 0 or absent for an immediate answer. */
  index?: bigint;
  /** How long Consul may hold the request, in milliseconds. */
  wait?: number;
  /** Epoch milliseconds by which the call must have answered. */
  deadline: number;
  /** Cancels the request when it emits `cancel`. */
  cancel?: EventEmitter;
}

/** A read's body with the index Consul answered at. */
export interface QueryResult<T> {
  body: T;
  index: bigint | undefined;
}

/** Request options the `consul` client passes through to its HTTP layer (papi). */
interface CallOptions {
  timeout: number;
  ctx?: EventEmitter;
  [key: string]: unknown;
}

/** The part of the `consul` client used here; its own typings omit the options above. */
interface ConsulApi {
  agent: {
    service: {
      register(options: CallOptions): Promise<unknown>;
      deregister(options: CallOptions): Promise<unknown>;
    };
    check: { pass(options: CallOptions): Promise<unknown> };
  };
  health: { service(options: CallOptions): Promise<unknown> };
  catalog: { service: { list(options: CallOptions): Promise<unknown> } };
}

interface Agent {
  endpoint: ConsulEndpoint;
  api: ConsulApi;
  pool: http.Agent;
}

/** Failures of the network path to an agent, worth trying again or elsewhere. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
]);

interface ClientError {
  code?: unknown;
  message?: unknown;
  isResponse?: boolean;
  isTimeout?: boolean;
  isAbort?: boolean;
  isValidation?: boolean;
  isCodec?: boolean;
  statusCode?: number;
  response?: { statusCode?: number; body?: unknown };
}

function asClientError(error: unknown): ClientError {
  return typeof error === 'object' && error !== null ? (error as ClientError) : {};
}

/** @returns true for a failure to reach or keep a connection to the agent */
export function isConnectionError(error: unknown): boolean {
  const e = asClientError(error);
  if (e.isResponse || e.isTimeout || e.isAbort || e.isValidation) return false;
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
  return typeof e.message === 'string' && /socket hang up/i.test(e.message);
}

/** @returns true when the request was cancelled through its `cancel` emitter */
export function isCancelled(error: unknown): boolean {
  const e = asClientError(error);
  return (
    e.isAbort === true ||
    (e.isValidation === true && typeof e.message === 'string' && /ctx already/.test(e.message))
  );
}

function responseText(body: unknown): string {
  if (typeof body === 'string') return body.trim();
  if (Buffer.isBuffer(body)) return body.toString('utf8').trim();
  if (body === undefined || body === null) return '';
  return JSON.stringify(body);
}

/**
 * Turns anything the `consul` client throws into a MicroError with go-micro's
 * codes: 503 when Consul cannot be reached or fails, 400/401/403/404 as Consul answered.
 * @param error what the client threw
 * @param what the operation, for the message
 * @param endpoint the agent talked to
 * @param timeout the operation's time budget, for the message
 */
export function toMicroError(
  error: unknown,
  what: string,
  endpoint: ConsulEndpoint,
  timeout: number,
): MicroError {
  if (isMicroError(error)) return error;
  const at = `consul ${endpoint.secure ? 'https' : 'http'}://${formatHost(endpoint)}`;
  const e = asClientError(error);
  const message = typeof e.message === 'string' ? e.message : String(error);
  if (e.isResponse) {
    const status = e.response?.statusCode ?? e.statusCode ?? 0;
    const text = responseText(e.response?.body).slice(0, 1000) || message;
    const detail = `${at}: ${what}: ${status} ${text}`;
    if (status === 400) return badRequest(ErrorIds.registry, detail, error);
    if (status === 401) return unauthorized(ErrorIds.registry, detail, error);
    if (status === 403) return forbidden(ErrorIds.registry, detail, error);
    if (status === 404) return notFound(ErrorIds.registry, detail, error);
    if (status === 408 || status === 429 || status >= 500) {
      return unavailable(ErrorIds.registry, detail, error);
    }
    return new MicroError(ErrorIds.registry, detail, status >= 400 ? status : 500, {
      cause: error,
    });
  }
  if (e.isTimeout) {
    return unavailable(
      ErrorIds.registry,
      `${at}: ${what}: no answer within ${Math.round(timeout)} ms`,
      error,
    );
  }
  if (e.isValidation && !isCancelled(error)) {
    return badRequest(ErrorIds.registry, `${at}: ${what}: ${message}`, error);
  }
  if (e.isCodec) {
    return internalServerError(
      ErrorIds.registry,
      `${at}: ${what}: unreadable answer: ${message}`,
      error,
    );
  }
  return unavailable(ErrorIds.registry, `${at}: ${what}: unreachable: ${message}`, error);
}

function formatHost(endpoint: ConsulEndpoint): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${host}:${endpoint.port}`;
}

function parseIndex(value: unknown): bigint | undefined {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return BigInt(value);
}

/** The Consul HTTP API calls the registry makes. */
export class ConsulClient {
  readonly #agents: Agent[];
  readonly #options: ResolvedOptions;
  #current = 0;

  /** @param options resolved registry options */
  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#agents = options.endpoints.map((endpoint) => {
      const pool = endpoint.secure
        ? new https.Agent({ keepAlive: true, ...options.tls })
        : new http.Agent({ keepAlive: true });
      const api = new Consul({
        host: endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host,
        port: endpoint.port,
        secure: endpoint.secure,
        agent: pool,
        ...(options.token ? { defaults: { token: options.token } } : {}),
      }) as unknown as ConsulApi & { _opts?: { baseUrl?: { hostname?: string } } };
      // The client keeps URL's bracketed IPv6 hostname, which http.request cannot dial.
      if (endpoint.host.includes(':') && api._opts?.baseUrl)
        api._opts.baseUrl.hostname = endpoint.host;
      return { endpoint, api, pool };
    });
  }

  /** The agent address currently used, e.g. `127.0.0.1:8500`. */
  get address(): string {
    return formatHost(this.#agents[this.#current]!.endpoint);
  }

  /** Registers (or replaces) an agent service. */
  async registerService(registration: ServiceRegistration, deadline: number): Promise<void> {
    await this.#call(`register ${registration.id}`, deadline, true, (api, timeout) =>
      api.agent.service.register({ ...registration, timeout }),
    );
  }

  /** Removes an agent service. @throws 404 MicroError when the agent does not know it */
  async deregisterService(id: string, deadline: number): Promise<void> {
    await this.#call(`deregister ${id}`, deadline, true, (api, timeout) =>
      api.agent.service.deregister({ id, timeout }),
    );
  }

  /** Marks a TTL check as passing (`PUT /v1/agent/check/pass/:id`). */
  async passTtl(checkId: string, deadline: number): Promise<void> {
    await this.#call(`pass ${checkId}`, deadline, true, (api, timeout) =>
      api.agent.check.pass({ id: checkId, timeout }),
    );
  }

  /** `GET /v1/health/service/:name` with every node, passing or not. */
  async healthService(name: string, query: QueryOptions): Promise<QueryResult<HealthEntry[]>> {
    const result = await this.#query(`health of ${name}`, query, (api, options) =>
      api.health.service({ ...options, service: name, passing: false }),
    );
    return {
      body: Array.isArray(result.body) ? (result.body as HealthEntry[]) : [],
      index: result.index,
    };
  }

  /** `GET /v1/catalog/services`: service name → the union of its tags. */
  async catalogServices(query: QueryOptions): Promise<QueryResult<Record<string, string[]>>> {
    const result = await this.#query('list services', query, (api, options) =>
      api.catalog.service.list(options),
    );
    const body = result.body;
    const services =
      typeof body === 'object' && body !== null && !Array.isArray(body)
        ? (body as Record<string, string[]>)
        : {};
    return { body: services, index: result.index };
  }

  /** Closes pooled connections; in-flight requests fail. */
  close(): void {
    for (const agent of this.#agents) agent.pool.destroy();
  }

  async #query(
    what: string,
    query: QueryOptions,
    run: (api: ConsulApi, options: CallOptions) => Promise<unknown>,
  ): Promise<QueryResult<unknown>> {
    const ctx = query.cancel ?? new EventEmitter();
    // The consul client returns [response, body] when the context asks for it.
    (ctx as EventEmitter & { includeResponse?: boolean }).includeResponse = true;
    const blocking = query.index !== undefined && query.index > 0n;
    // A blocking query is not retried here: the watch loop starts over from index 0,
    // since an agent that restarted would hold the old index for the whole wait.
    const answer = await this.#call(what, query.deadline, !blocking, (api, timeout) => {
      const options: CallOptions = { timeout, ctx };
      if (this.#options.allowStale) options.stale = true;
      if (this.#options.datacenter) options.dc = this.#options.datacenter;
      if (blocking) {
        options.index = query.index!.toString();
        if (query.wait !== undefined) options.wait = goDuration(query.wait);
      }
      return run(api, options);
    });
    const withResponse =
      Array.isArray(answer) && answer.length === 2 && answer[0] instanceof http.IncomingMessage;
    const [response, body] = withResponse
      ? (answer as [http.IncomingMessage, unknown])
      : [undefined, answer];
    return { body, index: parseIndex(response?.headers['x-consul-index']) };
  }

  /**
   * Runs one API call within the deadline. A connection failure is tried once
   * more (a pooled keep-alive socket may have died with a restarted agent) and
   * moves to the next agent address when there are several.
   */
  async #call<T>(
    what: string,
    deadline: number,
    retry: boolean,
    run: (api: ConsulApi, timeout: number) => Promise<T>,
  ): Promise<T> {
    const budget = Math.max(1, deadline - Date.now());
    const attempts = retry ? this.#agents.length + 1 : 1;
    let lastError: unknown;
    let endpoint = this.#agents[this.#current]!.endpoint;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 && attempt > 0) break;
      const index = this.#current;
      const agent = this.#agents[index]!;
      endpoint = agent.endpoint;
      try {
        const result = await run(agent.api, Math.max(1, remaining));
        // papi resolves with a socket error instead of rejecting when that error comes
        // from another realm (its `instanceof Error` check fails, e.g. under Jest).
        if (types.isNativeError(result)) throw result;
        return result;
      } catch (error) {
        lastError = error;
        if (isCancelled(error) || !isConnectionError(error)) break;
        if (this.#agents.length > 1 && this.#current === index) {
          this.#current = (index + 1) % this.#agents.length;
        }
      }
    }
    if (isCancelled(lastError)) throw lastError;
    throw toMicroError(lastError, what, endpoint, budget);
  }
}
