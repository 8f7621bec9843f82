// One broker benchmark process, the publisher or the subscriber of one contender on
// one broker, driven by the orchestrator (../brokers.mjs) over the IPC channel.
//
//   node worker.mjs <publisher|subscriber> <broker> <contender>
//
// Contenders:
//   raw            the broker's own client library; publishes 1 KiB bytes with the
//                  headers @micro's client would put, in go-micro's wire format
//   micro          @micro's Broker: broker.publish / broker.subscribe, same bytes
//   raw-json       raw, plus JSON.stringify of the payload object and JSON.parse of
//                  the body (what a Service's JSON codec does)
//   micro-service  a Service: client.publish(topic, object) -> server.subscribe
//                  handler(object), JSON codec, on the same @micro broker
//
// subscriber: on { type: 'config' } subscribe, then 'ready' (with what the publisher
//   needs to find it, for http, and the path of its count socket); count handled
//   messages, write the count to the publisher every `credit` messages (and every
//   20 ms when it moved); answer 'mark'.
// publisher: on 'config' connect, 'ready'; on 'start' publish, keeping at most `window`
//   messages published and not yet handled (from the subscriber's counts) and
//   at most `concurrency` publish calls unresolved; answer 'mark'; on 'stop' finish
//   the publishes in flight and report 'stopped'. Both exit on { type: 'exit' }.
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@micro/core';
import { cpuMicros, fail, send, serveOrchestrator } from '../lib/worker.mjs';
import { BODY, checkEnvelopes, PAYLOAD, publishHeader, SIZE, silent } from './common.mjs';

const [role, brokerName, contender] = process.argv.slice(2);
const CONTENDERS = ['raw', 'micro', 'raw-json', 'micro-service'];

serveOrchestrator();

/**
 * The messages from the orchestrator: `handlers` get every message of their type;
 * `next(type)` the first one, kept until asked for if it comes early.
 */
const waiting = new Map();
const early = new Map();
const handlers = new Map();
process.on('message', (message) => {
  const handler = handlers.get(message.type);
  if (handler) {
    handler(message);
    return;
  }
  const resolve = waiting.get(message.type);
  if (resolve) {
    waiting.delete(message.type);
    resolve(message);
  } else early.set(message.type, message);
});
const next = (type) =>
  new Promise((resolve) => {
    const message = early.get(type);
    if (message === undefined) waiting.set(type, resolve);
    else {
      early.delete(type);
      resolve(message);
    }
  });

if (!CONTENDERS.includes(contender)) await fail(new Error(`unknown contender ${contender}`));
const broker = await import(`./${brokerName}.mjs`);
checkEnvelopes(core);
const config = await next('config');
const json = contender === 'raw-json' || contender === 'micro-service';
const nameLength = PAYLOAD.name.length;

let closer;
handlers.set('exit', async () => {
  const bound = new Promise((resolve) => setTimeout(resolve, 10_000));
  await Promise.race([closer?.(), bound]).catch(() => {});
  process.exit(0);
});

// ------------------------------------------------------------------------------------------
// subscriber

/**
 * The subscriber's count goes straight to the publisher over a Unix socket, 4 bytes
 * at a time: through the IPC channel and this process's parent it would cost both
 * sides more and could stall when the parent is slow to read.
 */
async function creditServer() {
  const path = join(tmpdir(), `micro-bench-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
  const sockets = new Set();
  const server = createServer((socket) => {
    socket.setNoDelay?.(true);
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  return {
    path,
    write(count) {
      const bytes = Buffer.allocUnsafe(4);
      bytes.writeUInt32LE(count >>> 0);
      for (const socket of sockets) socket.write(bytes);
    },
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** Reads the subscriber's counts; calls `onCount` with the latest of each chunk. */
function readCredits(path, onCount) {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => resolve(socket));
    socket.once('error', reject);
    let rest = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      const data = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
      const whole = data.length - (data.length % 4);
      if (whole > 0) onCount(data.readUInt32LE(whole - 4));
      rest = data.subarray(whole);
    });
  });
}

async function subscriber() {
  let count = 0;
  let reported = 0;
  let wrong = 0;
  const credits = await creditServer();
  const report = () => {
    reported = count;
    credits.write(count);
  };
  const handled = () => {
    if (++count - reported >= config.credit) report();
  };
  setInterval(() => {
    if (count !== reported) report();
  }, 20).unref();
  const onBytes = (_topic, header, body) => {
    if (body.byteLength !== SIZE || header['Micro-ID'] === undefined) wrong++;
    handled();
  };
  const onObject = (_topic, _header, body) => {
    const payload = JSON.parse(body.toString());
    if (payload.name.length !== nameLength) wrong++;
    handled();
  };
  const { topic, queue } = config;
  let info;

  if (contender === 'raw' || contender === 'raw-json') {
    const subscription = await broker.raw.subscribe(config, json ? onObject : onBytes);
    info = subscription.info;
    closer = subscription.close;
  } else {
    const side = await broker.micro({ ...config, role });
    if (contender === 'micro') {
      await side.broker.connect();
      await side.broker.subscribe(
        topic,
        (event) => onBytes(event.topic, event.message.header, event.message.body),
        { queue },
      );
      closer = () => side.broker.disconnect();
    } else {
      const service = await core.createService({
        name: 'bench-subscriber',
        broker: side.broker,
        registry: side.registry ?? core.createMemoryRegistry(),
        logger: silent,
      });
      service.subscribe(
        topic,
        (payload) => {
          if (payload.name.length !== nameLength) wrong++;
          handled();
        },
        { queue },
      );
      await service.start();
      closer = () => service.stop();
    }
    info = await side.info?.();
  }

  handlers.set('mark', () =>
    send({ type: 'mark', count, wrong, cpu: cpuMicros(), at: performance.now() }),
  );
  await send({ type: 'ready', info, credits: credits.path });
  const close = closer;
  closer = async () => {
    credits.close();
    await close?.();
  };
}

// ------------------------------------------------------------------------------------------
// publisher

async function publisher() {
  const { topic } = config;
  let publish;
  if (contender === 'raw' || contender === 'raw-json') {
    const client = await broker.raw.publisher(config);
    closer = client.close;
    publish = json
      ? () => client.send(publishHeader(topic), Buffer.from(JSON.stringify(PAYLOAD)))
      : () => client.send(publishHeader(topic), BODY);
  } else {
    const side = await broker.micro({ ...config, role });
    if (contender === 'micro') {
      await side.broker.connect();
      closer = () => side.broker.disconnect();
      publish = () => side.broker.publish(topic, { header: publishHeader(topic), body: BODY });
    } else {
      const service = await core.createService({
        name: 'bench-publisher',
        broker: side.broker,
        registry: side.registry ?? core.createMemoryRegistry(),
        logger: silent,
      });
      await service.start();
      closer = () => service.stop();
      publish = () => service.client.publish(topic, PAYLOAD);
    }
  }

  const { window, concurrency } = config;
  let handled = 0;
  let sent = 0;
  let succeeded = 0;
  let failed = 0;
  let firstError;
  let outstanding = 0;
  let stopping = false;
  let wake;
  const wakeUp = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const settled = () => {
    outstanding--;
    succeeded++;
    if (wake) wakeUp();
  };
  const failedOne = (error) => {
    outstanding--;
    failed++;
    firstError ??= String(error?.message ?? error);
    if (wake) wakeUp();
  };
  const credits = await readCredits(config.credits, (count) => {
    if (count > handled) handled = count;
    if (wake) wakeUp();
  });
  const close = closer;
  closer = async () => {
    credits.destroy();
    await close?.();
  };
  handlers.set('mark', () =>
    send({ type: 'mark', published: succeeded, cpu: cpuMicros(), at: performance.now() }),
  );

  const loop = async () => {
    while (!stopping) {
      while (sent - handled < window && outstanding < concurrency) {
        sent++;
        const result = publish();
        if (result === undefined) {
          succeeded++;
        } else {
          outstanding++;
          result.then(settled, failedOne);
        }
      }
      await new Promise((resolve) => {
        wake = resolve;
      });
    }
  };
  handlers.set('start', () => {
    loop().catch(fail);
  });
  handlers.set('stop', async () => {
    stopping = true;
    wakeUp();
    const bound = performance.now() + 30_000;
    while (outstanding > 0 && performance.now() < bound) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await send({ type: 'stopped', sent, published: succeeded, failed, outstanding, firstError });
  });
  await send({ type: 'ready' });
}

await (role === 'subscriber' ? subscriber() : publisher());
