// HTTPS between brokers, with verification on by default (go-micro shipped its
// HTTP broker with InsecureSkipVerify, micro/go-micro#2713). Certificates: fixtures/tls.
import { afterAll, describe, expect, it } from '@jest/globals';
import { createMemoryRegistry, isMicroError } from '@micro/core';
import { randomName, rejection, waitFor } from '@micro/testing';
import { SERVICE_NAME } from '../src/index.js';
import {
  brokerMaker,
  certs,
  type FakeSubscriber,
  fakeSubscriber,
  inbox,
  registerNode,
} from './helpers.js';

const code = (error: unknown) => (isMicroError(error) ? error.code : error);
const body = (text: string) => Buffer.from(text);

describe('HttpBroker over TLS', () => {
  const connected = brokerMaker();
  const fakes: FakeSubscriber[] = [];
  afterAll(async () => {
    for (const fake of fakes) await fake.close();
  });

  it('serves HTTPS, registers secure=true, and delivers between brokers trusting the CA', async () => {
    const registry = createMemoryRegistry();
    const tls = { ...certs.broker, ca: certs.ca };
    const subscriber = await connected({ registry, tls });
    const publisher = await connected({ registry, tls: { ca: certs.ca } });
    const topic = randomName('topic');
    const box = inbox();
    await subscriber.subscribe(topic, box.handler);
    const [service] = await registry.getService(SERVICE_NAME);
    expect(service!.nodes[0]!.metadata).toEqual({ broker: 'http', secure: 'true', topic });
    await publisher.publish(topic, { header: {}, body: body('over tls') });
    await waitFor('the delivery', () => box.events.length === 1);
    expect(box.bodies()).toEqual(['over tls']);
  });

  it('POSTs with https:// to a node registered secure=true', async () => {
    const registry = createMemoryRegistry();
    const fake = await fakeSubscriber(200, certs.broker);
    fakes.push(fake);
    const publisher = await connected({ registry, tls: { ca: certs.ca } });
    const topic = randomName('topic');
    await registerNode(registry, { topic, address: fake.address, secure: true });
    await publisher.publish(topic, { header: {}, body: body('x') });
    expect(fake.requests.map((r) => r.encrypted)).toEqual([true]);
  });

  it('refuses a subscriber whose certificate it cannot verify (503), by default', async () => {
    const registry = createMemoryRegistry();
    const subscriber = await connected({ registry, tls: certs.broker });
    const publisher = await connected({ registry }); // Node's root CAs only
    const topic = randomName('topic');
    const box = inbox();
    await subscriber.subscribe(topic, box.handler);
    const error = await rejection(publisher.publish(topic, { header: {}, body: body('x') }));
    expect(code(error)).toBe(503);
    expect((error as Error).message).toMatch(/certificate/i);
    expect(box.events).toHaveLength(0);
  });

  it('checks certificates against tls.servername when a fleet shares one', async () => {
    const registry = createMemoryRegistry();
    // The certificate names broker.internal only, not 127.0.0.1.
    const subscriber = await connected({ registry, tls: { ...certs.fleet, ca: certs.ca } });
    const strict = await connected({ registry, tls: { ca: certs.ca } });
    const named = await connected({
      registry,
      tls: { ca: certs.ca, servername: 'broker.internal' },
    });
    const topic = randomName('topic');
    const box = inbox();
    await subscriber.subscribe(topic, box.handler);
    const error = await rejection(strict.publish(topic, { header: {}, body: body('x') }));
    expect((error as Error).message).toMatch(/IP: 127\.0\.0\.1 is not in the cert's list/);
    await named.publish(topic, { header: {}, body: body('named') });
    await waitFor('the delivery', () => box.events.length === 1);
  });

  it('requires and checks client certificates with requestCert (mutual TLS)', async () => {
    const registry = createMemoryRegistry();
    const subscriber = await connected({
      registry,
      tls: { ...certs.broker, ca: certs.ca, requestCert: true },
    });
    const anonymous = await connected({ registry, tls: { ca: certs.ca } });
    const member = await connected({ registry, tls: { ...certs.broker, ca: certs.ca } });
    const topic = randomName('topic');
    const box = inbox();
    await subscriber.subscribe(topic, box.handler);
    expect(code(await rejection(anonymous.publish(topic, { header: {}, body: body('x') })))).toBe(
      503,
    );
    await member.publish(topic, { header: {}, body: body('member') });
    await waitFor('the delivery', () => box.events.length === 1);
    expect(box.bodies()).toEqual(['member']);
  });
});
