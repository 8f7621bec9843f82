import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { isMicroError, type Service, silentLogger, type WatchEvent } from '@micro/core';
import {
  describeWithServer,
  randomName,
  registryConformance,
  waitFor,
  within,
} from '@micro/testing';
import { createMdnsRegistry, type MdnsRegistry } from '../src/index.js';

/** Not 5353: tests never talk to real mDNS responders on this host. */
const PORT = Number(process.env.MICRO_TEST_MDNS_PORT ?? 15353);
const PROPAGATION = 3_000;

describeWithServer('MdnsRegistry', ['MICRO_TEST_MDNS_INTERFACE'], (env) => {
  const make = () =>
    createMdnsRegistry({
      interface: env.MICRO_TEST_MDNS_INTERFACE,
      port: PORT,
      logger: silentLogger,
    });

  registryConformance('mdns', make, {
    ttl: false,
    propagation: PROPAGATION,
    watchUpdates: true,
    serviceMetadata: false,
  });

  describe('between two processes', () => {
    const fixture = join(__dirname, 'fixtures', 'child-service.mjs');
    const registries: MdnsRegistry[] = [];
    const children: ChildProcess[] = [];

    afterAll(async () => {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
      for (const registry of registries) await registry.close();
    });

    function startChild(name: string, nodeId: string): Promise<ChildProcess> {
      if (!existsSync(join(__dirname, '..', 'dist', 'index.js'))) {
        throw new Error('dist/index.js is missing: run `pnpm run build` first');
      }
      const child = spawn(process.execPath, [fixture], {
        env: {
          ...process.env,
          MICRO_LOG_LEVEL: 'error',
          MDNS_INTERFACE: env.MICRO_TEST_MDNS_INTERFACE,
          MDNS_PORT: String(PORT),
          SERVICE: name,
          NODE_ID: nodeId,
          NODE_ADDRESS: '127.0.0.1:47001',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const registered = new Promise<ChildProcess>((resolve, reject) => {
        child.stdout!.on('data', () => {
          if (output.includes('registered\n')) resolve(child);
        });
        child.once('exit', (code) => reject(new Error(`child exited (${code}): ${output}`)));
      });
      return within(registered, 10_000, 'the child process to register');
    }

    it('finds a node another process registered, watches it, and sees it go on SIGTERM', async () => {
      const registry = make();
      registries.push(registry);
      const name = randomName('proc');
      const nodeId = `${name}-child`;
      const watcher = await registry.watch({ service: name });
      try {
        const child = await startChild(name, nodeId);

        const created = await within(watcher.next(), PROPAGATION, 'the create event');
        expect(created.action).toBe('create');
        expect(created.service.nodes.map((n) => n.id)).toEqual([nodeId]);

        const [found] = await registry.getService(name);
        expect(found!.version).toBe('v-child');
        expect(found!.endpoints!.map((e) => e.name)).toEqual(['Greeter.Hello']);
        expect(found!.nodes).toEqual([
          {
            id: nodeId,
            address: '127.0.0.1:47001',
            metadata: { protocol: 'mucp', pid: String(child.pid) },
          },
        ]);

        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const deleted = await within(watcher.next(), PROPAGATION, 'the delete event');
        expect(deleted.action).toBe('delete');
        expect(deleted.service.nodes.map((n) => n.id)).toEqual([nodeId]);
        expect(await within(exited, 5_000, 'the child to exit')).toBe(0);

        const error = await registry.getService(name).catch((e: unknown) => e);
        expect(isMicroError(error) && error.code).toBe(404);
      } finally {
        watcher.stop();
      }
    }, 30_000);
  });

  describe('updates across processes', () => {
    it('reports a node that announces changed records as update, then delete', async () => {
      const publisher = make();
      const watcher = make();
      try {
        const name = randomName('upd');
        const service: Service = {
          name,
          version: 'v1',
          endpoints: [],
          nodes: [{ id: `${name}-a`, address: '127.0.0.1:47002', metadata: { zone: 'a' } }],
        };
        const watch = await watcher.watch({ service: name });
        const events: WatchEvent[] = [];
        const next = () => within(watch.next(), PROPAGATION, 'a watch event');
        await publisher.register(service);
        events.push(await next());
        // registering the same records again is no change
        await publisher.register(service);
        await publisher.register({
          ...service,
          nodes: [{ ...service.nodes[0]!, metadata: { zone: 'b' } }],
        });
        events.push(await next());
        await publisher.deregister(service);
        events.push(await next());
        expect(events.map((e) => [e.action, e.service.nodes[0]!.metadata?.zone ?? null])).toEqual([
          ['create', 'a'],
          ['update', 'b'],
          ['delete', 'b'],
        ]);
        watch.stop();
      } finally {
        await publisher.close();
        await watcher.close();
      }
    }, 30_000);

    it('sends goodbyes on close, so other processes see the nodes go', async () => {
      const publisher = make();
      const watcher = make();
      try {
        const name = randomName('bye');
        const watch = await watcher.watch({ service: name });
        await publisher.register({
          name,
          version: 'v1',
          nodes: [
            { id: `${name}-a`, address: '127.0.0.1:47003' },
            { id: `${name}-b`, address: '127.0.0.1:47004' },
          ],
        });
        const seen = async (count: number) => {
          const out: WatchEvent[] = [];
          while (out.length < count) out.push(await watch.next());
          return out.map((e) => `${e.action} ${e.service.nodes[0]!.id}`).sort();
        };
        expect(await within(seen(2), PROPAGATION, 'two creates')).toEqual([
          `create ${name}-a`,
          `create ${name}-b`,
        ]);
        await publisher.close();
        expect(await within(seen(2), PROPAGATION, 'two deletes')).toEqual([
          `delete ${name}-a`,
          `delete ${name}-b`,
        ]);
        await waitFor(
          'the service to be gone',
          async () => {
            const error = await watcher.getService(name).catch((e: unknown) => e);
            return isMicroError(error) && error.code === 404;
          },
          { timeout: PROPAGATION },
        );
        watch.stop();
      } finally {
        await publisher.close();
        await watcher.close();
      }
    }, 30_000);
  });
});
