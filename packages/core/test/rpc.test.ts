import { afterEach, describe, expect, it } from '@jest/globals';
import {
  type Context,
  createMemoryBroker,
  createMemoryRegistry,
  createMemoryTransport,
  createService,
  isMicroError,
  type MicroError,
  MicroError as MicroErrorClass,
  type MicroService,
  type Registry,
  type ServerStream,
  type ServiceOptions,
  silentLogger,
  stream,
  type Transport,
} from '../src/index.js';
import { eventually } from './helpers.js';

const services: MicroService[] = [];

afterEach(async () => {
  for (const service of services.splice(0)) await service.stop();
});

async function start(options: ServiceOptions & { name: string }, ...handlers: object[]) {
  const service = await createService({ logger: silentLogger, ...options });
  for (const handler of handlers) service.handle(handler);
  await service.start();
  services.push(service);
  return service;
}

function isolated() {
  return {
    registry: createMemoryRegistry(),
    broker: createMemoryBroker(),
    transport: createMemoryTransport(),
  };
}

async function failure(promise: Promise<unknown>): Promise<MicroError> {
  try {
    await promise;
  } catch (error) {
    if (isMicroError(error)) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

class Greeter {
  async Hello(request: { name: string }) {
    return { msg: `Hello ${request.name}` };
  }

  async Fail(request: { code: number }) {
    if (request.code) throw new MicroErrorClass('helloworld', 'refused on purpose', request.code);
    throw new Error('database exploded');
  }

  async Metadata(_request: unknown, context: Context) {
    return {
      tenant: context.metadata.get('x-tenant'),
      service: context.service,
      endpoint: context.endpoint,
      hasDeadline: context.deadline !== undefined,
      remote: context.remote,
    };
  }

  Chat = stream<{ text: string }, { text: string }>(async (s) => {
    for await (const message of s) await s.send({ text: message.text.toUpperCase() });
  });

  Count = stream<{ to: number }, { n: number }>(async (s) => {
    const first = await s.recv();
    for (let n = 1; n <= (first?.to ?? 0); n++) await s.send({ n });
  });
}

describe('unary calls', () => {
  it('calls a handler method as <Handler>.<Method> and returns its result', async () => {
    const components = isolated();
    await start({ name: 'helloworld', ...components }, new Greeter());
    const client = (await start({ name: 'caller', ...components })).client;
    await expect(client.call('helloworld', 'Greeter.Hello', { name: 'John' })).resolves.toEqual({
      msg: 'Hello John',
    });
  });

  it('serves a plain object of async methods under the given name', async () => {
    const components = isolated();
    const service = await createService({ name: 'math', logger: silentLogger, ...components });
    service.handle(
      { Add: async (r: { a: number; b: number }) => ({ sum: r.a + r.b }) },
      { name: 'Calc' },
    );
    await service.start();
    services.push(service);
    await expect(service.client.call('math', 'Calc.Add', { a: 2, b: 3 })).resolves.toEqual({
      sum: 5,
    });
  });

  it('refuses a plain object without a name', async () => {
    const service = await createService({ name: 'x', logger: silentLogger, ...isolated() });
    expect(() => service.handle({ Add: async () => 1 })).toThrow(/name/);
  });

  it('gives handlers the metadata, service, endpoint, deadline and caller address', async () => {
    const components = isolated();
    const service = await start({ name: 'helloworld', ...components }, new Greeter());
    const result = await service.client.call(
      'helloworld',
      'Greeter.Metadata',
      {},
      {
        metadata: { 'X-Tenant': 'acme' },
      },
    );
    expect(result).toEqual({
      tenant: 'acme',
      service: 'helloworld',
      endpoint: 'Greeter.Metadata',
      hasDeadline: true,
      remote: expect.stringMatching(/\S/),
    });
  });

  it('offers a typed client inferred from the handler class', async () => {
    const components = isolated();
    const service = await start({ name: 'helloworld', ...components }, new Greeter());
    const greeter = service.client.service<{ Greeter: Greeter }>('helloworld');
    const reply: { msg: string } = await greeter.Greeter.Hello({ name: 'Typed' });
    expect(reply.msg).toBe('Hello Typed');
    const chat = await greeter.Greeter.Chat.stream();
    await chat.send({ text: 'hi' });
    await expect(chat.recv()).resolves.toEqual({ text: 'HI' });
    await chat.close();
  });

  it('calls a direct address without the registry', async () => {
    const components = isolated();
    const server = await start({ name: 'helloworld', ...components }, new Greeter());
    const caller = await start({ name: 'caller', ...isolated(), transport: components.transport });
    await expect(
      caller.client.call(
        'helloworld',
        'Greeter.Hello',
        { name: 'Direct' },
        { address: server.server.address },
      ),
    ).resolves.toEqual({ msg: 'Hello Direct' });
  });
});

describe('go-micro pooled sockets', () => {
  it('serves several unary calls sent one after another on one conversation', async () => {
    const components = isolated();
    const service = await start({ name: 'helloworld', ...components }, new Greeter());
    // go-micro's client pool sends its next call on the same socket once the reply came.
    const socket = await components.transport.dial(service.server.address);
    for (const name of ['first', 'second', 'third']) {
      await socket.send({
        header: {
          'Micro-Endpoint': 'Greeter.Hello',
          'Content-Type': 'application/json',
          'Micro-Id': name,
        },
        body: Buffer.from(JSON.stringify({ name })),
      });
      const reply = await socket.recv();
      expect(reply.header['Micro-Id']).toBe(name);
      expect(JSON.parse(Buffer.from(reply.body).toString())).toEqual({ msg: `Hello ${name}` });
    }
    await socket.close();
  });
});

describe('errors', () => {
  it('answers 404 naming the endpoint for an unknown handler or method', async () => {
    const components = isolated();
    const service = await start({ name: 'helloworld', ...components }, new Greeter());
    const error = await failure(service.client.call('helloworld', 'Greeter.Nope', {}));
    expect(error.code).toBe(404);
    expect(error.detail).toContain('Greeter.Nope');
    expect((await failure(service.client.call('helloworld', 'Nobody.Hello', {}))).code).toBe(404);
  });

  it('answers 404 for an unknown service without retrying', async () => {
    const service = await start({ name: 'caller', ...isolated() });
    const started = Date.now();
    const error = await failure(service.client.call('nowhere', 'Greeter.Hello', {}));
    expect(error.code).toBe(404);
    expect(error.detail).toContain('nowhere');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('passes a thrown MicroError through unchanged', async () => {
    const components = isolated();
    const service = await start({ name: 'helloworld', ...components }, new Greeter());
    const error = await failure(service.client.call('helloworld', 'Greeter.Fail', { code: 409 }));
    expect(error.toJSON()).toEqual({
      id: 'helloworld',
      code: 409,
      detail: 'refused on purpose',
      status: 'Conflict',
    });
  });

  it('answers any other throw with 500 and its message, and keeps serving', async () => {
    const components = isolated();
    const service = await start({ name: 'helloworld', ...components }, new Greeter());
    const error = await failure(service.client.call('helloworld', 'Greeter.Fail', { code: 0 }));
    expect(error.code).toBe(500);
    expect(error.detail).toBe('database exploded');
    await expect(
      service.client.call('helloworld', 'Greeter.Hello', { name: 'after' }),
    ).resolves.toEqual({
      msg: 'Hello after',
    });
  });

  it('answers an undecodable body with 400 and an unknown content type with 415', async () => {
    const components = isolated();
    const service = await start({ name: 'helloworld', ...components }, new Greeter());
    const socket = await components.transport.dial(service.server.address);
    await socket.send({
      header: { 'Micro-Endpoint': 'Greeter.Hello', 'Content-Type': 'application/json' },
      body: Buffer.from('{"name": '),
    });
    const reply = await socket.recv();
    const bad = JSON.parse(reply.header['Micro-Error']!);
    expect(bad.code).toBe(400);
    expect(bad.detail).toMatch(/cannot decode application\/json/);

    const other = await components.transport.dial(service.server.address);
    await other.send({
      header: { 'micro-endpoint': 'Greeter.Hello', 'content-type': 'application/x-yaml' },
      body: Buffer.from('name: x'),
    });
    const unsupported = JSON.parse((await other.recv()).header['Micro-Error']!);
    expect(unsupported.code).toBe(415);
    expect(unsupported.detail).toContain('application/json');
  });
});

describe('deadlines', () => {
  it('answers 408 when the deadline passes and aborts the handler signal', async () => {
    const components = isolated();
    let aborted: unknown;
    const service = await createService({ name: 'slow', logger: silentLogger, ...components });
    service.handle(
      {
        Wait: (_req: unknown, ctx: Context) =>
          new Promise((resolve) => {
            ctx.signal.addEventListener('abort', () => {
              aborted = ctx.signal.reason;
              resolve('late');
            });
          }),
      },
      { name: 'Sleeper' },
    );
    await service.start();
    services.push(service);
    const started = Date.now();
    const error = await failure(service.client.call('slow', 'Sleeper.Wait', {}, { timeout: 200 }));
    expect(error.code).toBe(408);
    expect(Date.now() - started).toBeLessThan(1_000);
    await eventually('the handler signal to abort', () => aborted !== undefined);
    expect(isMicroError(aborted) && aborted.code).toBe(408);
  });

  it('sends the remaining budget downstream in nanoseconds and caps nested calls by it', async () => {
    const components = isolated();
    let seen: string | undefined;
    let nested: MicroError | undefined;
    const service = await createService({
      name: 'chain',
      logger: silentLogger,
      shutdownTimeout: 100,
      ...components,
    });
    service.handle(
      {
        Inner: async (_req: unknown, ctx: Context) => {
          seen = ctx.metadata.get('timeout');
          return new Promise(() => {});
        },
        Outer: async (_req: unknown, ctx: Context) => {
          nested = await failure(service.client.call('chain', 'Hop.Inner', {}, { context: ctx }));
          return { nested: nested.code };
        },
      },
      { name: 'Hop' },
    );
    await service.start();
    services.push(service);
    const started = Date.now();
    await failure(service.client.call('chain', 'Hop.Outer', {}, { timeout: 300, retries: 0 }));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(Number(seen)).toBeGreaterThan(0);
    expect(Number(seen)).toBeLessThanOrEqual(300 * 1e6);
  });

  it('answers 499 when the caller aborts', async () => {
    const components = isolated();
    const service = await createService({
      name: 'slow',
      logger: silentLogger,
      shutdownTimeout: 100,
      ...components,
    });
    service.handle({ Wait: () => new Promise(() => {}) }, { name: 'Sleeper' });
    await service.start();
    services.push(service);
    const controller = new AbortController();
    const call = service.client.call('slow', 'Sleeper.Wait', {}, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect((await failure(call)).code).toBe(499);
  });
});

describe('streams', () => {
  it('streams both ways until the client closes its side', async () => {
    const components = isolated();
    const service = await start({ name: 'helloworld', ...components }, new Greeter());
    const chat = await service.client.stream<{ text: string }, { text: string }>(
      'helloworld',
      'Greeter.Chat',
    );
    const replies: string[] = [];
    const reading = (async () => {
      for await (const reply of chat) replies.push(reply.text);
    })();
    for (const text of ['a', 'b', 'c']) await chat.send({ text });
    await chat.closeSend();
    await reading;
    expect(replies).toEqual(['A', 'B', 'C']);
  });

  it('ends when the server handler returns', async () => {
    const components = isolated();
    const service = await start({ name: 'helloworld', ...components }, new Greeter());
    const count = await service.client.stream<{ to: number }, { n: number }>(
      'helloworld',
      'Greeter.Count',
    );
    await count.send({ to: 3 });
    const seen: number[] = [];
    for await (const { n } of count) seen.push(n);
    expect(seen).toEqual([1, 2, 3]);
    await expect(count.recv()).resolves.toBeUndefined();
  });

  it('delivers a server error to the client and ends the stream', async () => {
    const components = isolated();
    const service = await createService({ name: 'streams', logger: silentLogger, ...components });
    service.handle(
      {
        Boom: stream<number, number>(async (s) => {
          await s.send(1);
          throw new MicroErrorClass('streams', 'stream failed on purpose', 422);
        }),
      },
      { name: 'S' },
    );
    await service.start();
    services.push(service);
    const s = await service.client.stream<number, number>('streams', 'S.Boom');
    await s.send(0);
    await expect(s.recv()).resolves.toBe(1);
    const error = await failure(s.recv());
    expect(error.code).toBe(422);
    expect(error.detail).toBe('stream failed on purpose');
  });

  it('cancels the server handler when the client closes the stream', async () => {
    const components = isolated();
    let cancelled = false;
    let handlerDone!: () => void;
    const done = new Promise<void>((resolve) => {
      handlerDone = resolve;
    });
    const service = await createService({ name: 'streams', logger: silentLogger, ...components });
    service.handle(
      {
        Forever: stream<number, number>(async (s: ServerStream<number, number>, ctx: Context) => {
          ctx.signal.addEventListener('abort', () => {
            cancelled = true;
          });
          try {
            for await (const n of s) await s.send(n);
          } catch {
            // the client went away
          } finally {
            handlerDone();
          }
        }),
      },
      { name: 'S' },
    );
    await service.start();
    services.push(service);
    const s = await service.client.stream<number, number>('streams', 'S.Forever');
    await s.send(7);
    await expect(s.recv()).resolves.toBe(7);
    await s.close();
    await done;
    expect(cancelled).toBe(true);
  });

  it('fails the client stream with 408 past its timeout and with 499 when aborted', async () => {
    const components = isolated();
    const service = await start({ name: 'helloworld', ...components }, new Greeter());
    const timed = await service.client.stream('helloworld', 'Greeter.Chat', { timeout: 100 });
    await timed.send({ text: 'x' });
    await timed.recv();
    expect((await failure(timed.recv())).code).toBe(408);

    const controller = new AbortController();
    const aborted = await service.client.stream('helloworld', 'Greeter.Chat', {
      signal: controller.signal,
    });
    const pending = aborted.recv();
    controller.abort();
    expect((await failure(pending)).code).toBe(499);
  });
});

/** Counts dials per address, so tests can see which nodes a client tried. */
function countingTransport(inner: Transport): Transport & { dials: Map<string, number> } {
  const dials = new Map<string, number>();
  return {
    name: inner.name,
    dials,
    dial: (address, options) => {
      dials.set(address, (dials.get(address) ?? 0) + 1);
      return inner.dial(address, options);
    },
    listen: (address, options) => inner.listen(address, options),
    close: () => inner.close(),
  };
}

describe('retries and node health', () => {
  async function withDeadNode(registry: Registry, name: string) {
    await registry.register(
      { name, version: 'latest', nodes: [{ id: `${name}-dead`, address: '127.0.0.1:1' }] },
      { ttl: 0 },
    );
  }

  it('retries a node that cannot be reached on another one, then avoids it', async () => {
    const components = isolated();
    const transport = countingTransport(components.transport);
    await withDeadNode(components.registry, 'helloworld');
    await start({ name: 'helloworld', ...components, transport }, new Greeter());
    const caller = await start({ name: 'caller', ...components, transport });
    for (let i = 0; i < 50; i++) {
      await expect(
        caller.client.call('helloworld', 'Greeter.Hello', { name: `n${i}` }),
      ).resolves.toEqual({
        msg: `Hello n${i}`,
      });
    }
    expect(transport.dials.get('127.0.0.1:1')).toBe(1);
  });

  it('does not retry an error the handler answered', async () => {
    const components = isolated();
    const transport = countingTransport(components.transport);
    const service = await start({ name: 'helloworld', ...components, transport }, new Greeter());
    await failure(service.client.call('helloworld', 'Greeter.Fail', { code: 500 }));
    expect(transport.dials.get(service.server.address)).toBe(1);
  });

  it('fails with 503 after the retries when no node answers', async () => {
    const components = isolated();
    const transport = countingTransport(components.transport);
    await withDeadNode(components.registry, 'ghost');
    const caller = await start({ name: 'caller', ...components, transport });
    const error = await failure(caller.client.call('ghost', 'Greeter.Hello', {}, { retries: 2 }));
    expect(error.code).toBe(503);
    expect(transport.dials.get('127.0.0.1:1')).toBe(3);
  });

  it('stops sending calls to a node as soon as it deregisters', async () => {
    const components = isolated();
    const served: string[] = [];
    const counting = (name: string) => ({
      Hello: async () => {
        served.push(name);
        return name;
      },
    });
    const first = await createService({ name: 'helloworld', logger: silentLogger, ...components });
    first.handle(counting('first'), { name: 'Greeter' });
    await first.start();
    const second = await createService({ name: 'helloworld', logger: silentLogger, ...components });
    second.handle(counting('second'), { name: 'Greeter' });
    await second.start();
    services.push(first, second);
    const caller = await start({ name: 'caller', ...components });
    for (let i = 0; i < 40; i++) await caller.client.call('helloworld', 'Greeter.Hello', {});
    expect(served).toContain('first');
    await components.registry.deregister({
      name: 'helloworld',
      version: 'latest',
      nodes: [first.node!],
    });
    await new Promise((resolve) => setImmediate(resolve));
    served.length = 0;
    for (let i = 0; i < 50; i++) await caller.client.call('helloworld', 'Greeter.Hello', {});
    expect(served).toEqual(Array(50).fill('second'));
  });
});

describe('graceful shutdown', () => {
  it('finishes in-flight calls, refuses new ones with 503, then deregisters and closes', async () => {
    const components = isolated();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const inHandler = new Promise<void>((resolve) => {
      started = resolve;
    });
    const service = await createService({ name: 'draining', logger: silentLogger, ...components });
    service.handle(
      {
        Slow: async () => {
          started();
          await gate;
          return { done: true };
        },
      },
      { name: 'Work' },
    );
    await service.start();
    const caller = await start({ name: 'caller', ...components });
    const inFlight = caller.client.call('draining', 'Work.Slow', {});
    await inHandler;
    const stopping = service.stop();
    // Deregistration happens first: the service leaves the registry while its call still runs.
    let registered = true;
    while (registered) {
      registered = await components.registry.getService('draining').then(
        () => true,
        () => false,
      );
      await new Promise((resolve) => setImmediate(resolve));
    }
    const refused = await failure(
      caller.client.call(
        'draining',
        'Work.Slow',
        {},
        { address: service.server.address, retries: 0 },
      ),
    );
    expect(refused.code).toBe(503);
    expect(refused.detail).toMatch(/shutting down/);
    release();
    await expect(inFlight).resolves.toEqual({ done: true });
    await stopping;
  });
});

describe('registration', () => {
  it('registers go-micro node metadata and endpoints, stream endpoints marked', async () => {
    const components = isolated();
    const service = await start(
      { name: 'helloworld', version: '1.2.3', metadata: { zone: 'eu' }, ...components },
      new Greeter(),
    );
    const [record] = await components.registry.getService('helloworld');
    expect(record!.version).toBe('1.2.3');
    const node = record!.nodes[0]!;
    expect(node.id).toMatch(/^helloworld-[0-9a-f-]{36}$/);
    expect(node.id).toBe(service.id);
    expect(node.address).toBe(service.server.address);
    expect(node.metadata).toEqual({
      zone: 'eu',
      protocol: 'mucp',
      server: 'mucp',
      transport: 'memory',
      broker: 'memory',
      registry: 'memory',
    });
    const endpoints = Object.fromEntries(record!.endpoints!.map((e) => [e.name, e.metadata]));
    expect(endpoints['Greeter.Hello']).toEqual({});
    expect(endpoints['Greeter.Chat']).toEqual({ stream: 'true' });
  });

  it('re-registers every interval so the record outlives its TTL', async () => {
    const components = isolated();
    await start(
      { name: 'renewing', registerTtl: 150, registerInterval: 50, ...components },
      new Greeter(),
    );
    // Five TTLs pass; without renewal the record would be gone after the first.
    const until = Date.now() + 750;
    while (Date.now() < until) {
      await expect(components.registry.getService('renewing')).resolves.toHaveLength(1);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  });
});

describe('publish and subscribe', () => {
  it('delivers published messages decoded, with headers, to subscribers and queue groups', async () => {
    const components = isolated();
    const got: { payload: unknown; topic: string; contentType: string; id?: string }[] = [];
    const grouped: unknown[] = [];
    const service = await createService({ name: 'events', logger: silentLogger, ...components });
    service.subscribe('user.created', async (payload, ctx) => {
      got.push({
        payload,
        topic: ctx.topic,
        contentType: ctx.contentType,
        id: ctx.metadata.get('micro-id'),
      });
    });
    service.subscribe(
      'user.created',
      async (payload) => {
        grouped.push(payload);
      },
      { queue: 'workers' },
    );
    service.subscribe(
      'user.created',
      async (payload) => {
        grouped.push(payload);
      },
      { queue: 'workers' },
    );
    await service.start();
    services.push(service);
    await service.client.publish('user.created', { id: 42 });
    await eventually('both deliveries', () => got.length >= 1 && grouped.length >= 1);
    expect(got).toEqual([
      {
        payload: { id: 42 },
        topic: 'user.created',
        contentType: 'application/json',
        id: expect.any(String),
      },
    ]);
    expect(grouped).toEqual([{ id: 42 }]);
    const [record] = await components.registry.getService('events');
    expect(
      record!.endpoints!.some(
        (e) => e.metadata?.subscriber === 'true' && e.metadata.topic === 'user.created',
      ),
    ).toBe(true);
  });
});

describe('a broker shared by services', () => {
  it('stays connected until the last service using it stops', async () => {
    const components = isolated();
    const received: unknown[] = [];
    const first = await createService({ name: 'first', logger: silentLogger, ...components });
    first.subscribe('news', (payload) => {
      received.push(payload);
    });
    await first.start();
    const second = await createService({ name: 'second', logger: silentLogger, ...components });
    await second.start();
    await second.stop();
    await first.client.publish('news', { n: 1 });
    await eventually('delivery after the other service stopped', () => received.length === 1);
    await first.stop();
    await expect(
      components.broker.publish('news', { header: {}, body: new Uint8Array() }),
    ).rejects.toThrow(/not connected/);
  });
});

describe('wrappers', () => {
  it('runs call, handler and subscriber wrappers in order', async () => {
    const components = isolated();
    const order: string[] = [];
    const service = await createService({
      name: 'wrapped',
      logger: silentLogger,
      ...components,
      wrappers: {
        call: [
          (next) => async (request) => {
            order.push(`call:${request.endpoint}`);
            return next({
              ...request,
              options: { ...request.options, metadata: { 'X-Auth': 'token' } },
            });
          },
        ],
        handler: [
          (next) => async (request) => {
            order.push(`handler:${request.endpoint}:${request.context.metadata.get('x-auth')}`);
            const result = (await next(request)) as { msg: string };
            return { msg: `${result.msg}!` };
          },
        ],
        subscriber: [
          (next) => async (message) => {
            order.push(`subscriber:${message.topic}`);
            await next(message);
          },
        ],
      },
    });
    service.handle(new Greeter());
    let delivered = false;
    service.subscribe('t', () => {
      delivered = true;
    });
    await service.start();
    services.push(service);
    await expect(service.client.call('wrapped', 'Greeter.Hello', { name: 'W' })).resolves.toEqual({
      msg: 'Hello W!',
    });
    await service.client.publish('t', {});
    await eventually('the subscriber', () => delivered);
    expect(order).toEqual(['call:Greeter.Hello', 'handler:Greeter.Hello:token', 'subscriber:t']);
  });
});
