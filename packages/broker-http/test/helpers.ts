import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll } from '@jest/globals';
import {
  type Event,
  type RegisterOptions,
  type Registry,
  type Service,
  silentLogger,
} from '@micro/core';
import { createHttpBroker, type HttpBroker, type HttpBrokerOptions } from '../src/index.js';
import { subscriberRecord } from '../src/wire.js';

/**
 * Makes connected brokers (silent unless a logger is given) for one test file and
 * disconnects them after it.
 */
export function brokerMaker(): (
  options: Partial<HttpBrokerOptions> & { registry: Registry },
) => Promise<HttpBroker> {
  const made: HttpBroker[] = [];
  afterAll(async () => {
    for (const broker of made) await broker.disconnect();
  });
  return async (options) => {
    const broker = createHttpBroker({ logger: silentLogger, ...options });
    made.push(broker);
    await broker.connect();
    return broker;
  };
}

/**
 * Registers a subscription record, as a broker would, for a node the test runs (or
 * one where nothing listens).
 * @returns the node id
 */
export async function registerNode(
  registry: Registry,
  node: { topic: string; address: string; id?: string; queue?: string; secure?: boolean },
  ttl?: number,
): Promise<string> {
  const id = node.id ?? `${node.topic}-${randomUUID()}`;
  const record = subscriberRecord(node.topic, node.queue, id, node.address, node.secure ?? false);
  await registry.register(record, ttl === undefined ? {} : { ttl });
  return id;
}

/** A registry that forwards to another and records every register call. */
export function spyRegistry(inner: Registry): Registry & {
  registered: { service: Service; options: RegisterOptions | undefined }[];
} {
  const registered: { service: Service; options: RegisterOptions | undefined }[] = [];
  return {
    name: inner.name,
    registered,
    register: (service, options) => {
      registered.push({ service: structuredClone(service), options });
      return inner.register(service, options);
    },
    deregister: (service) => inner.deregister(service),
    getService: (name) => inner.getService(name),
    listServices: () => inner.listServices(),
    watch: (options) => inner.watch(options),
    close: () => inner.close(),
  };
}

/** What a plain HTTP client got back. */
export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * Sends one request with node:http, the way a Go publisher (or anything else) would.
 * @param address `host:port`
 */
export function rawRequest(
  address: string,
  options: {
    method?: string;
    path: string;
    body?: string | Buffer;
    headers?: Record<string, string | number>;
  },
): Promise<RawAnswer> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: address.slice(0, colon),
        port: Number(address.slice(colon + 1)),
        method: options.method ?? 'POST',
        path: options.path,
        headers: options.headers,
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/** One request a {@link FakeSubscriber} received. */
export interface Captured {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  encrypted: boolean;
}

/** A plain node:http(s) server standing in for a subscriber node, recording what it gets. */
export interface FakeSubscriber {
  address: string;
  requests: Captured[];
  close(): Promise<void>;
}

/**
 * Starts a fake subscriber that answers every request with `status`.
 * @param status the status to answer, or a function choosing it per request
 * @param tls serve HTTPS with this key and certificate
 */
export async function fakeSubscriber(
  status: number | ((captured: Captured) => number) = 200,
  tls?: { key: Buffer; cert: Buffer },
): Promise<FakeSubscriber> {
  const requests: Captured[] = [];
  const onRequest = (request: http.IncomingMessage, response: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const captured: Captured = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        encrypted: 'encrypted' in request.socket && request.socket.encrypted === true,
      };
      requests.push(captured);
      const code = typeof status === 'function' ? status(captured) : status;
      response.writeHead(code, { 'Content-Type': 'application/json' });
      response.end(
        code < 300
          ? ''
          : JSON.stringify({ id: 'fake', code, detail: 'fake failure', status: 'Failure' }),
      );
    });
  };
  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A `127.0.0.1:<port>` where nothing listens (a port that was just freed). */
export async function deadAddress(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${port}`;
}

/** Collects the events a handler gets. */
export function inbox(): { events: Event[]; bodies(): string[]; handler(event: Event): void } {
  const events: Event[] = [];
  return {
    events,
    bodies: () => events.map((e) => Buffer.from(e.message.body).toString('utf8')),
    handler: (event) => {
      events.push(event);
    },
  };
}

const TLS_DIR = join(__dirname, 'fixtures', 'tls');

/** Test certificates (see fixtures/tls/README.md): a CA and leaves signed by it. */
export const certs = {
  ca: readFileSync(join(TLS_DIR, 'ca.pem')),
  /** SAN IP:127.0.0.1, DNS:localhost. */
  broker: {
    cert: readFileSync(join(TLS_DIR, 'broker.pem')),
    key: readFileSync(join(TLS_DIR, 'broker.key')),
  },
  /** SAN DNS:broker.internal only. */
  fleet: {
    cert: readFileSync(join(TLS_DIR, 'fleet.pem')),
    key: readFileSync(join(TLS_DIR, 'fleet.key')),
  },
};
