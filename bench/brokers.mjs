#!/usr/bin/env node
// Broker benchmark: messages per second from publish to handler, 1 KiB bodies, for
// each broker through @micro and through the broker's own client library doing the
// same work, with the client CPU each side spends per message.
//
//   pnpm --filter @micro/bench run bench:brokers --rounds 5       # after building the packages
//   node bench/brokers.mjs --brokers nats,kafka --rounds 5
//   node bench/brokers.mjs --profile /tmp/prof --brokers nats --contenders micro --rounds 1
//
// Servers: the MICRO_TEST_<BROKER>_ADDRESS variables `scripts/services up nats rabbitmq
// kafka` prints; a broker whose variable is unset is skipped with the reason printed.
// http needs no server (the publisher POSTs to the subscriber).
//
// Every measurement starts a subscriber process and a publisher process, each with
// its own connection as in production. The publisher keeps at most --window messages
// published and not yet handled (the subscriber writes its count to the publisher
// every window/8 messages, over a Unix socket) and at most --concurrency publish calls
// unresolved. After --warmup ms the measured window of --duration ms opens: msgs/s is
// what the subscriber's handler saw, CPU per message is process.cpuUsage (user +
// system) of each process over the window divided by the messages handled in it.
// Each round measures every contender on every broker, the order rotated from one
// round to the next; medians over the rounds are reported.
//
// Contenders (see brokers/worker.mjs): raw and micro (Broker level: broker.publish /
// broker.subscribe against the client library, the same bytes on the wire), raw-json
// and micro-service (Service level: client.publish(object) -> server.subscribe with
// the JSON codec, against the client library plus JSON.stringify / JSON.parse).
// The 10% target is judged at the Broker level: micro against raw.
//
// Results: bench/results/brokers.json and brokers.md (also printed).
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { oneOf, parseCommandLine, pick, positive, usageError } from './lib/cli.mjs';
import { canPin, printProfileFolder, profileFolder, startWorker } from './lib/processes.mjs';
import {
  describeMachine,
  failureLines,
  formatNumber,
  installedVersion,
  median,
  nodeAndCores,
  notRunRow,
  runSettings,
  writeReport,
} from './lib/report.mjs';
import { measureRounds } from './lib/rounds.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const WORKER = join(here, 'brokers', 'worker.mjs');

const ALL_BROKERS = ['nats', 'kafka', 'rabbitmq', 'http'];
const ALL_CONTENDERS = ['raw', 'micro', 'raw-json', 'micro-service'];
/** [@micro contender, the raw one it is compared with, level]. */
const PAIRS = [
  ['micro', 'raw', 'Broker'],
  ['micro-service', 'raw-json', 'Service'],
];
/** @micro may add at most this much: CPU/msg ≤ 1.10× raw's, msgs/s ≥ raw's / 1.10. */
const TARGET = 1.1;

const USAGE = `usage: node bench/brokers.mjs [options]
  --brokers LIST      comma-separated, from ${ALL_BROKERS.join(',')} (default: all)
  --contenders LIST   comma-separated, from ${ALL_CONTENDERS.join(',')} (default: all)
  --rounds N          rounds; each measures every contender on every broker (default 3)
  --warmup MS         load before the measured window opens (default 2000)
  --duration MS       measured window (default 3000)
  --window N          messages published and not yet handled, at most (default 512)
  --concurrency N     publish calls awaiting their promise, at most (default 64)
  --out DIR           where brokers.json and brokers.md go (default bench/results)
  --pin MODE          split: publisher on CPU 0, subscriber on CPU 1; none (default):
                      where the scheduler puts them (the servers share the CPUs)
  --profile DIR       run every process under node --cpu-prof, profiles into DIR
  --help`;

const args = parseCommandLine(USAGE, {
  brokers: { type: 'string', default: ALL_BROKERS.join(',') },
  contenders: { type: 'string', default: ALL_CONTENDERS.join(',') },
  rounds: { type: 'string', default: '3' },
  warmup: { type: 'string', default: '2000' },
  duration: { type: 'string', default: '3000' },
  window: { type: 'string', default: '512' },
  concurrency: { type: 'string', default: '64' },
  out: { type: 'string', default: join(here, 'results') },
  pin: { type: 'string', default: 'none' },
  profile: { type: 'string' },
});

const ROUNDS = positive('rounds', args.rounds, USAGE);
const WARMUP = positive('warmup', args.warmup, USAGE);
const DURATION = positive('duration', args.duration, USAGE);
const WINDOW = positive('window', args.window, USAGE);
const CONCURRENCY = positive('concurrency', args.concurrency, USAGE);
const CREDIT = Math.max(1, Math.floor(WINDOW / 8));
const contenders = pick('contender', args.contenders, ALL_CONTENDERS);
const requested = pick('broker', args.brokers, ALL_BROKERS);
const pinMode = oneOf('pin', args.pin, ['split', 'none']);
if (pinMode === 'split' && !canPin()) usageError('--pin split needs taskset (util-linux)');
const PIN = pinMode === 'split' ? { publisher: 0, subscriber: 1 } : {};
const profileDir = profileFolder(args.profile);

// ------------------------------------------------------------------------------------------
// brokers and their servers

/** The brokers to measure with their address, and the ones skipped with why. */
const brokers = [];
const skipped = [];
for (const name of requested) {
  const module = await import(`./brokers/${name}.mjs`);
  const address = module.variable ? process.env[module.variable] : 'none';
  if (address === undefined || address === '') {
    skipped.push({ broker: name, reason: `${module.variable} is not set` });
    console.log(
      `skipping ${name}: ${module.variable} is not set (eval "$(scripts/services up ${name})")`,
    );
    continue;
  }
  try {
    brokers.push({ name, address, module, server: await module.serverVersion(address) });
  } catch (error) {
    skipped.push({ broker: name, reason: `no server at ${address}: ${error.message}` });
    console.log(`skipping ${name}: no server at ${address}: ${error.message}`);
  }
}

// ------------------------------------------------------------------------------------------
// a measurement

/** The publisher or the subscriber of `contender` on `broker` in the measurement `label`. */
function startRole(role, broker, contender, label) {
  return startWorker(WORKER, [role, broker, contender], {
    who: `${role} of ${contender} on ${broker}`,
    cpu: PIN[role],
    profile: profileDir && { dir: profileDir, name: `${label}-${role}.cpuprofile` },
    // The worker closes its connections before it exits, within 10 s.
    exitWithinMs: 12_000,
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One measurement: a fresh subscriber and publisher, a warm-up, a measured window. */
async function measure(broker, contender, round) {
  const label = `${broker.name}-${contender}-r${round + 1}`;
  const suffix = randomBytes(4).toString('hex');
  const config = {
    type: 'config',
    address: broker.address,
    topic: `bench-${contender}-${suffix}`,
    queue: `bench-workers-${suffix}`,
    window: WINDOW,
    concurrency: CONCURRENCY,
    credit: CREDIT,
  };
  let publisher;
  const subscriber = startRole('subscriber', broker.name, contender, label);
  try {
    subscriber.send(config);
    const { info, credits } = await subscriber.next('ready', 60_000);
    publisher = startRole('publisher', broker.name, contender, label);
    publisher.send({ ...config, info, credits });
    await publisher.next('ready', 60_000);
    publisher.send({ type: 'start' });
    await sleep(WARMUP);
    const [s0, p0] = await Promise.all([subscriber.request('mark'), publisher.request('mark')]);
    await sleep(DURATION);
    const [s1, p1] = await Promise.all([subscriber.request('mark'), publisher.request('mark')]);
    publisher.send({ type: 'stop' });
    const stopped = await publisher.next('stopped', 40_000);
    // Everything published must reach the handler.
    let last = s1;
    const bound = Date.now() + 15_000;
    while (last.count < stopped.published && Date.now() < bound) {
      await sleep(50);
      last = await subscriber.request('mark');
    }
    const messages = s1.count - s0.count;
    if (messages <= 0) throw new Error('no message reached the handler in the measured window');
    const problems = [];
    if (stopped.failed > 0) {
      problems.push(`${stopped.failed} publishes failed (${stopped.firstError})`);
    }
    if (last.count < stopped.published) {
      problems.push(`${stopped.published - last.count} published messages never handled`);
    }
    if (last.wrong > 0) problems.push(`${last.wrong} messages arrived wrong`);
    if (problems.length > 0) throw new Error(problems.join('; '));
    const seconds = (s1.at - s0.at) / 1000;
    return {
      msgsPerSec: messages / seconds,
      publisherCpuUs: (p1.cpu - p0.cpu) / messages,
      subscriberCpuUs: (s1.cpu - s0.cpu) / messages,
    };
  } finally {
    await Promise.all([publisher?.stop(), subscriber.stop()]);
  }
}

// ------------------------------------------------------------------------------------------
// the run

const machine = describeMachine();
const startedAt = new Date();
console.log(
  `Broker benchmark: ${brokers.map((b) => b.name).join(', ') || 'no broker'} × ${contenders.join(', ')} × ${ROUNDS} rounds, ` +
    `${WARMUP} ms warm-up + ${DURATION} ms measured each, window ${WINDOW}, concurrency ${CONCURRENCY}; ` +
    nodeAndCores(machine),
);

const measured = await measureRounds({
  rounds: ROUNDS,
  groups: brokers,
  contenders,
  shift: (round, b) => round + b,
  measure,
  describe: (result) =>
    `${Math.round(result.msgsPerSec).toString().padStart(7)} msgs/s  CPU µs/msg: publisher ${result.publisherCpuUs.toFixed(1)}, subscriber ${result.subscriberCpuUs.toFixed(1)}`,
});

const round1 = (n) => Number(n.toFixed(1));
const round2 = (n) => Number(n.toFixed(2));

const rows = [];
for (const broker of brokers) {
  for (const contender of contenders) {
    const got = measured.samples(broker.name, contender);
    const failures = measured.errors(broker.name, contender);
    if (got.length === 0) {
      rows.push({ broker: broker.name, contender, error: failures[0] ?? 'not measured' });
      continue;
    }
    const publisherCpuUs = median(got.map((r) => r.publisherCpuUs));
    const subscriberCpuUs = median(got.map((r) => r.subscriberCpuUs));
    const row = {
      broker: broker.name,
      contender,
      msgsPerSec: Math.round(median(got.map((r) => r.msgsPerSec))),
      publisherCpuUs: round1(publisherCpuUs),
      subscriberCpuUs: round1(subscriberCpuUs),
      cpuUs: round1(median(got.map((r) => r.publisherCpuUs + r.subscriberCpuUs))),
      rounds: got.length,
      runs: got.map((r) => ({
        msgsPerSec: Math.round(r.msgsPerSec),
        publisherCpuUs: round1(r.publisherCpuUs),
        subscriberCpuUs: round1(r.subscriberCpuUs),
      })),
    };
    if (failures.length > 0) {
      row.failedRounds = failures.length;
      row.firstFailure = failures[0];
    }
    rows.push(row);
  }
}

const find = (broker, contender) =>
  rows.find((r) => r.broker === broker && r.contender === contender && r.msgsPerSec);
const comparisons = [];
for (const broker of brokers) {
  for (const [micro, raw, level] of PAIRS) {
    const m = find(broker.name, micro);
    const r = find(broker.name, raw);
    if (!m || !r) continue;
    const throughput = m.msgsPerSec / r.msgsPerSec;
    const cpu = m.cpuUs / r.cpuUs;
    comparisons.push({
      broker: broker.name,
      level,
      micro,
      raw,
      throughputRatio: round2(throughput),
      cpuRatio: round2(cpu),
      publisherCpuRatio: round2(m.publisherCpuUs / r.publisherCpuUs),
      subscriberCpuRatio: round2(m.subscriberCpuUs / r.subscriberCpuUs),
      met: throughput >= 1 / TARGET && cpu <= TARGET,
    });
  }
}

// ------------------------------------------------------------------------------------------
// output

const lines = [
  `${runSettings({ machine, startedAt, rounds: ROUNDS, warmupMs: WARMUP, durationMs: DURATION })}; 1 KiB bodies; ` +
    `publisher and subscriber in two processes on 127.0.0.1 with their own connections` +
    `${pinMode === 'split' ? ' (publisher pinned to CPU 0, subscriber to CPU 1)' : ''}; ` +
    `at most ${WINDOW} messages published and not yet handled, at most ${CONCURRENCY} publishes awaiting their promise.`,
  '',
  `Servers and clients: ${brokers.map((b) => `${b.name}: ${b.server}, ${b.module.clientVersion(installedVersion)}`).join('; ')}.`,
  '',
  'raw / micro: Broker level, the client library against `broker.publish` / `broker.subscribe`, the same bytes on the wire ' +
    "(go-micro's JSON envelope on NATS, Kafka and HTTP; body + AMQP headers on RabbitMQ; headers Content-Type, Micro-ID, Micro-Topic). " +
    'raw-json / micro-service: Service level, the same plus JSON.stringify / JSON.parse of the payload object against ' +
    '`client.publish` → `server.subscribe` with the JSON codec. CPU is process.cpuUsage (user + system) over the measured window per message handled.',
  '',
  '| broker | contender | msgs/s | publisher CPU µs/msg | subscriber CPU µs/msg | client CPU µs/msg |',
  '|---|---|---:|---:|---:|---:|',
];
for (const r of rows) {
  if (r.msgsPerSec === undefined) {
    lines.push(notRunRow([r.broker, r.contender], r.error, 3));
    continue;
  }
  lines.push(
    `| ${r.broker} | ${r.contender} | ${formatNumber(r.msgsPerSec)} | ${r.publisherCpuUs.toFixed(1)} | ${r.subscriberCpuUs.toFixed(1)} | ${r.cpuUs.toFixed(1)} |`,
  );
}
if (comparisons.length > 0) {
  lines.push(
    '',
    `@micro / raw. Target: @micro adds at most 10% (msgs/s ≥ ${round2(1 / TARGET)}× raw and client CPU/msg ≤ ${TARGET}× raw), judged at the Broker level.`,
    '',
    '| broker | level | msgs/s × raw | client CPU × raw | publisher CPU × raw | subscriber CPU × raw | within 10% |',
    '|---|---|---:|---:|---:|---:|:-:|',
  );
  for (const c of comparisons) {
    lines.push(
      `| ${c.broker} | ${c.level} (${c.micro} / ${c.raw}) | ${c.throughputRatio.toFixed(2)} | ${c.cpuRatio.toFixed(2)} | ${c.publisherCpuRatio.toFixed(2)} | ${c.subscriberCpuRatio.toFixed(2)} | ${c.met ? 'yes' : 'no'} |`,
    );
  }
}
if (skipped.length > 0) {
  lines.push('', 'Skipped:');
  for (const s of skipped) lines.push(`- ${s.broker}: ${s.reason}`);
}
lines.push(...failureLines(measured.failures(), ROUNDS));

const report = {
  startedAt: startedAt.toISOString(),
  machine,
  settings: {
    rounds: ROUNDS,
    warmupMs: WARMUP,
    durationMs: DURATION,
    window: WINDOW,
    concurrency: CONCURRENCY,
    pin: pinMode,
    messageBytes: 1024,
  },
  servers: Object.fromEntries(brokers.map((b) => [b.name, b.server])),
  skipped,
  results: rows,
  comparisons,
};
writeReport(args.out, 'brokers', report, lines);
printProfileFolder(profileDir);
