/**
 * The resource records go-micro's mDNS zone serves (go-micro
 * `internal/util/mdns/zone.go` `MDNSService.Records`), and the reverse: pulling
 * service entries out of a response as go-micro's client does (`client.go`
 * `messageToEntry`), one SRV with its TXT and the A/AAAA records of its target.
 */
import type mDNS from 'multicast-dns';
import { trimDot } from './names.js';

/** A resource record as the DNS packet library writes it. */
export type Answer = mDNS.ResponseOutgoingPacket['answers'][number];

/** What one published instance (a node, or a service's wildcard entry) serves. */
export interface Zone {
  /** The PTR owner: `<service>.<domain>`, or `_services.<domain>` for a wildcard entry. */
  ptrName: string;
  /** `<nodeId>.<service>.<domain>`, or `<service>._services.<domain>`. */
  instance: string;
  /** The SRV target and owner of the address records: this host's name. */
  hostname: string;
  ip: string;
  family: 4 | 6;
  port: number;
  /** The TXT character-strings. */
  txt: string[];
}

/** go-micro's SRV priority and weight. */
const SRV_PRIORITY = 10;
const SRV_WEIGHT = 1;

/** The A or AAAA record of a zone, owned by the host name (as go-micro's zone). */
export function addressRecords(zone: Zone, ttl: number): Answer[] {
  return [
    {
      name: zone.hostname,
      type: zone.family === 4 ? 'A' : 'AAAA',
      class: 'IN',
      ttl,
      data: zone.ip,
    },
  ];
}

/** The SRV record of a zone followed by its address records (go-micro's `TypeSRV` answer). */
export function srvRecords(zone: Zone, ttl: number): Answer[] {
  return [
    {
      name: zone.instance,
      type: 'SRV',
      class: 'IN',
      ttl,
      data: { priority: SRV_PRIORITY, weight: SRV_WEIGHT, port: zone.port, target: zone.hostname },
    },
    ...addressRecords(zone, ttl),
  ];
}

/** The TXT record of a zone. */
export function txtRecord(zone: Zone, ttl: number): Answer {
  return {
    name: zone.instance,
    type: 'TXT',
    class: 'IN',
    ttl,
    data: zone.txt.map((text) => Buffer.from(text, 'utf8')),
  };
}

/** go-micro's answer to `ANY` on an instance name: SRV, A/AAAA, TXT. */
export function instanceRecords(zone: Zone, ttl: number): Answer[] {
  return [...srvRecords(zone, ttl), txtRecord(zone, ttl)];
}

/** go-micro's answer to `PTR` on a service name: the PTR, then the instance records. */
export function serviceRecords(zone: Zone, ttl: number): Answer[] {
  return [ptrRecord(zone.ptrName, zone.instance, ttl), ...instanceRecords(zone, ttl)];
}

/** A PTR record. */
export function ptrRecord(name: string, target: string, ttl: number): Answer {
  return { name, type: 'PTR', class: 'IN', ttl, data: target };
}

/**
 * The records a zone answers for a question on its instance name, as go-micro's
 * `instanceRecords` (plus `PTR`, answered like `ANY`, which go-micro's own watcher sends
 * to complete an entry).
 */
export function instanceAnswer(zone: Zone, type: string, ttl: number): Answer[] {
  switch (type) {
    case 'ANY':
    case 'PTR':
      return instanceRecords(zone, ttl);
    case 'SRV':
      return srvRecords(zone, ttl);
    case 'TXT':
      return [txtRecord(zone, ttl)];
    case 'A':
      return zone.family === 4 ? addressRecords(zone, ttl) : [];
    case 'AAAA':
      return zone.family === 6 ? addressRecords(zone, ttl) : [];
    default:
      return [];
  }
}

function nameLength(name: string): number {
  const trimmed = trimDot(name);
  if (trimmed.length === 0) return 1;
  return trimmed.split('.').reduce((sum, label) => sum + Buffer.byteLength(label) + 1, 1);
}

/**
 * The size of a response packet holding these records, as the packet library writes
 * it (no name compression).
 */
export function packetSize(answers: readonly Answer[]): number {
  let size = 12;
  for (const answer of answers) {
    size += nameLength(answer.name) + 10;
    switch (answer.type) {
      case 'A':
        size += 4;
        break;
      case 'AAAA':
        size += 16;
        break;
      case 'PTR':
        size += nameLength(answer.data);
        break;
      case 'SRV':
        size += 6 + nameLength(answer.data.target);
        break;
      case 'TXT': {
        const data = Array.isArray(answer.data) ? answer.data : [answer.data];
        for (const item of data) size += Buffer.byteLength(item) + 1;
        break;
      }
      default:
        break;
    }
  }
  return size;
}

/** A service instance pulled out of a response: an SRV with its TXT and address. */
export interface MdnsEntry {
  /** The instance name, without the trailing dot. */
  instance: string;
  /** The SRV target. */
  host: string;
  port: number;
  ipv4: string | undefined;
  ipv6: string | undefined;
  /** The TXT character-strings (possibly none). */
  txt: string[];
  /** The smallest TTL of its SRV and TXT records, in seconds. */
  ttl: number;
}

/** What a response says about service instances. */
export interface ResponseContent {
  /** Complete instances with a TTL above 0. */
  entries: MdnsEntry[];
  /** Instances said goodbye to: a PTR to them, their SRV or their TXT with TTL 0. */
  goodbyes: string[];
  /** Instances with an SRV but no TXT or no address: not usable. */
  incomplete: string[];
}

interface RawRecord {
  name: string;
  type: string;
  ttl: number;
  data: unknown;
}

function isRecord(value: unknown): value is RawRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<RawRecord>;
  return (
    typeof record.name === 'string' &&
    typeof record.type === 'string' &&
    Number.isFinite(record.ttl)
  );
}

function txtStrings(data: unknown): string[] | undefined {
  const items = Array.isArray(data) ? data : [data];
  const out: string[] = [];
  for (const item of items) {
    if (Buffer.isBuffer(item)) out.push(item.toString('utf8'));
    else if (typeof item === 'string') out.push(item);
    else return undefined;
  }
  return out;
}

/**
 * Reads the service instances out of a decoded response: for every SRV record, its
 * TXT record and the A/AAAA records of its target, from the answer and additional
 * sections of this one packet. Anything malformed is skipped.
 * @param packet a decoded DNS packet
 */
export function readResponse(packet: {
  answers?: readonly unknown[];
  additionals?: readonly unknown[];
}): ResponseContent {
  const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])].filter(isRecord);
  const srv = new Map<string, { name: string; port: number; target: string; ttl: number }>();
  const txt = new Map<string, { strings: string[]; ttl: number }>();
  const ipv4 = new Map<string, string>();
  const ipv6 = new Map<string, string>();
  const goodbyes = new Set<string>();
  for (const record of records) {
    const name = trimDot(record.name);
    const key = name.toLowerCase();
    switch (record.type) {
      case 'SRV': {
        const data = record.data as { port?: unknown; target?: unknown } | null;
        if (typeof data?.port !== 'number' || typeof data.target !== 'string') break;
        srv.set(key, { name, port: data.port, target: trimDot(data.target), ttl: record.ttl });
        if (record.ttl === 0) goodbyes.add(name);
        break;
      }
      case 'TXT': {
        const strings = txtStrings(record.data);
        if (!strings) break;
        txt.set(key, { strings, ttl: record.ttl });
        if (record.ttl === 0) goodbyes.add(name);
        break;
      }
      case 'A':
        if (typeof record.data === 'string' && !ipv4.has(key)) ipv4.set(key, record.data);
        break;
      case 'AAAA':
        if (typeof record.data === 'string' && !ipv6.has(key)) ipv6.set(key, record.data);
        break;
      case 'PTR':
        if (record.ttl === 0 && typeof record.data === 'string') goodbyes.add(trimDot(record.data));
        break;
      default:
        break;
    }
  }
  const entries: MdnsEntry[] = [];
  const incomplete: string[] = [];
  for (const [key, service] of srv) {
    const text = txt.get(key);
    const host = service.target.toLowerCase();
    const v4 = ipv4.get(host);
    const v6 = ipv6.get(host);
    const ttl = Math.min(service.ttl, text?.ttl ?? service.ttl);
    if (ttl === 0) continue;
    if (!text || (v4 === undefined && v6 === undefined) || service.port === 0) {
      incomplete.push(service.name);
      continue;
    }
    entries.push({
      instance: service.name,
      host: service.target,
      port: service.port,
      ipv4: v4,
      ipv6: v6,
      txt: text.strings,
      ttl,
    });
  }
  return { entries, goodbyes: [...goodbyes], incomplete };
}
