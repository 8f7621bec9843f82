// The broker as a Service loads it: MICRO_BROKER=http (core passes { addresses,
// logger, registry }), subscribers and client.publish between two services.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createMemoryRegistry, createService, type MicroService, silentLogger } from '@micro/core';
import { randomName, waitFor } from '@micro/testing';
import { HttpBroker, SERVICE_NAME } from '../src/index.js';

describe('HttpBroker loaded by a Service with MICRO_BROKER=http', () => {
  const saved = { broker: process.env.MICRO_BROKER, address: process.env.MICRO_BROKER_ADDRESS };
  const registry = createMemoryRegistry();
  const services: MicroService[] = [];

  beforeAll(() => {
    process.env.MICRO_BROKER = 'http';
    process.env.MICRO_BROKER_ADDRESS = '127.0.0.1:0';
  });

  afterAll(async () => {
    for (const service of services) await service.stop();
    if (saved.broker === undefined) delete process.env.MICRO_BROKER;
    else process.env.MICRO_BROKER = saved.broker;
    if (saved.address === undefined) delete process.env.MICRO_BROKER_ADDRESS;
    else process.env.MICRO_BROKER_ADDRESS = saved.address;
  });

  it('gets the registry, registers subscribers there and delivers client.publish', async () => {
    const topic = randomName('greetings');
    const received: unknown[] = [];
    const greeter = await createService({
      name: randomName('greeter'),
      registry,
      logger: silentLogger,
    });
    services.push(greeter);
    expect(greeter.broker).toBeInstanceOf(HttpBroker);
    expect(greeter.broker.name).toBe('http');
    greeter.subscribe<{ say: string }>(topic, (message) => {
      received.push(message);
    });
    await greeter.start();
    expect(greeter.node?.metadata?.broker).toBe('http');
    const [record] = await registry.getService(SERVICE_NAME);
    expect(record!.nodes.map((n) => n.metadata?.topic)).toContain(topic);

    const caller = await createService({
      name: randomName('caller'),
      registry,
      logger: silentLogger,
    });
    services.push(caller);
    await caller.start();
    await caller.client.publish(topic, { say: 'hello' });
    await waitFor('the event at the greeter', () => received.length === 1);
    expect(received).toEqual([{ say: 'hello' }]);

    await greeter.stop();
    await expect(registry.getService(SERVICE_NAME)).rejects.toMatchObject({ code: 404 });
  });
});
