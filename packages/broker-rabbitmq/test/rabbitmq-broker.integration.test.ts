import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Event, isMicroError, sleep } from '@micro/core';
import {
  brokerConformance,
  controlServer,
  describeWithServer,
  randomName,
  recordingLogger,
  rejection,
  waitFor,
  within,
} from '@micro/testing';
import * as amqp from 'amqplib';
import { createRabbitMQBroker, type RabbitMQBroker, type RabbitMQEvent } from '../src/index.js';

const text = (event: Event) => Buffer.from(event.message.body).toString('utf8');

describeWithServer(
  'RabbitMQBroker',
  ['MICRO_TEST_RABBITMQ_ADDRESS'],
  ({ MICRO_TEST_RABBITMQ_ADDRESS: url }) => {
    const quiet = recordingLogger();

    brokerConformance('rabbitmq', () => createRabbitMQBroker({ url, logger: quiet }));

    brokerConformance(
      'rabbitmq with requeueOnError and a prefetch',
      () => createRabbitMQBroker({ url, requeueOnError: true, prefetch: 10, logger: quiet }),
      { redeliversOnError: true },
    );

    describe('with plain AMQP clients (as Go go-micro services)', () => {
      let connection: amqp.ChannelModel;
      let channel: amqp.Channel;
      const brokers: RabbitMQBroker[] = [];
      const connected = async (options: Parameters<typeof createRabbitMQBroker>[0] = {}) => {
        const broker = createRabbitMQBroker({ url, logger: quiet, ...options });
        brokers.push(broker);
        await broker.connect();
        return broker;
      };

      beforeAll(async () => {
        connection = await amqp.connect(url);
        channel = await connection.createChannel();
        // as go-micro's DeclareExchange with its defaults
        await channel.assertExchange('micro', 'topic', { durable: false });
      });

      afterAll(async () => {
        for (const broker of brokers) await broker.disconnect();
        await connection.close();
      });

      /** A go-micro-style consumer: its own queue bound to exchange `micro` with the topic. */
      async function plainConsumer(topic: string): Promise<amqp.ConsumeMessage[]> {
        const got: amqp.ConsumeMessage[] = [];
        const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
        await channel.bindQueue(queue, 'micro', topic);
        await channel.consume(queue, (message) => {
          if (message) {
            got.push(message);
            channel.ack(message);
          }
        });
        return got;
      }

      it('publishes the raw body and the headers as AMQP string headers to exchange micro', async () => {
        const broker = await connected();
        const topic = randomName('topic');
        const got = await plainConsumer(topic);
        const body = Buffer.from('{"name":"John"}\n');
        const header = {
          'Content-Type': 'application/json',
          'Micro-ID': 'b6f0c1d2-0000-4000-8000-000000000001',
          'Micro-Topic': topic,
          'X-Custom': 'héllo',
        };
        await broker.publish(topic, { header, body });
        await broker.publish(
          topic,
          { header: {}, body: Buffer.from('typed') },
          {
            contentType: 'application/protobuf',
            persistent: true,
            messageId: 'm-1',
          },
        );
        await waitFor('both messages at the plain consumer', () => got.length === 2);
        const [first, second] = got as [amqp.ConsumeMessage, amqp.ConsumeMessage];
        expect(first.fields.exchange).toBe('micro');
        expect(first.fields.routingKey).toBe(topic);
        expect(first.content.equals(body)).toBe(true); // no envelope
        expect(first.properties.headers).toEqual(header);
        expect(first.properties.contentType).toBeUndefined();
        expect(first.properties.deliveryMode).toBeUndefined();
        // go-micro's ContentType option: the property and a Content-Type header
        expect(second.content.toString()).toBe('typed');
        expect(second.properties.contentType).toBe('application/protobuf');
        expect(second.properties.headers).toEqual({ 'Content-Type': 'application/protobuf' });
        expect(second.properties.deliveryMode).toBe(2);
        expect(second.properties.messageId).toBe('m-1');
      });

      it('delivers what a plain AMQP publisher sends, with headers as strings', async () => {
        const broker = await connected();
        const topic = randomName('topic');
        const events: RabbitMQEvent[] = [];
        await broker.subscribe(topic, (event) => {
          events.push(event as RabbitMQEvent);
        });
        const body = Buffer.from([0, 1, 2, 253, 254, 255]);
        channel.publish('micro', topic, body, {
          headers: {
            'Content-Type': 'application/octet-stream',
            'Micro-ID': 'go-1',
            'Micro-Topic': topic,
            'X-Attempt': 3,
            'X-Flag': true,
          },
        });
        // a publisher that sets no Micro-Topic: the routing key fills it in
        channel.publish('micro', topic, Buffer.from('bare'), {});
        await waitFor('both messages', () => events.length === 2);
        const [first, second] = events as [RabbitMQEvent, RabbitMQEvent];
        expect(first.topic).toBe(topic);
        expect([...first.message.body]).toEqual([...body]);
        expect(first.message.header).toEqual({
          'Content-Type': 'application/octet-stream',
          'Micro-ID': 'go-1',
          'Micro-Topic': topic,
          'X-Attempt': '3',
          'X-Flag': 'true',
        });
        expect(first.redelivered).toBe(false);
        expect(text(second)).toBe('bare');
        expect(second.message.header).toEqual({ 'Micro-Topic': topic });
      });

      it("shares a queue group with a Go service's consumer on the same queue", async () => {
        const broker = await connected();
        const topic = randomName('topic');
        const queue = randomName('queue');
        // go-micro's DeclareQueue for a named, non-durable queue
        await channel.assertQueue(queue, { durable: false, autoDelete: true, exclusive: false });
        await channel.bindQueue(queue, 'micro', topic);
        const go: string[] = [];
        await channel.consume(queue, (message) => {
          if (message) {
            go.push(message.content.toString());
            channel.ack(message);
          }
        });
        const ts: string[] = [];
        await broker.subscribe(topic, (event) => void ts.push(text(event)), { queue });
        const count = 40;
        for (let i = 0; i < count; i++) {
          await broker.publish(topic, { header: {}, body: Buffer.from(`g${i}`) });
        }
        await waitFor('every message once in the group', () => go.length + ts.length === count);
        expect([...go, ...ts].sort()).toEqual(
          Array.from({ length: count }, (_, i) => `g${i}`).sort(),
        );
        expect(go.length).toBeGreaterThan(0);
        expect(ts.length).toBeGreaterThan(0);
      });

      it('dead-letters a message whose handler throws when requeueOnError is off', async () => {
        const dlx = randomName('dlx');
        const topic = randomName('topic');
        await channel.assertExchange(dlx, 'fanout', { durable: false, autoDelete: true });
        const { queue: dead } = await channel.assertQueue('', { exclusive: true });
        await channel.bindQueue(dead, dlx, '');
        const deadLettered: amqp.ConsumeMessage[] = [];
        await channel.consume(dead, (message) => {
          if (message) {
            deadLettered.push(message);
            channel.ack(message);
          }
        });
        const broker = await connected({ queueArguments: { 'x-dead-letter-exchange': dlx } });
        let attempts = 0;
        await broker.subscribe(
          topic,
          () => {
            attempts++;
            throw new Error('rejects on purpose');
          },
          { queue: randomName('queue') },
        );
        await broker.publish(topic, { header: { 'Micro-ID': 'dl-1' }, body: Buffer.from('bad') });
        await waitFor(
          'the failed message in the dead-letter queue',
          () => deadLettered.length === 1,
        );
        expect(deadLettered[0]!.content.toString()).toBe('bad');
        expect(deadLettered[0]!.properties.headers?.['Micro-ID']).toBe('dl-1');
        expect(attempts).toBe(1);
        expect(quiet.lines).toContainEqual(
          expect.objectContaining({ level: 'error', message: 'broker: subscriber failed' }),
        );
      });

      it('redelivers a message the handler nacks with requeue, marked redelivered', async () => {
        const broker = await connected();
        const topic = randomName('topic');
        const seen: boolean[] = [];
        await broker.subscribe(
          topic,
          async (event) => {
            const { redelivered } = event as RabbitMQEvent;
            seen.push(redelivered);
            if (redelivered) await event.ack();
            else await event.nack({ requeue: true });
          },
          { autoAck: false, queue: randomName('queue') },
        );
        await broker.publish(topic, { header: {}, body: Buffer.from('again') });
        await waitFor('the redelivery', () => seen.length === 2);
        expect(seen).toEqual([false, true]);
      });

      it('applies the prefetch: at most that many unacked messages reach a subscription', async () => {
        const broker = await connected({ prefetch: 2 });
        const topic = randomName('topic');
        const queue = randomName('queue');
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const handled: string[] = [];
        await broker.subscribe(
          topic,
          async (event) => {
            await gate;
            handled.push(text(event));
          },
          { queue },
        );
        for (let i = 0; i < 5; i++) {
          await broker.publish(topic, { header: {}, body: Buffer.from(`p${i}`) });
        }
        // 2 delivered and unacked, 3 still ready in the queue
        await waitFor('3 messages held back in the queue', async () => {
          const { messageCount } = await channel.checkQueue(queue);
          return messageCount === 3;
        });
        release();
        await waitFor('all 5 handled', () => handled.length === 5);
        expect(handled).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
      });

      it('resubscribes by itself when its queue is deleted under it', async () => {
        const logger = recordingLogger();
        const broker = await connected({ logger, reconnect: { maxDelay: 500 } });
        const topic = randomName('topic');
        const queue = randomName('queue');
        const got: string[] = [];
        const subscription = await broker.subscribe(topic, (event) => void got.push(text(event)), {
          queue,
        });
        await channel.deleteQueue(queue);
        await waitFor('the consumer cancellation to be noticed', () =>
          logger.lines.some((l) => l.message.includes('consumer cancelled')),
        );
        await waitFor('the subscription consuming again', () => subscription.consuming);
        await broker.publish(topic, { header: {}, body: Buffer.from('after') });
        await waitFor('the message after the resubscribe', () => got.includes('after'));
      }, 20_000);

      it('takes an exchange another service declared durable as it is', async () => {
        const exchange = randomName('exchange');
        await channel.assertExchange(exchange, 'topic', { durable: true });
        try {
          const logger = recordingLogger();
          const broker = await connected({ exchange, durableExchange: false, logger });
          expect(logger.lines).toContainEqual(
            expect.objectContaining({
              level: 'warn',
              message: expect.stringContaining('exchange exists'),
            }),
          );
          const topic = randomName('topic');
          const got: string[] = [];
          await broker.subscribe(topic, (event) => void got.push(text(event)));
          await broker.publish(topic, { header: {}, body: Buffer.from('ok') });
          await waitFor('the message', () => got.length === 1);
        } finally {
          await channel.deleteExchange(exchange);
        }
      });

      it('rejects a queue that exists with other properties with 409, and keeps serving', async () => {
        const broker = await connected();
        const queue = randomName('queue');
        await channel.assertQueue(queue, { durable: true, autoDelete: false });
        try {
          const error = await rejection(
            broker.subscribe(randomName('topic'), () => {}, { queue, durableQueue: false }),
          );
          expect(isMicroError(error) && error.code).toBe(409);
          const topic = randomName('topic');
          const got: string[] = [];
          await broker.subscribe(topic, (event) => void got.push(text(event)));
          await broker.publish(topic, { header: {}, body: Buffer.from('still fine') });
          await waitFor('a message after the failed subscribe', () => got.length === 1);
        } finally {
          await channel.deleteQueue(queue);
        }
      });
    });

    describe('when RabbitMQ goes away', () => {
      const cleanup: (() => Promise<unknown>)[] = [];

      afterAll(async () => {
        // the server may have been left stopped by a failed test
        await controlServer('rabbitmq', 'start');
        for (const step of cleanup.reverse()) await step().catch(() => {});
      }, 120_000);

      it('resumes a durable subscription after a restart and loses no confirmed message', async () => {
        const exchange = randomName('exchange');
        const queue = randomName('queue');
        const topic = randomName('topic');
        const logs = recordingLogger();
        const make = () =>
          createRabbitMQBroker({
            url,
            exchange,
            durableExchange: true,
            durableQueues: true,
            persistent: true,
            prefetch: 20,
            reconnect: { initialDelay: 100, maxDelay: 1_000 },
            connectTimeout: 2_000,
            logger: logs,
          });
        const publisher = make();
        const subscriber = make();
        cleanup.push(
          () => publisher.disconnect(),
          () => subscriber.disconnect(),
          async () => {
            const connection = await amqp.connect(url);
            const channel = await connection.createChannel();
            await channel.deleteQueue(queue);
            await channel.deleteExchange(exchange);
            await connection.close();
          },
        );
        await publisher.connect();
        await subscriber.connect();
        const received = new Map<string, number>();
        await subscriber.subscribe(
          topic,
          (event) => {
            const id = text(event);
            received.set(id, (received.get(id) ?? 0) + 1);
          },
          { queue },
        );

        const confirmed = new Set<string>();
        const failures: unknown[] = [];
        let publishing = true;
        let next = 0;
        // four publishers at once, so publishes are in flight when the server stops
        const worker = async () => {
          while (publishing) {
            const id = `m${next++}`;
            try {
              await publisher.publish(topic, { header: {}, body: Buffer.from(id) });
              confirmed.add(id);
            } catch (error) {
              failures.push(error);
            }
            // pacing of the load generator, not synchronisation
            await sleep(5);
          }
        };
        const load = Promise.all([worker(), worker(), worker(), worker()]);

        await waitFor('deliveries before the restart', () => received.size >= 200, {
          timeout: 10_000,
        });
        await controlServer('rabbitmq', 'stop');
        await waitFor('publishes failing while the server is down', () => failures.length >= 5, {
          timeout: 10_000,
        });
        const confirmedBeforeStart = confirmed.size;
        await controlServer('rabbitmq', 'start');
        await waitFor(
          'publishes confirmed again after the restart',
          () => confirmed.size >= confirmedBeforeStart + 200,
          { timeout: 30_000 },
        );
        publishing = false;
        await within(load, 15_000, 'the publishing loop');

        await waitFor(
          'every confirmed message received',
          () => [...confirmed].every((id) => received.has(id)),
          { timeout: 30_000 },
        );
        const deliveries = [...received.values()].reduce((a, b) => a + b, 0);
        const duplicates = deliveries - received.size;
        process.stderr.write(
          `rabbitmq restart: published ${next}, confirmed ${confirmed.size}, failed ${failures.length}, ` +
            `received ${received.size} distinct in ${deliveries} deliveries (${duplicates} duplicates)\n`,
        );
        for (const error of failures) {
          expect(isMicroError(error) && error.code).toBe(503);
        }
        expect(subscriber.state).toBe('connected');
        expect(publisher.state).toBe('connected');
        const messages = logs.lines.map((l) => `${l.level} ${l.message}`);
        expect(messages).toContain('warn rabbitmq: connection lost');
        expect(messages).toContain('info rabbitmq: reconnected');
        expect(messages).toContain('info rabbitmq: subscription resumed');
      }, 180_000);

      it('fails publish, subscribe and connect with a prompt 503 while down, then recovers by itself', async () => {
        const logs = recordingLogger();
        const options = {
          url,
          reconnect: { initialDelay: 100, maxDelay: 1_000 },
          connectTimeout: 2_000,
          logger: logs,
        };
        const broker = createRabbitMQBroker(options);
        cleanup.push(() => broker.disconnect());
        await broker.connect();
        const topic = randomName('topic');
        const got: string[] = [];
        // a broadcast subscription: its server-named queue is gone after the restart
        await broker.subscribe(topic, (event) => void got.push(text(event)));
        await broker.publish(topic, { header: {}, body: Buffer.from('before') });
        await waitFor('the message before', () => got.includes('before'));
        // a broker that gives up reconnecting quickly, then is connected again by hand
        const impatient = createRabbitMQBroker({
          ...options,
          reconnect: { initialDelay: 50, maxDelay: 100, maxAttempts: 2 },
          logger: recordingLogger(),
        });
        cleanup.push(() => impatient.disconnect());
        await impatient.connect();
        const kept: string[] = [];
        await impatient.subscribe(topic, (event) => void kept.push(text(event)));

        await controlServer('rabbitmq', 'stop');
        await waitFor('the broker to notice', () => broker.state === 'reconnecting');
        await waitFor('the impatient broker to give up', () => impatient.state === 'disconnected');
        const whileDown: (() => Promise<unknown>)[] = [
          () => broker.publish(topic, { header: {}, body: Buffer.from('lost?') }),
          () => broker.subscribe(randomName('topic'), () => {}),
          () => createRabbitMQBroker(options).connect(),
        ];
        for (const attempt of whileDown) {
          const started = Date.now();
          const error = await rejection(within(attempt(), 3_000, 'the call while down'));
          expect(isMicroError(error) && error.code).toBe(503);
          expect(Date.now() - started).toBeLessThan(2_500);
        }
        const error = await rejection(
          broker.publish(topic, { header: {}, body: Buffer.from('x') }),
        );
        expect(isMicroError(error) && error.detail).toMatch(/not connected \(reconnecting\)/);

        await controlServer('rabbitmq', 'start');
        await waitFor('the broker to reconnect', () => broker.state === 'connected', {
          timeout: 30_000,
        });
        await waitFor('the broadcast subscription to resume', () =>
          logs.lines.some((l) => l.message === 'rabbitmq: subscription resumed'),
        );
        // connect() again brings back the subscription it kept
        await impatient.connect();
        await broker.publish(topic, { header: {}, body: Buffer.from('after') });
        await waitFor('the message after the restart', () => got.includes('after'));
        await waitFor('the message at the reconnected broker', () => kept.includes('after'));
        expect(got).toEqual(['before', 'after']);
      }, 180_000);
    });
  },
);
