// The TypeScript side of the interop check (run by run.sh inside a private network
// namespace, with PEER = the built Go peer). Both sides use mDNS on 127.0.0.1:5353.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createHttpBroker, SERVICE_NAME } from '../../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const { createMdnsRegistry } = await import(
  join(here, '..', '..', '..', 'registry-mdns', 'dist', 'index.js')
);
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const registry = createMdnsRegistry({ interface: '127.0.0.1', logger: silent });
const broker = createHttpBroker({ registry, logger: silent });
await broker.connect();

const children = new Set();
const fail = (error) => {
  process.stderr.write(`FAIL ${error?.stack ?? error}\n`);
  for (const child of children) child.kill('SIGKILL');
  process.exit(1);
};
process.on('unhandledRejection', fail);
const timer = setTimeout(() => fail(new Error('interop check timed out')), 60_000);

/** Runs the Go peer; `lines` collects its JSON output. */
function peer(...args) {
  const child = spawn(process.env.PEER, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.lines = [];
  child.exited = new Promise((resolve) => child.once('exit', resolve));
  createInterface({ input: child.stdout }).on('line', (line) => child.lines.push(JSON.parse(line)));
  return child;
}

async function until(what, check, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ok = (what) => process.stdout.write(`ok   ${what}\n`);

// 1. Go publishes, TypeScript subscribes (broadcast and a queue).
{
  const got = [];
  const record = (event) =>
    got.push({
      topic: event.topic,
      header: event.message.header,
      body: Buffer.from(event.message.body).toString('utf8'),
    });
  await broker.subscribe('interop.go-to-ts', record);
  await broker.subscribe('interop.go-to-ts.queue', record, { queue: 'workers' });
  const one = peer('publish', 'interop.go-to-ts', '3');
  const two = peer('publish', 'interop.go-to-ts.queue', '3');
  await Promise.all([one.exited, two.exited]);
  await until('6 messages from Go', () => got.length === 6);
  for (const topic of ['interop.go-to-ts', 'interop.go-to-ts.queue']) {
    const mine = got.filter((m) => m.topic === topic);
    assert.deepEqual(mine.map((m) => m.body).sort(), ['go0', 'go1', 'go2']);
    for (const m of mine) {
      assert.deepEqual(m.header, {
        'Content-Type': 'text/plain',
        'Micro-Topic': topic,
        'X-From': 'go',
      });
    }
  }
  ok('Go publish -> TypeScript subscribers (broadcast and queue): bodies and headers intact');
}

// 2. TypeScript publishes, Go subscribes; Go's registry record reads like ours.
for (const [topic, queue] of [
  ['interop.ts-to-go', undefined],
  ['interop.ts-to-go.queue', 'workers'],
]) {
  const go = peer('subscribe', topic, ...(queue ? [queue] : []));
  await until('the Go subscriber', () => go.lines.some((l) => l.ready));
  let node;
  await until(`Go's ${topic} subscription in mDNS`, async () => {
    const services = await registry.getService(SERVICE_NAME).catch(() => []);
    const service = services.find((s) => s.nodes.some((n) => n.metadata?.topic === topic));
    node = service?.nodes.find((n) => n.metadata?.topic === topic);
    if (node) assert.equal(service.version, queue ?? 'ff.http.broadcast');
    return node !== undefined;
  });
  assert.match(node.id, new RegExp(`^${topic.replace(/\./g, '\\.')}-[0-9a-f-]{36}$`));
  assert.deepEqual(node.metadata, { broker: 'http', secure: 'false', topic });
  for (let i = 0; i < 3; i++) {
    await broker.publish(topic, {
      header: { 'Content-Type': 'text/plain', 'X-From': 'ts' },
      body: Buffer.from(`ts${i}`),
    });
  }
  await until('3 messages at Go', () => go.lines.filter((l) => l.got).length === 3);
  const received = go.lines.filter((l) => l.got);
  assert.deepEqual(
    received.map((l) => l.got),
    ['ts0', 'ts1', 'ts2'],
  );
  for (const l of received) {
    assert.equal(l.topic, topic);
    assert.deepEqual(l.header, {
      'Content-Type': 'text/plain',
      'Micro-Topic': topic,
      'X-From': 'ts',
    });
  }
  ok(
    `TypeScript publish -> Go subscriber (${queue ? `queue ${queue}` : 'broadcast'}); Go's record matches`,
  );
  go.kill('SIGTERM');
  await go.exited;
  children.delete(go);
}

clearTimeout(timer);
await broker.disconnect();
await registry.close();
process.stdout.write('PASS go-micro HTTP broker interop\n');
process.exit(0);
