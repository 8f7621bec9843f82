#!/usr/bin/env node
// What a client that pools its Sockets would gain: sequential unary calls on one
// long-lived Socket per call in flight (what go-micro's client pool does, and what the
// @micro server serves), against a Socket dialed and closed per call (what RpcClient
// does). The server is a real createService over the transport; the client speaks the
// transport directly with the headers RpcClient sends, so it measures the transport
// and the server, not the client's RPC layer. Server and client in two processes on
// 127.0.0.1.
//
//   taskset -c 1 node bench/transports/pooled.mjs [tcp|grpc] [in flight, default 64] [seconds, default 3]
//
// Three alternating rounds of each, medians reported.
//
// The server runs on CPU 0 (taskset), so with `taskset -c 1` the two processes sit on
// separate CPUs as in bench/transports.mjs.
import { fileURLToPath } from 'node:url';
import {
  createMemoryBroker,
  createMemoryRegistry,
  createService,
  jsonCodec,
  silentLogger,
} from '@micro/core';
import { canPin, launch } from '../lib/processes.mjs';
import { median } from '../lib/report.mjs';
import { cpuMicros } from '../lib/worker.mjs';

const [kind = 'grpc', inFlightText = '64', secondsText = '3', role] = process.argv.slice(2);
const inFlight = Number(inFlightText);
const seconds = Number(secondsText);

async function createTransport() {
  if (kind === 'tcp') {
    const { createTcpTransport } = await import('@micro/transport-tcp');
    return createTcpTransport({ logger: silentLogger });
  }
  const { createGrpcTransport } = await import('@micro/transport-grpc');
  return createGrpcTransport({ logger: silentLogger });
}

async function server() {
  class Greeter {
    async Hello(request) {
      return { msg: `Hello ${request.name}` };
    }
  }
  const service = await createService({
    name: 'bench',
    transport: await createTransport(),
    registry: createMemoryRegistry(),
    broker: createMemoryBroker(),
    logger: silentLogger,
  });
  service.handle(new Greeter());
  await service.start();
  process.on('message', (message) => {
    if (message === 'cpu') process.send(cpuMicros());
    else process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ address: service.server.address });
}

/** Calls/s and server CPU µs per call, with a Socket per loop (`pooled`) or per call. */
async function measure(address, pooled) {
  const transport = await createTransport();
  const body = jsonCodec.marshal({ name: 'John' });
  let id = 0;
  let calls = 0;
  let stop = false;
  const loop = async () => {
    const kept = pooled ? await transport.dial(address) : undefined;
    while (!stop) {
      const socket = kept ?? (await transport.dial(address));
      await socket.send({
        header: {
          'Micro-Id': String(++id),
          'Micro-Service': 'bench',
          'Micro-Endpoint': 'Greeter.Hello',
          'Micro-Method': 'Greeter.Hello',
          'Content-Type': 'application/json',
          Accept: 'application/json',
          Timeout: '30000000000',
        },
        body,
      });
      const reply = await socket.recv();
      if (jsonCodec.unmarshal(reply.body).msg !== 'Hello John') throw new Error('wrong reply');
      if (!kept) void socket.close();
      calls++;
    }
    await kept?.close();
  };
  const loops = Array.from({ length: inFlight }, loop);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const start = calls;
  const cpuBefore = await serverCpu();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const measured = calls - start;
  const cpuAfter = await serverCpu();
  const elapsed = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(loops);
  await transport.close();
  return {
    callsPerSec: Math.round(measured / elapsed),
    serverCpuUsPerCall: (cpuAfter - cpuBefore) / measured,
  };
}

let child;
function serverCpu() {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send('cpu');
  });
}

if (role === 'server') {
  await server();
} else {
  const self = fileURLToPath(import.meta.url);
  const samples = { pooled: [], 'per call': [] };
  try {
    // Alternating rounds, medians reported: load from elsewhere falls on both alike.
    for (let round = 0; round < 3; round++) {
      for (const socket of Object.keys(samples)) {
        child = launch(self, [kind, inFlightText, secondsText, 'server'], {
          cpu: canPin() ? 0 : undefined,
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        const { address } = await new Promise((resolve) => child.once('message', resolve));
        samples[socket].push(await measure(address, socket === 'pooled'));
        child.send('exit');
      }
    }
  } finally {
    child?.kill();
  }
  const results = Object.entries(samples).map(([socket, runs]) => ({
    transport: kind,
    inFlight,
    socket,
    callsPerSec: median(runs.map((r) => r.callsPerSec)),
    serverCpuUsPerCall: median(runs.map((r) => r.serverCpuUsPerCall)).toFixed(1),
    runs: runs.map((r) => r.callsPerSec).join(' '),
  }));
  console.table(results);
}
