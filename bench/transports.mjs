#!/usr/bin/env node
// Transport benchmark: @micro over TCP and gRPC against raw node:net, plain gRPC,
// Moleculer and NestJS. Every measurement runs a server process and a client
// process on 127.0.0.1, fresh for each one.
//
//   npm run bench                       # from the repo root: install, build, then this
//   pnpm --filter @micro/bench run bench -- --rounds 5 --duration 3000
//   node bench/transports.mjs --contenders raw,micro-tcp --scenarios c64
//   node bench/transports.mjs --profile /tmp/prof --contenders micro-tcp --scenarios c64 --rounds 1
//
// Scenarios: seq (1 call in flight), c64 (64 in flight), 1KiB@16 and 64KiB@16 (a
// 1 KiB / 64 KiB string in the request's `name`, echoed back in the reply's `msg`,
// 16 in flight). The request is {"name":"John"}, answered {"msg":"Hello John"}.
//
// Each round runs every scenario with every contender, the contenders' order rotated
// from one measurement to the next, so machine noise hits them alike; a measurement
// is a warm-up, then a measured window. The medians over the rounds are reported:
// calls/s, p50/p99 latency (µs) seen by the client, the server's CPU time per call
// (process.cpuUsage over the measured window / calls) and calls/s relative to raw.
// Results: bench/results/latest.json and latest.md (also printed).
//
// Every process started is stopped on the way out, on failure and on Ctrl-C too.
import { fork, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const WORKER = join(here, 'transports', 'worker.mjs');

const ALL_CONTENDERS = ['raw', 'micro-tcp', 'micro-grpc', 'grpc', 'moleculer-tcp', 'nest-tcp'];
const ALL_SCENARIOS = [
  { name: 'seq', inFlight: 1, size: 0 },
  { name: 'c64', inFlight: 64, size: 0 },
  { name: '1KiB@16', inFlight: 16, size: 1024 },
  { name: '64KiB@16', inFlight: 16, size: 64 * 1024 },
];

const USAGE = `usage: node bench/transports.mjs [options]
  --rounds N          rounds; each runs every scenario with every contender (default 3)
  --duration MS       measured window of one measurement (default 1500)
  --warmup MS         load before the window opens (default 1000)
  --contenders LIST   comma-separated, from ${ALL_CONTENDERS.join(',')} (default: all)
  --scenarios LIST    comma-separated, from ${ALL_SCENARIOS.map((s) => s.name).join(',')} (default: all)
  --out DIR           where latest.json and latest.md go (default bench/results)
  --pin MODE          split: server on CPU 0, client on CPU 1 (default where taskset exists and
                      there are 2+ CPUs); same: both on CPU 0; none: where the scheduler puts them
  --profile DIR       run every server and client process under node --cpu-prof, profiles into DIR
                      (pick what to profile with --contenders and --scenarios)
  --help`;

// `pnpm run bench -- --rounds 5` hands the script a literal `--` first: skip it.
const argv = process.argv.slice(2);
if (argv[0] === '--') argv.shift();
const { values: args } = parseArgs({
  args: argv,
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '1500' },
    warmup: { type: 'string', default: '1000' },
    contenders: { type: 'string', default: ALL_CONTENDERS.join(',') },
    scenarios: { type: 'string', default: ALL_SCENARIOS.map((s) => s.name).join(',') },
    out: { type: 'string', default: join(here, 'results') },
    profile: { type: 'string' },
    pin: { type: 'string' },
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
const DURATION = positive('duration', args.duration);
const WARMUP = positive('warmup', args.warmup);
const contenders = pick('contender', args.contenders, ALL_CONTENDERS);
const scenarios = pick(
  'scenario',
  args.scenarios,
  ALL_SCENARIOS.map((s) => s.name),
).map((name) => ALL_SCENARIOS.find((s) => s.name === name));
const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const pinMode = args.pin ?? (hasTaskset && os.availableParallelism() >= 2 ? 'split' : 'none');
if (!['split', 'same', 'none'].includes(pinMode)) {
  console.error(`--pin must be split, same or none, got ${pinMode}`);
  process.exit(2);
}
if (pinMode !== 'none' && !hasTaskset) {
  console.error('--pin needs taskset (util-linux)');
  process.exit(2);
}
/** The CPU each role is pinned to, if any. */
const PIN = { split: { server: 0, client: 1 }, same: { server: 0, client: 0 }, none: {} }[pinMode];
const profileDir = args.profile ? resolve(args.profile) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

// ------------------------------------------------------------------------------------------
// processes

/** Every child process alive, so that any way out stops them. */
const children = new Set();

function killAll(signal = 'SIGKILL') {
  for (const child of children) {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

process.on('exit', () => killAll());
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
function startWorker(role, contender, label) {
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
  // taskset execs node in place, so the IPC channel and the environment carry over.
  const child =
    cpu === undefined
      ? fork(WORKER, [role, contender], { ...options, execArgv })
      : spawn(
          'taskset',
          ['-c', String(cpu), process.execPath, ...execArgv, WORKER, role, contender],
          options,
        );
  children.add(child);
  // EPIPE on the IPC channel of a child that is exiting: its exit is handled below.
  child.on('error', () => {});
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk).slice(-4096);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const inbox = [];
  let waiter;
  let exited;
  const exit = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      exited = signal ?? code;
      resolve();
      waiter?.reject(new Error(`${role} of ${contender} exited (${exited})${tail()}`));
    });
  });
  const tail = () => (output.trim() ? `; its output ended with:\n${output.trim()}` : '');
  child.on('message', (message) => {
    if (message.type === 'error') {
      const error = new Error(`${role} of ${contender} failed: ${message.message}`);
      if (waiter) waiter.reject(error);
      else inbox.push(error);
      return;
    }
    if (waiter) waiter.resolve(message);
    else inbox.push(message);
  });
  return {
    child,
    send(message) {
      if (child.connected) child.send(message);
    },
    /** The next message, which must be of `type`, within `ms`. */
    next(type, ms) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          reject(new Error(`${role} of ${contender}: no '${type}' within ${ms} ms${tail()}`));
        }, ms);
        const settle = (message) => {
          clearTimeout(timer);
          waiter = undefined;
          if (message instanceof Error) reject(message);
          else if (message.type !== type) {
            reject(new Error(`${role} of ${contender}: expected '${type}', got '${message.type}'`));
          } else resolve(message);
        };
        if (inbox.length > 0) {
          settle(inbox.shift());
          return;
        }
        if (exited !== undefined) {
          clearTimeout(timer);
          reject(new Error(`${role} of ${contender} exited (${exited})${tail()}`));
          return;
        }
        waiter = { resolve: settle, reject: settle };
      });
    },
    request(type, ms = 10_000) {
      this.send({ type });
      return this.next(type, ms);
    },
    /** Asks the worker to exit, then kills it if it has not within `ms`. */
    async stop(ms = 5_000) {
      if (exited !== undefined) return;
      this.send({ type: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      await exit;
      clearTimeout(timer);
    },
    kill() {
      if (exited === undefined) child.kill('SIGKILL');
      return exit;
    },
  };
}

/** One measurement: a fresh server and client, a warm-up, a measured window. */
async function measure(contender, scenario, round) {
  const label = `${contender}-${scenario.name.replace('@', 'at')}-r${round + 1}`;
  const server = startWorker('server', contender, label);
  let client;
  try {
    const { address } = await server.next('ready', 30_000);
    client = startWorker('client', contender, label);
    client.send({
      type: 'run',
      address,
      inFlight: scenario.inFlight,
      size: scenario.size,
      warmupMs: WARMUP,
      durationMs: DURATION,
    });
    await client.next('window-start', WARMUP + 30_000);
    const before = await server.request('cpu');
    const end = await client.next('window-end', DURATION + 30_000);
    const after = await server.request('cpu');
    const { violations: serverViolations } = await server.request('sockets');
    client.send({ type: 'stop' });
    await client.next('stopped', 15_000);
    const violations = [
      ...serverViolations.map((v) => `server: ${v}`),
      ...end.violations.map((v) => `client: ${v}`),
    ];
    if (violations.length > 0) {
      throw new Error(`left loopback or used UDP: ${violations.join('; ')}`);
    }
    const callsPerSec = end.calls / end.seconds;
    const serverSeconds = (after.at - before.at) / 1000;
    return {
      callsPerSec,
      p50us: end.p50us,
      p99us: end.p99us,
      serverCpuUsPerCall: (after.cpu - before.cpu) / (callsPerSec * serverSeconds),
      clientCpuUsPerCall: end.clientCpuUsPerCall,
    };
  } finally {
    await Promise.all([client?.stop(), server.stop()]);
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
const perMeasurement = WARMUP + DURATION + 1000;
const total = ROUNDS * scenarios.length * contenders.length;
console.log(
  `Transport benchmark: ${contenders.length} contenders × ${scenarios.length} scenarios × ${ROUNDS} rounds, ` +
    `${WARMUP} ms warm-up + ${DURATION} ms measured each (about ${Math.ceil((total * perMeasurement) / 60_000)} min); ` +
    `Node ${machine.node}, ${machine.cores} cores (${machine.cpu})`,
);

/** samples[contender][scenario] = measurements; errors likewise. */
const samples = new Map();
const errors = new Map();
const key = (contender, scenario) => `${contender}\u0000${scenario}`;
let done = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const [s, scenario] of scenarios.entries()) {
    const shift = (round * scenarios.length + s) % contenders.length;
    const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
    for (const contender of order) {
      done++;
      const k = key(contender, scenario.name);
      const prefix = `[${done}/${total}] round ${round + 1} ${scenario.name.padEnd(8)} ${contender.padEnd(13)}`;
      try {
        const result = await measure(contender, scenario, round);
        if (!samples.has(k)) samples.set(k, []);
        samples.get(k).push(result);
        console.log(
          `${prefix} ${Math.round(result.callsPerSec).toString().padStart(7)} calls/s  p50 ${Math.round(result.p50us)} µs  p99 ${Math.round(result.p99us)} µs  server ${result.serverCpuUsPerCall.toFixed(1)} µs/call`,
        );
      } catch (error) {
        if (!errors.has(k)) errors.set(k, []);
        errors.get(k).push(error.message);
        console.log(`${prefix} FAILED: ${error.message.split('\n')[0]}`);
      }
    }
  }
}

const results = [];
for (const scenario of scenarios) {
  const raw = samples.get(key('raw', scenario.name));
  const rawRate = raw ? median(raw.map((r) => r.callsPerSec)) : undefined;
  for (const contender of contenders) {
    const k = key(contender, scenario.name);
    const got = samples.get(k) ?? [];
    const failures = errors.get(k) ?? [];
    if (got.length === 0) {
      results.push({
        contender,
        scenario: scenario.name,
        callsPerSec: null,
        p50us: null,
        p99us: null,
        serverCpuUsPerCall: null,
        ratioToRaw: null,
        error: failures[0] ?? 'not measured',
      });
      continue;
    }
    const callsPerSec = median(got.map((r) => r.callsPerSec));
    const row = {
      contender,
      scenario: scenario.name,
      callsPerSec: Math.round(callsPerSec),
      p50us: Math.round(median(got.map((r) => r.p50us))),
      p99us: Math.round(median(got.map((r) => r.p99us))),
      serverCpuUsPerCall: Number(median(got.map((r) => r.serverCpuUsPerCall)).toFixed(1)),
      ratioToRaw: rawRate ? Number((callsPerSec / rawRate).toFixed(2)) : null,
      clientCpuUsPerCall: Number(median(got.map((r) => r.clientCpuUsPerCall)).toFixed(1)),
      rounds: got.length,
    };
    if (failures.length > 0) row.failedRounds = failures.length;
    results.push(row);
  }
}

// ------------------------------------------------------------------------------------------
// targets and output

const find = (contender, scenario) =>
  results.find((r) => r.contender === contender && r.scenario === scenario && r.callsPerSec);
function versus(a, b, scenario, target) {
  const x = find(a, scenario);
  const y = find(b, scenario);
  if (!x || !y) return undefined;
  const ratio = x.callsPerSec / y.callsPerSec;
  return { check: `${a} ≥ ${target}× ${b} at ${scenario}`, ratio, met: ratio >= target };
}
const targets = [
  ...scenarios.map((s) => versus('micro-tcp', 'raw', s.name, 0.85)),
  versus('micro-tcp', 'moleculer-tcp', 'c64', 1.3),
  versus('micro-tcp', 'nest-tcp', 'c64', 1.3),
  versus('micro-grpc', 'grpc', 'c64', 1.5),
].filter(Boolean);

/** Versions of what was measured, read from the installed packages. */
function versions() {
  const names = ['@grpc/grpc-js', 'moleculer', '@nestjs/microservices'];
  return names
    .map((name) => {
      try {
        const file = join(here, 'node_modules', name, 'package.json');
        return `${name} ${JSON.parse(readFileSync(file, 'utf8')).version}`;
      } catch {
        return `${name} (not installed)`;
      }
    })
    .join(', ');
}

const number = (n) => (n === null ? '–' : n.toLocaleString('en-US'));
const lines = [
  `Node ${machine.node}, ${machine.platform}, ${machine.cores} cores (${machine.cpu}); ` +
    `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC; median of ${ROUNDS} rounds, ` +
    `${WARMUP} ms warm-up + ${DURATION} ms measured per measurement, server and client in two processes on 127.0.0.1` +
    `${{ split: ' (server pinned to CPU 0, client to CPU 1)', same: ' (both pinned to CPU 0)', none: '' }[pinMode]}; ${versions()}.`,
  '',
  "× raw: calls/s over raw's calls/s in the same scenario of this run. Latency is per call as the client sees it; CPU is process.cpuUsage (user + system) over the measured window divided by the calls.",
  '',
  '| scenario | contender | calls/s | × raw | p50 µs | p99 µs | server CPU µs/call | client CPU µs/call |',
  '|---|---|---:|---:|---:|---:|---:|---:|',
];
for (const r of results) {
  if (r.callsPerSec === null) {
    lines.push(
      `| ${r.scenario} | ${r.contender} | not run: ${r.error.split('\n')[0].replaceAll('|', '\\|')} | | | | | |`,
    );
    continue;
  }
  lines.push(
    `| ${r.scenario} | ${r.contender} | ${number(r.callsPerSec)} | ${r.ratioToRaw?.toFixed(2) ?? '–'} | ${number(r.p50us)} | ${number(r.p99us)} | ${r.serverCpuUsPerCall.toFixed(1)} | ${r.clientCpuUsPerCall.toFixed(1)} |`,
  );
}
if (targets.length > 0) {
  lines.push('', '| target | measured | met |', '|---|---:|:-:|');
  for (const t of targets)
    lines.push(`| ${t.check} | ${t.ratio.toFixed(2)}× | ${t.met ? 'yes' : 'no'} |`);
}
const failures = [...errors.entries()];
if (failures.length > 0) {
  lines.push('', 'Failures:');
  for (const [k, messages] of failures) {
    const [contender, scenario] = k.split('\u0000');
    lines.push(
      `- ${contender} ${scenario}: ${messages.length} of ${ROUNDS} rounds; ${messages[0].split('\n')[0]}`,
    );
  }
}
const markdown = `${lines.join('\n')}\n`;
console.log(`\n${markdown}`);

mkdirSync(args.out, { recursive: true });
writeFileSync(join(args.out, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(args.out, 'latest.md'), markdown);
console.log(`wrote ${join(args.out, 'latest.json')} and latest.md`);
if (profileDir) console.log(`CPU profiles (open in Chrome DevTools or speedscope): ${profileDir}`);
