// What publish promises: when it resolves, when it rejects and with which code,
// and how queue groups are retried.
import { describe, expect, it } from '@jest/globals';
import {
  createMemoryRegistry,
  isMicroError,
  type MicroError,
  type Registry,
  silentLogger,
  unavailable,
} from '@micro/core';
import { randomName, recordingLogger, rejection, waitFor, within } from '@micro/testing';
import { createHttpBroker, SERVICE_NAME } from '../src/index.js';
import { brokerMaker, deadAddress, inbox, registerNode } from './helpers.js';

const body = (text: string) => Buffer.from(text);
const code = (error: unknown) => (isMicroError(error) ? error.code : error);

describe('HttpBroker delivery', () => {
  const connected = brokerMaker();

  /** Registers a subscriber record whose node is not listening. */
  const deadSubscriber = async (registry: Registry, topic: string, queue?: string, ttl?: number) =>
    registerNode(registry, { topic, queue, address: await deadAddress() }, ttl);

  describe('to a queue group', () => {
    it('hands a message whose handler failed to another member, and resolves', async () => {
      const registry = createMemoryRegistry();
      const [one, two] = [await connected({ registry }), await connected({ registry })];
      const topic = randomName('topic');
      const queue = randomName('queue');
      let failed = 0;
      await one.subscribe(
        topic,
        () => {
          failed++;
          throw new Error('this member always fails');
        },
        { queue },
      );
      const good = inbox();
      await two.subscribe(topic, good.handler, { queue });
      for (let i = 0; i < 20; i++) await one.publish(topic, { header: {}, body: body(`m${i}`) });
      expect(good.bodies()).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
      expect(failed).toBeGreaterThan(0);
    });

    it('rejects with 500 after queueAttempts deliveries to a handler that always fails', async () => {
      const registry = createMemoryRegistry();
      const broker = await connected({ registry, queueAttempts: 3 });
      const topic = randomName('topic');
      let runs = 0;
      await broker.subscribe(
        topic,
        () => {
          runs++;
          throw new Error('poison');
        },
        { queue: 'q' },
      );
      const error = await rejection(broker.publish(topic, { header: {}, body: body('x') }));
      expect(code(error)).toBe(500);
      expect((error as MicroError).detail).toMatch(/queue q: not delivered after 3 attempt\(s\)/);
      expect((error as MicroError).detail).toContain('subscriber error: poison');
      expect(runs).toBe(3);
    });

    it('gives up at once when the subscriber rejects the message for good (nack without requeue)', async () => {
      const registry = createMemoryRegistry();
      const broker = await connected({ registry });
      const topic = randomName('topic');
      let runs = 0;
      await broker.subscribe(
        topic,
        async (event) => {
          runs++;
          await event.nack({ requeue: false });
        },
        { queue: 'q', autoAck: false },
      );
      const error = await rejection(broker.publish(topic, { header: {}, body: body('x') }));
      expect(code(error)).toBe(400);
      expect(runs).toBe(1);
    });

    it('skips a member that cannot be reached', async () => {
      const registry = createMemoryRegistry();
      const broker = await connected({ registry });
      const topic = randomName('topic');
      const queue = randomName('queue');
      await deadSubscriber(registry, topic, queue);
      const live = inbox();
      await broker.subscribe(topic, live.handler, { queue });
      for (let i = 0; i < 10; i++) {
        await within(broker.publish(topic, { header: {}, body: body(`m${i}`) }), 2_000, 'publish');
      }
      expect(live.bodies()).toHaveLength(10);
    });

    it('rejects with 408 when the handler outlives the publish timeout', async () => {
      const registry = createMemoryRegistry();
      const broker = await connected({ registry, timeout: 300 });
      const topic = randomName('topic');
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      await broker.subscribe(topic, () => gate, { queue: 'slow' });
      const started = Date.now();
      const error = await rejection(
        within(broker.publish(topic, { header: {}, body: body('x') }), 3_000, 'publish'),
      );
      release();
      expect(code(error)).toBe(408);
      expect(Date.now() - started).toBeLessThan(1_500);
    });
  });

  describe('to broadcast subscribers', () => {
    it('resolves once received, while the handler still runs, and leaves its failure to the subscriber', async () => {
      const registry = createMemoryRegistry();
      const logger = recordingLogger();
      const broker = await connected({ registry, logger });
      const topic = randomName('topic');
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let finished = false;
      await broker.subscribe(topic, async () => {
        await gate;
        finished = true;
        throw new Error('failed after publish returned');
      });
      await within(broker.publish(topic, { header: {}, body: body('x') }), 2_000, 'publish');
      expect(finished).toBe(false);
      release();
      await waitFor(
        'the failure to be logged',
        () => logger.find('error', 'subscriber failed').length === 1,
      );
    });

    it('delivers to the reachable ones, then rejects with 503 naming the unreachable one', async () => {
      const registry = createMemoryRegistry();
      const broker = await connected({ registry });
      const topic = randomName('topic');
      const deadId = await deadSubscriber(registry, topic);
      const live = inbox();
      await broker.subscribe(topic, live.handler);
      const started = Date.now();
      const error = await rejection(
        within(broker.publish(topic, { header: {}, body: body('x') }), 5_000, 'publish'),
      );
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(code(error)).toBe(503);
      expect((error as MicroError).detail).toContain(deadId);
      expect((error as MicroError).detail).toContain('ECONNREFUSED');
      await waitFor('the live subscriber', () => live.events.length === 1);
    });

    it('fails with 503 until a dead subscriber record expires, then has nothing to deliver', async () => {
      const registry = createMemoryRegistry();
      const broker = await connected({ registry });
      const topic = randomName('topic');
      await deadSubscriber(registry, topic, undefined, 500);
      const first = await rejection(broker.publish(topic, { header: {}, body: body('x') }));
      expect(code(first)).toBe(503);
      await waitFor(
        'publish to resolve once the record expired',
        async () => {
          await broker.publish(topic, { header: {}, body: body('x') });
          return true;
        },
        { timeout: 5_000, interval: 50 },
      );
    });

    it('treats a subscription removed since the registry was read (404) as gone', async () => {
      const registry = createMemoryRegistry();
      const logger = recordingLogger();
      const broker = await connected({ registry, logger });
      const topic = randomName('topic');
      // A record this broker does not serve, at this broker's address: it answers 404.
      await registerNode(registry, { topic, address: broker.address });
      await broker.publish(topic, { header: {}, body: body('x') });
      expect(logger.find('debug', 'subscriber gone')).toHaveLength(1);
    });
  });

  it('resolves at once when nobody subscribes, and logs it at debug', async () => {
    const logger = recordingLogger();
    const broker = await connected({ registry: createMemoryRegistry(), logger });
    const topic = randomName('topic');
    await within(broker.publish(topic, { header: {}, body: body('x') }), 1_000, 'publish');
    expect(logger.find('debug', 'no subscribers')).toEqual([
      { level: 'debug', message: expect.any(String), fields: { topic } },
    ]);
  });

  it('rejects an envelope over maxMessageSize with 413 before sending anything', async () => {
    const registry = createMemoryRegistry();
    const broker = await connected({ registry, maxMessageSize: 1024 });
    const topic = randomName('topic');
    const box = inbox();
    await broker.subscribe(topic, box.handler);
    const error = await rejection(broker.publish(topic, { header: {}, body: Buffer.alloc(800) }));
    expect(code(error)).toBe(413);
    await broker.publish(topic, { header: {}, body: body('small') });
    await waitFor('the small one', () => box.events.length === 1);
    expect(box.bodies()).toEqual(['small']);
  });

  it('rejects with 503 when the registry cannot be reached', async () => {
    const memory = createMemoryRegistry();
    const down = unavailable('go.micro.registry', 'registry down');
    const registry: Registry = {
      ...memory,
      name: 'flaky',
      register: (s, o) => memory.register(s, o),
      deregister: (s) => memory.deregister(s),
      getService: () => Promise.reject(down),
      listServices: () => Promise.reject(down),
      watch: () => Promise.reject(down),
      close: () => memory.close(),
    };
    const broker = await connected({ registry });
    const error = await rejection(broker.publish('t', { header: {}, body: body('x') }));
    expect(code(error)).toBe(503);
  });

  it('rejects a topic that is empty or not text with 400', async () => {
    const broker = await connected({ registry: createMemoryRegistry() });
    for (const topic of ['', '\ud800', 42 as unknown as string]) {
      expect(code(await rejection(broker.publish(topic, { header: {}, body: body('x') })))).toBe(
        400,
      );
      expect(code(await rejection(broker.subscribe(topic, () => {})))).toBe(400);
    }
  });

  it('refuses subscribe and publish with 503 before connect', async () => {
    const broker = createHttpBroker({ registry: createMemoryRegistry(), logger: silentLogger });
    expect(code(await rejection(broker.subscribe('t', () => {})))).toBe(503);
    expect(code(await rejection(broker.publish('t', { header: {}, body: body('x') })))).toBe(503);
  });

  it('unsubscribe deregisters at once, then waits for the running handler', async () => {
    const registry = createMemoryRegistry();
    const broker = await connected({ registry });
    const topic = randomName('topic');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = false;
    let finished = false;
    const subscription = await broker.subscribe(topic, async () => {
      started = true;
      await gate;
      finished = true;
    });
    await broker.publish(topic, { header: {}, body: body('x') });
    await waitFor('the handler', () => started);
    const unsubscribing = subscription.unsubscribe();
    await waitFor('the record to go', async () => {
      const error = await registry.getService(SERVICE_NAME).catch((e: unknown) => e);
      return code(error) === 404;
    });
    expect(finished).toBe(false);
    release();
    await within(unsubscribing, 2_000, 'unsubscribe');
    expect(finished).toBe(true);
  });

  it('disconnect waits for a publish in flight', async () => {
    const registry = createMemoryRegistry();
    const publisher = await connected({ registry });
    const subscriber = await connected({ registry });
    const topic = randomName('topic');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    await subscriber.subscribe(topic, () => gate, { queue: 'q' });
    const publishing = publisher.publish(topic, { header: {}, body: body('x') });
    const disconnecting = publisher.disconnect();
    setTimeout(release, 100);
    await within(publishing, 2_000, 'publish');
    await within(disconnecting, 2_000, 'disconnect');
  });
});
