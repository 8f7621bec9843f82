import { afterAll, describe, expect, it } from '@jest/globals';
import { type Broker, type Event, isMicroError } from '@micro/core';
import { randomName, rejection, waitFor, within } from './helpers.js';

/** What a broker backend guarantees. */
export interface BrokerCapabilities {
  /**
   * A message whose handler throws is delivered again (at-least-once), with the
   * broker as the factory configures it.
   * @default false
   */
  redeliversOnError?: boolean;
  /**
   * How long a delivery may take, in milliseconds.
   * @default 10000
   */
  deliveryTimeout?: number;
}

interface Inbox {
  events: Event[];
  bodies: () => string[];
}

function inbox(): Inbox & { handler: (event: Event) => void } {
  const events: Event[] = [];
  return {
    events,
    bodies: () => events.map((e) => Buffer.from(e.message.body).toString('utf8')),
    handler: (event) => {
      events.push(event);
    },
  };
}

const body = (text: string) => Buffer.from(text);

/**
 * The contract of a {@link Broker}, run against a real server: broadcast and
 * queue-group delivery, headers and binary bodies intact, unsubscribe and
 * disconnect that really stop, and loud failures. Topics and queues are random.
 *
 * @param name shown in the suite title
 * @param factory creates a broker client (not yet connected); called more than once
 * @param capabilities delivery guarantees and timing
 */
export function brokerConformance(
  name: string,
  factory: () => Broker | Promise<Broker>,
  capabilities: BrokerCapabilities = {},
): void {
  const deliveryTimeout = capabilities.deliveryTimeout ?? 10_000;
  const testTimeout = deliveryTimeout * 4;

  describe(`Broker conformance: ${name}`, () => {
    const brokers: Broker[] = [];
    const connected = async () => {
      const broker = await factory();
      brokers.push(broker);
      await broker.connect();
      return broker;
    };
    const delivered = (what: string, check: () => boolean) =>
      waitFor(what, check, { timeout: deliveryTimeout, interval: 20 });

    afterAll(async () => {
      for (const broker of brokers) await broker.disconnect().catch(() => {});
    }, testTimeout);

    it(
      'delivers headers and a binary body intact, in publish order',
      async () => {
        const broker = await connected();
        expect(broker.name).toMatch(/\S/);
        const topic = randomName('topic');
        const box = inbox();
        await broker.subscribe(topic, box.handler);
        const bytes = new Uint8Array(256).map((_, i) => i);
        const header = {
          'Content-Type': 'application/octet-stream',
          'Micro-Topic': topic,
          'X-Text': 'héllo',
        };
        await broker.publish(topic, { header, body: bytes });
        for (let i = 0; i < 20; i++)
          await broker.publish(topic, { header: {}, body: body(`m${i}`) });
        await delivered('21 messages', () => box.events.length >= 21);
        const first = box.events[0]!;
        expect(first.topic).toBe(topic);
        expect(first.message.header).toMatchObject(header);
        expect([...first.message.body]).toEqual([...bytes]);
        expect(box.bodies().slice(1)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
      },
      testTimeout,
    );

    it(
      'broadcasts every message to every subscriber without a queue',
      async () => {
        const publisher = await connected();
        const subscriber = await connected();
        const topic = randomName('topic');
        const one = inbox();
        const two = inbox();
        await subscriber.subscribe(topic, one.handler);
        await publisher.subscribe(topic, two.handler);
        for (let i = 0; i < 10; i++)
          await publisher.publish(topic, { header: {}, body: body(`b${i}`) });
        await delivered(
          '10 messages at both subscribers',
          () => one.events.length >= 10 && two.events.length >= 10,
        );
        const expected = Array.from({ length: 10 }, (_, i) => `b${i}`);
        expect(one.bodies()).toEqual(expected);
        expect(two.bodies()).toEqual(expected);
      },
      testTimeout,
    );

    it(
      'delivers each message to exactly one member of a queue group',
      async () => {
        const broker = await connected();
        const other = await connected();
        const topic = randomName('topic');
        const queue = randomName('queue');
        const first = inbox();
        const second = inbox();
        const witness = inbox();
        await broker.subscribe(topic, first.handler, { queue });
        await other.subscribe(topic, second.handler, { queue });
        await broker.subscribe(topic, witness.handler);
        const count = 30;
        for (let i = 0; i < count; i++)
          await broker.publish(topic, { header: {}, body: body(`q${i}`) });
        await delivered('every message at the witness', () => witness.events.length >= count);
        await delivered(
          'every message in the group',
          () => first.events.length + second.events.length >= count,
        );
        const group = [...first.bodies(), ...second.bodies()].sort();
        expect(group).toEqual(Array.from({ length: count }, (_, i) => `q${i}`).sort());
      },
      testTimeout,
    );

    it(
      'stops delivering after unsubscribe',
      async () => {
        const broker = await connected();
        const topic = randomName('topic');
        const gone = inbox();
        const witness = inbox();
        const subscription = await broker.subscribe(topic, gone.handler);
        await broker.subscribe(topic, witness.handler);
        await broker.publish(topic, { header: {}, body: body('before') });
        await delivered(
          'the first message at both',
          () => gone.events.length === 1 && witness.events.length === 1,
        );
        await subscription.unsubscribe();
        await broker.publish(topic, { header: {}, body: body('after') });
        await delivered('the second message at the witness', () => witness.events.length === 2);
        expect(gone.bodies()).toEqual(['before']);
      },
      testTimeout,
    );

    it(
      'keeps topics apart',
      async () => {
        const broker = await connected();
        const [a, b] = [randomName('topic'), randomName('topic')];
        const onA = inbox();
        const onB = inbox();
        await broker.subscribe(a, onA.handler);
        await broker.subscribe(b, onB.handler);
        await broker.publish(a, { header: {}, body: body('for a') });
        await broker.publish(b, { header: {}, body: body('for b') });
        await delivered(
          'one message on each topic',
          () => onA.events.length === 1 && onB.events.length === 1,
        );
        expect(onA.bodies()).toEqual(['for a']);
        expect(onB.bodies()).toEqual(['for b']);
      },
      testTimeout,
    );

    it(
      'keeps delivering after a handler throws',
      async () => {
        const broker = await connected();
        const topic = randomName('topic');
        const seen: string[] = [];
        await broker.subscribe(topic, (event) => {
          const text = Buffer.from(event.message.body).toString('utf8');
          seen.push(text);
          if (text === 'poison') throw new Error('handler failed on purpose');
        });
        await broker.publish(topic, { header: {}, body: body('poison') });
        await broker.publish(topic, { header: {}, body: body('fine') });
        await delivered('the message after the failing one', () => seen.includes('fine'));
      },
      testTimeout,
    );

    if (capabilities.redeliversOnError) {
      it(
        'delivers a message again when its handler throws',
        async () => {
          const broker = await connected();
          const topic = randomName('topic');
          const queue = randomName('queue');
          let attempts = 0;
          await broker.subscribe(
            topic,
            () => {
              attempts++;
              if (attempts === 1) throw new Error('first attempt fails on purpose');
            },
            { queue },
          );
          await broker.publish(topic, { header: {}, body: body('retry me') });
          await delivered('a second delivery', () => attempts >= 2);
        },
        testTimeout,
      );
    }

    it(
      'lets a handler acknowledge itself with autoAck off',
      async () => {
        const broker = await connected();
        const topic = randomName('topic');
        const box = inbox();
        await broker.subscribe(
          topic,
          async (event) => {
            box.handler(event);
            await event.ack();
          },
          { autoAck: false },
        );
        await broker.publish(topic, { header: {}, body: body('manual') });
        await delivered('the message', () => box.events.length === 1);
        expect(box.bodies()).toEqual(['manual']);
      },
      testTimeout,
    );

    it(
      'waits for a running handler on disconnect',
      async () => {
        const broker = await connected();
        const topic = randomName('topic');
        let started = false;
        let finished = false;
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        await broker.subscribe(topic, async () => {
          started = true;
          await gate;
          finished = true;
        });
        await broker.publish(topic, { header: {}, body: body('slow') });
        await delivered('the handler to start', () => started);
        const disconnecting = broker.disconnect();
        setTimeout(release, 200);
        await within(disconnecting, deliveryTimeout, 'disconnect');
        expect(finished).toBe(true);
      },
      testTimeout,
    );

    it(
      'rejects publish with 503 once disconnected',
      async () => {
        const broker = await connected();
        await broker.disconnect();
        const error = await rejection(
          within(
            broker.publish(randomName('topic'), { header: {}, body: body('x') }),
            deliveryTimeout,
            'publish',
          ),
        );
        expect(isMicroError(error) && error.code).toBe(503);
      },
      testTimeout,
    );
  });
}
