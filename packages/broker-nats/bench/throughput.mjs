#!/usr/bin/env node
// Throughput from publish to handler for 1 KiB messages: @micro/broker-nats (built dist)
// against the raw nats client doing the same transport work. @micro's extra work per
// message is go-micro's JSON envelope (encode on publish, decode on delivery) and the
// dispatch through core's dispatchEvent. Prints one JSON line.
//
//   pnpm run build
//   MICRO_TEST_NATS_ADDRESS=nats://127.0.0.1:4222 node bench/throughput.mjs [seconds per run]
//
// Publisher and subscriber use separate connections. The publisher keeps at most WINDOW
// messages unreceived so neither client outruns the server (which would cut a slow
// consumer off): the figure is sustained end-to-end throughput, not publish speed.
import { connect } from 'nats';
import { createNatsBroker } from '../dist/index.js';

const address = process.env.MICRO_TEST_NATS_ADDRESS ?? 'nats://127.0.0.1:4222';
const seconds = Number(process.argv[2] ?? process.env.BENCH_SECONDS ?? 3);
const SIZE = 1024;
const WINDOW = 2_000;
const WARMUP = 5_000;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

const payload = new Uint8Array(SIZE).map((_, i) => i % 251);
const yieldToIo = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs one measurement: `publish(n)` sends message n; `received()` is how many arrived.
 * `awaitEach`: await every publish before the next (sequential code); otherwise the
 * publishes of one window are issued together and awaited as a batch (pipelined).
 * Warms up first, then counts for `seconds`.
 */
async function measure(publish, received, awaitEach) {
  let sent = 0;
  const pump = async (until) => {
    while (!until()) {
      const batch = [];
      while (sent - received() < WINDOW && !until()) {
        if (awaitEach) await publish(sent++);
        else batch.push(publish(sent++));
      }
      await Promise.all(batch);
      await yieldToIo();
    }
  };
  await pump(() => received() >= WARMUP);
  const startCount = received();
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  await pump(() => process.hrtime.bigint() >= end);
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const messages = received() - startCount;
  return {
    messages,
    seconds: Number(elapsed.toFixed(3)),
    perSecond: Math.round(messages / elapsed),
  };
}

async function raw(subject) {
  const pub = await connect({ servers: address });
  const sub = await connect({ servers: address });
  let count = 0;
  sub.subscribe(subject, {
    callback: (_error, msg) => {
      if (msg.data.byteLength === SIZE) count++;
    },
  });
  await sub.flush();
  const result = await measure(
    () => pub.publish(subject, payload),
    () => count,
    false,
  );
  await pub.drain();
  await sub.drain();
  return result;
}

async function micro(topic, awaitEach) {
  const publisher = createNatsBroker({ addresses: [address], logger: silent });
  const subscriber = createNatsBroker({ addresses: [address], logger: silent });
  await publisher.connect();
  await subscriber.connect();
  let count = 0;
  await subscriber.subscribe(topic, (event) => {
    if (event.message.body.byteLength === SIZE) count++;
  });
  const header = { 'Content-Type': 'application/octet-stream', 'Micro-Topic': topic };
  const result = await measure(
    (n) =>
      publisher.publish(topic, { header: { ...header, 'Micro-ID': String(n) }, body: payload }),
    () => count,
    awaitEach,
  );
  await publisher.disconnect();
  await subscriber.disconnect();
  return result;
}

const guard = setTimeout(
  () => {
    process.stderr.write('bench: did not finish in time\n');
    process.exit(1);
  },
  (seconds * 3 + 30) * 1000,
);

const probe = await connect({ servers: address });
const serverVersion = probe.info?.version;
await probe.close();

const suffix = Math.random().toString(16).slice(2, 10);
const rawResult = await raw(`bench.raw.${suffix}`);
const pipelined = await micro(`bench.micro.${suffix}`, false);
const sequential = await micro(`bench.micro.seq.${suffix}`, true);
clearTimeout(guard);

process.stdout.write(
  `${JSON.stringify({
    bench: 'broker-nats throughput, publish to handler',
    messageBytes: SIZE,
    window: WINDOW,
    server: `nats-server ${serverVersion}`,
    node: process.version,
    raw: rawResult,
    microPipelined: pipelined,
    microAwaitEach: sequential,
    pipelinedVsRaw: Number((pipelined.perSecond / rawResult.perSecond).toFixed(3)),
    awaitEachVsRaw: Number((sequential.perSecond / rawResult.perSecond).toFixed(3)),
  })}\n`,
);
