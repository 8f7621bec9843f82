import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Broker, type Event, isMicroError } from '@micro/core';
import {
  brokerConformance,
  describeWithServer,
  randomName,
  recordingLogger,
  rejection,
  waitFor,
  within,
} from '@micro/testing';
import kafkajs, { type Admin, type Consumer, type Producer } from 'kafkajs';
import { createKafkaBroker, type KafkaBroker, type KafkaBrokerOptions } from '../src/index.js';

const { Kafka, logLevel } = kafkajs;

interface Fixture {
  name: string;
  header: Record<string, string>;
  body: string;
  value: string;
}
/** What Go's encoding/json writes for go-micro's broker.Message (fixtures/envelopes.go). */
const goEnvelope: Fixture = JSON.parse(
  readFileSync(join(__dirname, 'fixtures', 'envelopes.json'), 'utf8'),
)[0];

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
const body = (value: string) => Buffer.from(value);

describeWithServer('KafkaBroker', ['MICRO_TEST_KAFKA_ADDRESS'], (env) => {
  const address = env.MICRO_TEST_KAFKA_ADDRESS;
  /**
   * Group timings for tests: the brokers' minimum session timeout and a fast
   * heartbeat, so a rebalance (a second queue member) settles in about a second.
   */
  const options = (extra: KafkaBrokerOptions = {}): KafkaBrokerOptions => ({
    addresses: [address],
    clientId: 'micro-test',
    sessionTimeout: 6_000,
    heartbeatInterval: 500,
    maxWaitTime: 100,
    logger: recordingLogger(),
    ...extra,
  });

  brokerConformance('kafka', () => createKafkaBroker(options()), {
    redeliversOnError: true,
    // Covers a group join and a rebalance (about a second here), and the default
    // redeliveries of a message that always fails (about 6.5 s of backoff, at most 13 s)
    // before "keeps delivering after a handler throws" sees the next message.
    deliveryTimeout: 20_000,
  });

  const raw = new Kafka({
    brokers: [address],
    clientId: 'micro-test-raw',
    logLevel: logLevel.NOTHING,
  });
  let admin: Admin;
  const brokers: Broker[] = [];
  const clients: (Producer | Consumer)[] = [];

  const connected = async (extra: KafkaBrokerOptions = {}): Promise<KafkaBroker> => {
    const broker = createKafkaBroker(options(extra));
    brokers.push(broker);
    await broker.connect();
    return broker;
  };

  const newTopic = async () => {
    const topic = randomName('topic');
    await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
    return topic;
  };

  beforeAll(async () => {
    admin = raw.admin();
    await admin.connect();
  });

  afterAll(async () => {
    for (const broker of brokers) await broker.disconnect().catch(() => {});
    for (const client of clients) await client.disconnect().catch(() => {});
    await admin.disconnect();
  }, 60_000);

  describe("go-micro's wire format", () => {
    it("writes go-micro's envelope as the record value, with no key and no headers", async () => {
      const broker = await connected();
      const topic = await newTopic();
      const consumer = raw.consumer({ groupId: randomName('raw') });
      clients.push(consumer);
      const records: { key: Buffer | null; value: Buffer | null; headers: unknown }[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          records.push({ key: message.key, value: message.value, headers: message.headers });
        },
      });
      // The header in another order than Go's: the record must hold Go's bytes anyway.
      const header = Object.fromEntries(Object.entries(goEnvelope.header).reverse());
      await broker.publish(topic, { header, body: Buffer.from(goEnvelope.body, 'base64') });
      await waitFor('the raw consumer to read the record', () => records.length === 1, {
        timeout: 15_000,
      });
      expect(records[0]!.value?.toString('utf8')).toBe(goEnvelope.value);
      expect(records[0]!.key).toBeNull();
      expect(records[0]!.headers).toEqual({});
    }, 30_000);

    it('delivers an envelope a Go service wrote to a @micro subscriber', async () => {
      const broker = await connected();
      const topic = await newTopic();
      const seen: Event[] = [];
      await broker.subscribe(topic, (event) => {
        seen.push(event);
      });
      const producer = raw.producer();
      clients.push(producer);
      await producer.connect();
      await producer.send({ topic, messages: [{ value: goEnvelope.value }] });
      await waitFor('the delivery', () => seen.length === 1, { timeout: 15_000 });
      expect(seen[0]!.topic).toBe(topic);
      expect(seen[0]!.message.header).toEqual({ ...goEnvelope.header, 'Micro-Topic': topic });
      expect(text(seen[0]!.message.body)).toBe('{"id":1,"name":"John"}\n');
    }, 30_000);

    it('logs and skips a record that is not an envelope, committing past it', async () => {
      const logger = recordingLogger();
      const broker = await connected({ logger });
      const topic = await newTopic();
      const queue = randomName('queue');
      const seen: string[] = [];
      await broker.subscribe(
        topic,
        (event) => {
          seen.push(text(event.message.body));
        },
        { queue },
      );
      const producer = raw.producer();
      clients.push(producer);
      await producer.connect();
      await producer.send({
        topic,
        messages: [
          { value: 'not json at all' },
          { value: null },
          { value: '{"orderId":42}' },
          { value: '{"Header":{},"Body":"YWZ0ZXI="}' },
        ],
      });
      await waitFor('the envelope after the bad records', () => seen.includes('after'), {
        timeout: 15_000,
      });
      // A plain JSON object is delivered whole, as go-micro does.
      expect(seen).toEqual(['{"orderId":42}', 'after']);
      const skipped = logger.lines.filter((l) =>
        l.message.includes('not a go-micro broker envelope'),
      );
      expect(skipped.map((l) => [l.level, l.fields?.offset])).toEqual([
        ['warn', '0'],
        ['warn', '1'],
      ]);
      // Committed past all four records: nothing stays stuck on the partition.
      await waitFor(
        'the group to commit offset 4',
        async () => {
          const [offsets] = await admin.fetchOffsets({ groupId: queue, topics: [topic] });
          return offsets?.partitions[0]?.offset === '4';
        },
        { timeout: 10_000, interval: 200 },
      );
    }, 30_000);
  });

  describe('consumer groups', () => {
    it('starts a new subscriber at the newest offset, as go-micro', async () => {
      const broker = await connected();
      const topic = await newTopic();
      await broker.publish(topic, { header: {}, body: body('before') });
      const seen: string[] = [];
      await broker.subscribe(topic, (event) => {
        seen.push(text(event.message.body));
      });
      await broker.publish(topic, { header: {}, body: body('after') });
      await waitFor('the message published after subscribe', () => seen.length >= 1, {
        timeout: 15_000,
      });
      expect(seen).toEqual(['after']);
    }, 30_000);

    it('delivers everything published right after two queue members subscribe at once', async () => {
      const one = await connected();
      const two = await connected();
      const topic = await newTopic();
      const queue = randomName('queue');
      const seen: string[] = [];
      const handler = (event: Event) => {
        seen.push(text(event.message.body));
      };
      await Promise.all([
        one.subscribe(topic, handler, { queue }),
        two.subscribe(topic, handler, { queue }),
      ]);
      for (let i = 0; i < 20; i++) await one.publish(topic, { header: {}, body: body(`m${i}`) });
      await waitFor('20 messages in the group', () => new Set(seen).size === 20, {
        timeout: 20_000,
      });
    }, 40_000);

    it('deletes a broadcast group on unsubscribe, and keeps a queue group', async () => {
      const broker = await connected();
      const topic = await newTopic();
      const queue = randomName('queue');
      const broadcast = await broker.subscribe(topic, () => {});
      const queued = await broker.subscribe(topic, () => {}, { queue });
      const groups = async () => (await admin.listGroups()).groups.map((g) => g.groupId);
      expect(await groups()).toEqual(expect.arrayContaining([broadcast.groupId, queue]));
      expect(broadcast.groupId).toMatch(/^[0-9a-f-]{36}$/);
      await broadcast.unsubscribe();
      await queued.unsubscribe();
      const after = await groups();
      expect(after).not.toContain(broadcast.groupId);
      expect(after).toContain(queue);
    }, 30_000);
  });

  describe('at-least-once delivery', () => {
    it('backs off between redeliveries of a message whose handler keeps failing', async () => {
      const broker = await connected({
        redeliveryBackoff: { base: 50, max: 400 },
        maxRedeliveries: Number.POSITIVE_INFINITY,
      });
      const topic = await newTopic();
      const attempts: number[] = [];
      let failUntil = Number.POSITIVE_INFINITY;
      await broker.subscribe(
        topic,
        () => {
          attempts.push(Date.now());
          if (Date.now() < failUntil) throw new Error('downstream is down');
        },
        { queue: randomName('queue') },
      );
      await broker.publish(topic, { header: {}, body: body('poison') });
      await waitFor('the first delivery', () => attempts.length > 0, { timeout: 15_000 });
      failUntil = attempts[0]! + 2_000;
      await waitFor('the handler to succeed', () => attempts.at(-1)! >= failUntil, {
        timeout: 10_000,
      });
      // A spinning retry would run thousands of times in two seconds; exponential
      // backoff capped at 400 ms runs a handful, and never stops trying.
      expect(attempts.length).toBeGreaterThan(3);
      expect(attempts.length).toBeLessThan(40);
    }, 30_000);

    it('leaves a failed message uncommitted, so the next member of the queue gets it', async () => {
      const topic = await newTopic();
      const queue = randomName('queue');
      const failing = await connected();
      let failures = 0;
      const subscription = await failing.subscribe(
        topic,
        () => {
          failures++;
          throw new Error('always fails');
        },
        { queue },
      );
      await failing.publish(topic, { header: {}, body: body('keep me') });
      await waitFor('a failed delivery', () => failures > 0, { timeout: 15_000 });
      await subscription.unsubscribe();
      const healthy = await connected();
      const seen: string[] = [];
      await healthy.subscribe(
        topic,
        (event) => {
          seen.push(text(event.message.body));
        },
        { queue },
      );
      await waitFor('the message at the next member', () => seen.length > 0, { timeout: 15_000 });
      expect(seen[0]).toBe('keep me');
    }, 40_000);

    it('skips a message after maxRedeliveries and logs it as an error', async () => {
      const logger = recordingLogger();
      const broker = await connected({
        logger,
        maxRedeliveries: 2,
        redeliveryBackoff: { base: 10, max: 20 },
      });
      const topic = await newTopic();
      const seen: string[] = [];
      await broker.subscribe(topic, (event) => {
        const value = text(event.message.body);
        seen.push(value);
        if (value === 'poison') throw new Error('cannot handle');
      });
      await broker.publish(topic, { header: {}, body: body('poison') });
      await broker.publish(topic, { header: {}, body: body('next') });
      await waitFor('the next message', () => seen.includes('next'), { timeout: 15_000 });
      expect(seen).toEqual(['poison', 'poison', 'poison', 'next']);
      expect(logger.lines).toContainEqual(
        expect.objectContaining({
          level: 'error',
          message: 'kafka: message failed on every delivery; skipped',
        }),
      );
    }, 30_000);

    it('moves a message to the dead-letter topic once its redeliveries are spent', async () => {
      const broker = await connected({
        maxRedeliveries: 1,
        redeliveryBackoff: { base: 10, max: 20 },
        deadLetterTopic: (t) => `${t}.dead-letter`,
      });
      const topic = await newTopic();
      const dead: Event[] = [];
      await broker.subscribe(`${topic}.dead-letter`, (event) => {
        dead.push(event);
      });
      const seen: string[] = [];
      await broker.subscribe(
        topic,
        (event) => {
          const value = text(event.message.body);
          seen.push(value);
          if (value === 'poison') throw new Error('cannot handle poison');
        },
        { queue: randomName('queue') },
      );
      await broker.publish(topic, { header: { 'X-Order': '7' }, body: body('poison') });
      await broker.publish(topic, { header: {}, body: body('next') });
      await waitFor('the dead letter', () => dead.length === 1, { timeout: 15_000 });
      await waitFor('the next message', () => seen.includes('next'), { timeout: 15_000 });
      expect(seen).toEqual(['poison', 'poison', 'next']);
      expect(text(dead[0]!.message.body)).toBe('poison');
      expect(dead[0]!.message.header).toMatchObject({
        'X-Order': '7',
        'Micro-Topic': `${topic}.dead-letter`,
        'Micro-Dead-Letter-Topic': topic,
        'Micro-Dead-Letter-Partition': '0',
        'Micro-Dead-Letter-Offset': '0',
        'Micro-Dead-Letter-Deliveries': '2',
        'Micro-Dead-Letter-Error': 'cannot handle poison',
      });
    }, 30_000);

    it('skips a message the handler nacks without requeue', async () => {
      const broker = await connected();
      const topic = await newTopic();
      const seen: string[] = [];
      await broker.subscribe(
        topic,
        async (event) => {
          const value = text(event.message.body);
          seen.push(value);
          if (value === 'reject') await event.nack({ requeue: false });
          else await event.ack();
        },
        { autoAck: false },
      );
      await broker.publish(topic, { header: {}, body: body('reject') });
      await broker.publish(topic, { header: {}, body: body('accept') });
      await waitFor('the second message', () => seen.includes('accept'), { timeout: 15_000 });
      expect(seen).toEqual(['reject', 'accept']);
    }, 30_000);
  });

  describe('bad input', () => {
    it('rejects a record over the broker limit with a 413 and keeps publishing', async () => {
      const broker = await connected();
      const topic = await newTopic();
      const error = await rejection(
        broker.publish(topic, { header: {}, body: new Uint8Array(2 * 1024 * 1024) }),
      );
      expect(isMicroError(error) && [error.code, error.id]).toEqual([413, 'go.micro.broker']);
      await broker.publish(topic, { header: {}, body: body('small') });
    }, 30_000);

    it('rejects a topic Kafka does not allow with a 400 before any request', async () => {
      const broker = await connected();
      const error = await rejection(broker.publish('no spaces', { header: {}, body: body('x') }));
      expect(isMicroError(error) && error.code).toBe(400);
      const subscribeError = await rejection(broker.subscribe('a/b', () => {}));
      expect(isMicroError(subscribeError) && subscribeError.code).toBe(400);
    });
  });

  describe('an unreachable Kafka', () => {
    it('fails connect() with a 503 within timeout', async () => {
      // Port 1 on loopback refuses connections.
      const broker = createKafkaBroker(options({ addresses: ['127.0.0.1:1'], timeout: 3_000 }));
      const started = Date.now();
      const error = await rejection(within(broker.connect(), 10_000, 'connect'));
      expect(isMicroError(error) && error.code).toBe(503);
      expect(Date.now() - started).toBeLessThan(3_000 + 1_000);
    }, 20_000);
  });
});
