#!/usr/bin/env node
// Messages per second from publish to handler, 1 KiB bodies, through @micro's Kafka
// broker (built dist) and through plain kafkajs doing the same work: one record per
// produce request with acks=-1 and `window` sends in flight, one consumer in a
// fresh consumer group on a one-partition topic, the handler counts the message,
// offsets committed by kafkajs. @micro's extra work is go-micro's JSON envelope
// (base64 body) on both ends, and committing each offset only after its handler.
//
//   pnpm --filter @micro/broker-kafka run build
//   MICRO_TEST_KAFKA_ADDRESS=127.0.0.1:9092 node packages/broker-kafka/bench/throughput.mjs
//
// Environment: BENCH_DURATION_MS (publish time per run, default 3000), BENCH_ROUNDS
// (runs of each, alternating, after a discarded warm-up; the median run is reported;
// default 3), BENCH_SIZE (body bytes, default 1024), BENCH_WINDOW (publishes awaiting
// their ack at once, default 64). Prints one JSON line; clientCpuMicrosPerMsg is this
// process's CPU time per message (publisher and subscriber both run here), steadier
// than msg/s on a shared machine, where the server is the bottleneck.
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { createKafkaBroker } from '../dist/index.js';

const { Kafka, logLevel, Partitioners } = kafkajs;
const address = process.env.MICRO_TEST_KAFKA_ADDRESS ?? '127.0.0.1:9092';
const duration = Number(process.env.BENCH_DURATION_MS ?? 3_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const size = Number(process.env.BENCH_SIZE ?? 1_024);
const window = Number(process.env.BENCH_WINDOW ?? 64);
const drainLimit = 30_000;

// The whole run is bounded: a hung server fails the bench instead of hanging it.
const guard = setTimeout(
  () => {
    process.stderr.write('bench: did not finish in time\n');
    process.exit(2);
  },
  (2 * rounds + 1) * (duration + drainLimit + 10_000) + 60_000,
);
guard.unref();

const body = randomBytes(size);
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const kafka = new Kafka({
  brokers: [address],
  clientId: 'micro-bench',
  logLevel: logLevel.NOTHING,
});
// The same consumer group timings for both runs.
const group = { sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 100 };

/** Publishes with `window` acks outstanding until `duration` passes, then waits for the handler count. */
async function drive(publish, handled, ms = duration) {
  let published = 0;
  let failed = 0;
  let publishing = true;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const stop = delay(ms).then(() => {
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
    clientCpuMicrosPerMsg: Number(((used.user + used.system) / Math.max(1, handled())).toFixed(1)),
  };
}

async function freshTopic(admin, prefix) {
  const topic = `${prefix}-${randomBytes(4).toString('hex')}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  return topic;
}

async function micro(admin, ms) {
  const topic = await freshTopic(admin, 'bench-micro');
  const options = {
    addresses: [address],
    logger: silent,
    sessionTimeout: group.sessionTimeout,
    heartbeatInterval: group.heartbeatInterval,
    maxWaitTime: group.maxWaitTimeInMs,
  };
  const publisher = createKafkaBroker(options);
  const subscriber = createKafkaBroker(options);
  await publisher.connect();
  await subscriber.connect();
  let count = 0;
  await subscriber.subscribe(
    topic,
    () => {
      count++;
    },
    { queue: `bench-micro-${randomBytes(4).toString('hex')}` },
  );
  const header = { 'Content-Type': 'application/octet-stream', 'Micro-Topic': topic };
  try {
    return await drive(
      () => publisher.publish(topic, { header, body }),
      () => count,
      ms,
    );
  } finally {
    await subscriber.disconnect();
    await publisher.disconnect();
  }
}

async function raw(admin, ms) {
  const topic = await freshTopic(admin, 'bench-raw');
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({
    groupId: `bench-raw-${randomBytes(4).toString('hex')}`,
    ...group,
  });
  await producer.connect();
  await consumer.connect();
  // A fresh topic, read from the start: nothing published is missed while joining.
  await consumer.subscribe({ topic, fromBeginning: true });
  let count = 0;
  const handler = async () => {
    count++;
  };
  await consumer.run({ eachMessage: handler });
  try {
    return await drive(
      () => producer.send({ topic, acks: -1, messages: [{ value: body }] }),
      () => count,
      ms,
    );
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
  }
}

const admin = kafka.admin();
await admin.connect();
const { brokers } = await admin.describeCluster();
const median = (runs) => [...runs].sort((a, b) => a.msgPerSec - b.msgPerSec)[runs.length >> 1];
try {
  // Warm-up, discarded: JIT on both sides, the group coordinator, the first topics.
  await raw(admin, Math.min(duration, 1_000));
  await micro(admin, Math.min(duration, 1_000));
  const plainRuns = [];
  const microRuns = [];
  for (let i = 0; i < rounds; i++) {
    plainRuns.push(await raw(admin));
    microRuns.push(await micro(admin));
  }
  const plain = median(plainRuns);
  const result = median(microRuns);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'broker-kafka throughput',
      sizeBytes: size,
      publishWindow: window,
      durationMs: duration,
      rounds,
      brokers: brokers.length,
      node: process.version,
      micro: result,
      kafkajs: plain,
      ratio: Number((result.msgPerSec / plain.msgPerSec).toFixed(3)),
      microMsgPerSecRuns: microRuns.map((r) => r.msgPerSec),
      kafkajsMsgPerSecRuns: plainRuns.map((r) => r.msgPerSec),
    })}\n`,
  );
} finally {
  await admin.disconnect();
}
