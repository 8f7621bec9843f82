import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { isMicroError, type Service, silentLogger } from '@micro/core';
import { rejection } from '@micro/testing';
import { createMdnsRegistry, MdnsRegistry } from '../src/index.js';

// Nothing here reaches the network: every call fails before a socket is opened, or
// (interface not on this host) when opening it.
const options = { interface: '127.0.0.1', port: 15399, logger: silentLogger };

function service(address: string, id = 'svc-1', name = 'svc'): Service {
  return { name, version: 'v1', nodes: [{ id, address, metadata: { protocol: 'mucp' } }] };
}

async function code(promise: Promise<unknown>): Promise<number | undefined> {
  const error = await rejection(promise);
  return isMicroError(error) ? error.code : undefined;
}

describe('MdnsRegistry options and errors', () => {
  it("is named as go-micro's mdns registry", () => {
    const registry = createMdnsRegistry(options);
    expect(registry).toBeInstanceOf(MdnsRegistry);
    expect(registry.name).toBe('mdns');
  });

  it('rejects invalid options with a 400', () => {
    const bad = [
      { interface: 'eth0' },
      { interface: '::1' },
      { port: 0 },
      { port: 70_000 },
      { port: 53.5 },
      { domain: '..' },
      { domain: `${'x'.repeat(64)}.` },
      { timeout: 0 },
      { timeout: Number.NaN },
    ];
    for (const option of bad) {
      let thrown: unknown;
      try {
        createMdnsRegistry({ ...options, ...option });
      } catch (error) {
        thrown = error;
      }
      expect(isMicroError(thrown) && thrown.code).toBe(400);
    }
    expect(() => createMdnsRegistry({ ...options, domain: 'local.' })).not.toThrow();
  });

  it('rejects a node it cannot publish with a 400 saying why', async () => {
    const registry = createMdnsRegistry(options);
    for (const address of ['localhost:80', '10.0.0.1', '10.0.0.1:0', '']) {
      const error = await rejection(registry.register(service(address)));
      expect(isMicroError(error) && error.code).toBe(400);
      expect((error as Error).message).toMatch(/svc-1/);
    }
    expect(await code(registry.register(service('10.0.0.1:80', 'x'.repeat(64))))).toBe(400);
    expect(await code(registry.register(service('10.0.0.1:80', 'a..b')))).toBe(400);
    expect(await code(registry.register(service('10.0.0.1:80', '')))).toBe(400);
    expect(await code(registry.register({ ...service('10.0.0.1:80'), name: '' }))).toBe(400);
    await registry.close();
  });

  it('rejects a node whose records do not fit in a UDP packet with a 413', async () => {
    const registry = createMdnsRegistry(options);
    const endpoints = Array.from({ length: 400 }, () => ({
      name: randomBytes(64).toString('hex'),
      request: null,
      response: null,
      metadata: { note: randomBytes(64).toString('hex') },
    }));
    const error = await rejection(registry.register({ ...service('10.0.0.1:80'), endpoints }));
    expect(isMicroError(error) && error.code).toBe(413);
    await registry.close();
  });

  it('rejects a service name that cannot be a DNS name with a 400', async () => {
    const registry = createMdnsRegistry(options);
    expect(await code(registry.getService(''))).toBe(400);
    expect(await code(registry.getService('x'.repeat(64)))).toBe(400);
    await registry.close();
  });

  it('answers 503 promptly when the interface is not an address of this host', async () => {
    const registry = createMdnsRegistry({ ...options, interface: '192.0.2.1' });
    const started = Date.now();
    const error = await rejection(registry.getService('svc'));
    expect(isMicroError(error) && error.code).toBe(503);
    expect((error as Error).message).toMatch(/192\.0\.2\.1 is not an IPv4 address of this host/);
    expect(await code(registry.watch())).toBe(503);
    expect(await code(registry.register(service('10.0.0.1:80')))).toBe(503);
    expect(Date.now() - started).toBeLessThan(1_000);
    await registry.close();
  });

  it('is closed for good after close(), which is idempotent', async () => {
    const registry = createMdnsRegistry(options);
    await registry.deregister(service('10.0.0.1:80'));
    await registry.close();
    await registry.close();
    expect(await code(registry.register(service('10.0.0.1:80')))).toBe(503);
    expect(await code(registry.getService('svc'))).toBe(503);
    expect(await code(registry.listServices())).toBe(503);
    expect(await code(registry.watch())).toBe(503);
    await expect(registry.deregister(service('10.0.0.1:80'))).resolves.toBeUndefined();
  });
});
