import { afterEach, describe, expect, it } from '@jest/globals';
import {
  badRequest,
  createMemoryRegistry,
  filterLabel,
  filterVersion,
  internalServerError,
  isMicroError,
  type Node,
  type Registry,
  type Selector,
  type Service,
  timeout,
  unavailable,
} from '@micro/core';
import { randomName, rejection, waitFor } from './helpers.js';

/** What the suite hands a selector factory. */
export interface SelectorFactoryOptions {
  /** An in-process registry the suite registers nodes in. */
  registry: Registry;
  /** The cool-down the suite expects for a node marked failing, in milliseconds. */
  cooldown: number;
}

const COOLDOWN = 300;

function service(name: string, version: string, ids: string[], zone = 'a'): Service {
  return {
    name,
    version,
    nodes: ids.map((id, i) => ({ id, address: `10.0.0.${i + 1}:8080`, metadata: { zone } })),
  };
}

/**
 * The contract of a {@link Selector}: it picks registered nodes, honours
 * filters, drops a deregistered node at once, and skips a node marked failing for
 * its cool-down. Nodes come from an in-process registry.
 *
 * @param name shown in the suite title
 * @param factory creates the selector over the given registry and cool-down
 */
export function selectorConformance(
  name: string,
  factory: (options: SelectorFactoryOptions) => Selector,
): void {
  describe(`Selector conformance: ${name}`, () => {
    const selectors: Selector[] = [];
    const setup = async (...services: Service[]) => {
      const registry = createMemoryRegistry();
      for (const svc of services) await registry.register(svc, { ttl: 0 });
      const selector = factory({ registry, cooldown: COOLDOWN });
      selectors.push(selector);
      return { registry, selector };
    };
    const picks = (next: () => Node, count: number) => {
      const counts = new Map<string, number>();
      for (let i = 0; i < count; i++) {
        const id = next().id;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return counts;
    };

    afterEach(async () => {
      for (const selector of selectors.splice(0)) await selector.close();
    });

    it('picks among every registered node', async () => {
      const name = randomName('svc');
      const { selector } = await setup(service(name, 'v1', ['a', 'b', 'c']));
      expect(selector.name).toMatch(/\S/);
      const counts = picks(await selector.select(name), 300);
      expect([...counts.keys()].sort()).toEqual(['a', 'b', 'c']);
    });

    it('answers 404 for an unknown service', async () => {
      const { selector } = await setup();
      const error = await rejection(selector.select(randomName('missing')));
      expect(isMicroError(error) && error.code).toBe(404);
    });

    it('applies version and label filters, and answers 404 when nothing matches', async () => {
      const name = randomName('svc');
      const { selector } = await setup(
        service(name, 'v1', ['a', 'b'], 'east'),
        service(name, 'v2', ['c'], 'west'),
      );
      const v2 = picks(await selector.select(name, { filters: [filterVersion('v2')] }), 50);
      expect([...v2.keys()]).toEqual(['c']);
      const east = picks(
        await selector.select(name, { filters: [filterLabel('zone', 'east')] }),
        100,
      );
      expect([...east.keys()].sort()).toEqual(['a', 'b']);
      const error = await rejection(selector.select(name, { filters: [filterVersion('v9')] }));
      expect(isMicroError(error) && error.code).toBe(404);
    });

    it('never picks a node once it is deregistered', async () => {
      const name = randomName('svc');
      const svc = service(name, 'v1', ['a', 'b', 'c']);
      const { registry, selector } = await setup(svc);
      const next = await selector.select(name);
      await registry.deregister({ ...svc, nodes: [svc.nodes[1]!] });
      await waitFor('the deregistered node to leave the selection', async () => {
        const fresh = await selector.select(name);
        return !picks(fresh, 200).has('b');
      });
      expect(picks(next, 300).has('b')).toBe(false);
      expect(picks(await selector.select(name), 300).has('b')).toBe(false);
    });

    it('starts picking a node registered later', async () => {
      const name = randomName('svc');
      const { registry, selector } = await setup(service(name, 'v1', ['a']));
      await selector.select(name);
      await registry.register(service(name, 'v1', ['z']), { ttl: 0 });
      await waitFor('the new node to be picked', async () =>
        picks(await selector.select(name), 100).has('z'),
      );
    });

    it('answers 404 once the last node is deregistered', async () => {
      const name = randomName('svc');
      const svc = service(name, 'v1', ['a']);
      const { registry, selector } = await setup(svc);
      await selector.select(name);
      await registry.deregister(svc);
      await waitFor('404 after the last node left', async () => {
        const error = await rejection(selector.select(name));
        return isMicroError(error) && error.code === 404;
      });
    });

    it('skips a node marked unreachable or timed out for its cool-down, then picks it again', async () => {
      const name = randomName('svc');
      const { selector } = await setup(service(name, 'v1', ['a', 'b', 'c']));
      const next = await selector.select(name);
      expect(picks(next, 300).size).toBe(3);
      const b = { id: 'b', address: '10.0.0.2:8080', metadata: { zone: 'a' } };
      const c = { id: 'c', address: '10.0.0.3:8080', metadata: { zone: 'a' } };
      selector.mark(name, b, unavailable('test', 'connection refused'));
      selector.mark(name, c, timeout('test', 'deadline exceeded'));
      expect([...picks(next, 300).keys()]).toEqual(['a']);
      await waitFor('the cool-down to end', () => picks(next, 300).has('b'), {
        timeout: COOLDOWN * 10,
      });
    });

    it('does not skip a node for an error its handler answered', async () => {
      const name = randomName('svc');
      const { selector } = await setup(service(name, 'v1', ['a', 'b']));
      const next = await selector.select(name);
      const a = { id: 'a', address: '10.0.0.1:8080' };
      selector.mark(name, a, badRequest('test', 'bad input'));
      selector.mark(name, a, internalServerError('test', 'handler threw'));
      expect(picks(next, 200).has('a')).toBe(true);
    });

    it('forgets a failure after a success mark or a reset', async () => {
      const name = randomName('svc');
      const { selector } = await setup(service(name, 'v1', ['a', 'b']));
      const a = { id: 'a', address: '10.0.0.1:8080' };
      selector.mark(name, a, unavailable('test', 'refused'));
      expect(picks(await selector.select(name), 100).has('a')).toBe(false);
      selector.mark(name, a);
      expect(picks(await selector.select(name), 200).has('a')).toBe(true);
      selector.mark(name, a, unavailable('test', 'refused'));
      selector.reset(name);
      expect(picks(await selector.select(name), 200).has('a')).toBe(true);
    });

    it('still answers with a node when every node is failing', async () => {
      const name = randomName('svc');
      const { selector } = await setup(service(name, 'v1', ['a', 'b']));
      const next = await selector.select(name);
      for (const id of ['a', 'b'])
        selector.mark(name, { id, address: 'x' }, unavailable('test', 'down'));
      expect(['a', 'b']).toContain(next().id);
    });
  });
}
