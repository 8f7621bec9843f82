import { createRequire } from 'node:module';
import { describe, expect, it } from '@jest/globals';
import {
  instanceAnswer,
  packetSize,
  readResponse,
  serviceRecords,
  type Zone,
} from '../src/records.js';

// The packet library multicast-dns encodes with, to check sizes and round trips.
const dnsPacket = createRequire(require.resolve('multicast-dns'))('dns-packet') as {
  encode(packet: object): Buffer;
  decode(buffer: Buffer): { answers: unknown[]; additionals: unknown[] };
};

const zone: Zone = {
  ptrName: 'helloworld.micro',
  instance: 'helloworld-1.helloworld.micro',
  hostname: 'myhost',
  ip: '10.0.0.5',
  family: 4,
  port: 41234,
  txt: ['a'.repeat(255), 'b'.repeat(10)],
};

describe('mDNS records', () => {
  it("serves go-micro's records for a node: PTR, SRV (10, 1), A at the host name, TXT", () => {
    expect(serviceRecords(zone, 120)).toEqual([
      { name: 'helloworld.micro', type: 'PTR', class: 'IN', ttl: 120, data: zone.instance },
      {
        name: zone.instance,
        type: 'SRV',
        class: 'IN',
        ttl: 120,
        data: { priority: 10, weight: 1, port: 41234, target: 'myhost' },
      },
      { name: 'myhost', type: 'A', class: 'IN', ttl: 120, data: '10.0.0.5' },
      {
        name: zone.instance,
        type: 'TXT',
        class: 'IN',
        ttl: 120,
        data: [Buffer.from('a'.repeat(255)), Buffer.from('b'.repeat(10))],
      },
    ]);
  });

  it('uses AAAA for an IPv6 node and answers each question type as go-micro', () => {
    const v6: Zone = { ...zone, ip: 'fe80::1', family: 6 };
    expect(instanceAnswer(v6, 'AAAA', 120)).toEqual([
      { name: 'myhost', type: 'AAAA', class: 'IN', ttl: 120, data: 'fe80::1' },
    ]);
    expect(instanceAnswer(v6, 'A', 120)).toEqual([]);
    expect(instanceAnswer(zone, 'SRV', 120).map((r) => r.type)).toEqual(['SRV', 'A']);
    expect(instanceAnswer(zone, 'TXT', 120).map((r) => r.type)).toEqual(['TXT']);
    expect(instanceAnswer(zone, 'ANY', 120).map((r) => r.type)).toEqual(['SRV', 'A', 'TXT']);
    expect(instanceAnswer(zone, 'MX', 120)).toEqual([]);
  });

  it('knows the encoded size of a packet', () => {
    const answers = serviceRecords(zone, 120);
    expect(packetSize(answers)).toBe(dnsPacket.encode({ type: 'response', answers }).length);
    const v6 = serviceRecords({ ...zone, ip: '::1', family: 6, txt: [] }, 0);
    expect(packetSize(v6)).toBe(dnsPacket.encode({ type: 'response', answers: v6 }).length);
  });

  it('reads back an entry from a response, A record matched by the SRV target', () => {
    const packet = dnsPacket.decode(
      dnsPacket.encode({ type: 'response', answers: serviceRecords(zone, 120) }),
    );
    expect(readResponse(packet)).toEqual({
      entries: [
        {
          instance: zone.instance,
          host: 'myhost',
          port: 41234,
          ipv4: '10.0.0.5',
          ipv6: undefined,
          txt: zone.txt,
          ttl: 120,
        },
      ],
      goodbyes: [],
      incomplete: [],
    });
  });

  it('reads records from the additional section and names in any case', () => {
    const [ptr, srv, a, txt] = serviceRecords(zone, 60);
    const packet = {
      answers: [ptr],
      additionals: [
        { ...txt, data: zone.txt.map((s) => Buffer.from(s)), name: zone.instance.toUpperCase() },
        { ...a, name: 'MYHOST' },
        srv,
      ],
    };
    const { entries } = readResponse(packet);
    expect(entries.map((e) => [e.instance, e.ipv4, e.ttl])).toEqual([
      [zone.instance, '10.0.0.5', 60],
    ]);
  });

  it('reports goodbyes (TTL 0) and never returns them as entries', () => {
    const packet = { answers: serviceRecords(zone, 0) };
    expect(readResponse(packet)).toEqual({
      entries: [],
      goodbyes: [zone.instance],
      incomplete: [],
    });
  });

  it('skips an SRV without TXT or address, and malformed records', () => {
    const [, srv, a] = serviceRecords(zone, 120);
    expect(readResponse({ answers: [srv, a] }).incomplete).toEqual([zone.instance]);
    expect(readResponse({ answers: [srv] }).incomplete).toEqual([zone.instance]);
    const junk = [
      null,
      7,
      { name: 'x' },
      { name: 'x', type: 'SRV', ttl: 1, data: null },
      { name: 'x', type: 'TXT', ttl: 1, data: [{}] },
      { name: 'x', type: 'A', ttl: 'soon', data: '1.2.3.4' },
    ];
    expect(readResponse({ answers: junk })).toEqual({ entries: [], goodbyes: [], incomplete: [] });
  });
});
