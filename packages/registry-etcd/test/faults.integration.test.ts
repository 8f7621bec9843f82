import { execFile } from 'node:child_process';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  isMicroError,
  type Registry,
  type Service,
  silentLogger,
  type WatchEvent,
  type Watcher,
} from '@micro/core';
import {
  controlServer,
  describeWithServer,
  randomName,
  rejection,
  waitFor,
  within,
} from '@micro/testing';
import { createEtcdRegistry, type EtcdRegistry } from '../src/index.js';

function node(name: string, id: string): Service {
  return { name, version: 'v1', nodes: [{ id: `${name}-${id}`, address: '127.0.0.1:1' }] };
}

async function nodesOf(registry: Registry, name: string): Promise<string[]> {
  try {
    return (await registry.getService(name)).flatMap((s) => s.nodes.map((n) => n.id)).sort();
  } catch (error) {
    if (isMicroError(error) && error.code === 404) return [];
    throw error;
  }
}

/** Re-registers every interval the way a Service does: a failure is logged and retried next time. */
function keepRegistering(registry: Registry, service: Service, ttl: number, interval: number) {
  const failures: unknown[] = [];
  const tick = () => registry.register(service, { ttl }).catch((error) => failures.push(error));
  void tick();
  const timer = setInterval(tick, interval);
  return { failures, stop: () => clearInterval(timer) };
}

/** Collects a watcher's events in the background. */
function record(watcher: Watcher): WatchEvent[] {
  const events: WatchEvent[] = [];
  void (async () => {
    for await (const event of watcher) events.push(event);
  })().catch(() => {});
  return events;
}

function summary(events: WatchEvent[], name: string): string[] {
  return events
    .filter((e) => e.service.name === name)
    .map((e) => `${e.action} ${e.service.nodes.map((n) => n.id).join(',')}`);
}

/** `scripts/services down|up etcd`: replaces etcd by an empty one, as a restored or rebuilt cluster. */
function services(action: 'down' | 'up'): Promise<void> {
  const script = process.env.MICRO_TEST_SERVICES;
  if (!script) return Promise.reject(new Error('MICRO_TEST_SERVICES is not set'));
  return new Promise((resolve, reject) => {
    execFile('bash', [script, action, 'etcd'], { timeout: 120_000 }, (error, _out, stderr) =>
      error
        ? reject(new Error(`scripts/services ${action} etcd: ${stderr || error.message}`))
        : resolve(),
    );
  });
}

describeWithServer('EtcdRegistry faults', ['MICRO_TEST_ETCD_ADDRESS'], (env) => {
  const address = env.MICRO_TEST_ETCD_ADDRESS;
  const registries: EtcdRegistry[] = [];
  const open = (timeout?: number) => {
    const registry = createEtcdRegistry({
      addresses: [address],
      logger: silentLogger,
      ...(timeout ? { timeout } : {}),
    });
    registries.push(registry);
    return registry;
  };

  afterAll(async () => {
    for (const registry of registries) await registry.close();
  }, 30_000);

  const interval = 1_000;
  const ttl = 3_000;

  it('keeps registrations and watches working across an etcd restart', async () => {
    const name = randomName('restart');
    const first = open();
    const second = open();
    const observer = open();
    const a = node(name, 'a');
    const b = node(name, 'b');
    const loopA = keepRegistering(first, a, ttl, interval);
    let loopB: ReturnType<typeof keepRegistering> | undefined;
    let watcher: Watcher | undefined;
    try {
      await waitFor('node a', async () => (await nodesOf(observer, name)).length === 1);
      watcher = await observer.watch({ service: name });
      const events = record(watcher);

      await controlServer('etcd', 'stop');
      try {
        // a second instance starting while etcd is away: its register calls fail with a 503
        const error = await rejection(second.register(b, { ttl }));
        expect(isMicroError(error) && error.code).toBe(503);
        loopB = keepRegistering(second, b, ttl, interval);
        await waitFor('a failed re-registration of a', () => loopA.failures.length > 0, {
          timeout: interval * 3,
        });
      } finally {
        await controlServer('etcd', 'start');
      }
      const back = Date.now();
      await waitFor(
        'both nodes within one register interval of etcd being back',
        async () => (await nodesOf(observer, name)).length === 2,
        { timeout: interval, interval: 25 },
      );
      process.stderr.write(
        `etcd restart: both nodes listed ${Date.now() - back} ms after etcd answered\n`,
      );

      // the watch that ran before the restart reports what happened after it, and nothing else:
      // node a never left etcd (the lease outlived the restart), node b arrived
      await waitFor('the watcher to see node b', () => summary(events, name).length > 0, {
        timeout: 5_000,
      });
      expect(summary(events, name)).toEqual([`create ${name}-b`]);

      loopA.stop();
      loopB.stop();
      await first.deregister(a);
      await second.deregister(b);
      await waitFor('the deletes', () => summary(events, name).length === 3);
      expect(summary(events, name).slice(1).sort()).toEqual([
        `delete ${name}-a`,
        `delete ${name}-b`,
      ]);
    } finally {
      loopA.stop();
      loopB?.stop();
      watcher?.stop();
    }
  }, 60_000);

  it('puts registrations back and re-reads watches when etcd comes back empty', async () => {
    const name = randomName('wiped');
    const registry = open();
    const observer = open();
    const a = node(name, 'a');
    const loop = keepRegistering(registry, a, ttl, interval);
    let watcher: Watcher | undefined;
    try {
      await waitFor('node a', async () => (await nodesOf(observer, name)).length === 1);
      watcher = await observer.watch({ service: name });
      const events = record(watcher);
      // a node that is deregistered while etcd is away must not come back
      const gone = node(name, 'gone');
      await registry.register(gone, { ttl });
      await waitFor('node gone', () => summary(events, name).length === 1);

      await services('down');
      try {
        const error = await rejection(registry.deregister(gone));
        expect(isMicroError(error) && error.code).toBe(503);
      } finally {
        await services('up');
      }
      const back = Date.now();
      await waitFor(
        'node a put back into the empty etcd',
        async () => (await nodesOf(observer, name)).join() === `${name}-a`,
        { timeout: interval * 2, interval: 25 },
      );
      process.stderr.write(
        `etcd replaced: node a back ${Date.now() - back} ms after etcd answered\n`,
      );
      // the watcher noticed the new cluster, re-read it and reports the differences
      await waitFor(
        'the watcher to report the new state',
        () => summary(events, name).includes(`delete ${name}-gone`),
        { timeout: 5_000 },
      );
      const afterWipe = summary(events, name).slice(1);
      expect(afterWipe.filter((e) => e.endsWith('-gone'))).toEqual([`delete ${name}-gone`]);
      // node a may be reported gone and back, but the last word is that it is there
      expect(afterWipe.filter((e) => e.endsWith('-a')).at(-1) ?? `create ${name}-a`).toBe(
        `create ${name}-a`,
      );
      loop.stop();
      const before = summary(events, name).length;
      await registry.deregister(a);
      await waitFor('the delete after the wipe', () => summary(events, name).length > before);
      expect(summary(events, name).at(-1)).toBe(`delete ${name}-a`);
    } finally {
      loop.stop();
      watcher?.stop();
    }
  }, 60_000);

  describe('with etcd stopped', () => {
    it('a fresh client answers 503 within its timeout instead of hanging', async () => {
      await controlServer('etcd', 'stop');
      try {
        const timeout = 2_000;
        const registry = open(timeout);
        const calls: [string, () => Promise<unknown>][] = [
          ['getService', () => registry.getService('helloworld')],
          ['listServices', () => registry.listServices()],
          ['register', () => registry.register(node('helloworld', 'x'), { ttl })],
          ['watch', () => registry.watch()],
        ];
        for (const [what, call] of calls) {
          const started = Date.now();
          const error = await rejection(within(call(), timeout * 2, what));
          const took = Date.now() - started;
          expect([what, isMicroError(error) && error.code]).toEqual([what, 503]);
          expect(took).toBeLessThanOrEqual(timeout + 250);
        }
      } finally {
        await controlServer('etcd', 'start');
      }
      // and once etcd is back, the same kind of client works again
      const registry = open();
      const name = randomName('after');
      await registry.register(node(name, 'a'), { ttl });
      expect(await nodesOf(registry, name)).toEqual([`${name}-a`]);
      await registry.deregister(node(name, 'a'));
    }, 60_000);
  });
});
