import { describe, expect, it } from '@jest/globals';
import {
  createMemoryRegistry,
  DEFAULT_MAX_UNREAD_EVENTS,
  isMicroError,
  QueueWatcher,
  type WatchEvent,
} from '../src/index.js';

const event = (name: string): WatchEvent => ({
  action: 'create',
  service: { name, version: '1', metadata: {}, endpoints: [], nodes: [] },
});

describe('QueueWatcher', () => {
  it('hands events to the reader in order', async () => {
    const watcher = new QueueWatcher();
    watcher.push(event('a'));
    watcher.push(event('b'));
    expect((await watcher.next()).service.name).toBe('a');
    expect((await watcher.next()).service.name).toBe('b');
    watcher.stop();
  });

  it('fails with a 503 and releases the backend watch when the reader falls too far behind', async () => {
    let released = 0;
    const watcher = new QueueWatcher(() => released++, 3);
    for (const name of ['a', 'b', 'c', 'd', 'e']) watcher.push(event(name));
    expect(watcher.stopped).toBe(true);
    expect(released).toBe(1);
    const error = await watcher.next().catch((e: unknown) => e);
    expect(isMicroError(error) && error.code).toBe(503);
    expect(String((error as Error).message)).toMatch(/fell behind: 3 events unread/);
  });

  it('lets a reader that keeps up read any number of events', async () => {
    const watcher = new QueueWatcher(undefined, 3);
    for (let i = 0; i < 100; i++) {
      watcher.push(event(`s${i}`));
      expect((await watcher.next()).service.name).toBe(`s${i}`);
    }
    expect(watcher.stopped).toBe(false);
    watcher.stop();
  });

  it('bounds the memory registry watch of a reader that never reads', async () => {
    const registry = createMemoryRegistry();
    const watcher = await registry.watch();
    const node = { id: 'n1', address: '127.0.0.1:1', metadata: {} };
    for (let i = 0; i <= DEFAULT_MAX_UNREAD_EVENTS; i++) {
      await registry.register(
        { name: 'busy', version: '1', metadata: {}, endpoints: [], nodes: [node] },
        { ttl: 0 },
      );
    }
    const error = await watcher.next().catch((e: unknown) => e);
    expect(isMicroError(error) && error.code).toBe(503);
  });
});
