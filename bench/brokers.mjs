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
import { fork, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

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

const { values: args } = parseArgs({
  // `pnpm run bench:brokers -- --rounds 5` passes the `--` on
  args: process.argv.slice(2).filter((arg, i) => i > 0 || arg !== '--'),
  options: {
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
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

function positive(name, text) {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`--${name} must be a positive integer, got ${text}\n${USAGE}`);
    process.exit(2);
  }
  return value;
}

function pick(name, text, known) {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const each of names) {
    if (!known.includes(each)) {
      console.error(`unknown ${name} ${each}; known: ${known.join(', ')}`);
      process.exit(2);
    }
  }
  return names;
}

const ROUNDS = positive('rounds', args.rounds);
const WARMUP = positive('warmup', args.warmup);
const DURATION = positive('duration', args.duration);
const WINDOW = positive('window', args.window);
const CONCURRENCY = positive('concurrency', args.concurrency);
const CREDIT = Math.max(1, Math.floor(WINDOW / 8));
const contenders = pick('contender', args.contenders, ALL_CONTENDERS);
const requested = pick('broker', args.brokers, ALL_BROKERS);
if (!['split', 'none'].includes(args.pin)) {
  console.error(`--pin must be split or none, got ${args.pin}`);
  process.exit(2);
}
if (args.pin === 'split' && spawnSync('taskset', ['-c', '0', 'true']).status !== 0) {
  console.error('--pin split needs taskset (util-linux)');
  process.exit(2);
}
const PIN = args.pin === 'split' ? { publisher: 0, subscriber: 1 } : {};
const profileDir = args.profile ? resolve(args.profile) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

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
// processes

/** Every child process alive, so that any way out stops them. */
const children = new Set();

function killAll() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping every benchmark process\n`);
    killAll();
    process.exit(130);
  });
}

/**
 * Starts a worker and returns helpers to exchange messages with it. Its output is
 * kept (the last 4 KiB) for error messages.
 */
function startWorker(role, broker, contender, label) {
  const execArgv = [];
  if (profileDir) {
    execArgv.push(
      '--cpu-prof',
      `--cpu-prof-dir=${profileDir}`,
      `--cpu-prof-name=${label}-${role}.cpuprofile`,
    );
  }
  const options = {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' },
  };
  const cpu = PIN[role];
  const argv = [WORKER, role, broker, contender];
  // taskset execs node in place, so the IPC channel and the environment carry over.
  const child =
    cpu === undefined
      ? fork(argv[0], argv.slice(1), { ...options, execArgv })
      : spawn('taskset', ['-c', String(cpu), process.execPath, ...execArgv, ...argv], options);
  children.add(child);
  child.on('error', () => {});
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk).slice(-4096);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const who = `${role} of ${contender} on ${broker}`;
  const tail = () => (output.trim() ? `; its output ended with:\n${output.trim()}` : '');
  const inbox = [];
  let waiter;
  let exited;
  const exit = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      exited = signal ?? code;
      resolve();
      waiter?.(new Error(`${who} exited (${exited})${tail()}`));
    });
  });
  child.on('message', (message) => {
    const item =
      message.type === 'error' ? new Error(`${who} failed: ${message.message}`) : message;
    if (waiter) waiter(item);
    else inbox.push(item);
  });
  return {
    send(message) {
      if (child.connected) child.send(message);
    },
    /** The next message, which must be of `type`, within `ms`. */
    next(type, ms) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          reject(new Error(`${who}: no '${type}' within ${ms} ms${tail()}`));
        }, ms);
        const settle = (item) => {
          clearTimeout(timer);
          waiter = undefined;
          if (item instanceof Error) reject(item);
          else if (item.type !== type) {
            reject(new Error(`${who}: expected '${type}', got '${item.type}'`));
          } else resolve(item);
        };
        if (inbox.length > 0) settle(inbox.shift());
        else if (exited !== undefined) {
          clearTimeout(timer);
          reject(new Error(`${who} exited (${exited})${tail()}`));
        } else waiter = settle;
      });
    },
    request(type, ms = 10_000) {
      this.send({ type });
      return this.next(type, ms);
    },
    /** Asks the worker to close and exit, then kills it if it has not within `ms`. */
    async stop(ms = 12_000) {
      if (exited !== undefined) return;
      this.send({ type: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      await exit;
      clearTimeout(timer);
    },
  };
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
  const subscriber = startWorker('subscriber', broker.name, contender, label);
  try {
    subscriber.send(config);
    const { info, credits } = await subscriber.next('ready', 60_000);
    publisher = startWorker('publisher', broker.name, contender, label);
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

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const cpus = os.cpus();
const machine = {
  cpu: cpus[0]?.model?.trim() ?? 'unknown',
  cores: os.availableParallelism?.() ?? cpus.length,
  node: process.version,
  platform: `${process.platform}/${process.arch}`,
};
const startedAt = new Date();
const total = ROUNDS * brokers.length * contenders.length;
console.log(
  `Broker benchmark: ${brokers.map((b) => b.name).join(', ') || 'no broker'} × ${contenders.join(', ')} × ${ROUNDS} rounds, ` +
    `${WARMUP} ms warm-up + ${DURATION} ms measured each, window ${WINDOW}, concurrency ${CONCURRENCY}; ` +
    `Node ${machine.node}, ${machine.cores} cores (${machine.cpu})`,
);

const samples = new Map();
const errors = new Map();
const key = (broker, contender) => `${broker}\u0000${contender}`;
let done = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const [b, broker] of brokers.entries()) {
    const shift = (round + b) % contenders.length;
    const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
    for (const contender of order) {
      done++;
      const k = key(broker.name, contender);
      const prefix = `[${done}/${total}] round ${round + 1} ${broker.name.padEnd(8)} ${contender.padEnd(13)}`;
      try {
        const result = await measure(broker, contender, round);
        if (!samples.has(k)) samples.set(k, []);
        samples.get(k).push(result);
        console.log(
          `${prefix} ${Math.round(result.msgsPerSec).toString().padStart(7)} msgs/s  CPU µs/msg: publisher ${result.publisherCpuUs.toFixed(1)}, subscriber ${result.subscriberCpuUs.toFixed(1)}`,
        );
      } catch (error) {
        if (!errors.has(k)) errors.set(k, []);
        errors.get(k).push(error.message);
        console.log(`${prefix} FAILED: ${error.message.split('\n')[0]}`);
      }
    }
  }
}

const round1 = (n) => Number(n.toFixed(1));
const round2 = (n) => Number(n.toFixed(2));

const rows = [];
for (const broker of brokers) {
  for (const contender of contenders) {
    const got = samples.get(key(broker.name, contender)) ?? [];
    const failures = errors.get(key(broker.name, contender)) ?? [];
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

function version(name) {
  try {
    const file = join(here, 'node_modules', name, 'package.json');
    return JSON.parse(readFileSync(file, 'utf8')).version;
  } catch {
    return '(not installed)';
  }
}

const number = (n) => n.toLocaleString('en-US');
const lines = [
  `Node ${machine.node}, ${machine.platform}, ${machine.cores} cores (${machine.cpu}); ` +
    `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC; median of ${ROUNDS} rounds, ` +
    `${WARMUP} ms warm-up + ${DURATION} ms measured per measurement; 1 KiB bodies; ` +
    `publisher and subscriber in two processes on 127.0.0.1 with their own connections` +
    `${args.pin === 'split' ? ' (publisher pinned to CPU 0, subscriber to CPU 1)' : ''}; ` +
    `at most ${WINDOW} messages published and not yet handled, at most ${CONCURRENCY} publishes awaiting their promise.`,
  '',
  `Servers and clients: ${brokers.map((b) => `${b.name}: ${b.server}, ${b.module.clientVersion(version)}`).join('; ')}.`,
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
    lines.push(
      `| ${r.broker} | ${r.contender} | not run: ${r.error.split('\n')[0].replaceAll('|', '\\|')} | | | |`,
    );
    continue;
  }
  lines.push(
    `| ${r.broker} | ${r.contender} | ${number(r.msgsPerSec)} | ${r.publisherCpuUs.toFixed(1)} | ${r.subscriberCpuUs.toFixed(1)} | ${r.cpuUs.toFixed(1)} |`,
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
const failed = [...errors.entries()];
if (failed.length > 0) {
  lines.push('', 'Failures:');
  for (const [k, messages] of failed) {
    const [broker, contender] = k.split('\u0000');
    lines.push(
      `- ${broker} ${contender}: ${messages.length} of ${ROUNDS} rounds; ${messages[0].split('\n')[0]}`,
    );
  }
}
const markdown = `${lines.join('\n')}\n`;
console.log(`\n${markdown}`);

const report = {
  startedAt: startedAt.toISOString(),
  machine,
  settings: {
    rounds: ROUNDS,
    warmupMs: WARMUP,
    durationMs: DURATION,
    window: WINDOW,
    concurrency: CONCURRENCY,
    pin: args.pin,
    messageBytes: 1024,
  },
  servers: Object.fromEntries(brokers.map((b) => [b.name, b.server])),
  skipped,
  results: rows,
  comparisons,
};
mkdirSync(args.out, { recursive: true });
writeFileSync(join(args.out, 'brokers.json'), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(args.out, 'brokers.md'), markdown);
console.log(`wrote ${join(args.out, 'brokers.json')} and brokers.md`);
if (profileDir) console.log(`CPU profiles (open in Chrome DevTools or speedscope): ${profileDir}`);
