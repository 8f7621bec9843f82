// Core's in-process defaults must pass every conformance suite: this both tests
// them and proves the suites run green against a correct implementation.
import {
  createMemoryBroker,
  createMemoryRegistry,
  createMemoryTransport,
  createRegistrySelector,
  jsonCodec,
} from '@micro/core';
import {
  brokerConformance,
  codecConformance,
  registryConformance,
  selectorConformance,
  transportConformance,
} from '../src/index.js';

const registry = createMemoryRegistry();
registryConformance('memory', () => registry, { ttl: true, minTtl: 300, propagation: 1_000 });
transportConformance('memory', () => createMemoryTransport());
codecConformance('json', () => jsonCodec);
// One instance stands for one server: every client the suite makes shares it.
const broker = createMemoryBroker();
brokerConformance('memory', () => broker, { deliveryTimeout: 2_000 });
const requeueing = createMemoryBroker({ requeueOnError: true });
brokerConformance('memory with requeue', () => requeueing, {
  redeliversOnError: true,
  deliveryTimeout: 2_000,
});
selectorConformance('random', ({ registry, cooldown }) =>
  createRegistrySelector({ registry, cooldown }),
);
