import { afterEach, describe, expect, it } from '@jest/globals';
import {
  createMemoryBroker,
  createMemoryRegistry,
  createMemoryTransport,
  createService,
  isMicroError,
  type MicroService,
  type ServiceOptions,
  silentLogger,
  type Transport,
} from '../src/index.js';

const services: MicroService[] = [];
afterEach(async () => {
  for (const service of services.splice(0)) await service.stop();
});

function counting(inner: Transport) {
  const transport = {
    name: inner.name,
    dials: 0,
    dial: (address: string, options?: Parameters<Transport['dial']>[1]) => {
      transport.dials++;
      return inner.dial(address, options);
    },
    listen: (address: string) => inner.listen(address),
    close: () => inner.close(),
  };
  return transport;
}

const handler = {
  Hello: async (request: { name: string }) => ({ msg: `Hello ${request.name}` }),
  // Ignores its deadline, so only the client can give up.
  Stuck: () => new Promise(() => {}),
};

async function setup(client: ServiceOptions['client'] = {}) {
  const components = {
    registry: createMemoryRegistry(),
    broker: createMemoryBroker(),
    transport: counting(createMemoryTransport()),
  };
  const server = await createService({
    name: 'pooled',
    logger: silentLogger,
    shutdownTimeout: 100,
    ...components,
  });
  server.handle(handler, { name: 'Greeter' });
  await server.start();
  const caller = await createService({
    name: 'caller',
    logger: silentLogger,
    client,
    ...components,
  });
  await caller.start();
  services.push(caller, server);
  return { server, caller, components };
}

describe('client conversation pool', () => {
  it('reuses one conversation for calls made one after another', async () => {
    const { caller, components } = await setup();
    for (let i = 0; i < 10; i++) {
      await expect(
        caller.client.call('pooled', 'Greeter.Hello', { name: `n${i}` }),
      ).resolves.toEqual({
        msg: `Hello n${i}`,
      });
    }
    expect(components.transport.dials).toBe(1);
  });

  it('dials for every call with a pool size of 0', async () => {
    const { caller, components } = await setup({ poolSize: 0 });
    for (let i = 0; i < 5; i++) await caller.client.call('pooled', 'Greeter.Hello', { name: 'x' });
    expect(components.transport.dials).toBe(5);
  });

  it('does not pool a conversation the caller gave up on', async () => {
    const { caller, components } = await setup();
    const error = await caller.client
      .call('pooled', 'Greeter.Stuck', {}, { timeout: 50, retries: 0 })
      .catch((e) => e);
    expect(isMicroError(error) && error.code).toBe(408);
    await caller.client.call('pooled', 'Greeter.Hello', { name: 'after' });
    expect(components.transport.dials).toBe(2);
  });

  it('replaces a pooled conversation the server closed, without failing the call or the node', async () => {
    const { server, caller, components } = await setup();
    await caller.client.call('pooled', 'Greeter.Hello', { name: 'first' });
    const address = server.server.address;
    await server.stop();
    const again = await createService({
      name: 'pooled',
      logger: silentLogger,
      address,
      ...components,
    });
    again.handle(handler, { name: 'Greeter' });
    await again.start();
    services.push(again);
    await expect(
      caller.client.call('pooled', 'Greeter.Hello', { name: 'second' }, { retries: 0 }),
    ).resolves.toEqual({ msg: 'Hello second' });
    expect(components.transport.dials).toBe(2);
  });

  it('closes idle conversations when the client closes', async () => {
    const { caller, server, components } = await setup();
    await caller.client.call('pooled', 'Greeter.Hello', { name: 'x' });
    await caller.client.close();
    // The server drains at once: no conversation of the caller is left open on it.
    const started = Date.now();
    await server.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    await caller.client.call('pooled', 'Greeter.Hello', { name: 'y' }).catch(() => undefined);
    expect(components.transport.dials).toBeGreaterThanOrEqual(1);
  });
});
