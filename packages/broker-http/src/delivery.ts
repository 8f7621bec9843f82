/**
 * One delivery: an HTTP POST of the envelope to one subscriber, as go-micro's
 * publisher makes it, with a dial timeout and a deadline, and every failure turned
 * into a MicroError a publisher can act on.
 */
import http from 'node:http';
import https from 'node:https';
import {
  ErrorIds,
  errorMessage,
  MicroError,
  type Node,
  parseError,
  statusText,
  timeout,
  unavailable,
} from '@micro/core';
import { dialAddress } from './address.js';
import type { HttpBrokerTlsOptions } from './options.js';
import { deliveryPath } from './wire.js';

/** How much of an error response is read, for its detail. */
const MAX_ERROR_BODY = 64 * 1024;

/** Connections reused between deliveries, one pool per scheme. */
export interface Agents {
  http: http.Agent;
  https: https.Agent;
}

/**
 * Makes the connection pools: keep-alive, as Go's `http.Transport`, and TLS
 * verification on unless the options turn it off.
 * @param tls the broker's TLS options
 */
export function createAgents(tls: HttpBrokerTlsOptions | undefined): Agents {
  const common = { keepAlive: true, maxSockets: 100, scheduling: 'lifo' as const };
  return {
    http: new http.Agent(common),
    https: new https.Agent({
      ...common,
      ca: tls?.ca,
      cert: tls?.cert,
      key: tls?.key,
      rejectUnauthorized: tls?.rejectUnauthorized ?? true,
      minVersion: 'TLSv1.2',
    }),
  };
}

/** Where and how one delivery is made. */
export interface DeliveryOptions {
  agents: Agents;
  /** Epoch milliseconds by which the delivery must be answered. */
  deadline: number;
  /** Milliseconds a new connection may take. */
  dialTimeout: number;
  /** The name subscribers' certificates are checked against, when not their host. */
  servername: string | undefined;
}

class Abort extends Error {
  constructor(readonly error: MicroError) {
    super(error.detail);
  }
}

function describe(node: Node): string {
  return `subscriber ${node.id} at ${node.address}`;
}

/** Where a node is dialled and the path its deliveries go to, worked out once per node. */
interface Route {
  readonly id: string;
  readonly address: string;
  readonly target: ReturnType<typeof dialAddress>;
  readonly path: string;
}

/** Routes by node object: the subscriber cache hands out the same objects until it changes. */
const routes = new WeakMap<Node, Route>();

function routeOf(node: Node): Route {
  const known = routes.get(node);
  if (known !== undefined && known.id === node.id && known.address === node.address) return known;
  const route: Route = {
    id: node.id,
    address: node.address,
    target: dialAddress(node.address),
    path: deliveryPath(node.id),
  };
  routes.set(node, route);
  return route;
}

/** The request headers of a delivery, with the envelope's length. */
function requestHeaders(length: number): http.OutgoingHttpHeaders {
  return { 'Content-Type': 'application/json', 'Content-Length': length };
}

interface Answer {
  status: number;
  body: string;
}

function post(
  node: Node,
  payload: Uint8Array,
  options: DeliveryOptions,
): Promise<Answer & { reused: boolean }> {
  return new Promise((resolve, reject) => {
    const route = routeOf(node);
    const target = route.target;
    if (!target) {
      reject(
        unavailable(ErrorIds.broker, `${describe(node)}: the registered address is not host:port`),
      );
      return;
    }
    const secure = node.metadata?.secure === 'true';
    const remaining = options.deadline - Date.now();
    if (remaining <= 0) {
      reject(timeout(ErrorIds.broker, `${describe(node)}: no time left to deliver`));
      return;
    }
    const requestOptions: https.RequestOptions = {
      host: target.host,
      port: target.port,
      method: 'POST',
      path: route.path,
      agent: secure ? options.agents.https : options.agents.http,
      headers: requestHeaders(payload.byteLength),
    };
    if (secure && options.servername) requestOptions.servername = options.servername;
    const request = (secure ? https : http).request(requestOptions);
    let reused = false;
    let dialTimer: NodeJS.Timeout | undefined;
    const deadlineTimer = setTimeout(
      () =>
        request.destroy(
          new Abort(
            timeout(
              ErrorIds.broker,
              `${describe(node)} did not answer within the publish timeout (${remaining} ms)`,
            ),
          ),
        ),
      remaining,
    );
    const done = () => {
      clearTimeout(deadlineTimer);
      clearTimeout(dialTimer);
    };
    request.on('socket', (socket) => {
      reused = request.reusedSocket;
      if (!socket.connecting) return;
      dialTimer = setTimeout(
        () =>
          request.destroy(
            new Abort(
              unavailable(
                ErrorIds.broker,
                `${describe(node)} unreachable: no connection within ${options.dialTimeout} ms`,
              ),
            ),
          ),
        Math.min(options.dialTimeout, remaining),
      );
      socket.once(secure ? 'secureConnect' : 'connect', () => clearTimeout(dialTimer));
    });
    request.on('response', (response) => {
      clearTimeout(dialTimer);
      const ok = response.statusCode !== undefined && response.statusCode < 300;
      const chunks: Buffer[] = [];
      let size = 0;
      // A success's body is not read (go-micro's receiver sends none).
      if (ok) response.resume();
      else {
        response.on('data', (chunk: Buffer) => {
          if (size >= MAX_ERROR_BODY) return;
          chunks.push(chunk);
          size += chunk.length;
        });
      }
      response.on('end', () => {
        done();
        resolve({
          status: response.statusCode ?? 0,
          body: ok ? '' : Buffer.concat(chunks).toString('utf8').slice(0, MAX_ERROR_BODY),
          reused,
        });
      });
      response.on('error', (error) => {
        done();
        reject(error);
      });
    });
    request.on('error', (error) => {
      done();
      if (error instanceof Abort) reject(error.error);
      else reject(Object.assign(error, { reused }));
    });
    request.end(payload);
  });
}

/** The error a subscriber's non-2xx answer stands for; its code is the HTTP status. */
function answerError(node: Node, answer: Answer): MicroError {
  const parsed = parseError(answer.body.trim());
  const detail = parsed.detail || answer.body.trim() || statusText(answer.status);
  return new MicroError(
    ErrorIds.broker,
    `${describe(node)} answered ${answer.status}: ${detail}`,
    answer.status,
    { cause: parsed },
  );
}

/**
 * POSTs an envelope to one subscriber and waits for its answer.
 *
 * A connection that was reused from the pool and turns out closed by the other
 * side before it answered is retried on a new connection (the race every
 * keep-alive client has); nothing else is retried here.
 * @param node the subscriber
 * @param payload the envelope bytes
 * @param options pools and time limits
 * @throws {@link MicroError} with the subscriber's HTTP status for a non-2xx answer
 *   (404 the subscription is gone, 413 too large, 500 its handler failed, ...);
 *   503 when it cannot be reached; 408 when the deadline passes first
 */
export async function deliver(
  node: Node,
  payload: Uint8Array,
  options: DeliveryOptions,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    let answer: Answer;
    try {
      answer = await post(node, payload, options);
    } catch (error) {
      if (error instanceof MicroError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      const reused = (error as { reused?: boolean }).reused === true;
      if (reused && attempt < 2 && (code === 'ECONNRESET' || code === 'EPIPE')) continue;
      throw unavailable(
        ErrorIds.broker,
        `${describe(node)} unreachable: ${code ? `${code} ` : ''}${errorMessage(error)}`,
        error,
      );
    }
    if (answer.status >= 200 && answer.status < 300) return;
    throw answerError(node, answer);
  }
}
