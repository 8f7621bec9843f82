import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  isMicroError,
  type Logger,
  type Service,
  silentLogger,
  type WatchEvent,
} from '@micro/core';
import {
  describeWithServer,
  randomName,
  recordingLogger,
  registryConformance,
  waitFor,
  within,
} from '@micro/testing';
import { Etcd3 } from 'etcd3';
import { createEtcdRegistry, type EtcdRegistry } from '../src/index.js';

describeWithServer('EtcdRegistry', ['MICRO_TEST_ETCD_ADDRESS'], (env) => {
  const address = env.MICRO_TEST_ETCD_ADDRESS;

  registryConformance(
    'etcd',
    () => createEtcdRegistry({ addresses: [address], logger: silentLogger }),
    {
      ttl: true,
      minTtl: 2_000,
      process: {
        module: join(__dirname, '../dist/index.js'),
        factory: 'createEtcdRegistry',
        options: { addresses: [address] },
      },
      // etcd revokes expired leases in passes
      expiryLag: 3_000,
    },
  );

  describe("go-micro's layout in etcd", () => {
    const raw = new Etcd3({ hosts: address });
    const registries: EtcdRegistry[] = [];
    const open = (logger: Logger = silentLogger) => {
      const registry = createEtcdRegistry({ addresses: [address], logger });
      registries.push(registry);
      return registry;
    };
    const leaseTtl = async (lease: string) =>
      raw.leaseClient.leaseTimeToLive({ ID: lease }).then((r) => Number(r.grantedTTL));

    afterAll(async () => {
      for (const registry of registries) await registry.close();
      raw.close();
    });

    it('stores each node at /micro/registry/<service>/<node> as go-micro JSON under a lease', async () => {
      const registry = open();
      const name = randomName('layout');
      const service: Service = {
        name,
        version: '1.0.0',
        metadata: { team: 'a&b' },
        endpoints: [{ name: 'Greeter.Hello', request: null, response: null, metadata: {} }],
        nodes: [
          {
            id: `${name}-1`,
            address: '10.0.0.5:41234',
            metadata: { transport: 'tcp', protocol: 'mucp' },
          },
          { id: 'team/node-2', address: '10.0.0.6:41234' },
        ],
      };
      await registry.register(service, { ttl: 10_000 });
      const stored = await raw.getAll().prefix(`/micro/registry/${name}/`).exec();
      const byKey = Object.fromEntries(stored.kvs.map((kv) => [kv.key.toString(), kv]));
      expect(Object.keys(byKey).sort()).toEqual([
        `/micro/registry/${name}/${name}-1`,
        `/micro/registry/${name}/team-node-2`,
      ]);
      const first = byKey[`/micro/registry/${name}/${name}-1`]!;
      expect(first.value.toString()).toBe(
        `{"name":"${name}","version":"1.0.0","metadata":{"team":"a\\u0026b"},` +
          '"endpoints":[{"request":null,"response":null,"metadata":{},"name":"Greeter.Hello"}],' +
          `"nodes":[{"metadata":{"protocol":"mucp","transport":"tcp"},"id":"${name}-1","address":"10.0.0.5:41234"}]}`,
      );
      expect(byKey[`/micro/registry/${name}/team-node-2`]!.value.toString()).toBe(
        `{"name":"${name}","version":"1.0.0","metadata":{"team":"a\\u0026b"},` +
          '"endpoints":[{"request":null,"response":null,"metadata":{},"name":"Greeter.Hello"}],' +
          '"nodes":[{"metadata":null,"id":"team/node-2","address":"10.0.0.6:41234"}]}',
      );
      expect(first.lease).not.toBe('0');
      expect(await leaseTtl(first.lease)).toBe(10);
      await registry.deregister(service);
    });

    it('rounds the TTL up to whole seconds, and stores no lease for TTL 0', async () => {
      const registry = open();
      const name = randomName('ttl');
      const node = (id: string) => ({ id, address: '127.0.0.1:1' });
      await registry.register({ name, version: 'v', nodes: [node('rounded')] }, { ttl: 2_500 });
      await registry.register({ name, version: 'v', nodes: [node('forever')] }, { ttl: 0 });
      const rounded = await raw.get(`/micro/registry/${name}/rounded`).exec();
      expect(await leaseTtl(rounded.kvs[0]!.lease)).toBe(3);
      const forever = await raw.get(`/micro/registry/${name}/forever`).exec();
      expect(forever.kvs[0]!.lease).toBe('0');
      await registry.deregister({ name, version: 'v', nodes: [node('rounded'), node('forever')] });
      expect((await raw.getAll().prefix(`/micro/registry/${name}/`).keys()).length).toBe(0);
    });

    it('does not rewrite an unchanged node; a changed one is put again under the same lease', async () => {
      const registry = open();
      const name = randomName('churn');
      const service: Service = { name, version: 'v', nodes: [{ id: 'n', address: '127.0.0.1:1' }] };
      const key = `/micro/registry/${name}/n`;
      await registry.register(service, { ttl: 30_000 });
      const before = (await raw.get(key).exec()).kvs[0]!;
      for (let i = 0; i < 3; i++) await registry.register(service, { ttl: 30_000 });
      const after = (await raw.get(key).exec()).kvs[0]!;
      expect(after.mod_revision).toBe(before.mod_revision);
      expect(after.lease).toBe(before.lease);

      await registry.register(
        { ...service, nodes: [{ ...service.nodes[0]!, metadata: { zone: 'b' } }] },
        { ttl: 30_000 },
      );
      const changed = (await raw.get(key).exec()).kvs[0]!;
      expect(BigInt(changed.mod_revision)).toBeGreaterThan(BigInt(before.mod_revision));
      expect(changed.lease).toBe(before.lease);
      expect(changed.value.toString()).toContain('"metadata":{"zone":"b"}');

      // a new TTL needs a new lease; the old one is revoked
      await registry.register(service, { ttl: 40_000 });
      const retimed = (await raw.get(key).exec()).kvs[0]!;
      expect(retimed.lease).not.toBe(before.lease);
      expect(await leaseTtl(retimed.lease)).toBe(40);
      expect(await leaseTtl(before.lease)).toBe(0);
      await registry.deregister(service);
    });

    it('revokes the lease on deregister', async () => {
      const registry = open();
      const name = randomName('revoke');
      const service: Service = { name, version: 'v', nodes: [{ id: 'n', address: '127.0.0.1:1' }] };
      await registry.register(service, { ttl: 30_000 });
      const lease = (await raw.get(`/micro/registry/${name}/n`).exec()).kvs[0]!.lease;
      expect(await leaseTtl(lease)).toBe(30);
      await registry.deregister(service);
      expect(await raw.get(`/micro/registry/${name}/n`).string()).toBeNull();
      expect(await leaseTtl(lease)).toBe(0);
    });

    it('reads records written by a Go service, and skips (and logs) one that does not decode', async () => {
      const logger = recordingLogger();
      const registry = open(logger);
      const name = randomName('go');
      await raw
        .put(`/micro/registry/${name}/${name}-go`)
        .value(
          `{"name":"${name}","version":"latest","metadata":null,"endpoints":null,` +
            `"nodes":[{"metadata":{"protocol":"grpc","server":"grpc"},"id":"${name}-go","address":"10.1.0.1:9090"}]}`,
        );
      await raw.put(`/micro/registry/${name}/broken`).value('{"name": tru');
      const [found, ...rest] = await registry.getService(name);
      expect(rest).toEqual([]);
      expect(found).toEqual({
        name,
        version: 'latest',
        metadata: {},
        endpoints: [],
        nodes: [
          {
            id: `${name}-go`,
            address: '10.1.0.1:9090',
            metadata: { protocol: 'grpc', server: 'grpc' },
          },
        ],
      });
      expect(logger.lines).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          fields: expect.objectContaining({ key: `/micro/registry/${name}/broken` }),
        }),
      );
      expect((await registry.listServices()).filter((s) => s.name === name)).toHaveLength(1);

      // a service with only undecodable records is not there
      await raw.delete().key(`/micro/registry/${name}/${name}-go`);
      const error = await registry.getService(name).catch((e: unknown) => e);
      expect(isMicroError(error) && error.code).toBe(404);
      await raw.delete().prefix(`/micro/registry/${name}/`);
    });

    it("reports a Go service's delete from the previous value, and skips undecodable events", async () => {
      const logger = recordingLogger();
      const registry = open(logger);
      const name = randomName('gowatch');
      const watcher = await registry.watch({ service: name });
      try {
        const key = `/micro/registry/${name}/n1`;
        const record = `{"name":"${name}","version":"v","metadata":null,"endpoints":null,"nodes":[{"metadata":null,"id":"n1","address":"a:1"}]}`;
        await raw.put(`/micro/registry/${name}/junk`).value('not json');
        await raw.put(key).value(record);
        await raw.put(key).value(record.replace('a:1', 'a:2'));
        await raw.delete().key(key);
        const events: WatchEvent[] = [];
        for (let i = 0; i < 3; i++) events.push(await within(watcher.next(), 5_000, 'an event'));
        expect(events.map((e) => [e.action, e.service.nodes[0]?.address])).toEqual([
          ['create', 'a:1'],
          ['update', 'a:2'],
          ['delete', 'a:2'],
        ]);
        expect(events[2]!.service.metadata).toEqual({});
        expect(
          logger.lines.some(
            (l) => l.level === 'warn' && l.fields?.key === `/micro/registry/${name}/junk`,
          ),
        ).toBe(true);
      } finally {
        watcher.stop();
        await raw.delete().prefix(`/micro/registry/${name}/`);
      }
    });

    it('lists services sorted by name, one entry per version', async () => {
      const registry = open();
      const prefix = randomName('list');
      const names = [`${prefix}-b`, `${prefix}-a`];
      for (const name of names) {
        for (const version of ['v1', 'v2']) {
          await registry.register(
            { name, version, nodes: [{ id: `${name}-${version}`, address: 'h:1' }] },
            { ttl: 30_000 },
          );
        }
      }
      const listed = (await registry.listServices())
        .filter((s) => s.name.startsWith(prefix))
        .map((s) => `${s.name}@${s.version}:${s.nodes.length}`);
      expect(listed.slice().sort()).toEqual([
        `${prefix}-a@v1:1`,
        `${prefix}-a@v2:1`,
        `${prefix}-b@v1:1`,
        `${prefix}-b@v2:1`,
      ]);
      expect(listed.map((s) => s.split('@')[0])).toEqual([
        `${prefix}-a`,
        `${prefix}-a`,
        `${prefix}-b`,
        `${prefix}-b`,
      ]);
      for (const name of names) {
        for (const version of ['v1', 'v2']) {
          await registry.deregister({
            name,
            version,
            nodes: [{ id: `${name}-${version}`, address: 'h:1' }],
          });
        }
      }
    });

    it('puts a node back at once when its lease is revoked behind its back', async () => {
      const registry = open();
      const observer = open();
      const name = randomName('revoked');
      const service: Service = { name, version: 'v', nodes: [{ id: 'n', address: '127.0.0.1:1' }] };
      await registry.register(service, { ttl: 30_000 });
      const watcher = await observer.watch({ service: name });
      try {
        const key = `/micro/registry/${name}/n`;
        const lease = (await raw.get(key).exec()).kvs[0]!.lease;
        // what a restored backup or an operator does: the lease and its key are gone
        await raw.leaseClient.leaseRevoke({ ID: lease });
        const seen = [
          await within(watcher.next(), 5_000, 'the delete'),
          await within(watcher.next(), 5_000, 'the node put back'),
        ];
        expect(seen.map((e) => e.action)).toEqual(['delete', 'create']);
        const restored = (await raw.get(key).exec()).kvs[0]!;
        expect(restored.lease).not.toBe(lease);
        expect(await leaseTtl(restored.lease)).toBe(30);
        // a key deleted by hand comes back too
        await raw.delete().key(key);
        expect((await within(watcher.next(), 5_000, 'the delete')).action).toBe('delete');
        expect((await within(watcher.next(), 5_000, 'the node put back')).action).toBe('create');
      } finally {
        watcher.stop();
        await registry.deregister(service);
      }
    });

    it('lets a node expire when its TTL passes without a new register call', async () => {
      const registry = open();
      const name = randomName('expire');
      const service: Service = { name, version: 'v', nodes: [{ id: 'n', address: '127.0.0.1:1' }] };
      const watcher = await registry.watch({ service: name });
      try {
        await registry.register(service, { ttl: 2_000 });
        expect((await within(watcher.next(), 5_000, 'the create')).action).toBe('create');
        const started = Date.now();
        expect((await within(watcher.next(), 6_000, 'the expiry')).action).toBe('delete');
        expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
        // and it stays gone: nothing puts back a registration whose TTL ran out
        await waitFor('the node to stay gone', async () => {
          const error = await registry.getService(name).catch((e: unknown) => e);
          return isMicroError(error) && error.code === 404;
        });
        const next = await Promise.race([
          watcher.next().then(() => 'event'),
          new Promise((resolve) => setTimeout(resolve, 1_500, 'quiet')),
        ]);
        expect(next).toBe('quiet');
      } finally {
        watcher.stop();
      }
    });
  });
});
