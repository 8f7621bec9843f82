import { afterEach, expect, it } from '@jest/globals';
import { isMicroError, type Registry, type Service, silentLogger, type Watcher } from '@micro/core';
import {
  controlServer,
  describeWithServer,
  randomName,
  rejection,
  waitFor,
  within,
} from '@micro/testing';
import { createConsulRegistry } from '../src/index.js';

const INTERVAL = 1_000;
const TTL = 3_000;

function node(name: string, suffix: string): Service {
  return {
    name,
    version: 'v1',
    nodes: [
      { id: `${name}-${suffix}`, address: '127.0.0.1:45001', metadata: { protocol: 'mucp' } },
    ],
  };
}

async function nodeIds(registry: Registry, name: string): Promise<string[]> {
  try {
    return (await registry.getService(name)).flatMap((s) => s.nodes.map((n) => n.id));
  } catch (error) {
    if (isMicroError(error) && error.code === 404) return [];
    throw error;
  }
}

/** Registers now and again every interval, as a Service's registration loop does. */
function keepRegistered(registry: Registry, service: Service, ttl: number, interval: number) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    if (stopped) return;
    registry
      .register(service, { ttl })
      .catch(() => {})
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, interval);
      });
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Applies watch events to a set of node ids: what a selector cache would hold. */
function follow(watcher: Watcher, name: string) {
  const view = new Set<string>();
  const log: string[] = [];
  void (async () => {
    for await (const event of watcher) {
      if (event.service.name !== name) continue;
      for (const n of event.service.nodes) {
        log.push(`${event.action} ${n.id}`);
        if (event.action === 'delete') view.delete(n.id);
        else view.add(n.id);
      }
    }
  })().catch(() => {});
  return { view, log };
}

describeWithServer(
  'ConsulRegistry faults against a real Consul agent',
  ['MICRO_TEST_CONSUL_ADDRESS', 'MICRO_TEST_SERVICES'],
  ({ MICRO_TEST_CONSUL_ADDRESS: address }) => {
    const cleanups: (() => Promise<void> | void)[] = [];
    const open = (timeout = 2_000) => {
      const registry = createConsulRegistry({
        address,
        timeout,
        watchWait: 10_000,
        logger: silentLogger,
      });
      cleanups.push(() => registry.close());
      return registry;
    };

    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      // A failed test must not leave Consul down for the next one.
      await controlServer('consul', 'start');
    }, 120_000);

    it('brings a node back within one register interval after a Consul restart, and a running watcher sees it', async () => {
      const registry = open();
      const reader = open();
      const name = randomName('restart');
      const first = node(name, 'a');
      const id = first.nodes[0]!.id;
      const watcher = await reader.watch();
      cleanups.push(() => watcher.stop());
      const { view, log } = follow(watcher, name);
      cleanups.push(keepRegistered(registry, first, TTL, INTERVAL));
      await waitFor('the node', async () => (await nodeIds(reader, name)).includes(id));
      await waitFor('the watcher to see the node', () => view.has(id));

      await controlServer('consul', 'stop');
      await controlServer('consul', 'start');
      const back = Date.now();
      await waitFor('the node back', async () => (await nodeIds(reader, name)).includes(id), {
        timeout: INTERVAL + 4_000,
        interval: 50,
      });
      const elapsed = Date.now() - back;
      process.stderr.write(`consul restart: node back ${elapsed} ms after Consul answered\n`);
      // One register interval, plus the 50 ms poll and a little scheduling slack.
      expect(elapsed).toBeLessThanOrEqual(INTERVAL + 500);

      // The watcher resumed: it holds the node, and reports a node registered now.
      await waitFor('the watcher to hold the node after the restart', () => view.has(id), {
        timeout: 10_000,
      });
      const second = node(name, 'b');
      await registry.register(second, { ttl: TTL });
      cleanups.push(() => registry.deregister(second).catch(() => {}));
      await waitFor(
        'the watcher to see a node registered after the restart',
        () => view.has(second.nodes[0]!.id),
        { timeout: 10_000 },
      );
      expect(log.filter((line) => line.endsWith(id))[0]).toBe(`create ${id}`);
      process.stderr.write(`consul restart: the watcher reported ${log.join(', ')}\n`);
    }, 90_000);

    it('answers 503 within its timeout while Consul is down', async () => {
      const timeout = 1_500;
      const registry = open(timeout);
      await controlServer('consul', 'stop');
      for (const call of [
        () => registry.getService(randomName('down')),
        () => registry.register(node(randomName('down'), 'a'), { ttl: TTL }),
        () => registry.listServices(),
        () => registry.watch(),
      ]) {
        const started = Date.now();
        const error = await within(rejection(call()), timeout + 1_000, 'the call');
        expect(isMicroError(error) && error.code).toBe(503);
        expect(Date.now() - started).toBeLessThanOrEqual(timeout);
      }
      await controlServer('consul', 'start');
      const name = randomName('after');
      await registry.register(node(name, 'a'), { ttl: TTL });
      expect(await nodeIds(registry, name)).toEqual([`${name}-a`]);
    }, 60_000);
  },
);
