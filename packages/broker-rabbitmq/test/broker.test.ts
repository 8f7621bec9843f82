// The broker's behaviour without a RabbitMQ server: bounded failures, clear codes.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isMicroError, silentLogger } from '@micro/core';
import { rejection, within } from '@micro/testing';
import { createRabbitMQBroker } from '../src/index.js';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

describe('RabbitMQBroker without a server', () => {
  // Accepts TCP connections and never answers: a hung server
  const silent = createServer((socket) => sockets.push(socket));
  const sockets: Socket[] = [];
  let silentPort = 0;
  // Nothing listens here once the server is closed
  let closedPort = 0;

  beforeAll(async () => {
    silentPort = await listen(silent);
    const probe = createServer();
    closedPort = await listen(probe);
    await new Promise((resolve) => probe.close(resolve));
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('fails connect() with 503 at once when nothing listens', async () => {
    const broker = createRabbitMQBroker({
      url: `amqp://guest:guest@127.0.0.1:${closedPort}`,
      logger: silentLogger,
    });
    const started = Date.now();
    const error = await rejection(within(broker.connect(), 2_000, 'connect'));
    expect(isMicroError(error) && error.code).toBe(503);
    expect(isMicroError(error) && error.detail).toMatch(/ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(broker.state).toBe('disconnected');
  });

  it('fails connect() with 503 within connectTimeout when the server never answers', async () => {
    const broker = createRabbitMQBroker({
      url: `amqp://guest:guest@127.0.0.1:${silentPort}`,
      connectTimeout: 300,
      logger: silentLogger,
    });
    const started = Date.now();
    const error = await rejection(within(broker.connect(), 3_000, 'connect'));
    expect(isMicroError(error) && error.code).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('tries every address in turn before failing', async () => {
    const broker = createRabbitMQBroker({
      addresses: [`127.0.0.1:${closedPort}`, `127.0.0.1:${silentPort}`],
      connectTimeout: 200,
      logger: silentLogger,
    });
    const started = Date.now();
    const error = await rejection(broker.connect());
    expect(isMicroError(error) && error.code).toBe(503);
    // the second address was tried too: it hung until connectTimeout
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('rejects publish and subscribe with 503 before connect(), and disconnect() is a no-op', async () => {
    const broker = createRabbitMQBroker({ logger: silentLogger });
    const published = await rejection(broker.publish('t', { header: {}, body: new Uint8Array() }));
    expect(isMicroError(published) && published.code).toBe(503);
    const subscribed = await rejection(broker.subscribe('t', () => {}));
    expect(isMicroError(subscribed) && subscribed.code).toBe(503);
    await within(broker.disconnect(), 1_000, 'disconnect');
  });

  it('rejects a message over maxMessageSize with 413 and a bad topic with 400 before sending', async () => {
    const broker = createRabbitMQBroker({ maxMessageSize: 8, logger: silentLogger });
    const large = await rejection(broker.publish('t', { header: {}, body: new Uint8Array(9) }));
    expect(isMicroError(large) && large.code).toBe(413);
    const topic = await rejection(
      broker.publish('t'.repeat(256), { header: {}, body: new Uint8Array() }),
    );
    expect(isMicroError(topic) && topic.code).toBe(400);
  });
});
