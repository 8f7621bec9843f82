import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createMemoryRegistry, isMicroError, type Registry, silentLogger } from '@micro/core';
import { randomName, recordingLogger, rejection } from '@micro/testing';
import { extractHost, parseListenAddress } from '../src/address.js';
import {
  BROKER_REGISTER_INTERVAL,
  BROKER_REGISTER_TTL,
  createHttpBroker,
  DEFAULT_ADDRESS,
  type HttpBroker,
  type HttpBrokerOptions,
  SERVICE_NAME,
} from '../src/index.js';
import { certs } from './helpers.js';

const code = (error: unknown) => (isMicroError(error) ? error.code : error);
const thrown = (make: () => unknown): unknown => {
  try {
    make();
  } catch (error) {
    return error;
  }
  throw new Error('expected it to throw');
};

describe('HttpBroker options', () => {
  const registry = createMemoryRegistry();
  const brokers: HttpBroker[] = [];
  const make = (options: Partial<HttpBrokerOptions>) => {
    const broker = createHttpBroker({ registry, logger: silentLogger, ...options });
    brokers.push(broker);
    return broker;
  };
  afterAll(async () => {
    for (const broker of brokers) await broker.disconnect();
  });

  it("has go-micro's defaults: loopback, any port, TTL 1 min, renewed every 30 s", () => {
    expect(DEFAULT_ADDRESS).toBe('127.0.0.1:0');
    expect(BROKER_REGISTER_TTL).toBe(60_000);
    expect(BROKER_REGISTER_INTERVAL).toBe(30_000);
    const broker = make({});
    expect(broker.name).toBe('http');
    expect(broker.address).toBe('127.0.0.1:0');
  });

  it('requires a registry, saying why, with a 400', () => {
    for (const options of [{}, { registry: undefined }, { registry: {} }, undefined]) {
      const error = thrown(() => createHttpBroker(options as unknown as HttpBrokerOptions));
      expect(code(error)).toBe(400);
      expect((error as Error).message).toMatch(/option registry is required/);
    }
  });

  it.each([
    ['no port', '127.0.0.1'],
    ['a bad port', '127.0.0.1:99999'],
    ['words', 'localhost:http'],
    ['an unbracketed IPv6 address', '::1:80'],
    ['a backwards range', '127.0.0.1:9000-8000'],
  ])('refuses a listen address with %s (400)', (_what, address) => {
    expect(code(thrown(() => make({ address })))).toBe(400);
  });

  it('refuses invalid numbers, half a TLS identity and an advertise without a port (400)', () => {
    for (const options of [
      { registerTtl: 0 },
      { registerTtl: 10_000, registerInterval: 10_000 },
      { timeout: -1 },
      { maxMessageSize: Number.NaN },
      { queueAttempts: 0 },
      { queueAttempts: 1.5 },
      { tls: { cert: certs.broker.cert } },
      { tls: { cert: certs.broker.cert, key: certs.broker.key, requestCert: true } },
      { advertise: '10.0.0.1' },
      { advertise: '0.0.0.0:8000' },
      { advertise: '10.0.0.1:0' },
    ]) {
      expect(code(thrown(() => make(options as Partial<HttpBrokerOptions>)))).toBe(400);
    }
  });

  it('parses go-micro listen forms: host:port, [ipv6]:port, :port, host:min-max', () => {
    expect(parseListenAddress('127.0.0.1:0')).toEqual({
      host: '127.0.0.1',
      minPort: 0,
      maxPort: 0,
    });
    expect(parseListenAddress('[::1]:8001')).toEqual({ host: '::1', minPort: 8001, maxPort: 8001 });
    expect(parseListenAddress(':8001')).toEqual({ host: '', minPort: 8001, maxPort: 8001 });
    expect(parseListenAddress('0.0.0.0:8000-8010')).toEqual({
      host: '0.0.0.0',
      minPort: 8000,
      maxPort: 8010,
    });
  });

  it('listens on addresses[0] when address is not given (what a Service passes)', async () => {
    const broker = make({ addresses: ['127.0.0.1:0', 'ignored:1'] });
    await broker.connect();
    expect(broker.address).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    const explicit = make({ address: '[::1]:0', addresses: ['127.0.0.1:0'] });
    await explicit.connect();
    expect(explicit.address).toMatch(/^\[::1\]:[1-9]\d*$/);
  });

  it('binds the first free port of a range, and says so with a 503 when none is free', async () => {
    const blocker = http.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const broker = make({ address: `127.0.0.1:${port}-${port + 20}` });
      await broker.connect();
      const bound = Number(broker.address.split(':')[1]);
      expect(bound).toBeGreaterThan(port);
      expect(bound).toBeLessThanOrEqual(port + 20);
      const busy = make({ address: `127.0.0.1:${port}` });
      const error = await rejection(busy.connect());
      expect(code(error)).toBe(503);
      expect((error as Error).message).toMatch(/cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });

  it("registers this host's IP for a wildcard listener, as go-micro's addr.Extract", async () => {
    const broker = make({ address: '0.0.0.0:0' });
    await broker.connect();
    const port = broker.address.split(':').pop();
    const ipv4 = Object.values(networkInterfaces())
      .flat()
      .filter((i) => i && !i.internal && i.family === 'IPv4')
      .map((i) => i!.address);
    const expected =
      ipv4.find((a) => /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(a)) ??
      ipv4[0] ??
      '127.0.0.1';
    expect(broker.advertisedAddress).toBe(`${expected}:${port}`);
    const topic = randomName('topic');
    await broker.subscribe(topic, () => {});
    const [service] = await registry.getService(SERVICE_NAME);
    expect(service!.nodes.find((n) => n.metadata?.topic === topic)?.address).toBe(
      `${expected}:${port}`,
    );
    expect(extractHost('10.1.2.3')).toBe('10.1.2.3');
    expect(extractHost('127.0.0.1')).toBe('127.0.0.1');
  });

  it('registers advertise instead of the listener address when given', async () => {
    const local = createMemoryRegistry();
    const broker = createHttpBroker({
      registry: local as Registry,
      logger: silentLogger,
      advertise: '203.0.113.7:31000',
    });
    brokers.push(broker);
    await broker.connect();
    await broker.subscribe('t', () => {});
    const [service] = await local.getService(SERVICE_NAME);
    expect(service!.nodes[0]!.address).toBe('203.0.113.7:31000');
  });

  it('warns loudly when TLS verification is turned off', () => {
    const logger = recordingLogger();
    createHttpBroker({ registry, logger, tls: { rejectUnauthorized: false } });
    expect(logger.find('warn', 'TLS verification of subscribers is OFF')).toHaveLength(1);
  });

  it('connect and disconnect are idempotent and the broker can connect again', async () => {
    const broker = make({});
    await Promise.all([broker.connect(), broker.connect()]);
    const first = broker.address;
    expect(broker.connected).toBe(true);
    await Promise.all([broker.disconnect(), broker.disconnect()]);
    expect(broker.connected).toBe(false);
    expect(broker.address).toBe('127.0.0.1:0');
    await broker.connect();
    expect(broker.address).not.toBe('127.0.0.1:0');
    expect(broker.address).not.toBe(first);
  });
});
