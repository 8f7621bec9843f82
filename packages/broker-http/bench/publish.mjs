// Publish cost of the HTTP broker: two brokers in one process (a shared memory
// registry), one subscriber, 100-byte bodies. Run after `pnpm run build`:
//   node bench/publish.mjs [messages]
import { createMemoryRegistry } from '@micro/core';
import { createHttpBroker } from '../dist/index.js';

const count = Number(process.argv[2] ?? 5000);
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const registry = createMemoryRegistry();
const publisher = createHttpBroker({ registry, logger: silent });
const subscriber = createHttpBroker({ registry, logger: silent });
await Promise.all([publisher.connect(), subscriber.connect()]);
const body = Buffer.alloc(100, 'x');

async function run(label, topic, concurrency) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const t = performance.now();
        await publisher.publish(topic, { header: { 'Content-Type': 'text/plain' }, body });
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const p = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(2);
  console.log(
    `${label.padEnd(28)} ${String(Math.round(count / seconds)).padStart(6)} msg/s  p50 ${p(0.5)} ms  p99 ${p(0.99)} ms`,
  );
}

let received = 0;
await subscriber.subscribe('bench.broadcast', () => void received++);
await subscriber.subscribe('bench.queue', () => void received++, { queue: 'workers' });
await run('warm-up', 'bench.broadcast', 8);
for (const concurrency of [1, 32]) {
  await run(`broadcast, ${concurrency} in flight`, 'bench.broadcast', concurrency);
  await run(`queue, ${concurrency} in flight`, 'bench.queue', concurrency);
}
await Promise.all([publisher.disconnect(), subscriber.disconnect()]);
console.log(`node ${process.version}, ${count} messages per row, ${received} handled`);
