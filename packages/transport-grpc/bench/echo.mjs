#!/usr/bin/env node
// Echo throughput of @micro/transport-grpc (the dist build) against plain @grpc/grpc-js
// unary calls, server and client in two processes, a tiny body, 1 and 64 calls in flight.
//
//   pnpm run build && node bench/echo.mjs          # every case, 3 s each after 0.5 s warm-up (~40 s)
//   BENCH_DURATION=5000 node bench/echo.mjs        # longer runs
//   node bench/echo.mjs transport 64               # one case: kind, in flight
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/echo.mjs transport 64   # profile the client
//   BENCH_PROFILE_SERVER=/tmp/prof node bench/echo.mjs transport 64        # profile the server
//
// Kinds:
//   grpc       plain grpc-js: one unary call per echo (`/bench.Echo/Echo`), Buffer in and out
//              with identity serializers, so grpc-js does the least work it can.
//   transport  this transport as the RPC layer drives it: dial (a new Stream call on the
//              shared channel), send, recv, close; the server echoes and closes. The message
//              carries the headers of a go-micro request (Micro-Id, Micro-Service, ...).
//   rpc        the whole @micro stack over this transport: client.call('bench', 'Echo.Echo')
//              to a createService handler, JSON codec, memory registry.
//   raw        node:net with 4-byte length-prefixed frames, for scale.
import { fork } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const DURATION = Number(process.env.BENCH_DURATION ?? 3000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 500);
const BODY = Buffer.from('{"name":"John"}');
const HEADERS = {
  'Content-Type': 'application/json',
  Accept: 'application/json',
  'Micro-Id': '1',
  'Micro-Service': 'bench',
  'Micro-Endpoint': 'Echo.Echo',
  'Micro-Method': 'Echo.Echo',
  Timeout: '5000000000',
};
const ECHO_PATH = '/bench.Echo/Echo';
const identity = (buffer) => buffer;

/** The server process, asked for its CPU time around the measured window. */
let server;

function serverCpu() {
  return new Promise((resolve) => {
    server.once('message', (usage) => resolve(usage.user + usage.system));
    server.send('cpu');
  });
}

/**
 * Counts calls over the measured window after a warm-up.
 * @returns calls per second, and CPU microseconds per call in the client and the server
 */
async function measure(count, stop) {
  await new Promise((resolve) => setTimeout(resolve, WARMUP));
  const start = count();
  const serverStart = await serverCpu();
  const clientStart = process.cpuUsage();
  const started = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, DURATION));
  const calls = count() - start;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const client = process.cpuUsage(clientStart);
  const serverUsed = (await serverCpu()) - serverStart;
  stop();
  return {
    rate: calls / seconds,
    clientCpu: (client.user + client.system) / calls,
    serverCpu: serverUsed / calls,
  };
}

/** Runs `call` in `inFlight` concurrent loops for the measured time; returns calls/s. */
async function loops(inFlight, call) {
  let done = 0;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      await call();
      done++;
    }
  };
  const running = Array.from({ length: inFlight }, loop);
  const rate = await measure(
    () => done,
    () => {
      stop = true;
    },
  );
  await Promise.all(running);
  return rate;
}

// ------------------------------------------------------------------------------------------
// plain grpc-js unary

async function grpcServer() {
  const grpc = await import('@grpc/grpc-js');
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  server.addService(
    {
      Echo: {
        path: ECHO_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    { Echo: (call, callback) => callback(null, call.request) },
  );
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  process.send({ port });
}

async function grpcClient(port, inFlight) {
  const grpc = await import('@grpc/grpc-js');
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.enable_channelz': 0,
  });
  await new Promise((resolve, reject) =>
    client.waitForReady(Date.now() + 5000, (error) => (error ? reject(error) : resolve())),
  );
  const call = () =>
    new Promise((resolve, reject) =>
      client.makeUnaryRequest(ECHO_PATH, identity, identity, BODY, (error, reply) => {
        if (error) reject(error);
        else if (reply.length !== BODY.length) reject(new Error('bad echo'));
        else resolve();
      }),
    );
  const rate = await loops(inFlight, call);
  client.close();
  return rate;
}

// ------------------------------------------------------------------------------------------
// @micro/transport-grpc, transport level

async function loadTransport() {
  const { createGrpcTransport } = await import('../dist/index.js');
  const { silentLogger } = await import('@micro/core');
  return createGrpcTransport({ logger: silentLogger });
}

async function transportServer() {
  const transport = await loadTransport();
  const listener = await transport.listen('127.0.0.1:0');
  // A unary handler, as the RPC server runs one call per Socket: recv, answer, close.
  listener.accept(async (socket) => {
    try {
      await socket.send(await socket.recv());
    } catch {
      // the client went away
    }
    await socket.close();
  });
  process.send({ port: Number(listener.address.split(':').pop()) });
}

async function transportClient(port, inFlight) {
  const transport = await loadTransport();
  const address = `127.0.0.1:${port}`;
  const call = async () => {
    const socket = await transport.dial(address);
    await socket.send({ header: HEADERS, body: BODY });
    const reply = await socket.recv();
    if (reply.body.byteLength !== BODY.length) throw new Error('bad echo');
    await socket.close();
  };
  const rate = await loops(inFlight, call);
  await transport.close();
  return rate;
}

// ------------------------------------------------------------------------------------------
// the whole @micro stack

async function rpcServer() {
  const core = await import('@micro/core');
  const service = await core.createService({
    name: 'bench',
    transport: await loadTransport(),
    registry: core.createMemoryRegistry(),
    broker: core.createMemoryBroker(),
    address: '127.0.0.1:0',
    logger: core.silentLogger,
  });
  service.handle(
    new (class Echo {
      async Echo(request) {
        return request;
      }
    })(),
  );
  await service.start();
  process.send({ port: Number(service.server.address.split(':').pop()) });
}

async function rpcClient(port, inFlight) {
  const core = await import('@micro/core');
  const transport = await loadTransport();
  const client = core.createClient({ transport, registry: core.createMemoryRegistry() });
  const address = `127.0.0.1:${port}`;
  const request = { name: 'John' };
  const call = async () => {
    const reply = await client.call('bench', 'Echo.Echo', request, { address });
    if (reply.name !== 'John') throw new Error('bad echo');
  };
  const rate = await loops(inFlight, call);
  await transport.close();
  return rate;
}

// ------------------------------------------------------------------------------------------
// raw node:net, [u32 length][body]

function rawParser(onFrame) {
  let pending = null;
  return (chunk) => {
    const buffer = pending === null ? chunk : Buffer.concat([pending, chunk]);
    pending = null;
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const length = buffer.readUInt32BE(offset);
      if (buffer.length - offset - 4 < length) break;
      onFrame(buffer.subarray(offset, offset + 4 + length));
      offset += 4 + length;
    }
    if (offset < buffer.length) pending = buffer.subarray(offset);
  };
}

function rawServer() {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', rawParser((frame) => socket.write(frame)));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}

async function rawClient(port, inFlight) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once('connect', resolve));
  const frame = Buffer.allocUnsafe(4 + BODY.length);
  frame.writeUInt32BE(BODY.length, 0);
  BODY.copy(frame, 4);
  const waiting = [];
  socket.on(
    'data',
    rawParser(() => waiting.shift()()),
  );
  const call = () =>
    new Promise((resolve) => {
      waiting.push(resolve);
      socket.write(frame);
    });
  const rate = await loops(inFlight, call);
  socket.destroy();
  return rate;
}

// ------------------------------------------------------------------------------------------

const KINDS = {
  grpc: [grpcServer, grpcClient],
  transport: [transportServer, transportClient],
  rpc: [rpcServer, rpcClient],
  raw: [rawServer, rawClient],
};

async function run(kind, inFlight) {
  const profile = process.env.BENCH_PROFILE_SERVER;
  const child = fork(self, ['server', kind], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [],
  });
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  server = child;
  try {
    return await KINDS[kind][1](port, inFlight);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // SIGINT lets --cpu-prof write its profile; the child has no handler, so it exits.
    child.kill(profile ? 'SIGINT' : 'SIGTERM');
    await exited;
  }
}

async function main() {
  const [mode, arg] = process.argv.slice(2);
  if (mode === 'server') {
    if (process.env.BENCH_PROFILE_SERVER) process.once('SIGINT', () => process.exit(0));
    process.on('message', (message) => {
      if (message === 'cpu') process.send(process.cpuUsage());
    });
    await KINDS[arg][0]();
    return;
  }
  if (mode in KINDS) {
    const inFlight = Number(arg ?? 64);
    const result = await run(mode, inFlight);
    console.log(`${mode} in-flight=${inFlight}: ${format(result)}`);
    return;
  }
  // Other processes share this machine's cores, so each case runs ROUNDS times,
  // interleaved, and the best round counts; CPU time per call is the steadier figure.
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const kinds = ['raw', 'grpc', 'transport', 'rpc'];
  console.log(
    `node ${process.version}, body ${BODY.length} B, best of ${rounds} rounds of ${DURATION} ms after ${WARMUP} ms warm-up`,
  );
  console.log('calls/s (client CPU + server CPU per call, in µs)');
  console.log(
    '| in flight | raw node:net | plain grpc-js unary | transport-grpc socket | @micro rpc over grpc | socket / grpc-js | rpc / grpc-js |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const inFlight of [1, 64]) {
    const best = {};
    for (let round = 0; round < rounds; round++) {
      for (const kind of kinds) {
        const result = await run(kind, inFlight);
        if (!best[kind] || result.rate > best[kind].rate) best[kind] = result;
      }
    }
    const ratio = (kind) => (best[kind].rate / best.grpc.rate).toFixed(2);
    console.log(
      `| ${inFlight} | ${kinds.map((kind) => format(best[kind])).join(' | ')} | ${ratio('transport')} | ${ratio('rpc')} |`,
    );
  }
}

function format({ rate, clientCpu, serverCpu }) {
  return `${Math.round(rate)} (${Math.round(clientCpu)} + ${Math.round(serverCpu)})`;
}

await main();
