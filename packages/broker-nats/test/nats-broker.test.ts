import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { isMicroError } from '@micro/core';
import { recordingLogger, rejection, within } from '@micro/testing';
import { createNatsBroker, NatsBroker } from '../src/index.js';

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

const code = (error: unknown) => (isMicroError(error) ? error.code : error);

describe('NatsBroker without a server', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const server of servers.splice(0)) server.close();
  });

  it("is named nats and reports go-micro's default address", () => {
    const broker = createNatsBroker({ logger: recordingLogger() });
    expect(broker).toBeInstanceOf(NatsBroker);
    expect(broker.name).toBe('nats');
    expect(broker.address).toBe('nats://127.0.0.1:4222');
    expect(broker.connected).toBe(false);
    expect(createNatsBroker({ addresses: ['n1:4222'], logger: recordingLogger() }).address).toBe(
      'nats://n1:4222',
    );
  });

  it('throws a 400 for an address it cannot use', () => {
    let error: unknown;
    try {
      createNatsBroker({ addresses: ['ws://n1:80'] });
    } catch (caught) {
      error = caught;
    }
    expect(code(error)).toBe(400);
  });

  it('rejects publish and subscribe with 503 before connect, and bad topics with 400', async () => {
    const broker = createNatsBroker({ logger: recordingLogger() });
    const message = { header: {}, body: Buffer.from('x') };
    expect(code(await rejection(broker.publish('t', message)))).toBe(503);
    expect(code(await rejection(broker.subscribe('t', () => {})))).toBe(503);
    expect(code(await rejection(broker.publish('bad topic', message)))).toBe(400);
    expect(code(await rejection(broker.subscribe('', () => {})))).toBe(400);
    await broker.disconnect();
  });

  it('fails connect() with 503 at once when nothing listens', async () => {
    const port = await closedPort();
    const broker = createNatsBroker({
      addresses: [`nats://127.0.0.1:${port}`],
      logger: recordingLogger(),
    });
    const started = Date.now();
    const error = await within(rejection(broker.connect()), 5_000, 'connect');
    expect(code(error)).toBe(503);
    expect(String((error as Error).message)).toContain(`127.0.0.1:${port}`);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('fails connect() with 503 within timeout when the server accepts but never speaks', async () => {
    const server = createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const broker = createNatsBroker({
      addresses: [`nats://127.0.0.1:${port}`],
      timeout: 300,
      logger: recordingLogger(),
    });
    const started = Date.now();
    const error = await within(rejection(broker.connect()), 5_000, 'connect');
    const elapsed = Date.now() - started;
    expect(code(error)).toBe(503);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('tries every address before failing, each within timeout', async () => {
    const server = createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const broker = createNatsBroker({
      addresses: [`127.0.0.1:${await closedPort()}`, `127.0.0.1:${port}`],
      timeout: 300,
      logger: recordingLogger(),
    });
    const started = Date.now();
    expect(code(await within(rejection(broker.connect()), 5_000, 'connect'))).toBe(503);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
