import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { hostname } from 'node:os';
import { inflateSync } from 'node:zlib';
import { afterAll, afterEach, expect, it } from '@jest/globals';
import { encodeZlibHex, type Logger, type Service, silentLogger } from '@micro/core';
import { describeWithServer, randomName, waitFor, within } from '@micro/testing';
import makeMdns from 'multicast-dns';
import { createMdnsRegistry, encodeMdnsTxt, type MdnsRegistry } from '../src/index.js';

const PORT = Number(process.env.MICRO_TEST_MDNS_PORT ?? 15353);
const GROUP = '224.0.0.251';

type Mdns = ReturnType<typeof makeMdns>;
interface Packet {
  id: number;
  flags: number;
  questions: { name: string; type: string }[];
  answers: { name: string; type: string; ttl: number; data: unknown }[];
}

describeWithServer('mDNS on the wire', ['MICRO_TEST_MDNS_INTERFACE'], (env) => {
  const iface = env.MICRO_TEST_MDNS_INTERFACE;
  const cleanups: (() => Promise<void> | void)[] = [];
  const registry = (logger: Logger = silentLogger): MdnsRegistry => {
    const r = createMdnsRegistry({ interface: iface, port: PORT, logger });
    cleanups.push(() => r.close());
    return r;
  };

  /** A plain multicast-dns instance on the group port, as any mDNS tool would be. */
  const peer = async (): Promise<Mdns> => {
    const m = makeMdns({ interface: iface, bind: '0.0.0.0', port: PORT });
    cleanups.push(() => new Promise<void>((resolve) => m.destroy(() => resolve())));
    await within(new Promise((resolve) => m.once('ready', resolve)), 5_000, 'the peer to bind');
    return m;
  };

  /** A one-shot querier on its own port, as go-micro's client is. */
  const oneShot = async (): Promise<{ mdns: Mdns; socket: Socket }> => {
    const socket = createSocket({ type: 'udp4' });
    await new Promise<void>((resolve) => socket.bind(0, iface, resolve));
    socket.setMulticastInterface(iface);
    const mdns = makeMdns({ socket, bind: false, multicast: false, port: PORT });
    cleanups.push(() => new Promise<void>((resolve) => mdns.destroy(() => resolve())));
    return { mdns, socket };
  };

  /** Collects responses whose answers mention `name` until `done` says so. */
  const collect = (
    m: Mdns,
    name: string,
    done: (packets: Packet[]) => boolean,
    what: string,
  ): Promise<Packet[]> => {
    const packets: Packet[] = [];
    return within(
      new Promise<Packet[]>((resolve) => {
        m.on('response', (packet: Packet) => {
          if (!packet.answers.some((a) => a.name.includes(name))) return;
          packets.push(packet);
          if (done(packets)) resolve(packets);
        });
      }),
      3_000,
      what,
    );
  };

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const host = hostname();
  const endpoints = Array.from({ length: 6 }, (_, i) => ({
    name: `Greeter.Method${i}`,
    request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string' }] },
    response: { name: 'Response', type: 'Response', values: null },
    metadata: { description: `endpoint <${i}> & more` },
  }));
  const makeService = (name: string): Service => ({
    name,
    version: '1.0.0',
    metadata: { dropped: 'by go-micro' },
    endpoints,
    nodes: [
      { id: `${name}-a`, address: '127.0.0.1:41001', metadata: { protocol: 'mucp', zone: 'a' } },
      { id: `${name}-b`, address: '127.0.0.2:41002', metadata: { protocol: 'grpc' } },
    ],
  });

  function checkNodePacket(packet: Packet, name: string, node: Service['nodes'][number]) {
    const instance = `${node.id}.${name}.micro`;
    const [ip, port] = node.address.split(':');
    expect(packet.answers.map((a) => [a.type, a.name, a.ttl])).toEqual([
      ['PTR', `${name}.micro`, 120],
      ['SRV', instance, 120],
      ['A', host, 120],
      ['TXT', instance, 120],
    ]);
    const [ptr, srv, a, txt] = packet.answers;
    expect(ptr!.data).toBe(instance);
    expect(srv!.data).toEqual({ priority: 10, weight: 1, port: Number(port), target: host });
    expect(a!.data).toBe(ip);
    const strings = (txt!.data as Buffer[]).map((b) => b.toString());
    expect(strings.length).toBeGreaterThan(1);
    for (const s of strings) expect(s.length).toBeLessThanOrEqual(255);
    const json = inflateSync(Buffer.from(strings.join(''), 'hex')).toString();
    const metadata = Object.entries(node.metadata ?? {})
      .sort(([x], [y]) => (x < y ? -1 : 1))
      .map(([k, v]) => `"${k}":"${v}"`)
      .join(',');
    const endpointJson = endpoints
      .map(
        (e, i) =>
          `{"request":{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"Response","type":"Response","values":null},"metadata":{"description":"endpoint \\u003c${i}\\u003e \\u0026 more"},"name":"${e.name}"}`,
      )
      .join(',');
    expect(json).toBe(
      `{"Metadata":{${metadata}},"Service":"${name}","Version":"1.0.0","Endpoints":[${endpointJson}]}`,
    );
  }

  it("answers a PTR query with go-micro's records, one node per packet, by multicast", async () => {
    const r = registry();
    const name = randomName('wire');
    const service = makeService(name);
    await r.register(service);
    const m = await peer();
    const answers = collect(m, `.${name}.micro`, (p) => p.length >= 2, 'two node answers');
    m.query({ questions: [{ name: `${name}.micro`, type: 'PTR' }] });
    const packets = await answers;
    const byNode = new Map(packets.map((p) => [p.answers[0]!.data as string, p]));
    for (const node of service.nodes) {
      const packet = byNode.get(`${node.id}.${name}.micro`)!;
      expect(packet).toBeDefined();
      expect(packet.id).toBe(0);
      expect(packet.flags & 0x0400).toBe(0x0400); // authoritative
      expect(packet.questions).toEqual([{ name: `${name}.micro`, type: 'PTR', class: 'IN' }]);
      checkNodePacket(packet, name, node);
    }
  });

  it('answers a one-shot querier (go-micro client) by unicast, echoing question and id', async () => {
    const r = registry();
    const name = randomName('wire');
    const service = makeService(name);
    await r.register(service);
    const { mdns, socket } = await oneShot();
    const from: RemoteInfo[] = [];
    mdns.on('response', (_p: Packet, rinfo: RemoteInfo) => from.push(rinfo));
    const answers = collect(mdns, `.${name}.micro`, (p) => p.length >= 2, 'two unicast answers');
    mdns.query({ id: 4242, questions: [{ name: `${name}.micro`, type: 'PTR' }] });
    const packets = await answers;
    expect(packets.map((p) => p.id)).toEqual([4242, 4242]);
    for (const p of packets) expect(p.questions[0]!.name).toBe(`${name}.micro`);
    expect(from.every((rinfo) => rinfo.port === PORT)).toBe(true);
    expect(socket.address().port).not.toBe(PORT);
    const a = packets.find((p) => p.answers[0]!.data === `${name}-a.${name}.micro`)!;
    checkNodePacket(a, name, service.nodes[0]!);
  });

  it("publishes go-micro's wildcard entry and the DNS-SD enumeration", async () => {
    const r = registry();
    const name = randomName('wire');
    await r.register(makeService(name));
    const m = await peer();
    const wildcard = collect(m, `${name}._services.micro`, (p) => p.length >= 1, 'the wildcard');
    m.query({ questions: [{ name: '_services.micro', type: 'PTR' }] });
    const [packet] = await wildcard;
    expect(packet!.answers.map((a) => [a.type, a.name, a.data])).toEqual([
      ['PTR', '_services.micro', `${name}._services.micro`],
      ['SRV', `${name}._services.micro`, { priority: 10, weight: 1, port: 9999, target: host }],
      ['A', host, '0.0.0.0'],
      ['TXT', `${name}._services.micro`, []],
    ]);
    const enumeration = collect(m, '_dns-sd', (p) => p.length >= 1, 'the enumeration');
    m.query({ questions: [{ name: '_services._dns-sd._udp.micro', type: 'PTR' }] });
    const [listed] = await enumeration;
    expect(listed!.answers.map((a) => a.data)).toContain(`${name}.micro`);
  });

  it('announces on register and says goodbye (TTL 0) on deregister', async () => {
    const m = await peer();
    const r = registry();
    const name = randomName('wire');
    const service = makeService(name);
    const announced = collect(m, `.${name}.micro`, (p) => p.length >= 1, 'the announcement');
    await r.register({ ...service, nodes: [service.nodes[0]!] });
    const [announcement] = await announced;
    expect(announcement!.answers.map((a) => [a.type, a.ttl])).toEqual([
      ['PTR', 120],
      ['SRV', 120],
      ['A', 120],
      ['TXT', 120],
    ]);
    checkNodePacket(announcement!, name, service.nodes[0]!);
    const goodbye = collect(
      m,
      `.${name}.micro`,
      (p) => p.some((x) => x.answers.every((a) => a.ttl === 0)),
      'the goodbye',
    );
    await r.deregister(service);
    const packets = await goodbye;
    expect(packets.at(-1)!.answers.map((a) => [a.type, a.ttl])).toEqual([
      ['PTR', 0],
      ['SRV', 0],
      ['A', 0],
      ['TXT', 0],
    ]);
    packets.push(announcement!);
    expect(packets.every((p) => p.questions.length === 0)).toBe(true);
  });

  it('ignores malformed packets and foreign TXT, and keeps answering', async () => {
    const debug: string[] = [];
    const logger: Logger = { ...silentLogger, debug: (message) => debug.push(message) };
    const owner = registry();
    const reader = registry(logger);
    const name = randomName('junk');
    await owner.register({
      name,
      version: 'v1',
      nodes: [{ id: `${name}-good`, address: '127.0.0.1:41010' }],
    });
    const watch = await reader.watch({ service: name });
    const created = await within(watch.next(), 3_000, 'the good node');
    expect(created.service.nodes[0]!.id).toBe(`${name}-good`);

    const raw = createSocket({ type: 'udp4' });
    cleanups.push(() => new Promise<void>((resolve) => raw.close(() => resolve())));
    await new Promise<void>((resolve) => raw.bind(0, iface, resolve));
    raw.setMulticastInterface(iface);
    const send = (bytes: Buffer) =>
      new Promise<void>((resolve, reject) =>
        raw.send(bytes, PORT, GROUP, (error) => (error ? reject(error) : resolve())),
      );
    const sender = makeMdns({ socket: raw, bind: false, multicast: false, port: PORT });
    const respond = (txt: string[], id: string) =>
      new Promise<void>((resolve) =>
        sender.respond(
          {
            answers: [
              { name: `${name}.micro`, type: 'PTR', ttl: 120, data: `${id}.${name}.micro` },
              {
                name: `${id}.${name}.micro`,
                type: 'SRV',
                ttl: 120,
                data: { port: 1, target: 'h' },
              },
              { name: 'h', type: 'A', ttl: 120, data: '127.0.0.1' },
              { name: `${id}.${name}.micro`, type: 'TXT', ttl: 120, data: txt },
            ],
          },
          () => resolve(),
        ),
      );

    await send(Buffer.from('definitely not dns'));
    await send(Buffer.from([0, 0, 0x84, 0, 0, 1, 0, 1])); // a header cut short
    await send(Buffer.from([0, 0, 0x84, 0, 0, 0, 0, 9, 0, 0, 0, 0, 3, 0x61])); // 9 answers, 1 byte
    await respond(['zz-not-hex'], `${name}-nothex`);
    await respond([encodeZlibHex('not json at all')], `${name}-notjson`);
    await respond([encodeZlibHex('{"Service":7}')], `${name}-badtype`);
    await respond(encodeMdnsTxt({ name: 'other', version: 'v' }, { metadata: {} }), `${name}-x`);

    await waitFor('the junk to be logged', () => debug.length >= 7, { timeout: 3_000 });
    expect(debug).toContain('mdns: ignoring a malformed packet');
    expect(debug).toContain('mdns: ignoring an instance whose TXT is not go-micro encoding');

    const [found] = await reader.getService(name);
    expect(found!.nodes.map((n) => n.id)).toEqual([`${name}-good`]);
    await owner.deregister({ name, version: 'v1', nodes: [{ id: `${name}-good`, address: '' }] });
    const next = await within(watch.next(), 3_000, 'the delete');
    expect([next.action, next.service.nodes[0]!.id]).toEqual(['delete', `${name}-good`]);
    watch.stop();
  });

  it('asks again before a TTL runs out, and reports a node that stops answering as deleted', async () => {
    const reader = registry();
    const name = randomName('ttl');
    const instance = `${name}-ghost.${name}.micro`;
    const txt = encodeMdnsTxt({ name, version: 'v1', endpoints: [] }, { metadata: {} });
    const m = await peer();
    let alive = true;
    let refreshes = 0;
    const records = (ttl: number) => [
      { name: `${name}.micro`, type: 'PTR' as const, ttl, data: instance },
      { name: instance, type: 'SRV' as const, ttl, data: { port: 4100, target: 'ghost' } },
      { name: 'ghost', type: 'A' as const, ttl, data: '127.0.0.1' },
      { name: instance, type: 'TXT' as const, ttl, data: txt },
    ];
    m.on('query', (query: Packet, rinfo: RemoteInfo) => {
      if (!alive || !query.questions.some((q) => q.name === `${name}.micro`)) return;
      refreshes += 1;
      m.respond({ answers: records(2) }, { port: rinfo.port, address: rinfo.address });
    });
    const watch = await reader.watch({ service: name });
    m.respond({ answers: records(2) }); // announce with a 2 s TTL
    const created = await within(watch.next(), 3_000, 'the create');
    expect(created.action).toBe('create');

    // alive: it answers the watch's refresh queries, so it outlives its TTL
    let early: string | undefined;
    const pending = watch.next();
    pending.then(
      (event) => {
        early = event.action;
      },
      () => {},
    );
    await waitFor('three refresh queries answered', () => refreshes >= 3, { timeout: 8_000 });
    expect(early).toBeUndefined();

    // silent: gone within its TTL
    alive = false;
    const started = Date.now();
    const deleted = await within(pending, 4_000, 'the delete of the silent node');
    expect([deleted.action, deleted.service.nodes[0]!.id]).toEqual(['delete', `${name}-ghost`]);
    expect(Date.now() - started).toBeLessThanOrEqual(2_500);
    watch.stop();
  }, 20_000);
});
