// Checks that @micro/registry-mdns and Go go-micro's mDNS registry find and watch each
// other. Run through run.sh, which builds ./peer and puts this in a network namespace
// of its own (go-micro always uses port 5353 and every interface).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createMdnsRegistry } from '../../dist/index.js';

const PEER = process.env.PEER ?? new URL('./peer', import.meta.url).pathname;

function run(args) {
  return new Promise((resolve) => {
    const child = spawn(PEER, args);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => process.stderr.write(`[go] ${d}`));
    child.on('exit', (code) => resolve({ code, out: out.trim() }));
  });
}

function start(args) {
  const child = spawn(PEER, args);
  child.lines = [];
  let buffer = '';
  child.stdout.on('data', (d) => {
    buffer += d;
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      child.lines.push(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
    }
  });
  child.stderr.on('data', (d) => process.stderr.write(`[go] ${d}`));
  return child;
}

async function until(what, check, ms = 8_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const value = await check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const ts = createMdnsRegistry({ interface: '127.0.0.1', port: 5353 });
const watcher = await ts.watch();
const events = [];
(async () => {
  for await (const event of watcher) events.push(event);
})();

// Go registers: TypeScript watches it come, finds it, lists it, and watches it go.
const go = start(['register', 'gosvc', 'gosvc-1', '127.0.0.1:9091', '1.2.3']);
await until('the Go service to register', () => go.lines.includes('registered'));
const created = await until('a create event', () =>
  events.find((e) => e.action === 'create' && e.service.name === 'gosvc'),
);
assert.equal(created.service.nodes[0].id, 'gosvc-1');
const [found] = await ts.getService('gosvc');
assert.deepEqual(found.nodes, [
  {
    id: 'gosvc-1',
    address: '127.0.0.1:9091',
    metadata: { protocol: 'mucp', registry: 'mdns', transport: 'http' },
  },
]);
assert.equal(found.version, '1.2.3');
assert.equal(found.endpoints[0].metadata.description, 'says <hello> & more');
assert.ok((await ts.listServices()).some((s) => s.name === 'gosvc'));
go.kill('SIGTERM');
await until('a delete event', () =>
  events.find((e) => e.action === 'delete' && e.service.name === 'gosvc'),
);
console.log('ok: TypeScript sees a Go service register, answer, list and deregister');

// TypeScript registers: Go finds it, lists it, and watches it come and go.
const goWatch = start(['watch', '4s']);
await until('the Go watch to start', () => goWatch.lines.includes('watching'));
const service = {
  name: 'tssvc',
  version: 'v9',
  endpoints: [
    {
      name: 'Greeter.Hello',
      request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string' }] },
      response: null,
      metadata: { stream: 'true' },
    },
  ],
  nodes: [
    { id: 'tssvc-1', address: '127.0.0.1:7001', metadata: { protocol: 'mucp' } },
    { id: 'tssvc-2', address: '127.0.0.1:7002', metadata: { protocol: 'grpc' } },
  ],
};
await ts.register(service);
const get = await run(['get', 'tssvc']);
assert.equal(get.code, 0, get.out);
const [goFound] = JSON.parse(get.out);
assert.equal(goFound.version, 'v9');
assert.deepEqual(goFound.nodes.map((n) => [n.id, n.address, n.metadata.protocol]).sort(), [
  ['tssvc-1', '127.0.0.1:7001', 'mucp'],
  ['tssvc-2', '127.0.0.1:7002', 'grpc'],
]);
assert.equal(goFound.endpoints[0].request.values[0].name, 'name');
const list = await run(['list']);
assert.ok(
  JSON.parse(list.out).some((s) => s.name === 'tssvc'),
  list.out,
);
await ts.deregister(service);
await new Promise((resolve) => goWatch.on('exit', resolve));
const results = goWatch.lines.slice(1).map((line) => JSON.parse(line));
const seen = (action) =>
  new Set(results.filter((r) => r.Action === action).map((r) => r.Service.nodes[0].id));
assert.deepEqual([...seen('create')].sort(), ['tssvc-1', 'tssvc-2']);
assert.deepEqual([...seen('delete')].sort(), ['tssvc-1', 'tssvc-2']);
console.log('ok: Go sees a TypeScript service register, answer, list and deregister');

watcher.stop();
await ts.close();
