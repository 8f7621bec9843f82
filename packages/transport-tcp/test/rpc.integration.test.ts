import { afterEach, describe, expect, it } from '@jest/globals';
import {
  type Context,
  createMemoryBroker,
  createMemoryRegistry,
  createService,
  isMicroError,
  MicroError,
  type MicroService,
  silentLogger,
  stream,
} from '@micro/core';
import { createTcpTransport, type TcpTransport } from '../src/index.js';
import { mutualTlsOptions } from './helpers.js';

// Core's RPC server and client over this transport, in one process (the core owner
// adds the cross-process end-to-end test).

class Greeter {
  async Hello(request: { name: string }) {
    return { msg: `Hello ${request.name}` };
  }

  async Fail(request: { code: number }) {
    throw new MicroError('helloworld', 'refused on purpose', request.code);
  }

  async Tenant(_request: unknown, context: Context) {
    return { tenant: context.metadata.get('x-tenant') };
  }

  Chat = stream<{ text: string }, { text: string }>(async (s) => {
    for await (const message of s) await s.send({ text: message.text.toUpperCase() });
  });

  Count = stream<{ to: number }, { n: number }>(async (s) => {
    const first = await s.recv();
    for (let n = 1; n <= (first?.to ?? 0); n++) await s.send({ n });
  });
}

describe('core RPC over TcpTransport', () => {
  const services: MicroService[] = [];
  const transports: TcpTransport[] = [];
  afterEach(async () => {
    for (const service of services.splice(0)) await service.stop();
    for (const transport of transports.splice(0)) await transport.close();
  });

  async function pair(options: Parameters<typeof createTcpTransport>[0] = {}) {
    const registry = createMemoryRegistry();
    const broker = createMemoryBroker();
    const serverTransport = createTcpTransport({ logger: silentLogger, ...options });
    const clientTransport = createTcpTransport({ logger: silentLogger, ...options });
    transports.push(serverTransport, clientTransport);
    const server = await createService({
      name: 'helloworld',
      logger: silentLogger,
      registry,
      broker,
      transport: serverTransport,
    });
    server.handle(new Greeter());
    await server.start();
    const caller = await createService({
      name: 'caller',
      logger: silentLogger,
      registry,
      broker,
      transport: clientTransport,
    });
    await caller.start();
    services.push(caller, server);
    return { client: caller.client, clientTransport, serverTransport };
  }

  it('makes unary calls, many at once, over one connection', async () => {
    const { client, clientTransport } = await pair();
    await expect(client.call('helloworld', 'Greeter.Hello', { name: 'John' })).resolves.toEqual({
      msg: 'Hello John',
    });
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        client.call('helloworld', 'Greeter.Hello', { name: `n${i}` }),
      ),
    );
    expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => ({ msg: `Hello n${i}` })));
    // The caller's own server listens too; dialed connections: just the one to helloworld.
    expect(clientTransport.stats().connections).toBe(1);
  });

  it('carries errors and metadata', async () => {
    const { client } = await pair();
    const error = await client
      .call('helloworld', 'Greeter.Fail', { code: 409 })
      .catch((e: unknown) => e);
    expect(isMicroError(error) && [error.code, error.detail]).toEqual([409, 'refused on purpose']);
    await expect(
      client.call('helloworld', 'Greeter.Tenant', {}, { metadata: { 'X-Tenant': 'acme' } }),
    ).resolves.toEqual({ tenant: 'acme' });
  });

  it('streams both ways and from the server', async () => {
    const { client } = await pair();
    const chat = await client.stream<{ text: string }, { text: string }>(
      'helloworld',
      'Greeter.Chat',
    );
    for (const text of ['a', 'b', 'c']) {
      await chat.send({ text });
      await expect(chat.recv()).resolves.toEqual({ text: text.toUpperCase() });
    }
    await chat.close();
    const count = await client.stream<{ to: number }, { n: number }>('helloworld', 'Greeter.Count');
    await count.send({ to: 3 });
    const seen: number[] = [];
    for await (const value of count) seen.push(value.n);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('works over mutual TLS', async () => {
    const { client } = await pair({ tls: mutualTlsOptions });
    await expect(client.call('helloworld', 'Greeter.Hello', { name: 'TLS' })).resolves.toEqual({
      msg: 'Hello TLS',
    });
  });
});
