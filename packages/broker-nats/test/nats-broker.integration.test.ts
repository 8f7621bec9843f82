import { afterEach, describe, expect, it } from '@jest/globals';
import { type Event, isMicroError } from '@micro/core';
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
import { connect, type NatsConnection } from 'nats';
import { createNatsBroker, type NatsBroker, type NatsBrokerOptions } from '../src/index.js';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

describeWithServer('NatsBroker', ['MICRO_TEST_NATS_ADDRESS'], (env) => {
  const address = env.MICRO_TEST_NATS_ADDRESS;
  const brokers: NatsBroker[] = [];
  const clients: NatsConnection[] = [];
  const broker = async (options: NatsBrokerOptions = {}) => {
    const created = createNatsBroker({
      addresses: [address],
      logger: recordingLogger(),
      ...options,
    });
    brokers.push(created);
    await created.connect();
    return created;
  };
  const client = async () => {
    const nc = await connect({ servers: address });
    clients.push(nc);
    return nc;
  };

  // Close each test's clients when it ends, so none is left reconnecting through a later
  // test's server restart (nats.js keeps its reconnect timer after close).
  afterEach(async () => {
    for (const b of brokers.splice(0)) await b.disconnect().catch(() => {});
    for (const nc of clients.splice(0)) await nc.close().catch(() => {});
  }, 30_000);

  brokerConformance('nats', () => createNatsBroker({ addresses: [address] }), {
    redeliversOnError: false,
  });

  describe('wire format (go-micro broker/nats)', () => {
    it('publishes exactly the envelope go-micro writes, on subject = topic', async () => {
      const micro = await broker();
      const nc = await client();
      const topic = randomName('wire');
      const seen: { subject: string; data: string }[] = [];
      nc.subscribe(topic, {
        callback: (_e, m) => seen.push({ subject: m.subject, data: text(m.data) }),
      });
      await nc.flush();
      await micro.publish(topic, {
        header: {
          'Micro-Topic': topic,
          'Content-Type': 'application/json',
          'Micro-ID': '7a3e0c1e-4b0b-4d7a-9f0e-0d7c2a1b9c11',
        },
        body: Buffer.from('{"name":"Ada"}\n'),
      });
      await waitFor('the raw subscriber to get the message', () => seen.length === 1);
      // what Go's json.Marshal(&broker.Message{...}) writes: keys sorted, body base64
      expect(seen[0]).toEqual({
        subject: topic,
        data: `{"Header":{"Content-Type":"application/json","Micro-ID":"7a3e0c1e-4b0b-4d7a-9f0e-0d7c2a1b9c11","Micro-Topic":"${topic}"},"Body":"eyJuYW1lIjoiQWRhIn0K"}`,
      });
    });

    it('delivers an envelope published by a Go service with its header and body decoded', async () => {
      const micro = await broker();
      const nc = await client();
      const topic = randomName('wire');
      const events: Event[] = [];
      await micro.subscribe(topic, (event) => {
        events.push(event);
      });
      // bytes as Go's encoding/json marshals a go-micro broker.Message (HTML-escaped, \u0001)
      nc.publish(
        topic,
        `{"Header":{"A":"é\\t\\b\\f\\u0001","Micro-Topic":"${topic}","X-Html":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"},"Body":"AAEC/f7/"}`,
      );
      await waitFor('the Go envelope', () => events.length === 1);
      expect(events[0]!.topic).toBe(topic);
      expect(events[0]!.message.header).toEqual({
        A: 'é\t\b\f\u0001',
        'Micro-Topic': topic,
        'X-Html': '<a href="x">&</a>',
      });
      expect([...events[0]!.message.body]).toEqual([0, 1, 2, 253, 254, 255]);
    });

    it('never hands a payload that is not an envelope to the handler, logs it, and keeps the subscription', async () => {
      const logger = recordingLogger();
      const micro = await broker({ logger });
      const nc = await client();
      const topic = randomName('wire');
      const bodies: string[] = [];
      await micro.subscribe(topic, (event) => {
        bodies.push(text(event.message.body));
      });
      nc.publish(topic, 'plain text from a non-go-micro publisher');
      nc.publish(topic, '{"Header":"not an object","Body":"aGk="}');
      nc.publish(topic, '{"Header":{},"Body":"aGk="}');
      await waitFor('the valid envelope after the bad ones', () => bodies.length === 1);
      expect(bodies).toEqual(['hi']);
      const dropped = logger.find('error', 'not a go-micro broker envelope');
      expect(dropped).toHaveLength(2);
      expect(dropped.every((line) => line.fields.topic === topic)).toBe(true);
    });

    it('maps the queue option to a NATS queue group shared with Go subscribers', async () => {
      const micro = await broker();
      const nc = await client();
      const topic = randomName('wire');
      const queue = randomName('queue');
      const ours: string[] = [];
      const theirs: string[] = [];
      nc.subscribe(topic, { queue, callback: (_e, m) => theirs.push(text(m.data)) });
      await nc.flush();
      await micro.subscribe(
        topic,
        (event) => {
          ours.push(text(event.message.body));
        },
        { queue },
      );
      for (let i = 0; i < 40; i++)
        await micro.publish(topic, { header: {}, body: Buffer.from(`q${i}`) });
      await waitFor('40 messages across the group', () => ours.length + theirs.length === 40);
      // each message went to exactly one member, and both members got some
      expect(ours.length).toBeGreaterThan(0);
      expect(theirs.length).toBeGreaterThan(0);
      const all = [...ours, ...theirs.map((t) => text(Buffer.from(JSON.parse(t).Body, 'base64')))];
      expect(new Set(all).size).toBe(40);
    });
  });

  describe('delivery, lifecycle and input', () => {
    it('subscribes to NATS wildcards and reports the concrete subject as the topic', async () => {
      const micro = await broker();
      const base = randomName('wild');
      const topics: string[] = [];
      await micro.subscribe(`${base}.*.created`, (event) => {
        topics.push(event.topic);
      });
      await micro.publish(`${base}.order.created`, { header: {}, body: Buffer.from('1') });
      await micro.publish(`${base}.order.deleted`, { header: {}, body: Buffer.from('2') });
      await micro.publish(`${base}.user.created`, { header: {}, body: Buffer.from('3') });
      await waitFor('two matching messages', () => topics.length === 2);
      expect(topics).toEqual([`${base}.order.created`, `${base}.user.created`]);
    });

    it('connects again after disconnect()', async () => {
      const micro = await broker();
      await micro.disconnect();
      expect(micro.connected).toBe(false);
      await micro.connect();
      expect(micro.connected).toBe(true);
      expect(micro.address).toBe(address);
      const topic = randomName('again');
      const got: string[] = [];
      await micro.subscribe(topic, (event) => {
        got.push(text(event.message.body));
      });
      await micro.publish(topic, { header: {}, body: Buffer.from('back') });
      await waitFor('the message after reconnecting', () => got.length === 1);
      expect(got).toEqual(['back']);
    });

    it('runs one handler at a time per subscription and bounds the backlog of a slow consumer', async () => {
      const logger = recordingLogger();
      const micro = await broker({ logger, maxPendingMessages: 5 });
      const topic = randomName('slow');
      let running = 0;
      let overlapped = false;
      const handled: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      await micro.subscribe(topic, async (event) => {
        running++;
        if (running > 1) overlapped = true;
        await gate;
        handled.push(text(event.message.body));
        running--;
      });
      for (let i = 0; i < 20; i++)
        await micro.publish(topic, { header: {}, body: Buffer.from(`s${i}`) });
      await waitFor(
        'the slow-consumer error',
        () => logger.find('error', 'slow consumer').length > 0,
      );
      release();
      await waitFor('the backlog to be handled', () => logger.find('warn', 'caught up').length > 0);
      // one running + five waiting were kept, in order; the rest were dropped and logged
      expect(handled).toEqual(['s0', 's1', 's2', 's3', 's4', 's5']);
      expect(overlapped).toBe(false);
      expect(logger.find('warn', 'caught up')[0]!.fields.dropped).toBe(14);
    });

    it('refuses a topic that would change meaning on the NATS protocol line', async () => {
      const micro = await broker();
      const error = await rejection(micro.publish('a b', { header: {}, body: Buffer.from('x') }));
      expect(isMicroError(error) && error.code).toBe(400);
      const subscribeError = await rejection(micro.subscribe('a b', () => {}));
      expect(isMicroError(subscribeError) && subscribeError.code).toBe(400);
    });

    it('rejects a message larger than the server max_payload with 413', async () => {
      const micro = await broker();
      const error = await rejection(
        micro.publish(randomName('big'), { header: {}, body: new Uint8Array(1024 * 1024) }),
      );
      expect(isMicroError(error) && error.code).toBe(413);
      // and the connection is still usable
      const topic = randomName('big');
      const got: string[] = [];
      await micro.subscribe(topic, (e) => {
        got.push(text(e.message.body));
      });
      await micro.publish(topic, { header: {}, body: Buffer.from('small') });
      await waitFor('the small message', () => got.length === 1);
    });
  });

  describe('faults', () => {
    it('connect() while the server is stopped fails with 503 within its timeout', async () => {
      await controlServer('nats', 'stop');
      try {
        const down = createNatsBroker({
          addresses: [address],
          timeout: 1_000,
          logger: recordingLogger(),
        });
        const started = Date.now();
        const error = await within(rejection(down.connect()), 5_000, 'connect');
        expect(isMicroError(error) && error.code).toBe(503);
        expect(Date.now() - started).toBeLessThan(2_500);
        const publishError = await rejection(
          down.publish(randomName('t'), { header: {}, body: Buffer.from('x') }),
        );
        expect(isMicroError(publishError) && publishError.code).toBe(503);
      } finally {
        await controlServer('nats', 'start');
      }
    }, 60_000);

    it('survives a server restart: subscriptions resume, held messages arrive, none is silently lost', async () => {
      const envelope = 'm0000'.length + '{"Header":{},"Body":""}'.length + 4;
      const publisherLog = recordingLogger();
      // A publishes and also subscribes on its own connection; B subscribes on another.
      const a = await broker({
        logger: publisherLog,
        reconnectTimeWait: 250,
        // room for 20 envelopes while disconnected, so the bound is exercised too
        reconnectBufferSize: envelope * 20,
        publishTimeout: 20_000,
      });
      const b = await broker({ reconnectTimeWait: 250 });
      const impatient = await broker({ reconnectTimeWait: 250, publishTimeout: 300 });
      const topic = randomName('restart');
      const atA = new Set<number>();
      const atB = new Set<number>();
      const number = (event: Event) => Number(text(event.message.body).slice(1));
      await a.subscribe(topic, (event) => {
        atA.add(number(event));
      });
      await b.subscribe(topic, (event) => {
        atB.add(number(event));
      });

      type Phase = 'before' | 'stopping' | 'down' | 'reconnecting';
      const sent: { phase: Phase; outcome?: 'resolved' | 'rejected'; code?: number }[] = [];
      const settled: Promise<void>[] = [];
      let phase: Phase = 'before';
      let running = true;
      const publishOne = () => {
        const n = sent.length;
        const record: (typeof sent)[number] = {
          phase: phase === 'stopping' && !a.connected ? 'down' : phase,
        };
        sent.push(record);
        settled.push(
          a
            .publish(topic, { header: {}, body: Buffer.from(`m${String(n).padStart(4, '0')}`) })
            .then(
              () => {
                record.outcome = 'resolved';
              },
              (error: unknown) => {
                record.outcome = 'rejected';
                record.code = isMicroError(error) ? error.code : -1;
              },
            ),
        );
      };
      const loop = (async () => {
        while (running) {
          publishOne();
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();

      await waitFor('messages before the restart at both', () => atA.size >= 10 && atB.size >= 10, {
        timeout: 10_000,
      });
      let resumedAt = Number.POSITIVE_INFINITY;
      let serverUp = true;
      try {
        phase = 'stopping';
        serverUp = false;
        await controlServer('nats', 'stop');
        await waitFor('the publisher to see the disconnect', () => !a.connected, {
          timeout: 10_000,
        });
        phase = 'down';
        await waitFor(
          'a few publishes during the outage',
          () => sent.filter((s) => s.phase === 'down').length >= 30,
          { timeout: 10_000 },
        );
        // a held publish that outlives publishTimeout fails and is withdrawn
        const withdrawn = await rejection(
          impatient.publish(topic, { header: {}, body: Buffer.from('m9999') }),
        );
        expect(isMicroError(withdrawn) && withdrawn.code).toBe(503);
        phase = 'reconnecting';
        await controlServer('nats', 'start');
        serverUp = true;
        await waitFor('both brokers to reconnect', () => a.connected && b.connected, {
          timeout: 15_000,
        });
        // B's subscription is back once a message published after the restart reaches it
        const firstAfter = sent.length;
        await waitFor('B to receive a message published after the restart', () =>
          [...atB].some((n) => n >= firstAfter),
        );
        resumedAt = sent.length;
        await waitFor('20 more publishes', () => sent.length >= resumedAt + 20);
      } finally {
        running = false;
        await loop;
        if (!serverUp) await controlServer('nats', 'start');
      }
      await within(Promise.all(settled), 25_000, 'every publish to settle');
      await waitFor('every accepted message at A', () =>
        sent.every((s, n) => s.outcome !== 'resolved' || s.phase === 'stopping' || atA.has(n)),
      );
      await waitFor('every message after the resume at B', () =>
        sent.every((_s, n) => n < resumedAt || atB.has(n)),
      );

      const down = sent.map((s, n) => ({ ...s, n })).filter((s) => s.phase === 'down');
      const held = down.filter((s) => s.outcome === 'resolved');
      const refused = down.filter((s) => s.outcome === 'rejected');
      // during the outage each publish was held and delivered after the reconnect,
      // or refused with a 503 the caller saw (the buffer held 20): none silently lost
      expect(held.length).toBeGreaterThan(0);
      expect(held.length).toBeLessThanOrEqual(20);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((s) => s.code === 503)).toBe(true);
      expect(held.every((s) => atA.has(s.n))).toBe(true);
      expect(refused.some((s) => atA.has(s.n) || atB.has(s.n))).toBe(false);
      // messages before the stop arrived at both; after the resume at both
      sent.forEach((s, n) => {
        if (s.phase === 'before') expect([n, atA.has(n), atB.has(n)]).toEqual([n, true, true]);
      });
      // the withdrawn message was never sent later
      expect(atB.has(9999)).toBe(false);
      // what a user sees in the logs
      expect(publisherLog.find('warn', 'disconnected').length).toBeGreaterThan(0);
      expect(publisherLog.find('info', 'reconnected').length).toBeGreaterThan(0);
    }, 90_000);

    it('disconnect() during an outage returns promptly and fails held publishes with 503', async () => {
      const micro = await broker({ reconnectTimeWait: 250, timeout: 1_000 });
      await controlServer('nats', 'stop');
      try {
        await waitFor('the disconnect to be seen', () => !micro.connected, { timeout: 10_000 });
        const held = micro.publish(randomName('t'), { header: {}, body: Buffer.from('x') });
        held.catch(() => {});
        await within(micro.disconnect(), 5_000, 'disconnect');
        const error = await rejection(held);
        expect(isMicroError(error) && error.code).toBe(503);
      } finally {
        await controlServer('nats', 'start');
      }
    }, 60_000);
  });
});
