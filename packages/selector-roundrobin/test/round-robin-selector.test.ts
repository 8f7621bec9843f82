import { afterEach, describe, expect, it } from '@jest/globals';
import {
  createMemoryRegistry,
  createRegistrySelector,
  filterLabel,
  type Node,
  type Registry,
  type Selector,
  type Service,
  silentLogger,
  unavailable,
} from '@micro/core';
import { randomName, selectorConformance, waitFor } from '@micro/testing';
import {
  createRoundRobinSelector,
  createRoundRobinStrategy,
  RoundRobinSelector,
  roundRobin,
} from '../src/index.js';

selectorConformance('roundrobin', ({ registry, cooldown }) =>
  createRoundRobinSelector({ registry, cooldown, logger: silentLogger }),
);

const node = (id: string, zone = 'a'): Node => ({
  id,
  address: `10.0.0.${id.charCodeAt(0) % 250}:8080`,
  metadata: { zone },
});
const service = (name: string, nodes: Node[], version = 'v1'): Service => ({
  name,
  version,
  nodes,
});

function tally(pick: () => Node, count: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const id = pick().id;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

function expectEven(counts: Record<string, number>, ids: string[], each: number): void {
  expect(Object.keys(counts).sort()).toEqual([...ids].sort());
  for (const id of ids) {
    expect(counts[id]).toBeGreaterThanOrEqual(each - 1);
    expect(counts[id]).toBeLessThanOrEqual(each + 1);
  }
}

describe('RoundRobinStrategy', () => {
  it('takes the candidates in id order, whatever order they come in', () => {
    const strategy = createRoundRobinStrategy();
    const nodes = [node('c'), node('a'), node('b')];
    const picks = Array.from({ length: 7 }, () => strategy.pick('svc', nodes).id);
    expect(picks).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
    expect(strategy.name).toBe('roundrobin');
  });

  it('gives the turn of a missing candidate to the next, and takes a new one in its place', () => {
    const strategy = createRoundRobinStrategy();
    expect(strategy.pick('svc', [node('a'), node('b'), node('c')]).id).toBe('a');
    // b is gone (or in cool-down): c has the next turn.
    expect(strategy.pick('svc', [node('a'), node('c')]).id).toBe('c');
    // a new node sorting after c joins this very round.
    expect(strategy.pick('svc', [node('a'), node('b'), node('c'), node('d')]).id).toBe('d');
    expect(strategy.pick('svc', [node('a'), node('b'), node('c'), node('d')]).id).toBe('a');
  });

  it('keeps each strategy and each service on its own rotation', () => {
    const one = createRoundRobinStrategy();
    const two = createRoundRobinStrategy();
    const nodes = [node('a'), node('b')];
    expect([one.pick('x', nodes).id, one.pick('x', nodes).id, one.pick('y', nodes).id]).toEqual([
      'a',
      'b',
      'a',
    ]);
    expect(two.pick('x', nodes).id).toBe('a');
    one.forget('x');
    expect(one.pick('x', nodes).id).toBe('a');
  });

  it('is shared, as core random is, through the roundRobin instance', () => {
    const name = randomName('shared');
    const nodes = [node('a'), node('b')];
    expect(roundRobin.pick(name, nodes).id).toBe('a');
    expect(roundRobin.pick(name, nodes).id).toBe('b');
  });
});

describe('RoundRobinSelector', () => {
  const selectors: Selector[] = [];
  afterEach(async () => {
    for (const selector of selectors.splice(0)) await selector.close();
  });

  async function setup(cooldown = 30_000, ...services: Service[]) {
    const registry: Registry = createMemoryRegistry();
    for (const svc of services) await registry.register(svc, { ttl: 0 });
    const selector = createRoundRobinSelector({ registry, cooldown, logger: silentLogger });
    selectors.push(selector);
    return { registry, selector };
  }

  it('is named roundrobin and is a registry selector', async () => {
    const { selector } = await setup();
    expect(selector).toBeInstanceOf(RoundRobinSelector);
    expect(selector.name).toBe('roundrobin');
  });

  it('spreads 3000 picks of one select exactly evenly over 3 nodes', async () => {
    const name = randomName('svc');
    const { selector } = await setup(30_000, service(name, [node('a'), node('b'), node('c')]));
    const next = await selector.select(name);
    expectEven(tally(next, 3000), ['a', 'b', 'c'], 1000);
  });

  it('keeps the rotation across selects: 3000 selects of one pick each land 1000 on each node', async () => {
    const name = randomName('svc');
    const { selector } = await setup(30_000, service(name, [node('a'), node('b'), node('c')]));
    const counts: Record<string, number> = {};
    const order: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const id = (await selector.select(name))().id;
      counts[id] = (counts[id] ?? 0) + 1;
      if (i < 6) order.push(id);
    }
    expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expectEven(counts, ['a', 'b', 'c'], 1000);
  });

  it('keeps the rotation across selects with filters, rotating within the nodes that pass', async () => {
    const name = randomName('svc');
    const { selector } = await setup(
      30_000,
      service(name, [node('a', 'east'), node('b', 'east'), node('c', 'west')]),
    );
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) {
      const next = await selector.select(name, { filters: [filterLabel('zone', 'east')] });
      picks.push(next().id);
    }
    expect(picks).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
  });

  it('takes a node added mid-rotation into the rotation and stays even afterwards', async () => {
    const name = randomName('svc');
    const { registry, selector } = await setup(
      30_000,
      service(name, [node('a'), node('b'), node('c')]),
    );
    const next = await selector.select(name);
    tally(next, 1001); // mid-round: the last pick was b
    await registry.register(service(name, [node('bb')]), { ttl: 0 });
    await waitFor('the new node to be picked', () => next().id === 'bb');
    expectEven(tally(next, 4000), ['a', 'b', 'bb', 'c'], 1000);
  });

  it('never picks a deregistered node again and stays even over the rest', async () => {
    const name = randomName('svc');
    const { registry, selector } = await setup(
      30_000,
      service(name, [node('a'), node('b'), node('c')]),
    );
    const next = await selector.select(name);
    tally(next, 1000);
    await registry.deregister(service(name, [node('b')]));
    await waitFor('the deregistered node to leave the rotation', () => {
      const window = tally(next, 3);
      return window.b === undefined;
    });
    const counts = tally(next, 3000);
    expect(counts.b).toBeUndefined();
    expectEven(counts, ['a', 'c'], 1500);
    expect(tally(await selector.select(name), 300).b).toBeUndefined();
  });

  it('skips a node marked failing for its cool-down, giving its turn to the next, then takes it back', async () => {
    const name = randomName('svc');
    const cooldown = 250;
    const { selector } = await setup(cooldown, service(name, [node('a'), node('b'), node('c')]));
    const next = await selector.select(name);
    expect(next().id).toBe('a');
    const marked = Date.now();
    selector.mark(name, node('b'), unavailable('test', 'connection refused'));
    expect([next().id, next().id, next().id, next().id]).toEqual(['c', 'a', 'c', 'a']);
    const counts = tally(next, 300);
    expect(counts).toEqual({ a: 150, c: 150 });
    await waitFor('b to come back after its cool-down', () => next().id === 'b', {
      timeout: cooldown * 20,
    });
    expect(Date.now() - marked).toBeGreaterThanOrEqual(cooldown - 5);
    expectEven(tally(next, 3000), ['a', 'b', 'c'], 1000);
  });

  it('rotates two services independently', async () => {
    const first = randomName('first');
    const second = randomName('second');
    const { selector } = await setup(
      30_000,
      service(first, [node('a'), node('b'), node('c')]),
      service(second, [node('x'), node('y')]),
    );
    const one = await selector.select(first);
    const two = await selector.select(second);
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) picks.push(one().id, two().id);
    expect(picks).toEqual(['a', 'x', 'b', 'y', 'c', 'x', 'a', 'y']);
  });

  it('rotates across the versions of a service', async () => {
    const name = randomName('svc');
    const { selector } = await setup(
      30_000,
      service(name, [node('a'), node('c')], 'v1'),
      service(name, [node('b')], 'v2'),
    );
    expect(tally(await selector.select(name), 300)).toEqual({ a: 100, b: 100, c: 100 });
  });

  it('starts the rotation again after reset', async () => {
    const name = randomName('svc');
    const { selector } = await setup(30_000, service(name, [node('a'), node('b'), node('c')]));
    const next = await selector.select(name);
    expect([next().id, next().id]).toEqual(['a', 'b']);
    selector.reset(name);
    expect((await selector.select(name))().id).toBe('a');
  });

  it('gives selectors of their own their own rotation, and core selectors share roundRobin', async () => {
    const name = randomName('svc');
    const registry = createMemoryRegistry();
    await registry.register(service(name, [node('a'), node('b')]), { ttl: 0 });
    const own = [
      createRoundRobinSelector({ registry, logger: silentLogger }),
      createRoundRobinSelector({ registry, logger: silentLogger }),
    ];
    const shared = [
      createRegistrySelector({ registry, strategy: roundRobin }),
      createRegistrySelector({ registry, strategy: roundRobin }),
    ];
    selectors.push(...own, ...shared);
    expect([(await own[0]!.select(name))().id, (await own[1]!.select(name))().id]).toEqual([
      'a',
      'a',
    ]);
    expect([(await shared[0]!.select(name))().id, (await shared[1]!.select(name))().id]).toEqual([
      'a',
      'b',
    ]);
  });
});
