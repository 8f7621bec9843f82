#!/usr/bin/env node
// Messages per second from publish to handler, 1 KiB bodies, through @micro's
// RabbitMQ broker (built dist) and through plain amqplib doing the same work:
// a confirmed publish to a topic exchange, one consumer with the same prefetch,
// the handler counts the message and then it is acked.
//
//   pnpm --filter @micro/broker-rabbitmq run build
//   MICRO_TEST_RABBITMQ_ADDRESS=amqp://guest:guest@127.0.0.1:5672 \
//     node packages/broker-rabbitmq/bench/throughput.mjs
//
// Environment: BENCH_DURATION_MS (publish time per run, default 5000),
// BENCH_SIZE (body bytes, default 1024), BENCH_WINDOW (publishes awaiting their
// confirm at once, default 64), BENCH_PREFETCH (default 100). Prints one JSON line;
// clientCpuMicrosPerMsg is this process's CPU time per message (both ends).
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import * as amqp from 'amqplib';
import { createRabbitMQBroker } from '../dist/index.js';

const url = process.env.MICRO_TEST_RABBITMQ_ADDRESS ?? 'amqp://guest:guest@127.0.0.1:5672';
const duration = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const size = Number(process.env.BENCH_SIZE ?? 1_024);
const window = Number(process.env.BENCH_WINDOW ?? 64);
const prefetch = Number(process.env.BENCH_PREFETCH ?? 100);
const drainLimit = 30_000;

// The whole run is bounded: a hung server fails the bench instead of hanging it
const guard = setTimeout(
  () => {
    process.stderr.write('bench: did not finish in time\n');
    process.exit(2);
  },
  3 * (duration + drainLimit) + 30_000,
);
guard.unref();

const body = randomBytes(size);
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Publishes with `window` confirms outstanding until `duration` passes, then waits for the handler count. */
async function drive(publish, handled) {
  let published = 0;
  let failed = 0;
  let publishing = true;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const stop = delay(duration).then(() => {
    publishing = false;
  });
  const worker = async () => {
    while (publishing) {
      try {
        await publish();
        published++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all([stop, ...Array.from({ length: window }, worker)]);
  const deadline = performance.now() + drainLimit;
  while (handled() < published && performance.now() < deadline) await delay(5);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    published,
    failed,
    handled: handled(),
    seconds: Number(seconds.toFixed(3)),
    msgPerSec: Math.round(handled() / seconds),
    // client CPU per message (publisher and subscriber share this process):
    // steadier than msg/s on a busy machine, where the server is the bottleneck
    clientCpuMicrosPerMsg: Number(((used.user + used.system) / Math.max(1, handled())).toFixed(1)),
  };
}

async function micro() {
  const topic = `bench.micro.${randomBytes(4).toString('hex')}`;
  const queue = `bench-micro-${randomBytes(4).toString('hex')}`;
  const publisher = createRabbitMQBroker({ url, logger: silent });
  const subscriber = createRabbitMQBroker({ url, prefetch, logger: silent });
  await publisher.connect();
  await subscriber.connect();
  let count = 0;
  await subscriber.subscribe(
    topic,
    () => {
      count++;
    },
    { queue },
  );
  const header = { 'Content-Type': 'application/octet-stream', 'Micro-Topic': topic };
  try {
    return await drive(
      () => publisher.publish(topic, { header, body }),
      () => count,
    );
  } finally {
    await subscriber.disconnect();
    await publisher.disconnect();
  }
}

async function raw() {
  const topic = `bench.raw.${randomBytes(4).toString('hex')}`;
  const queue = `bench-raw-${randomBytes(4).toString('hex')}`;
  // the same socket setting @micro uses (TCP_NODELAY)
  const pub = await amqp.connect(url, { noDelay: true });
  const sub = await amqp.connect(url, { noDelay: true });
  const confirm = await pub.createConfirmChannel();
  const consumer = await sub.createChannel();
  await consumer.assertExchange('micro', 'topic', { durable: false });
  await consumer.prefetch(prefetch);
  await consumer.assertQueue(queue, { durable: false, autoDelete: true });
  await consumer.bindQueue(queue, 'micro', topic);
  let count = 0;
  const handler = async () => {
    count++;
  };
  await consumer.consume(queue, async (message) => {
    if (!message) return;
    await handler(message);
    consumer.ack(message);
  });
  const headers = { 'Content-Type': 'application/octet-stream', 'Micro-Topic': topic };
  const publish = () =>
    new Promise((resolve, reject) => {
      confirm.publish('micro', topic, body, { headers }, (error) =>
        error ? reject(error) : resolve(),
      );
    });
  try {
    return await drive(publish, () => count);
  } finally {
    await sub.close();
    await pub.close();
  }
}

const probe = await amqp.connect(url);
const server = probe.connection.serverProperties;
await probe.close();

const amqplib = await raw();
const result = await micro();
process.stdout.write(
  `${JSON.stringify({
    bench: 'broker-rabbitmq throughput',
    sizeBytes: size,
    publishWindow: window,
    prefetch,
    durationMs: duration,
    server: `${server.product} ${server.version}`,
    node: process.version,
    micro: result,
    amqplib,
    ratio: Number((result.msgPerSec / amqplib.msgPerSec).toFixed(3)),
  })}\n`,
);
