#!/usr/bin/env node
// Echo throughput of @micro/transport-tcp (the dist build) against a raw node:net echo
// with 4-byte length-prefixed frames, server and client in two processes.
//
//   pnpm run build && node bench/echo.mjs            # every case: ~70 s in all
//   BENCH_ROUNDS=5 BENCH_DURATION=3000 node bench/echo.mjs
//   node bench/echo.mjs micro 64 16                  # one run: kind, in flight, body bytes
//
// Each case runs raw and micro alternately BENCH_ROUNDS times (default 3, 2 s each after a
// 0.5 s warm-up) and reports the medians, so a noisy shared machine skews both alike.
//
// A micro "call" is what the RPC layer does for a unary call: dial (a new stream on the
// pooled connection), send, recv, close. A raw call is one frame out and one frame back
// on a single connection, answers matched in order. Both send the same JSON bytes; the
// micro message also carries a Content-Type header (BENCH_HEADERS=rpc adds the five
// headers a go-micro request carries).
import { fork } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const DURATION = Number(process.env.BENCH_DURATION ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 500);

function jsonBody(size) {
  const skeleton = '{"data":""}';
  return Buffer.from(`{"data":"${'x'.repeat(Math.max(0, size - skeleton.length))}"}`);
}

const HEADERS =
  process.env.BENCH_HEADERS === 'rpc'
    ? {
        'Content-Type': 'application/json',
        'Micro-Id': '1',
        'Micro-Service': 'helloworld',
        'Micro-Endpoint': 'Greeter.Hello',
        'Micro-Method': 'Greeter.Hello',
        Timeout: '5000000000',
      }
    : { 'Content-Type': 'application/json' };

// ------------------------------------------------------------------------------------------
// raw node:net: [u32 length][body]

/** Calls `onFrame(buffer, start, end)` for each complete frame (start after the prefix). */
function rawParser(onFrame) {
  let pending = null;
  return (chunk) => {
    let buffer = pending === null ? chunk : Buffer.concat([pending, chunk]);
    pending = null;
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const length = buffer.readUInt32BE(offset);
      if (buffer.length - offset - 4 < length) break;
      onFrame(buffer, offset, offset + 4 + length);
      offset += 4 + length;
    }
    if (offset < buffer.length) pending = buffer.subarray(offset);
    buffer = null;
  };
}

function rawServer() {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', rawParser((buffer, start, end) => socket.write(buffer.subarray(start, end))));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}

async function rawClient(port, inFlight, body) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once('connect', resolve));
  let done = 0;
  let stop = false;
  const send = () => {
    const frame = Buffer.allocUnsafe(4 + body.length);
    frame.writeUInt32BE(body.length, 0);
    body.copy(frame, 4);
    socket.write(frame);
  };
  let finish;
  const finished = new Promise((resolve) => {
    finish = resolve;
  });
  let outstanding = 0;
  socket.on(
    'data',
    rawParser((buffer, start, end) => {
      if (end - start - 4 !== body.length) throw new Error('bad echo');
      done++;
      outstanding--;
      if (!stop) {
        outstanding++;
        send();
      } else if (outstanding === 0) finish();
    }),
  );
  for (let i = 0; i < inFlight; i++) {
    outstanding++;
    send();
  }
  const count = await measure(() => done, () => {
    stop = true;
  });
  await finished;
  socket.destroy();
  return count;
}

// ------------------------------------------------------------------------------------------
// @micro/transport-tcp

async function loadTransport() {
  const { createTcpTransport } = await import('../dist/index.js');
  const { silentLogger } = await import('@micro/core');
  return createTcpTransport({ logger: silentLogger });
}

async function microServer() {
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

async function microClient(port, inFlight, body) {
  const transport = await loadTransport();
  const address = `127.0.0.1:${port}`;
  let done = 0;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      const socket = await transport.dial(address);
      await socket.send({ header: HEADERS, body });
      const reply = await socket.recv();
      if (reply.body.byteLength !== body.length) throw new Error('bad echo');
      await socket.close();
      done++;
    }
  };
  const loops = Array.from({ length: inFlight }, loop);
  const count = await measure(() => done, () => {
    stop = true;
  });
  await Promise.all(loops);
  await transport.close();
  return count;
}

// ------------------------------------------------------------------------------------------

async function measure(count, stop) {
  await new Promise((resolve) => setTimeout(resolve, WARMUP));
  const start = count();
  const started = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, DURATION));
  const calls = count() - start;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  stop();
  return calls / seconds;
}

async function run(kind, inFlight, size) {
  const child = fork(self, ['server', kind], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  try {
    const body = jsonBody(size);
    return await (kind === 'raw' ? rawClient : microClient)(port, inFlight, body);
  } finally {
    child.kill();
  }
}

const CASES = [
  [1, 16],
  [64, 16],
  [16, 1024],
  [16, 64 * 1024],
];

async function main() {
  const [mode, kind, inFlightText, sizeText] = process.argv.slice(2);
  if (mode === 'server') {
    await (kind === 'raw' ? rawServer : microServer)();
    return;
  }
  if (mode === 'raw' || mode === 'micro') {
    const rate = await run(mode, Number(kind), Number(inFlightText));
    console.log(`${mode} in-flight=${kind} body=${inFlightText}B: ${Math.round(rate)} calls/s`);
    return;
  }
  void sizeText;
  console.log(
    `node ${process.version}, median of ${ROUNDS} alternating runs of ${DURATION} ms (after ${WARMUP} ms warm-up), headers: ${process.env.BENCH_HEADERS ?? 'content-type'}`,
  );
  console.log('| in flight | body | raw node:net calls/s | micro tcp calls/s | micro / raw |');
  console.log('|---:|---:|---:|---:|---:|');
  const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  for (const [inFlight, size] of CASES) {
    const raws = [];
    const micros = [];
    for (let round = 0; round < ROUNDS; round++) {
      raws.push(await run('raw', inFlight, size));
      micros.push(await run('micro', inFlight, size));
    }
    const raw = median(raws);
    const micro = median(micros);
    const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    console.log(
      `| ${inFlight} | ${label} | ${Math.round(raw)} | ${Math.round(micro)} | ${(micro / raw).toFixed(2)} |`,
    );
  }
}

await main();
