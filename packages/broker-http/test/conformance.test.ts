import { createMemoryRegistry, silentLogger } from '@micro/core';
import { brokerConformance } from '@micro/testing';
import { createHttpBroker } from '../src/index.js';

// The registry is the "server" of this broker: every broker of the suite shares one,
// as every process of an app shares mDNS, etcd or Consul.
const registry = createMemoryRegistry();

brokerConformance('http', () => createHttpBroker({ registry, logger: silentLogger }), {
  // A queue member whose handler fails answers 500 and the publisher delivers again
  // (to another member, or after a backoff to the same one when it is alone).
  redeliversOnError: true,
  deliveryTimeout: 5_000,
});
