import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { type Broker, isMicroError, sleep } from '@micro/core';
import {
  controlServer,
  describeWithServer,
  randomName,
  recordingLogger,
  rejection,
  waitFor,
  within,
} from '@micro/testing';
import { createKafkaBroker, type KafkaBroker, type KafkaBrokerOptions } from '../src/index.js';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

describeWithServer('KafkaBroker faults', ['MICRO_TEST_KAFKA_ADDRESS'], (env) => {
  const address = env.MICRO_TEST_KAFKA_ADDRESS;
  const options = (extra: KafkaBrokerOptions = {}): KafkaBrokerOptions => ({
    addresses: [address],
    clientId: 'micro-test-faults',
    sessionTimeout: 6_000,
    heartbeatInterval: 500,
    maxWaitTime: 100,
    logger: recordingLogger(),
    ...extra,
  });
  const brokers: Broker[] = [];
  const connected = async (extra: KafkaBrokerOptions = {}): Promise<KafkaBroker> => {
    const broker = createKafkaBroker(options(extra));
    brokers.push(broker);
    await broker.connect();
    return broker;
  };
  let stopped = false;
  const stop = async () => {
    stopped = true;
    await controlServer('kafka', 'stop');
  };
  const start = async () => {
    await controlServer('kafka', 'start');
    stopped = false;
  };

  // A failed test must not leave Kafka down for the tests after it.
  afterEach(async () => {
    if (stopped) await start();
  }, 120_000);

  afterAll(async () => {
    for (const broker of brokers) await broker.disconnect().catch(() => {});
  }, 60_000);

  describe('publishing while Kafka is down', () => {
    it('fails publish, subscribe and connect with a 503 within timeout, then recovers', async () => {
      const timeout = 4_000;
      const broker = await connected({ timeout });
      const topic = randomName('topic');
      await broker.publish(topic, { header: {}, body: Buffer.from('before') });
      await stop();

      const timed = async (what: string, work: Promise<unknown>) => {
        const started = Date.now();
        const error = await rejection(within(work, timeout + 5_000, what));
        return { error, elapsed: Date.now() - started };
      };
      const publish = await timed(
        'publish',
        broker.publish(topic, { header: {}, body: Buffer.from('during') }),
      );
      expect(isMicroError(publish.error) && publish.error.code).toBe(503);
      expect(publish.elapsed).toBeLessThan(timeout + 500);

      const subscribe = await timed(
        'subscribe',
        broker.subscribe(randomName('topic'), () => {}),
      );
      expect(isMicroError(subscribe.error) && subscribe.error.code).toBe(503);
      expect(subscribe.elapsed).toBeLessThan(timeout + 500);

      const fresh = createKafkaBroker(options({ timeout }));
      const connect = await timed('connect', fresh.connect());
      expect(isMicroError(connect.error) && connect.error.code).toBe(503);
      expect(connect.elapsed).toBeLessThan(timeout + 500);

      process.stderr.write(
        `kafka down: publish failed after ${publish.elapsed} ms, subscribe after ${subscribe.elapsed} ms, ` +
          `connect after ${connect.elapsed} ms (timeout ${timeout} ms)\n`,
      );
      await start();
      // The same broker publishes again once Kafka is back, without a reconnect.
      await waitFor(
        'a publish to succeed after the restart',
        () => broker.publish(topic, { header: {}, body: Buffer.from('after') }).then(() => true),
        { timeout: 60_000, interval: 500 },
      );
    }, 180_000);
  });

  describe('a Kafka restart under load', () => {
    it('loses nothing that was acknowledged, and the subscription resumes by itself', async () => {
      const publisher = await connected({ timeout: 3_000 });
      const subscriberLog = recordingLogger();
      const subscriber = await connected({ logger: subscriberLog });
      const topic = randomName('topic');
      const queue = randomName('queue');

      const deliveries = new Map<number, number>();
      await subscriber.subscribe(
        topic,
        (event) => {
          const id = Number(text(event.message.body));
          deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
        },
        { queue },
      );

      const acknowledged = new Set<number>();
      const failures: unknown[] = [];
      let next = 0;
      let publishing = true;
      let acknowledgedAfterRestart = 0;
      let restarted = false;
      const publishLoop = (async () => {
        while (publishing) {
          const id = next++;
          try {
            await publisher.publish(topic, { header: {}, body: Buffer.from(String(id)) });
            acknowledged.add(id);
            if (restarted) acknowledgedAfterRestart++;
          } catch (error) {
            failures.push(error);
          }
          // Pacing, about 50 messages a second: a steady stream across the outage.
          await sleep(20);
        }
      })();

      await waitFor(
        'traffic before the restart',
        () => acknowledged.size >= 20 && deliveries.size >= 20,
        { timeout: 30_000 },
      );
      await stop();
      await waitFor('a publish to fail while Kafka is down', () => failures.length > 0, {
        timeout: 30_000,
      });
      // Down long enough for the subscriber's consumer to give up and crash, so the
      // test covers its restart, not only kafkajs riding out a short blip.
      await waitFor(
        'the subscriber to crash on the outage',
        () => subscriberLog.lines.some((line) => line.message.includes('[Consumer] Crash')),
        { timeout: 60_000, interval: 100 },
      );
      await start();
      restarted = true;
      await waitFor(
        '20 publishes acknowledged after the restart',
        () => acknowledgedAfterRestart >= 20,
        {
          timeout: 60_000,
        },
      );
      publishing = false;
      await publishLoop;

      await waitFor(
        'every acknowledged message at the subscriber',
        () => [...acknowledged].every((id) => deliveries.has(id)),
        { timeout: 90_000, interval: 200 },
      );
      const lost = [...acknowledged].filter((id) => !deliveries.has(id));
      const duplicates = [...deliveries.values()].reduce((sum, count) => sum + count - 1, 0);
      const unacknowledgedButDelivered = [...deliveries.keys()].filter(
        (id) => !acknowledged.has(id),
      ).length;
      process.stderr.write(
        `kafka restart: published ${next}, acknowledged ${acknowledged.size}, failed ${failures.length} ` +
          `(all 503: ${failures.every((e) => isMicroError(e) && e.code === 503)}), ` +
          `delivered ${deliveries.size} distinct, lost ${lost.length}, duplicates ${duplicates}, ` +
          `delivered though not acknowledged ${unacknowledgedButDelivered}\n`,
      );
      expect(lost).toEqual([]);
      expect(failures.length).toBeGreaterThan(0);
      for (const failure of failures) expect(isMicroError(failure) && failure.code).toBe(503);
    }, 300_000);
  });
});
