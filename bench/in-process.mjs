// In-process call cost against a direct async call, two ways:
//  - the default path: client, selector, memory transport, server and JSON codec,
//    so values are serialized exactly as over a network transport;
//  - the `local` client option (go-micro v6's client.Local): same routing,
//    wrappers, deadlines and errors, no transport and no codec.
// Usage: node --expose-gc bench/in-process.mjs [seconds per run, default 3]
import {
  createMemoryBroker,
  createMemoryRegistry,
  createMemoryTransport,
  createService,
  silentLogger,
} from '@micro/core';

const seconds = Number(process.argv[2] ?? 3);

class Greeter {
  async Hello(request) {
    return { msg: `Hello ${request.name}` };
  }
}

async function measure(label, call) {
  // Warm up, then run for a fixed time, sequentially (1 call in flight).
  for (let i = 0; i < 20_000; i++) await call();
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  let calls = 0;
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  const end = start + BigInt(seconds * 1e9);
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 1000; i++) await call();
    calls += 1000;
  }
  const elapsedNs = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpuBefore);
  const result = {
    label,
    calls,
    nsPerCall: Math.round(elapsedNs / calls),
    // CPU time is steadier than wall time when other processes share the cores.
    cpuNsPerCall: Math.round(((cpu.user + cpu.system) * 1000) / calls),
    callsPerSec: Math.round((calls / elapsedNs) * 1e9),
    heapDeltaMiB: Number(((process.memoryUsage().heapUsed - before) / 2 ** 20).toFixed(1)),
  };
  console.log(JSON.stringify(result));
  return result;
}

const components = {
  registry: createMemoryRegistry(),
  broker: createMemoryBroker(),
  transport: createMemoryTransport(),
};
const service = await createService({ name: 'helloworld', logger: silentLogger, ...components });
service.handle(new Greeter());
await service.start();

const greeter = new Greeter();
const request = { name: 'John' };
const direct = await measure('direct async function call', () => greeter.Hello(request));
const micro = await measure('@micro call (memory transport, JSON)', () =>
  service.client.call('helloworld', 'Greeter.Hello', request),
);
const caller = await createService({
  name: 'caller',
  logger: silentLogger,
  client: { local: true },
  ...components,
});
await caller.start();
const local = await measure('@micro call (local option)', () =>
  caller.client.call('helloworld', 'Greeter.Hello', request),
);
console.log(
  JSON.stringify({
    memoryOverheadNsPerCall: micro.nsPerCall - direct.nsPerCall,
    localOverheadNsPerCall: local.nsPerCall - direct.nsPerCall,
    node: process.version,
  }),
);
await caller.stop();
await service.stop();
