import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createMemoryRegistry,
  createService,
  loadPlugin,
  type MicroService,
  type Selector,
  silentLogger,
} from '@micro/core';
import { randomName } from '@micro/testing';
import { createRoundRobinSelector, RoundRobinSelector } from '../src/index.js';

class Instance {
  readonly #id: string;

  constructor(id: string) {
    this.#id = id;
  }

  async Id() {
    return { id: this.#id };
  }
}

describe('round-robin through a Service (3 in-process instances of one service)', () => {
  const name = randomName('backend');
  const instances: MicroService[] = [];
  let caller: MicroService;

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const instance = await createService({ name, logger: silentLogger });
      instance.handle(new Instance(instance.id));
      await instance.start();
      instances.push(instance);
    }
    caller = await createService({
      name: randomName('caller'),
      selector: createRoundRobinSelector,
      logger: silentLogger,
    });
    await caller.start();
  });

  afterAll(async () => {
    for (const service of [caller, ...instances]) await service?.stop();
  });

  const ids = () => instances.map((instance) => instance.id).sort();

  async function spread(calls: Promise<{ id: string }>[]): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const { id } of await Promise.all(calls)) counts[id] = (counts[id] ?? 0) + 1;
    return counts;
  }

  it('sends 300 consecutive calls 100 to each instance', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 300; i++) {
      const { id } = await caller.client.call<{ id: string }>(name, 'Instance.Id', {});
      counts[id] = (counts[id] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(ids());
    for (const id of ids()) expect(counts[id]).toBe(100);
  });

  it('sends 300 concurrent calls 100 to each instance', async () => {
    const counts = await spread(
      Array.from({ length: 300 }, () =>
        caller.client.call<{ id: string }>(name, 'Instance.Id', {}),
      ),
    );
    expect(Object.keys(counts).sort()).toEqual(ids());
    for (const id of ids()) expect(counts[id]).toBe(100);
  });
});

describe('MICRO_SELECTOR=roundrobin', () => {
  it('loads this package through core', async () => {
    const selector = await loadPlugin<Selector>('selector', 'roundrobin', {
      registry: createMemoryRegistry(),
      logger: silentLogger,
    });
    expect(selector).toBeInstanceOf(RoundRobinSelector);
    expect(selector.name).toBe('roundrobin');
    await selector.close();
  });
});
