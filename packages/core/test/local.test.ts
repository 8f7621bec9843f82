import { afterEach, describe, expect, it } from '@jest/globals';
import {
  type Context,
  createMemoryBroker,
  createMemoryRegistry,
  createMemoryTransport,
  createService,
  isMicroError,
  MicroError,
  type MicroService,
  silentLogger,
  stream,
  type Transport,
} from '../src/index.js';
import { eventually } from './helpers.js';

const services: MicroService[] = [];
afterEach(async () => {
  for (const service of services.splice(0)) await service.stop();
});

function counting(inner: Transport): Transport & { dials: number } {
  const transport = {
    name: inner.name,
    dials: 0,
    dial: (address: string) => {
      transport.dials++;
      return inner.dial(address);
    },
    listen: (address: string) => inner.listen(address),
    close: () => inner.close(),
  };
  return transport;
}

async function pair(handler: object) {
  const components = {
    registry: createMemoryRegistry(),
    broker: createMemoryBroker(),
    transport: counting(createMemoryTransport()),
  };
  const server = await createService({
    name: 'local',
    logger: silentLogger,
    shutdownTimeout: 200,
    ...components,
  });
  server.handle(handler, { name: 'Thing' });
  await server.start();
  const caller = await createService({
    name: 'caller',
    logger: silentLogger,
    client: { local: true },
    ...components,
  });
  await caller.start();
  services.push(caller, server);
  return { server, caller, transport: components.transport };
}

async function failure(promise: Promise<unknown>): Promise<MicroError> {
  try {
    await promise;
  } catch (error) {
    if (isMicroError(error)) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('local calls (client option local)', () => {
  it('calls a server in this process without dialing, passing values by reference', async () => {
    const when = new Date('2026-11-21T00:00:00Z');
    const { caller, transport } = await pair({
      Echo: async (request: { when: Date }, context: Context) => ({
        same: request,
        remote: context.remote,
        tenant: context.metadata.get('x-tenant'),
      }),
    });
    const request = { when };
    const reply = await caller.client.call<{
      same: { when: Date };
      remote: string;
      tenant: string;
    }>('local', 'Thing.Echo', request, { metadata: { 'X-Tenant': 'acme' } });
    expect(reply.same).toBe(request);
    expect(reply.same.when).toBeInstanceOf(Date);
    expect([reply.remote, reply.tenant]).toEqual(['local', 'acme']);
    expect(transport.dials).toBe(0);
  });

  it('answers errors exactly as over a transport', async () => {
    const { caller } = await pair({
      Conflict: async () => {
        throw new MicroError('local', 'taken', 409);
      },
      Crash: async () => {
        throw new Error('boom');
      },
    });
    expect((await failure(caller.client.call('local', 'Thing.Conflict', {}))).toJSON()).toEqual({
      id: 'local',
      code: 409,
      detail: 'taken',
      status: 'Conflict',
    });
    const crash = await failure(caller.client.call('local', 'Thing.Crash', {}));
    expect([crash.code, crash.detail]).toEqual([500, 'boom']);
    expect((await failure(caller.client.call('local', 'Thing.Missing', {}))).code).toBe(404);
  });

  it("answers 408 at the deadline and aborts the handler's signal with it", async () => {
    let reason: unknown;
    const { caller } = await pair({
      Wait: (_request: unknown, context: Context) =>
        new Promise((resolve) => {
          context.signal.addEventListener('abort', () => {
            reason = context.signal.reason;
            resolve('late');
          });
        }),
    });
    expect(
      (await failure(caller.client.call('local', 'Thing.Wait', {}, { timeout: 100 }))).code,
    ).toBe(408);
    await eventually('the handler signal', () => reason !== undefined);
    expect(isMicroError(reason) && reason.code).toBe(408);
  });

  it('refuses with 503 while the server drains', async () => {
    let release!: () => void;
    const { server, caller } = await pair({
      Slow: () =>
        new Promise((resolve) => {
          release = () => resolve('done');
        }),
      Fast: async () => 'fast',
    });
    const slow = caller.client.call('local', 'Thing.Slow', {});
    await eventually('the slow call to start', () => release !== undefined);
    const stopping = server.stop();
    // stop() deregisters first, then drains: from then on, new calls are refused.
    let refused: MicroError | undefined;
    while (!refused) {
      refused = await caller.client
        .call('local', 'Thing.Fast', {}, { address: server.node!.address, retries: 0 })
        .then(
          () => undefined,
          (error: MicroError) => error,
        );
    }
    expect(refused.code).toBe(503);
    release();
    await expect(slow).resolves.toBe('done');
    await stopping;
  });

  it('keeps streams on the transport', async () => {
    const { caller, transport } = await pair({
      Chat: stream<number, number>(async (s) => {
        for await (const n of s) await s.send(n + 1);
      }),
    });
    const chat = await caller.client.stream<number, number>('local', 'Thing.Chat');
    await chat.send(1);
    await expect(chat.recv()).resolves.toBe(2);
    await chat.close();
    expect(transport.dials).toBe(1);
  });
});
