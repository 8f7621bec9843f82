import { afterAll, describe, expect, it } from '@jest/globals';
import { createMemoryRegistry } from '@micro/core';
import { randomName, waitFor } from '@micro/testing';
import { BROADCAST_VERSION, SERVICE_NAME } from '../src/index.js';
import { deliveryPath, queryEscape } from '../src/wire.js';
import {
  brokerMaker,
  type FakeSubscriber,
  fakeSubscriber,
  inbox,
  rawRequest,
  registerNode,
  spyRegistry,
} from './helpers.js';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('HttpBroker on the wire', () => {
  const connected = brokerMaker();
  const fakes: FakeSubscriber[] = [];
  const fake = async (...args: Parameters<typeof fakeSubscriber>) => {
    const subscriber = await fakeSubscriber(...args);
    fakes.push(subscriber);
    return subscriber;
  };

  afterAll(async () => {
    for (const subscriber of fakes) await subscriber.close();
  });

  describe('the registry record of a subscription', () => {
    it('is go-micro JSON field for field: micro.http.broker, ff.http.broadcast, <topic>-<uuid>, TTL 1 min', async () => {
      const registry = spyRegistry(createMemoryRegistry());
      const broker = await connected({ registry });
      const topic = randomName('topic');
      await broker.subscribe(topic, () => {});

      expect(registry.registered).toHaveLength(1);
      const [{ service, options }] = registry.registered as [(typeof registry.registered)[number]];
      expect(options).toEqual({ ttl: 60_000 });
      // The JSON Go's json.Marshal writes for go-micro's registry.Service (field order,
      // nil metadata/endpoints as null, node metadata keys sorted).
      expect(JSON.stringify(service)).toMatch(
        new RegExp(
          `^${escapeRegExp(
            `{"name":"micro.http.broker","version":"ff.http.broadcast","metadata":null,"endpoints":null,"nodes":[{"metadata":{"broker":"http","secure":"false","topic":"${topic}"},"id":"${topic}-`,
          )}${UUID}${escapeRegExp(`","address":"${broker.address}"}]}`)}$`,
        ),
      );
      expect(broker.address).toMatch(/^127\.0\.0\.1:\d+$/);

      const [found] = await registry.getService(SERVICE_NAME);
      expect(found!.version).toBe(BROADCAST_VERSION);
      expect(found!.nodes).toEqual([
        {
          id: expect.stringMatching(new RegExp(`^${escapeRegExp(topic)}-${UUID}$`)),
          address: broker.address,
          metadata: { broker: 'http', secure: 'false', topic },
        },
      ]);
    });

    it('uses the queue name as the version, and a node id of its own per subscription', async () => {
      const registry = createMemoryRegistry();
      const broker = await connected({ registry });
      const topic = randomName('topic');
      const queue = randomName('queue');
      const one = await broker.subscribe(topic, () => {}, { queue });
      const two = await broker.subscribe(topic, () => {}, { queue });
      await broker.subscribe(topic, () => {}, { queue: '' }); // go-micro: empty queue = broadcast

      const services = await registry.getService(SERVICE_NAME);
      const byVersion = Object.fromEntries(services.map((s) => [s.version, s.nodes]));
      expect(Object.keys(byVersion).sort()).toEqual([BROADCAST_VERSION, queue].sort());
      expect(byVersion[queue]!.map((n) => n.id).sort()).toEqual([one.id, two.id].sort());
      expect(one.id).not.toBe(two.id);
      expect(one.queue).toBe(queue);
    });

    it('is registered again every interval, so it outlives its TTL, and removed on unsubscribe', async () => {
      const registry = spyRegistry(createMemoryRegistry());
      const broker = await connected({ registry, registerTtl: 400, registerInterval: 100 });
      const topic = randomName('topic');
      const subscription = await broker.subscribe(topic, () => {});
      const firstRegistered = Date.now();
      await waitFor('three renewals past the TTL', () => {
        return registry.registered.length >= 4 && Date.now() - firstRegistered > 500;
      });
      expect(registry.registered.every((r) => r.options?.ttl === 400)).toBe(true);
      const [live] = await registry.getService(SERVICE_NAME);
      expect(live!.nodes.map((n) => n.id)).toEqual([subscription.id]);

      await subscription.unsubscribe();
      await expect(registry.getService(SERVICE_NAME)).rejects.toMatchObject({ code: 404 });
    });
  });

  describe('receiving what a Go publisher POSTs', () => {
    // Exactly what go-micro's Publish sends: json.Marshal of broker.Message (keys
    // sorted), for a client.Publish of {"name":"John"} with content type JSON.
    const goEnvelope = (topic: string) =>
      `{"Header":{"Content-Type":"application/json","Micro-ID":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","Micro-Topic":"${topic}"},"Body":"eyJuYW1lIjoiSm9obiJ9Cg=="}`;
    const goHeaders = (body: string) => ({
      'User-Agent': 'Go-http-client/1.1',
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      'Accept-Encoding': 'gzip',
    });

    it('delivers it to the broadcast subscriber named by ?id= and answers 202', async () => {
      const broker = await connected({ registry: createMemoryRegistry() });
      const topic = randomName('topic');
      const box = inbox();
      const subscription = await broker.subscribe(topic, box.handler);
      const body = goEnvelope(topic);

      const answer = await rawRequest(broker.address, {
        path: `/?${new URLSearchParams({ id: subscription.id })}`,
        body,
        headers: goHeaders(body),
      });
      expect(answer.status).toBe(202);
      await waitFor('the delivery', () => box.events.length === 1);
      const [event] = box.events as [(typeof box.events)[number]];
      expect(event.topic).toBe(topic);
      expect(event.message.header).toEqual({
        'Content-Type': 'application/json',
        'Micro-ID': '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
        'Micro-Topic': topic,
      });
      expect(Buffer.from(event.message.body).toString('utf8')).toBe('{"name":"John"}\n');
    });

    it('answers a queue delivery 200 once the handler has run', async () => {
      const broker = await connected({ registry: createMemoryRegistry() });
      const topic = randomName('topic');
      let handled = false;
      const subscription = await broker.subscribe(
        topic,
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 50));
          handled = true;
        },
        { queue: 'workers' },
      );
      const body = goEnvelope(topic);
      const answer = await rawRequest(broker.address, {
        path: `/?id=${queryEscape(subscription.id)}`,
        body,
        headers: goHeaders(body),
      });
      expect(answer.status).toBe(200);
      expect(handled).toBe(true);
    });
  });

  describe('what it POSTs to a subscriber', () => {
    it("is go-micro's envelope, POST /?id=<Go-escaped node id>, application/json", async () => {
      const registry = createMemoryRegistry();
      const broker = await connected({ registry });
      const subscriber = await fake(200);
      // Characters Go's url.QueryEscape and URLSearchParams escape differently.
      const topic = `${randomName('topic')} a/b~c*é`;
      const id = await registerNode(registry, { topic, address: subscriber.address });

      await broker.publish(topic, {
        // Not in Go's order: the envelope must still be byte for byte what Go writes.
        header: { 'Micro-ID': 'a<b>&c', 'Content-Type': 'application/json' },
        body: Buffer.from('{"name":"John"}\n'),
      });

      expect(subscriber.requests).toHaveLength(1);
      const [request] = subscriber.requests as [(typeof subscriber.requests)[number]];
      expect(request.method).toBe('POST');
      const escaped = `${topic.split(' ')[0]}+a%2Fb~c%2A%C3%A9-${id.slice(topic.length + 1)}`;
      expect(request.url).toBe(`/?id=${escaped}`);
      expect(request.headers['content-type']).toBe('application/json');
      expect(Number(request.headers['content-length'])).toBe(Buffer.byteLength(request.body));
      expect(request.body).toBe(
        `{"Header":{"Content-Type":"application/json","Micro-ID":"a\\u003cb\\u003e\\u0026c","Micro-Topic":"${topic}"},"Body":"eyJuYW1lIjoiSm9obiJ9Cg=="}`,
      );
    });

    it('sets Micro-Topic to the topic published to, as go-micro does', async () => {
      const registry = createMemoryRegistry();
      const broker = await connected({ registry });
      const subscriber = await fake(200);
      const topic = randomName('topic');
      await registerNode(registry, { topic, address: subscriber.address });
      await broker.publish(topic, {
        header: { 'Micro-Topic': 'elsewhere' },
        body: new Uint8Array(),
      });
      expect(JSON.parse(subscriber.requests[0]!.body)).toEqual({
        Header: { 'Micro-Topic': topic },
        Body: '',
      });
    });

    it('skips nodes whose metadata is not broker=http and topic=<topic>', async () => {
      const registry = createMemoryRegistry();
      const broker = await connected({ registry });
      const wanted = await fake(200);
      const other = await fake(200);
      const topic = randomName('topic');
      const node = (id: string, address: string, metadata: Record<string, string>) => ({
        id,
        address,
        metadata,
      });
      await registry.register({
        name: SERVICE_NAME,
        version: BROADCAST_VERSION,
        nodes: [
          node(`${topic}-a`, wanted.address, { broker: 'http', secure: 'false', topic }),
          node(`${topic}-b`, other.address, { broker: 'nats', secure: 'false', topic }),
          node(`${topic}-c`, other.address, { broker: 'http', secure: 'false', topic: 'x' }),
          node(`${topic}-d`, other.address, {}),
        ],
      });
      await broker.publish(topic, { header: {}, body: Buffer.from('x') });
      expect(wanted.requests).toHaveLength(1);
      expect(other.requests).toHaveLength(0);
    });

    it('POSTs to one member of each queue group and to every broadcast node', async () => {
      const registry = createMemoryRegistry();
      const broker = await connected({ registry });
      const topic = randomName('topic');
      const members = [await fake(200), await fake(200), await fake(200)];
      const broadcast = [await fake(200), await fake(200)];
      for (const { address } of members) {
        await registerNode(registry, { topic, address, queue: 'workers' });
      }
      for (const { address } of broadcast) await registerNode(registry, { topic, address });
      for (let i = 0; i < 12; i++)
        await broker.publish(topic, { header: {}, body: Buffer.from('m') });
      expect(members.reduce((sum, m) => sum + m.requests.length, 0)).toBe(12);
      expect(broadcast.map((b) => b.requests.length)).toEqual([12, 12]);
    });
  });

  describe('helpers', () => {
    it("escapes like Go's url.QueryEscape", () => {
      // Go: url.QueryEscape("a b/c~*!'()é-_.") == "a+b%2Fc~%2A%21%27%28%29%C3%A9-_."
      expect(queryEscape("a b/c~*!'()é-_.")).toBe('a+b%2Fc~%2A%21%27%28%29%C3%A9-_.');
      expect(deliveryPath('orders-1')).toBe('/?id=orders-1');
    });
  });
});
