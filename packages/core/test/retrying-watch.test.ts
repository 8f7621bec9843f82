import { describe, expect, it } from '@jest/globals';
import {
  createMemoryRegistry,
  QueueWatcher,
  type Registry,
  RetryingWatch,
  silentLogger,
  unavailable,
  type WatchEvent,
} from '../src/index.js';
import { eventually } from './helpers.js';

const service = (name: string) => ({
  name,
  version: '1',
  nodes: [{ id: `${name}-1`, address: '127.0.0.1:1' }],
});

/** A memory registry whose watches the test can fail, and whose next `failures` watch calls reject. */
function flakyRegistry(failures: number) {
  const inner = createMemoryRegistry();
  const watchers: QueueWatcher[] = [];
  let calls = 0;
  const registry: Registry = Object.assign(Object.create(inner) as Registry, {
    watch: async () => {
      calls++;
      if (failures-- > 0) throw unavailable('test', 'registry down');
      const source = await inner.watch();
      const watcher = new QueueWatcher(() => source.stop());
      watchers.push(watcher);
      void (async () => {
        for await (const event of source) watcher.push(event);
      })().catch(() => {});
      return watcher;
    },
  });
  return { registry, inner, watchers, calls: () => calls };
}

/** A RetryingWatch that records the services it hears of and counts its gaps. */
function track(registry: Registry) {
  const seen: WatchEvent[] = [];
  const counts = { gaps: 0 };
  const watch = new RetryingWatch(registry, {
    onEvent: (event) => seen.push(event),
    onGap: () => counts.gaps++,
    logger: silentLogger,
    name: 'test',
  });
  const names = () => seen.map((event) => event.service.name);
  return { watch, seen, names, counts };
}

describe('RetryingWatch', () => {
  it('delivers changes in order while it runs', async () => {
    const registry = createMemoryRegistry();
    const { watch, seen } = track(registry);
    await watch.start();
    expect(watch.active).toBe(true);
    await registry.register(service('a'));
    await registry.deregister(service('a'));
    await eventually('two events', () => seen.length === 2);
    expect(seen.map((event) => event.action)).toEqual(['create', 'delete']);
    watch.stop();
  });

  it('starts again after the registry refused, and reports the gap', async () => {
    const { registry, inner, calls } = flakyRegistry(1);
    const { watch, names, counts } = track(registry);
    await watch.start();
    expect(watch.active).toBe(false);
    await eventually('the second watch', () => watch.active, 3_000);
    expect(calls()).toBe(2);
    expect(counts.gaps).toBe(1);
    await inner.register(service('b'));
    await eventually('the event', () => names().includes('b'));
    watch.stop();
  });

  it('watches again after a running watch fails, reporting the gap', async () => {
    const { registry, inner, watchers } = flakyRegistry(0);
    const { watch, names, counts } = track(registry);
    await watch.start();
    watchers[0]!.fail(unavailable('test', 'connection lost'));
    await eventually('the watch to end', () => !watch.active);
    expect(counts.gaps).toBe(1);
    await eventually('a new watch', () => watch.active, 3_000);
    expect(watchers).toHaveLength(2);
    await inner.register(service('c'));
    await eventually('the event on the new watch', () => names().includes('c'));
    watch.stop();
  });

  it('stays stopped: no retry after stop', async () => {
    const { registry, calls } = flakyRegistry(5);
    const { watch } = track(registry);
    await watch.start();
    watch.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    expect(calls()).toBe(1);
  });
});
