import { afterAll, describe, expect, it } from '@jest/globals';
import {
  isMicroError,
  type Registry,
  type Service,
  type WatchAction,
  type WatchEvent,
  type Watcher,
} from '@micro/core';
import { randomName, rejection, waitFor, within } from './helpers.js';
import { startChild } from './process/child.js';
import type { PluginModule } from './process/plugin.js';

/** What a registry backend supports, and how quickly. */
export interface RegistryCapabilities {
  /** Records expire when not registered again within their TTL. */
  ttl: boolean;
  /**
   * The shortest TTL the backend honours, in milliseconds (etcd leases and
   * Consul checks count whole seconds).
   * @default 2000
   */
  minTtl?: number;
  /**
   * How long a change may take to show in reads and watches, in milliseconds.
   * @default 5000
   */
  propagation?: number;
  /**
   * Watches report a changed registration of a known node as `update` (mDNS
   * cannot tell an update from a new announcement).
   * @default true
   */
  watchUpdates?: boolean;
  /**
   * Service-level metadata round-trips (go-micro's Consul layout drops it).
   * @default true
   */
  serviceMetadata?: boolean;
  /**
   * Runs the killed-process case (needs `ttl`): a child process builds the registry
   * from this built plugin entry, registers a node and renews it every 500 ms, and
   * is killed with SIGKILL; its node must go once its TTL has passed, not before.
   */
  process?: PluginModule;
  /**
   * How long after its TTL a record that is no longer renewed may take to go, in
   * milliseconds (etcd revokes expired leases in passes).
   * @default 1000
   */
  expiryLag?: number;
}

function service(name: string, version: string, ...nodeIds: string[]): Service {
  return {
    name,
    version,
    metadata: { team: 'payments' },
    endpoints: [
      {
        name: 'Greeter.Hello',
        request: {
          name: 'Request',
          type: 'Request',
          values: [{ name: 'name', type: 'string', values: null }],
        },
        response: { name: 'Response', type: 'Response', values: [{ name: 'msg', type: 'string' }] },
        metadata: { description: 'says hello' },
      },
      { name: 'Greeter.Stream', request: null, response: null, metadata: { stream: 'true' } },
    ],
    nodes: nodeIds.map((id, i) => ({
      id: `${name}-${id}`,
      address: `127.0.0.1:${41000 + i}`,
      metadata: { protocol: 'mucp', transport: 'tcp', zone: `z${i}` },
    })),
  };
}

function nodeIds(services: Service[]): string[] {
  return services.flatMap((s) => s.nodes.map((n) => n.id)).sort();
}

/**
 * The contract of a {@link Registry}, run against a real backend. Every test uses
 * its own random service names, so suites can share one server.
 *
 * @param name shown in the suite title
 * @param factory creates a client of the backend under test; called more than once
 *   (two clients must see each other's records)
 * @param capabilities what the backend supports
 */
export function registryConformance(
  name: string,
  factory: () => Registry | Promise<Registry>,
  capabilities: RegistryCapabilities,
): void {
  const propagation = capabilities.propagation ?? 5_000;
  const minTtl = capabilities.minTtl ?? 2_000;
  const watchUpdates = capabilities.watchUpdates ?? true;
  const serviceMetadata = capabilities.serviceMetadata ?? true;
  const testTimeout = Math.max(30_000, propagation * 4 + minTtl * 4);

  describe(`Registry conformance: ${name}`, () => {
    const clients: Registry[] = [];
    const cleanups: (() => Promise<void>)[] = [];
    const client = async () => {
      const registry = await factory();
      clients.push(registry);
      return registry;
    };
    /** Registers and remembers to deregister, so a failed test leaves nothing behind. */
    const register = async (registry: Registry, svc: Service, ttl = 60_000) => {
      await registry.register(svc, { ttl });
      cleanups.push(() => registry.deregister(svc).catch(() => {}));
    };
    const eventually = <T>(what: string, check: () => Promise<T | undefined | false>) =>
      waitFor(what, check, { timeout: propagation, interval: 50 });
    const nodesOf = async (registry: Registry, svc: string) => {
      try {
        return nodeIds(await registry.getService(svc));
      } catch (error) {
        if (isMicroError(error) && error.code === 404) return [];
        throw error;
      }
    };

    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
      for (const registry of clients) await registry.close();
    }, testTimeout);

    it('has a name', async () => {
      expect((await client()).name).toMatch(/\S/);
    });

    it(
      'returns a registered service with its version, metadata, endpoints and nodes intact',
      async () => {
        const registry = await client();
        const svc = service(randomName('svc'), '1.0.0', 'a');
        await register(registry, svc);
        const [found] = await eventually('the service to be readable', async () => {
          const list = await registry.getService(svc.name).catch(() => undefined);
          return list?.[0]?.nodes.length ? list : undefined;
        });
        expect(found!.name).toBe(svc.name);
        expect(found!.version).toBe('1.0.0');
        if (serviceMetadata) expect(found!.metadata).toEqual({ team: 'payments' });
        expect(found!.nodes).toEqual([
          {
            id: `${svc.name}-a`,
            address: '127.0.0.1:41000',
            metadata: { protocol: 'mucp', transport: 'tcp', zone: 'z0' },
          },
        ]);
        const endpoints = [...(found!.endpoints ?? [])].sort((x, y) =>
          x.name.localeCompare(y.name),
        );
        expect(endpoints).toHaveLength(2);
        expect(endpoints[0]!.name).toBe('Greeter.Hello');
        expect(endpoints[0]!.request?.values?.[0]?.name).toBe('name');
        expect(endpoints[0]!.response?.values?.[0]?.type).toBe('string');
        expect(endpoints[0]!.metadata).toEqual({ description: 'says hello' });
        expect(endpoints[1]!.metadata).toEqual({ stream: 'true' });
      },
      testTimeout,
    );

    it(
      'groups several nodes and versions, one Service per version',
      async () => {
        const registry = await client();
        const name = randomName('svc');
        await register(registry, service(name, 'v1', 'a', 'b'));
        await register(registry, service(name, 'v2', 'c'));
        const services = await eventually('three nodes in two versions', async () => {
          const list = await registry.getService(name).catch(() => []);
          return nodeIds(list).length === 3 ? list : undefined;
        });
        const byVersion = Object.fromEntries(
          services.map((s) => [s.version, s.nodes.map((n) => n.id).sort()]),
        );
        expect(byVersion).toEqual({ v1: [`${name}-a`, `${name}-b`], v2: [`${name}-c`] });
      },
      testTimeout,
    );

    it(
      'lists registered services by name',
      async () => {
        const registry = await client();
        const first = service(randomName('svc'), 'v1', 'a');
        const second = service(randomName('svc'), 'v1', 'a');
        await register(registry, first);
        await register(registry, second);
        await eventually('both services listed', async () => {
          const names = (await registry.listServices()).map((s) => s.name);
          return names.includes(first.name) && names.includes(second.name);
        });
      },
      testTimeout,
    );

    it(
      'answers 404 for a service nobody registered',
      async () => {
        const registry = await client();
        const error = await rejection(registry.getService(randomName('missing')));
        expect(isMicroError(error) && error.code).toBe(404);
      },
      testTimeout,
    );

    it(
      'deregisters one node, then the last one (404 after)',
      async () => {
        const registry = await client();
        const name = randomName('svc');
        const svc = service(name, 'v1', 'a', 'b');
        await register(registry, svc);
        await eventually('two nodes', async () => (await nodesOf(registry, name)).length === 2);
        await registry.deregister({ ...svc, nodes: [svc.nodes[0]!] });
        await eventually('node a gone', async () => {
          const ids = await nodesOf(registry, name);
          return ids.length === 1 && ids[0] === `${name}-b`;
        });
        await registry.deregister({ ...svc, nodes: [svc.nodes[1]!] });
        await eventually('the service gone', async () => {
          const error = await rejection(registry.getService(name)).catch(() => undefined);
          return isMicroError(error) && error.code === 404;
        });
      },
      testTimeout,
    );

    it(
      'replaces a node registered again, without duplicating it',
      async () => {
        const registry = await client();
        const svc = service(randomName('svc'), 'v1', 'a');
        await register(registry, svc);
        const changed: Service = {
          ...svc,
          nodes: [{ ...svc.nodes[0]!, metadata: { ...svc.nodes[0]!.metadata, zone: 'moved' } }],
        };
        await register(registry, changed);
        await eventually('the new metadata', async () => {
          const list = await registry.getService(svc.name).catch(() => []);
          const nodes = list.flatMap((s) => s.nodes);
          return nodes.length === 1 && nodes[0]!.metadata?.zone === 'moved';
        });
      },
      testTimeout,
    );

    it(
      "shows one client's records to another client",
      async () => {
        const writer = await client();
        const reader = await client();
        const svc = service(randomName('svc'), 'v1', 'a');
        await register(writer, svc);
        await eventually('the other client to see it', async () => {
          const ids = await nodesOf(reader, svc.name);
          return ids.length === 1;
        });
      },
      testTimeout,
    );

    async function expectEvents(
      watcher: Watcher,
      serviceName: string,
      expected: { action: WatchAction; nodes: string[] }[],
    ): Promise<WatchEvent[]> {
      const seen: WatchEvent[] = [];
      const read = (async () => {
        while (seen.length < expected.length) {
          const event = await watcher.next();
          if (event.service.name === serviceName) seen.push(event);
        }
      })();
      await within(
        read,
        propagation * 2,
        `watch events ${expected.map((e) => e.action).join(', ')}`,
      );
      expect(
        seen.map((event) => ({
          action: event.action,
          nodes: event.service.nodes.map((n) => n.id),
        })),
      ).toEqual(expected);
      return seen;
    }

    it(
      'watches create, update and delete in order',
      async () => {
        const registry = await client();
        const watcher = await registry.watch();
        try {
          const svc = service(randomName('svc'), 'v1', 'a');
          const id = svc.nodes[0]!.id;
          await register(registry, svc);
          const [created] = await expectEvents(watcher, svc.name, [
            { action: 'create', nodes: [id] },
          ]);
          expect(created!.service.version).toBe('v1');
          expect(created!.service.nodes[0]!.address).toBe('127.0.0.1:41000');
          if (watchUpdates) {
            await register(registry, {
              ...svc,
              nodes: [{ ...svc.nodes[0]!, metadata: { zone: 'moved' } }],
            });
            const [updated] = await expectEvents(watcher, svc.name, [
              { action: 'update', nodes: [id] },
            ]);
            expect(updated!.service.nodes[0]!.metadata?.zone).toBe('moved');
          }
          await registry.deregister(svc);
          await expectEvents(watcher, svc.name, [{ action: 'delete', nodes: [id] }]);
        } finally {
          watcher.stop();
        }
      },
      testTimeout,
    );

    it(
      'watches one service only when asked to',
      async () => {
        const registry = await client();
        const wanted = service(randomName('svc'), 'v1', 'a');
        const other = service(randomName('svc'), 'v1', 'a');
        const watcher = await registry.watch({ service: wanted.name });
        try {
          await register(registry, other);
          await register(registry, wanted);
          const event = await within(watcher.next(), propagation * 2, 'the watched service event');
          expect(event.service.name).toBe(wanted.name);
          expect(event.action).toBe('create');
        } finally {
          watcher.stop();
        }
      },
      testTimeout,
    );

    it(
      'ends iteration when the watcher is stopped',
      async () => {
        const registry = await client();
        const watcher = await registry.watch();
        const loop = (async () => {
          for await (const _event of watcher) {
            // drain whatever other tests cause
          }
          return 'ended';
        })();
        watcher.stop();
        await expect(within(loop, 5_000, 'the watch loop')).resolves.toBe('ended');
        await expect(watcher.next()).rejects.toThrow();
      },
      testTimeout,
    );

    if (capabilities.ttl) {
      it(
        'expires a node that is not registered again within its TTL',
        async () => {
          const registry = await client();
          const svc = service(randomName('ttl'), 'v1', 'a');
          await register(registry, svc, minTtl);
          await eventually(
            'the node to appear',
            async () => (await nodesOf(registry, svc.name)).length === 1,
          );
          await waitFor(
            'the node to expire',
            async () => (await nodesOf(registry, svc.name)).length === 0,
            { timeout: minTtl * 3 + propagation, interval: 100 },
          );
        },
        testTimeout,
      );

      it(
        'keeps a node alive while it is registered again within its TTL',
        async () => {
          const registry = await client();
          const svc = service(randomName('ttl'), 'v1', 'a');
          await register(registry, svc, minTtl);
          const until = Date.now() + minTtl * 2.5;
          while (Date.now() < until) {
            await new Promise((resolve) => setTimeout(resolve, minTtl / 4));
            await registry.register(svc, { ttl: minTtl });
            expect(await nodesOf(registry, svc.name)).toEqual([svc.nodes[0]!.id]);
          }
        },
        testTimeout,
      );
    }

    const spec = capabilities.process;
    if (capabilities.ttl && spec) {
      it(
        'drops the node of a process killed with SIGKILL once its TTL passes',
        async () => {
          const ttl = Math.max(minTtl, 2_000);
          const interval = 500;
          const reader = await client();
          const svc = service(randomName('killed'), 'v1', 'child');
          const id = svc.nodes[0]!.id;
          const child = await startChild(
            'register.js',
            {
              MICRO_TEST_REGISTRY: JSON.stringify(spec),
              MICRO_TEST_REGISTER: JSON.stringify({ service: svc, ttl, interval }),
            },
            'the registering process',
          );
          const watcher = await reader.watch({ service: svc.name });
          try {
            await eventually('the child node', async () =>
              (await nodesOf(reader, svc.name)).includes(id),
            );
            // Not a synchronisation: renewed, the node outlives its TTL.
            await new Promise((resolve) => setTimeout(resolve, ttl * 1.5));
            expect(await nodesOf(reader, svc.name)).toEqual([id]);

            const killedAt = Date.now();
            child.process.kill('SIGKILL');
            await child.exited;
            const deleted = (async () => {
              while (true) {
                const event = await watcher.next();
                if (event.action === 'delete' && event.service.nodes.some((n) => n.id === id)) {
                  return;
                }
              }
            })();
            const lag = capabilities.expiryLag ?? 1_000;
            await within(deleted, ttl + lag, 'a delete event for the node');
            const after = Date.now() - killedAt;
            // Renewed at most one interval before the kill: gone by expiry, not sooner.
            expect(after).toBeGreaterThanOrEqual(ttl - interval - 100);
            expect(await nodesOf(reader, svc.name)).toEqual([]);
          } finally {
            watcher.stop();
            child.process.kill('SIGKILL');
          }
        },
        testTimeout,
      );
    }
  });
}
