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

const args = parseCommandLine(USAGE, {
  rounds: { type: 'string', default: '3' },
  duration: { type: 'string', default: '1500' },
  warmup: { type: 'string', default: '1000' },
  contenders: { type: 'string', default: ALL_CONTENDERS.join(',') },
  scenarios: { type: 'string', default: ALL_SCENARIOS.map((s) => s.name).join(',') },
  out: { type: 'string', default: join(here, 'results') },
  profile: { type: 'string' },
  pin: { type: 'string' },
});

const ROUNDS = positive('rounds', args.rounds, USAGE);
const DURATION = positive('duration', args.duration, USAGE);
const WARMUP = positive('warmup', args.warmup, USAGE);
const contenders = pick('contender', args.contenders, ALL_CONTENDERS);
const scenarios = pick(
  'scenario',
  args.scenarios,
  ALL_SCENARIOS.map((s) => s.name),
).map((name) => ALL_SCENARIOS.find((s) => s.name === name));
const machine = describeMachine();
const pinMode = oneOf('pin', args.pin ?? (canPin() && machine.cores >= 2 ? 'split' : 'none'), [
  'split',
  'same',
  'none',
]);
if (pinMode !== 'none' && !canPin()) usageError('--pin needs taskset (util-linux)');
/** The CPU each role is pinned to, if any. */
const PIN = { split: { server: 0, client: 1 }, same: { server: 0, client: 0 }, none: {} }[pinMode];
const profileDir = profileFolder(args.profile);

// ------------------------------------------------------------------------------------------
// a measurement

/** The server or the client of `contender`'s measurement labelled `label`. */
function startRole(role, contender, label) {
  return startWorker(WORKER, [role, contender], {
    who: `${role} of ${contender}`,
    cpu: PIN[role],
    profile: profileDir && { dir: profileDir, name: `${label}-${role}.cpuprofile` },
  });
}

/** One measurement: a fresh server and client, a warm-up, a measured window. */
async function measure(scenario, contender, round) {
  const label = `${contender}-${scenario.name.replace('@', 'at')}-r${round + 1}`;
  const server = startRole('server', contender, label);
  let client;
  try {
    const { address } = await server.next('ready', 30_000);
    client = startRole('client', contender, label);
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

const startedAt = new Date();
const perMeasurement = WARMUP + DURATION + 1000;
const total = ROUNDS * scenarios.length * contenders.length;
console.log(
  `Transport benchmark: ${contenders.length} contenders × ${scenarios.length} scenarios × ${ROUNDS} rounds, ` +
    `${WARMUP} ms warm-up + ${DURATION} ms measured each (about ${Math.ceil((total * perMeasurement) / 60_000)} min); ` +
    nodeAndCores(machine),
);

const measured = await measureRounds({
  rounds: ROUNDS,
  groups: scenarios,
  contenders,
  shift: (round, s) => round * scenarios.length + s,
  measure,
  describe: (result) =>
    `${Math.round(result.callsPerSec).toString().padStart(7)} calls/s  p50 ${Math.round(result.p50us)} µs  p99 ${Math.round(result.p99us)} µs  server ${result.serverCpuUsPerCall.toFixed(1)} µs/call`,
});

const results = [];
for (const scenario of scenarios) {
  const raw = measured.samples(scenario.name, 'raw');
  const rawRate = raw.length > 0 ? median(raw.map((r) => r.callsPerSec)) : undefined;
  for (const contender of contenders) {
    const got = measured.samples(scenario.name, contender);
    const failures = measured.errors(scenario.name, contender);
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
const versions = ['@grpc/grpc-js', 'moleculer', '@nestjs/microservices']
  .map((name) => `${name} ${installedVersion(name)}`)
  .join(', ');

const lines = [
  `${runSettings({ machine, startedAt, rounds: ROUNDS, warmupMs: WARMUP, durationMs: DURATION })}, ` +
    'server and client in two processes on 127.0.0.1' +
    `${{ split: ' (server pinned to CPU 0, client to CPU 1)', same: ' (both pinned to CPU 0)', none: '' }[pinMode]}; ${versions}.`,
  '',
  "× raw: calls/s over raw's calls/s in the same scenario of this run. Latency is per call as the client sees it; CPU is process.cpuUsage (user + system) over the measured window divided by the calls.",
  '',
  '| scenario | contender | calls/s | × raw | p50 µs | p99 µs | server CPU µs/call | client CPU µs/call |',
  '|---|---|---:|---:|---:|---:|---:|---:|',
];
for (const r of results) {
  if (r.callsPerSec === null) {
    lines.push(notRunRow([r.scenario, r.contender], r.error, 5));
    continue;
  }
  lines.push(
    `| ${r.scenario} | ${r.contender} | ${formatNumber(r.callsPerSec)} | ${r.ratioToRaw?.toFixed(2) ?? '–'} | ${formatNumber(r.p50us)} | ${formatNumber(r.p99us)} | ${r.serverCpuUsPerCall.toFixed(1)} | ${r.clientCpuUsPerCall.toFixed(1)} |`,
  );
}
if (targets.length > 0) {
  lines.push('', '| target | measured | met |', '|---|---:|:-:|');
  for (const t of targets)
    lines.push(`| ${t.check} | ${t.ratio.toFixed(2)}× | ${t.met ? 'yes' : 'no'} |`);
}
lines.push(...failureLines(measured.failures(), ROUNDS, (f) => `${f.contender} ${f.group}`));

writeReport(args.out, 'latest', results, lines);
printProfileFolder(profileDir);
