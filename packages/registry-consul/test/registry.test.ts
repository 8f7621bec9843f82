/**
 * The registry against a stand-in Consul HTTP API: what it sends (go-micro's
 * requests, exactly), how it maps failures, and how a watch diffs answers. The
 * real server is in consul.integration.test.ts.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  isMicroError,
  type LogFields,
  type Logger,
  type Service,
  type WatchEvent,
  type Watcher,
} from '@micro/core';
import { rejection, waitFor, within } from '@micro/testing';
import { decodeEndpoints, decodeMetadata, decodeVersion, encodeTags } from '../src/encoding.js';
import {
  type ConsulRegistry,
  type ConsulRegistryOptions,
  createConsulRegistry,
} from '../src/index.js';
import { FakeConsul, type RecordedRequest } from './fake-consul.js';

interface Line {
  level: string;
  message: string;
  fields?: LogFields;
}

function recordingLogger(lines: Line[]): Logger {
  const log = (level: string) => (message: string, fields?: LogFields) => {
    lines.push({ level, message, fields });
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

function service(version = '1.0.0', ...ids: string[]): Service {
  return {
    name: 'greeter',
    version,
    metadata: { team: 'payments' },
    endpoints: [
      {
        name: 'Greeter.Hello',
        request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string' }] },
        response: { name: 'Response', type: 'Response', values: null },
        metadata: {},
      },
    ],
    nodes: (ids.length ? ids : ['a']).map((id, i) => ({
      id: `greeter-${id}`,
      address: `10.0.0.5:${4000 + i}`,
      metadata: { protocol: 'mucp', registry: 'consul' },
    })),
  };
}

const isRegister = (r: RecordedRequest) => r.path === '/v1/agent/service/register';
const isPass = (r: RecordedRequest) => r.path.startsWith('/v1/agent/check/pass/');

describe('ConsulRegistry (against a stand-in Consul API)', () => {
  let fake: FakeConsul;
  let address: string;
  let logs: Line[];
  const registries: ConsulRegistry[] = [];
  const open = (options: ConsulRegistryOptions = {}) => {
    const registry = createConsulRegistry({
      address,
      logger: recordingLogger(logs),
      timeout: 2_000,
      watchWait: 2_000,
      ...options,
    });
    registries.push(registry);
    return registry;
  };

  beforeEach(async () => {
    fake = new FakeConsul();
    address = await fake.start();
    logs = [];
  });

  afterEach(async () => {
    for (const registry of registries.splice(0)) await registry.close();
    await fake.stop();
  });

  it('is called consul', () => {
    expect(open().name).toBe('consul');
  });

  it("registers one agent service per node in go-micro's layout, then passes the TTL once", async () => {
    const registry = open({ token: 'acl-token' });
    await registry.register(service('1.0.0', 'a', 'b'), { ttl: 90_000 });
    const registers = fake.requests.filter(isRegister);
    expect(registers).toHaveLength(2);
    const body = registers.find((r) => (r.body as { ID: string }).ID === 'greeter-a')!
      .body as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(
      ['Address', 'Check', 'ID', 'Meta', 'Name', 'Port', 'Tags'].sort(),
    );
    expect(body).toMatchObject({
      ID: 'greeter-a',
      Name: 'greeter',
      Address: '10.0.0.5',
      Port: 4000,
      Meta: { protocol: 'mucp', registry: 'consul' },
      Check: { TTL: '1m30s', DeregisterCriticalServiceAfter: '1m35s' },
    });
    const tags = body.Tags as string[];
    expect(tags.map((t) => t.slice(0, 2))).toEqual(['t-', 't-', 'e-', 'v-']);
    expect(decodeMetadata(tags)).toEqual({ protocol: 'mucp', registry: 'consul' });
    expect(decodeVersion(tags)).toBe('1.0.0');
    expect(decodeEndpoints(tags)[0]!.name).toBe('Greeter.Hello');
    expect(fake.calls(isPass).sort()).toEqual([
      'PUT /v1/agent/check/pass/service:greeter-a',
      'PUT /v1/agent/check/pass/service:greeter-b',
    ]);
    expect(registers[0]!.headers['x-consul-token']).toBe('acl-token');
  });

  it('only passes the TTL when the same record is registered again', async () => {
    const registry = open();
    const svc = service();
    await registry.register(svc, { ttl: 30_000 });
    fake.requests.length = 0;
    await registry.register(svc, { ttl: 30_000 });
    await registry.register(structuredClone(svc), { ttl: 30_000 });
    expect(fake.calls()).toEqual([
      'PUT /v1/agent/check/pass/service:greeter-a',
      'PUT /v1/agent/check/pass/service:greeter-a',
    ]);
  });

  it('registers in full again when the record changed', async () => {
    const registry = open();
    const svc = service();
    await registry.register(svc, { ttl: 30_000 });
    fake.requests.length = 0;
    const moved = structuredClone(svc);
    moved.nodes[0]!.metadata = { zone: 'b' };
    await registry.register(moved, { ttl: 30_000 });
    expect(fake.calls()).toEqual([
      'PUT /v1/agent/service/register',
      'PUT /v1/agent/check/pass/service:greeter-a',
    ]);
    await registry.register(moved, { ttl: 40_000 });
    expect(fake.calls(isRegister)).toHaveLength(2);
  });

  it('registers in full again when the agent lost the service (Consul restarted)', async () => {
    const registry = open();
    const svc = service();
    await registry.register(svc, { ttl: 30_000 });
    fake.restart();
    fake.requests.length = 0;
    await registry.register(svc, { ttl: 30_000 });
    expect(fake.calls()).toEqual([
      'PUT /v1/agent/check/pass/service:greeter-a',
      'PUT /v1/agent/service/register',
      'PUT /v1/agent/check/pass/service:greeter-a',
    ]);
    expect(fake.services.get('greeter-a')?.status).toBe('passing');
  });

  it('registers without a check when the TTL is 0, and again in full each time', async () => {
    const registry = open();
    await registry.register(service(), { ttl: 0 });
    await registry.register(service(), { ttl: 0 });
    const registers = fake.requests.filter(isRegister);
    expect(registers).toHaveLength(2);
    expect((registers[0]!.body as Record<string, unknown>).Check).toBeUndefined();
    expect(fake.calls(isPass)).toEqual([]);
  });

  it('uses the default TTL of 90 s when none is given', async () => {
    await open().register(service());
    const body = fake.requests.find(isRegister)!.body as { Check: Record<string, string> };
    expect(body.Check).toEqual({ TTL: '1m30s', DeregisterCriticalServiceAfter: '1m35s' });
  });

  it("registers go-micro's TCP check instead of a TTL when asked to", async () => {
    const registry = open({ tcpCheck: { interval: 10_000 } });
    await registry.register(service(), { ttl: 30_000 });
    await registry.register(service(), { ttl: 30_000 });
    const body = fake.requests.find(isRegister)!.body as { Check: Record<string, string> };
    expect(body.Check).toEqual({
      TCP: '10.0.0.5:4000',
      Interval: '10s',
      DeregisterCriticalServiceAfter: '1m5s',
    });
    expect(fake.calls(isPass)).toEqual([]);
    expect(fake.calls(isRegister)).toHaveLength(2);
  });

  it("registers go-micro's HTTP check with {host} filled in", async () => {
    const registry = open({
      httpCheck: { url: 'https://{host}:9090/health', interval: 90_000, timeout: 1_500 },
    });
    await registry.register(service());
    const body = fake.requests.find(isRegister)!.body as { Check: Record<string, string> };
    expect(body.Check).toEqual({
      HTTP: 'https://10.0.0.5:9090/health',
      Interval: '1m30s',
      Timeout: '1.5s',
      DeregisterCriticalServiceAfter: '1m35s',
    });
  });

  it('leaves metadata Consul would reject out of Meta, keeps it in the tags, and says so once', async () => {
    const registry = open();
    const svc = service();
    svc.nodes[0]!.metadata = { ok: '1', 'bad.key': '2', 'consul-x': '3' };
    await registry.register(svc, { ttl: 30_000 });
    await registry.register(svc, { ttl: 30_000 });
    const body = fake.requests.find(isRegister)!.body as { Meta: unknown; Tags: string[] };
    expect(body.Meta).toEqual({ ok: '1' });
    expect(decodeMetadata(body.Tags)).toEqual({ ok: '1', 'bad.key': '2', 'consul-x': '3' });
    const warnings = logs.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]!.fields?.dropped)).toMatch(/bad\.key/);
  });

  it('rejects a service without a name, nodes or node ids with a 400 and sends nothing', async () => {
    const registry = open();
    const codes = await Promise.all(
      [
        { ...service(), name: '' },
        { ...service(), nodes: [] },
        { ...service(), nodes: [{ id: '', address: 'x:1' }] },
      ].map(async (svc) => {
        const error = await rejection(registry.register(svc));
        return isMicroError(error) && error.code;
      }),
    );
    expect(codes).toEqual([400, 400, 400]);
    const ttlError = await rejection(registry.register(service(), { ttl: -1 }));
    expect(isMicroError(ttlError) && ttlError.code).toBe(400);
    expect(fake.requests).toHaveLength(0);
  });

  it("passes Consul's own refusal on as a 400 with Consul's message", async () => {
    fake.override = (r) =>
      isRegister(r)
        ? {
            status: 400,
            body: 'Invalid Service Meta: Couldn\'t load metadata pair ("x", "y"): something long enough to be cut by the client',
          }
        : undefined;
    const error = await rejection(open().register(service()));
    expect(isMicroError(error) && error.code).toBe(400);
    expect((error as Error).message).toMatch(/something long enough to be cut by the client/);
  });

  it('maps an ACL denial to 403 and server failures to 503', async () => {
    fake.override = (r) => (isRegister(r) ? { status: 403, body: 'Permission denied' } : undefined);
    const denied = await rejection(open().register(service()));
    expect(isMicroError(denied) && denied.code).toBe(403);
    fake.override = () => ({ status: 500, body: 'No cluster leader' });
    const failed = await rejection(open().getService('greeter'));
    expect(isMicroError(failed) && failed.code).toBe(503);
    expect((failed as Error).message).toMatch(/No cluster leader/);
  });

  it('answers 503 at once when nothing listens at the address', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const registry = open({ address: `127.0.0.1:${port}` });
    const started = Date.now();
    for (const call of [
      () => registry.getService('greeter'),
      () => registry.register(service()),
      () => registry.listServices(),
      () => registry.deregister(service()),
      () => registry.watch(),
    ]) {
      const error = await rejection(call());
      expect(isMicroError(error) && error.code).toBe(503);
      expect((error as Error).message).toMatch(/unreachable/);
    }
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('answers 503 within its timeout when Consul accepts but never answers', async () => {
    fake.override = () => 'hang';
    const registry = open({ timeout: 300 });
    const started = Date.now();
    const error = await within(rejection(registry.getService('greeter')), 3_000, 'getService');
    const elapsed = Date.now() - started;
    expect(isMicroError(error) && error.code).toBe(503);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1_500);
    const watchError = await within(rejection(registry.watch()), 3_000, 'watch');
    expect(isMicroError(watchError) && watchError.code).toBe(503);
  });

  it('moves to the next address when one is unreachable', async () => {
    const registry = open({ address: undefined, addresses: ['127.0.0.1:1', address] });
    await registry.register(service(), { ttl: 0 });
    expect(fake.calls(isRegister)).toHaveLength(1);
  });

  it('talks to an agent on an IPv6 address', async () => {
    const v6 = new FakeConsul();
    const v6address = await v6.start('::1');
    try {
      const registry = open({ address: `http://${v6address}` });
      await registry.register(service(), { ttl: 0 });
      expect((await registry.getService('greeter'))[0]!.nodes).toHaveLength(1);
    } finally {
      await v6.stop();
    }
  });

  describe('over HTTPS', () => {
    const pem = (file: string) => readFileSync(join(__dirname, 'fixtures/tls', file), 'utf8');
    let tlsFake: FakeConsul;
    let tlsAddress: string;

    beforeEach(async () => {
      tlsFake = new FakeConsul({
        key: pem('server-key.pem'),
        cert: pem('server.pem'),
        ca: pem('ca.pem'),
        requestCert: true,
        rejectUnauthorized: true,
      });
      tlsAddress = await tlsFake.start();
    });

    afterEach(() => tlsFake.stop());

    it('talks mutual TLS with the CA, certificate and key given', async () => {
      const registry = open({
        address: tlsAddress,
        tls: { ca: pem('ca.pem'), cert: pem('client.pem'), key: pem('client-key.pem') },
      });
      await registry.register(service(), { ttl: 0 });
      expect(tlsFake.calls(isRegister)).toHaveLength(1);
    });

    it('verifies the agent certificate by default: an unknown CA gives a 503', async () => {
      const registry = open({
        address: `https://${tlsAddress}`,
        tls: { cert: pem('client.pem'), key: pem('client-key.pem') },
      });
      const error = await rejection(registry.getService('greeter'));
      expect(isMicroError(error) && error.code).toBe(503);
      expect(tlsFake.requests).toHaveLength(0);
    });

    it('gives a 503 when the agent wants a client certificate and none is given', async () => {
      const registry = open({ address: tlsAddress, tls: { ca: pem('ca.pem') } });
      const error = await rejection(registry.getService('greeter'));
      expect(isMicroError(error) && error.code).toBe(503);
    });
  });

  it('deregisters every node and treats an unknown node as done', async () => {
    const registry = open();
    const svc = service('1', 'a', 'b');
    await registry.register(svc, { ttl: 0 });
    await registry.deregister(svc);
    expect(fake.services.size).toBe(0);
    await registry.deregister(svc);
    expect(fake.calls((r) => r.path.includes('deregister')).sort()).toEqual([
      'PUT /v1/agent/service/deregister/greeter-a',
      'PUT /v1/agent/service/deregister/greeter-a',
      'PUT /v1/agent/service/deregister/greeter-b',
      'PUT /v1/agent/service/deregister/greeter-b',
    ]);
    // after a deregister the next register is a full one again
    fake.requests.length = 0;
    await registry.register(svc, { ttl: 30_000 });
    expect(fake.calls(isRegister)).toHaveLength(2);
  });

  it('reads a service from health entries: versions grouped, critical nodes skipped, 404 when none live', async () => {
    const registry = open();
    await registry.register(service('v1', 'a', 'b'), { ttl: 30_000 });
    await registry.register(service('v2', 'c'), { ttl: 30_000 });
    fake.setStatus('greeter-b', 'critical');
    const services = await registry.getService('greeter');
    const byVersion = Object.fromEntries(
      services.map((s) => [s.version, s.nodes.map((n) => n.id).sort()]),
    );
    expect(byVersion).toEqual({ v1: ['greeter-a'], v2: ['greeter-c'] });
    const v1 = services.find((s) => s.version === 'v1')!;
    expect(v1.metadata).toEqual({});
    expect(v1.endpoints![0]!.name).toBe('Greeter.Hello');
    expect(v1.nodes[0]).toEqual({
      id: 'greeter-a',
      address: '10.0.0.5:4000',
      metadata: { protocol: 'mucp', registry: 'consul' },
    });
    const health = fake.requests.find((r) => r.path === '/v1/health/service/greeter')!;
    expect(health.query.get('stale')).toBe('1');
    expect(health.query.get('passing')).toBeNull();

    fake.setStatus('greeter-a', 'critical');
    fake.setStatus('greeter-c', 'critical');
    const error = await rejection(registry.getService('greeter'));
    expect(isMicroError(error) && error.code).toBe(404);
    const missing = await rejection(registry.getService('nobody'));
    expect(isMicroError(missing) && missing.code).toBe(404);
  });

  it("reads nodes registered by a Go service, falling back to the Consul node's address", async () => {
    fake.put({
      ID: 'go-1',
      Service: 'greeter',
      Tags: encodeTags({ server: 'grpc' }, [], 'latest'),
      Address: '',
      Port: 9000,
      Meta: {},
    });
    const [found] = await open().getService('greeter');
    expect(found!.version).toBe('latest');
    expect(found!.nodes).toEqual([
      { id: 'go-1', address: '10.0.0.9:9000', metadata: { server: 'grpc' } },
    ]);
  });

  it('sends stale reads only when allowStale is on', async () => {
    await rejection(open({ allowStale: false }).getService('greeter'));
    expect(fake.requests[0]!.query.get('stale')).toBeNull();
  });

  it('lists services by name, with the versions found in their tags', async () => {
    const registry = open();
    await registry.register(service('v1'), { ttl: 0 });
    await registry.register({ ...service('v2', 'b'), name: 'other' }, { ttl: 0 });
    await registry.register({ ...service('v3', 'c'), name: 'other' }, { ttl: 0 });
    const list = await registry.listServices();
    const entries = list.map((s) => `${s.name}@${s.version}`).sort();
    expect(entries).toEqual(['consul@', 'greeter@v1', 'other@v2', 'other@v3']);
    expect(list.every((s) => s.nodes.length === 0)).toBe(true);
  });

  it('refuses calls after close with a 503', async () => {
    const registry = open();
    await registry.close();
    await registry.close();
    const error = await rejection(registry.getService('greeter'));
    expect(isMicroError(error) && error.code).toBe(503);
  });

  describe('watch', () => {
    async function next(watcher: Watcher, what: string): Promise<WatchEvent> {
      return within(watcher.next(), 5_000, what);
    }
    const summary = (event: WatchEvent) =>
      `${event.action} ${event.service.name}@${event.service.version} ${event.service.nodes.map((n) => n.id).join(',')}`;

    it('reports only changes after it started, as create, update and delete per node', async () => {
      const registry = open();
      await registry.register(service('v1', 'a'), { ttl: 30_000 });
      const watcher = await registry.watch();
      await registry.register(service('v1', 'a', 'b'), { ttl: 30_000 });
      expect(summary(await next(watcher, 'create b'))).toBe('create greeter@v1 greeter-b');
      const moved = service('v1', 'a');
      moved.nodes[0]!.metadata = { zone: 'moved' };
      await registry.register(moved, { ttl: 30_000 });
      const updated = await next(watcher, 'update a');
      expect(summary(updated)).toBe('update greeter@v1 greeter-a');
      expect(updated.service.nodes[0]!.metadata).toEqual({ zone: 'moved' });
      fake.setStatus('greeter-b', 'critical');
      expect(summary(await next(watcher, 'critical b'))).toBe('delete greeter@v1 greeter-b');
      await registry.register({ ...service('v1', 'z'), name: 'late' }, { ttl: 0 });
      expect(summary(await next(watcher, 'new service'))).toBe('create late@v1 greeter-z');
      await registry.deregister(moved);
      expect(summary(await next(watcher, 'delete a'))).toBe('delete greeter@v1 greeter-a');
      watcher.stop();
    });

    it('holds one blocking query per service plus one on the catalog, with index and wait', async () => {
      const registry = open();
      await registry.register(service(), { ttl: 0 });
      const watcher = await registry.watch();
      await waitFor('the blocking queries', () => fake.blocked === 3);
      const blocking = fake.requests.filter((r) => r.query.has('index'));
      expect(blocking.every((r) => r.query.get('wait') === '2s')).toBe(true);
      watcher.stop();
      await waitFor('the queries to be cancelled', () => fake.blocked === 0);
    });

    it('watches one service only when asked to', async () => {
      const registry = open();
      const watcher = await registry.watch({ service: 'greeter' });
      await registry.register({ ...service(), name: 'other' }, { ttl: 0 });
      await registry.register(service(), { ttl: 0 });
      expect(summary(await next(watcher, 'the greeter'))).toBe('create greeter@1.0.0 greeter-a');
      expect(fake.calls((r) => r.path === '/v1/catalog/services')).toEqual([]);
      watcher.stop();
    });

    it('catches up after Consul restarts: deletes what it forgot, creates what comes back', async () => {
      // A long wait: a watch that kept its old index would block for all of it.
      const registry = open({ watchWait: 60_000 });
      await registry.register(service(), { ttl: 30_000 });
      const watcher = await registry.watch();
      fake.restart();
      expect(summary(await next(watcher, 'the delete'))).toBe('delete greeter@1.0.0 greeter-a');
      await registry.register(service(), { ttl: 30_000 });
      expect(summary(await next(watcher, 'the create'))).toBe('create greeter@1.0.0 greeter-a');
      watcher.stop();
    });

    it('keeps its state while Consul is unreachable and reports the difference afterwards', async () => {
      const registry = open({ watchWait: 60_000 });
      await registry.register(service('1', 'a', 'b'), { ttl: 0 });
      const watcher = await registry.watch({ service: 'greeter' });
      await waitFor('the blocking query', () => fake.blocked === 1);
      fake.override = () => ({ status: 500, body: 'rpc error: No cluster leader' });
      fake.services.delete('greeter-b');
      fake.disconnect();
      await waitFor('a failed query', () =>
        logs.some((l) => l.level === 'warn' && /watch/.test(l.message)),
      );
      fake.override = undefined;
      expect(summary(await next(watcher, 'the delete of b'))).toBe('delete greeter@1 greeter-b');
      await waitFor('the recovery log', () => logs.some((l) => l.level === 'info'));
      watcher.stop();
    });

    it('rejects with a 503 when the registry closes while the watch is starting', async () => {
      fake.override = () => 'hang';
      const registry = open({ timeout: 10_000 });
      const starting = registry.watch();
      await waitFor('the snapshot request', () => fake.requests.length === 1);
      await registry.close();
      const error = await within(rejection(starting), 2_000, 'the watch to give up');
      expect(isMicroError(error) && error.code).toBe(503);
    });

    it('ends iteration on stop and on registry close', async () => {
      const registry = open();
      const first = await registry.watch();
      const second = await registry.watch({ service: 'greeter' });
      const loop = (async () => {
        for await (const _ of first) {
          // nothing
        }
        return 'ended';
      })();
      first.stop();
      await expect(within(loop, 2_000, 'the loop')).resolves.toBe('ended');
      await registry.close();
      await expect(second.next()).rejects.toThrow();
      await waitFor('no blocking queries left', () => fake.blocked === 0);
    });
  });
});
