import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isMicroError, type Registry, type Service, silentLogger } from '@micro/core';
import { rejection } from '@micro/testing';
import {
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCInvalidArgumentError,
  GRPCResourceExhastedError,
  GRPCUnavailableError,
} from 'etcd3';
import { toMicroError } from '../src/errors.js';
import { createEtcdRegistry, EtcdRegistry } from '../src/index.js';

const service: Service = {
  name: 'helloworld',
  version: 'latest',
  nodes: [{ id: 'helloworld-1', address: '127.0.0.1:4000', metadata: {} }],
};

async function codeOf(promise: Promise<unknown>): Promise<number | string> {
  const error = await rejection(promise);
  return isMicroError(error) ? error.code : String(error);
}

function listen(onConnection: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer(onConnection);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

describe('EtcdRegistry without a server', () => {
  const registries: Registry[] = [];
  const open = (port: number, timeout: number) => {
    const registry = createEtcdRegistry({
      addresses: [`127.0.0.1:${port}`],
      timeout,
      logger: silentLogger,
    });
    registries.push(registry);
    return registry;
  };
  let refusedPort = 0;
  let silent: Server;
  let silentPort = 0;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    const closed = await listen(() => {});
    refusedPort = closed.port;
    await new Promise((resolve) => closed.server.close(resolve));
    // accepts TCP and never speaks HTTP/2: a hung etcd, or a black-holed network
    const hung = await listen((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    silent = hung.server;
    silentPort = hung.port;
  });

  afterAll(async () => {
    for (const registry of registries) await registry.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('is named etcd, as go-micro names it in node metadata', () => {
    expect(open(refusedPort, 1_000).name).toBe('etcd');
    expect(open(refusedPort, 1_000)).toBeInstanceOf(EtcdRegistry);
  });

  it('answers 503 at once when nothing listens', async () => {
    const registry = open(refusedPort, 5_000);
    const started = Date.now();
    expect(await codeOf(registry.getService('helloworld'))).toBe(503);
    expect(await codeOf(registry.listServices())).toBe(503);
    expect(await codeOf(registry.register(service, { ttl: 10_000 }))).toBe(503);
    expect(await codeOf(registry.watch())).toBe(503);
    expect(await codeOf(registry.deregister(service))).toBe(503);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('answers 503 within its timeout when the server never answers', async () => {
    const registry = open(silentPort, 400);
    for (const call of [
      () => registry.getService('helloworld'),
      () => registry.listServices(),
      () => registry.register(service, { ttl: 10_000 }),
      () => registry.watch(),
    ]) {
      const started = Date.now();
      const error = await rejection(call());
      const took = Date.now() - started;
      expect(isMicroError(error) && error.code).toBe(503);
      expect(isMicroError(error) && error.detail).toMatch(/etcd unreachable/);
      expect(took).toBeGreaterThanOrEqual(350);
      expect(took).toBeLessThan(1_500);
    }
  });

  it('rejects malformed input with a 400 before talking to etcd', async () => {
    const registry = open(silentPort, 5_000);
    expect(await codeOf(registry.register({ ...service, nodes: [] }))).toBe(400);
    expect(await codeOf(registry.register({ ...service, name: '' }))).toBe(400);
    expect(await codeOf(registry.register(service, { ttl: -1 }))).toBe(400);
    expect(await codeOf(registry.register(service, { ttl: Number.NaN }))).toBe(400);
    expect(
      await codeOf(
        registry.register({
          ...service,
          nodes: [{ id: 'n', address: 'a', metadata: { port: 1 as unknown as string } }],
        }),
      ),
    ).toBe(400);
    expect(
      await codeOf(registry.register({ ...service, nodes: [{ id: '..', address: 'a' }] })),
    ).toBe(400);
    expect(await codeOf(registry.getService(''))).toBe(400);
    expect(await codeOf(registry.deregister({ ...service, nodes: undefined as never }))).toBe(400);
  });

  it('rejects malformed options with a 400', () => {
    expect(() => createEtcdRegistry({ addresses: ['etcd:x'] })).toThrow(/invalid port/);
    expect(() => createEtcdRegistry({ timeout: -5 })).toThrow(/timeout/);
  });

  it('answers 503 once closed, and closes twice without complaint', async () => {
    const registry = open(refusedPort, 1_000);
    await registry.close();
    await registry.close();
    expect(await codeOf(registry.getService('helloworld'))).toBe(503);
    expect(await codeOf(registry.register(service))).toBe(503);
  });
});

describe('toMicroError', () => {
  it('maps etcd3 failures to the codes callers act on, keeping the cause', () => {
    const cases: [Error, number][] = [
      [new GRPCUnavailableError('14 UNAVAILABLE: No connection established'), 503],
      [new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED'), 503],
      [new GRPCResourceExhastedError('8 RESOURCE_EXHAUSTED: etcdserver: too many requests'), 503],
      [new GRPCInvalidArgumentError('3 INVALID_ARGUMENT: etcdserver: request is too large'), 413],
      [new GRPCResourceExhastedError('Received message larger than max (5 vs 4)'), 413],
      [new GRPCInvalidArgumentError('3 INVALID_ARGUMENT: etcdserver: key is not provided'), 400],
      [new EtcdAuthenticationFailedError('etcdserver: authentication failed'), 401],
      [new EtcdPermissionDeniedError('etcdserver: permission denied'), 403],
      [new Error('something else'), 500],
    ];
    for (const [error, code] of cases) {
      const mapped = toMicroError(error, 'get service x');
      expect([error.message, mapped.code]).toEqual([error.message, code]);
      expect(mapped.id).toBe('go.micro.registry');
      expect(mapped.cause).toBe(error);
    }
  });
});
