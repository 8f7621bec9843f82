import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { networkInterfaces, hostname as osHostname } from 'node:os';
import {
  badRequest,
  createConsoleLogger,
  ErrorIds,
  type Logger,
  mergeByVersion,
  normalizeService,
  notFound,
  payloadTooLarge,
  QueueWatcher,
  type RegisterOptions,
  type Registry,
  type Service,
  unavailable,
  type WatchAction,
  type Watcher,
  type WatchOptions,
} from '@micro/core';
import type mDNS from 'multicast-dns';
import makeMdns from 'multicast-dns';
import { decodeMdnsTxt, encodeMdnsTxt } from './encoding.js';
import {
  enumerationName,
  instanceName,
  invalidDnsName,
  joinHostPort,
  listName,
  nodeIdOf,
  parseAddress,
  serviceName,
  serviceOfWildcard,
  trimDot,
  wildcardName,
} from './names.js';
import {
  DEFAULT_MDNS_DOMAIN,
  DEFAULT_MDNS_PORT,
  DEFAULT_MDNS_TIMEOUT,
  MDNS_GROUP_IPV4,
  MDNS_RECORD_TTL,
  type MdnsRegistryOptions,
} from './options.js';
import {
  type Answer,
  addressRecords,
  instanceAnswer,
  type MdnsEntry,
  packetSize,
  ptrRecord,
  type ResponseContent,
  readResponse,
  serviceRecords,
  type Zone,
} from './records.js';

type MulticastDns = ReturnType<typeof makeMdns>;
type Question = mDNS.QueryOutgoingPacket['questions'][number];

/** The largest UDP payload over IPv4. */
const MAX_UDP_PAYLOAD = 65_507;
/** RFC 6762 §17: an mDNS packet, with its IP and UDP headers, should not exceed 9000 bytes. */
const MDNS_PACKET_LIMIT = 9_000 - 28;
/** go-micro's announcements after a register: now, 1 s later, 2 s after that. */
const ANNOUNCE_DELAYS = [1_000, 3_000];
/** When a watched node is asked for again, as fractions of its record TTL (RFC 6762 §5.2). */
const REFRESH_AT = [0.8, 0.85, 0.9, 0.95];
/** How long packets about a node this registry deregistered are ignored. */
const TOMBSTONE_MS = 5_000;
/** go-micro's wildcard entry port. */
const WILDCARD_PORT = 9999;
/** A question's class with the unicast-response bit (RFC 6762 §5.4), as the packet library names it. */
const QU_CLASS = 'UNKNOWN_32769';

/** A node this registry publishes. */
interface LocalNode {
  zone: Zone;
  /** What others decode from the zone, so local reads equal remote ones. */
  service: Service;
  /** Changes when anything published changes. */
  fingerprint: string;
  timers: NodeJS.Timeout[];
}

/** A node a watch knows about. */
interface KnownNode {
  service: Service;
  fingerprint: string;
  local: boolean;
  /** When it last answered or announced, in ms since the epoch. */
  seenAt: number;
  /** Its record TTL, in milliseconds. */
  ttl: number;
  /** How many of the {@link REFRESH_AT} queries were sent since it was last seen. */
  refreshes: number;
}

interface Sockets {
  main: MulticastDns;
  mainSocket: Socket;
  query: MulticastDns;
  querySocket: Socket;
  memberships: string[];
}

type Collector = (content: ResponseContent) => void;

/** The fields of a decoded packet this registry reads; everything is checked before use. */
interface IncomingPacket {
  id?: number;
  flags?: number;
  questions?: unknown[];
  answers?: unknown[];
  additionals?: unknown[];
}

interface IncomingQuestion {
  name: string;
  type: string;
  class?: string;
}

function isQuestion(value: unknown): value is IncomingQuestion {
  if (typeof value !== 'object' || value === null) return false;
  const question = value as Partial<IncomingQuestion>;
  return typeof question.name === 'string' && typeof question.type === 'string';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function ipToNumber(ip: string): number {
  return ip.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
}

/**
 * go-micro's default registry: service discovery by multicast DNS, with no server. Each
 * registry answers queries for the nodes it registered, and finds other nodes by asking
 * the group. Records are laid out exactly as go-micro's mDNS registry lays them out, so
 * Go and TypeScript services on one network find each other.
 *
 * @example
 * const registry = createMdnsRegistry({ interface: '192.168.1.20' });
 * await registry.register({ name: 'helloworld', version: 'latest', nodes: [{ id: 'helloworld-1', address: '192.168.1.20:41234' }] });
 * const [service] = await registry.getService('helloworld');
 */
export class MdnsRegistry implements Registry {
  /** go-micro's name for this registry, as it appears in node metadata. */
  readonly name = 'mdns';
  readonly #interface: string | undefined;
  readonly #port: number;
  readonly #domain: string;
  readonly #timeout: number;
  readonly #logger: Logger;
  readonly #hostname: string;
  /** Keyed by lower-cased instance name. */
  readonly #local = new Map<string, LocalNode>();
  /** Lower-cased instance names deregistered here → until when their packets are ignored. */
  readonly #tombstones = new Map<string, number>();
  readonly #collectors = new Set<Collector>();
  readonly #watchers = new Set<{ watcher: QueueWatcher; service: string | undefined }>();
  /** What the watches know, keyed by lower-cased instance name; only while someone watches. */
  #known: Map<string, KnownNode> | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #starting: Promise<Sockets> | undefined;
  #sockets: Sockets | undefined;
  #accepts: (address: string) => boolean = () => true;
  #closed = false;

  /**
   * @param options interface, port, domain, timeout and logger
   * @throws {@link MicroError} 400 when an option is invalid
   */
  constructor(options: MdnsRegistryOptions = {}) {
    const iface = options.interface;
    if (iface !== undefined && !isIPv4(iface)) {
      throw badRequest(ErrorIds.registry, `mdns: interface must be an IPv4 address, got ${iface}`);
    }
    const port = options.port ?? DEFAULT_MDNS_PORT;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw badRequest(ErrorIds.registry, `mdns: port must be 1 to 65535, got ${port}`);
    }
    const domain = trimDot(options.domain ?? DEFAULT_MDNS_DOMAIN);
    const domainProblem = invalidDnsName(domain);
    if (domainProblem) throw badRequest(ErrorIds.registry, `mdns: domain ${domainProblem}`);
    const timeout = options.timeout ?? DEFAULT_MDNS_TIMEOUT;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw badRequest(ErrorIds.registry, `mdns: timeout must be above 0 ms, got ${timeout}`);
    }
    this.#interface = iface;
    this.#port = port;
    this.#domain = domain;
    this.#timeout = timeout;
    this.#logger = options.logger ?? createConsoleLogger({ name: 'registry-mdns' });
    const host = trimDot(osHostname());
    this.#hostname = host && !invalidDnsName(host) ? host : 'localhost';
  }

  /**
   * Publishes the service's nodes: this registry answers queries for them from now on,
   * and announces them to the group (now, after 1 s and after 3 s, as go-micro). A node
   * registered again unchanged is left alone; a changed one is announced again.
   * mDNS records have no register TTL: a node stays until deregistered or until this
   * registry closes (`options.ttl` is not used, as in go-micro).
   * @param service the service with the nodes to publish
   * @param _options not used by mDNS
   * @throws {@link MicroError} 400 when a node address is not `ip:port` or a name cannot
   *   be a DNS name; 413 when a node's records do not fit in one UDP packet; 503 when
   *   the registry is closed or cannot open its sockets
   */
  async register(service: Service, _options?: RegisterOptions): Promise<void> {
    if (this.#closed) throw this.#closedError();
    const prepared = this.#prepare(service);
    await this.#start();
    if (this.#closed) throw this.#closedError();
    const sends: Promise<void>[] = [];
    for (const node of prepared) {
      const key = node.zone.instance.toLowerCase();
      const previous = this.#local.get(key);
      if (previous?.fingerprint === node.fingerprint) continue;
      if (previous) for (const timer of previous.timers) clearTimeout(timer);
      this.#local.set(key, node);
      this.#tombstones.delete(key);
      this.#observeLocal(key, node);
      sends.push(this.#announce(node));
    }
    this.#updateRef();
    await Promise.all(sends);
  }

  /**
   * Stops publishing the service's nodes and sends goodbye records (TTL 0) for them,
   * so watchers elsewhere see them go at once. Unknown nodes are ignored.
   * @param service the service with the nodes to remove
   */
  async deregister(service: Service): Promise<void> {
    const goodbyes: Promise<void>[] = [];
    const now = Date.now();
    for (const [key, until] of this.#tombstones) if (until <= now) this.#tombstones.delete(key);
    for (const node of service.nodes ?? []) {
      const key = instanceName(node.id, service.name, this.#domain).toLowerCase();
      const local = this.#local.get(key);
      if (!local) continue;
      for (const timer of local.timers) clearTimeout(timer);
      this.#local.delete(key);
      this.#tombstones.set(key, now + TOMBSTONE_MS);
      const known = this.#known?.get(key);
      if (known) {
        this.#known?.delete(key);
        this.#emit('delete', known.service);
      }
      goodbyes.push(this.#goodbye(local));
    }
    await Promise.all(goodbyes);
    this.#updateRef();
  }

  /**
   * Asks the group who runs the service (a PTR query for `<name>.<domain>`) and collects
   * the answers for `timeout` ms, so every call takes that long. Goodbye records are
   * dropped; an IPv4 address is preferred over IPv6. Nodes this registry publishes are
   * included without asking.
   * @param name the service name
   * @returns one Service per version with its nodes; service-level metadata is always
   *   empty (go-micro's mDNS records do not carry it)
   * @throws {@link MicroError} 404 when nobody answered for the service; 400 when the
   *   name cannot be a DNS name; 503 when the query cannot be sent
   */
  async getService(name: string): Promise<Service[]> {
    const question = this.#checkedName(name);
    const sockets = await this.#start();
    const found = new Map<string, Service>();
    for (const local of this.#local.values()) {
      if (local.service.name === name) found.set(local.service.nodes[0]!.id, local.service);
    }
    const collect: Collector = ({ entries, goodbyes }) => {
      for (const entry of entries) {
        if (nodeIdOf(entry.instance, name, this.#domain) === undefined) continue;
        const service = this.#decode(entry);
        if (service?.name === name) found.set(service.nodes[0]!.id, service);
      }
      for (const instance of goodbyes) {
        const id = nodeIdOf(instance, name, this.#domain);
        if (id !== undefined && !this.#local.has(instance.toLowerCase())) found.delete(id);
      }
    };
    await this.#lookup(sockets, question, collect);
    if (found.size === 0) throw notFound(ErrorIds.registry, `service ${name}: not found`);
    return mergeByVersion(found.values());
  }

  /**
   * Asks the group for every service (a PTR query for `_services.<domain>`, answered by
   * go-micro's per-service wildcard entries) and collects names for `timeout` ms.
   * @returns one entry per service name, with an empty version and no nodes: go-micro's
   *   mDNS layout publishes names only (call {@link getService} for versions and nodes)
   * @throws {@link MicroError} 503 when the query cannot be sent
   */
  async listServices(): Promise<Service[]> {
    const sockets = await this.#start();
    const names = new Set<string>();
    for (const local of this.#local.values()) names.add(local.service.name);
    const collect: Collector = ({ entries }) => {
      for (const entry of entries) {
        const name = serviceOfWildcard(entry.instance, this.#domain);
        if (name !== undefined) names.add(name);
      }
    };
    await this.#lookup(sockets, listName(this.#domain), collect);
    return [...names].map((name) =>
      normalizeService({ name, version: '', metadata: {}, endpoints: [], nodes: [] }),
    );
  }

  /**
   * Watches the group: announcements and answers report `create`, a node announcing
   * changed records `update`, goodbye records `delete`. Nodes seen are asked for again
   * before their record TTL (120 s) runs out; one that stops answering for longer than
   * its TTL is reported deleted. Resolves once the socket listens.
   * @param options `service` to watch one service only
   * @returns the watcher; nodes that existed before the watch are reported only once
   *   they announce or answer
   * @throws {@link MicroError} 503 when the registry is closed or cannot open its sockets
   */
  async watch(options: WatchOptions = {}): Promise<Watcher> {
    await this.#start();
    if (this.#closed) throw this.#closedError();
    if (!this.#known) {
      const known = new Map<string, KnownNode>();
      for (const [key, node] of this.#local) known.set(key, this.#knownLocal(node));
      this.#known = known;
    }
    const entry = {
      watcher: new QueueWatcher(() => {
        this.#watchers.delete(entry);
        if (this.#watchers.size === 0) this.#stopTracking();
        this.#updateRef();
      }),
      service: options.service,
    };
    this.#watchers.add(entry);
    this.#updateRef();
    return entry.watcher;
  }

  /**
   * Sends goodbye records for every node still registered here, stops the watches and
   * closes the sockets. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const sockets = await this.#starting?.catch(() => undefined);
    this.#stopTracking();
    const locals = [...this.#local.values()];
    this.#local.clear();
    for (const local of locals) for (const timer of local.timers) clearTimeout(timer);
    if (sockets) await Promise.all(locals.map((local) => this.#goodbye(local)));
    for (const { watcher } of [...this.#watchers]) watcher.stop();
    this.#collectors.clear();
    if (sockets) {
      this.#sockets = undefined;
      await Promise.all([
        this.#destroy(sockets.main, sockets.mainSocket, sockets.memberships),
        this.#destroy(sockets.query, sockets.querySocket, []),
      ]);
    }
  }

  // ---------------------------------------------------------------------------------
  // registering

  /** Validates and encodes every node before anything is published. */
  #prepare(service: Service): LocalNode[] {
    if (typeof service?.name !== 'string' || service.name.length === 0) {
      throw badRequest(ErrorIds.registry, 'mdns: a service needs a name');
    }
    const prepared: LocalNode[] = [];
    for (const node of service.nodes ?? []) {
      if (typeof node.id !== 'string' || node.id.length === 0) {
        throw badRequest(ErrorIds.registry, `mdns: a node of ${service.name} has no id`);
      }
      let host: ReturnType<typeof parseAddress>;
      try {
        host = parseAddress(node.address);
      } catch (error) {
        throw badRequest(ErrorIds.registry, `mdns: node ${node.id}: ${message(error)}`, error);
      }
      const instance = instanceName(node.id, service.name, this.#domain);
      const problem =
        invalidDnsName(instance) ?? invalidDnsName(wildcardName(service.name, this.#domain));
      if (problem) throw badRequest(ErrorIds.registry, `mdns: node ${node.id}: ${problem}`);
      const zone: Zone = {
        ptrName: serviceName(service.name, this.#domain),
        instance,
        hostname: this.#hostname,
        ip: host.ip,
        family: host.family,
        port: host.port,
        txt: encodeMdnsTxt(
          { name: service.name, version: service.version ?? '', endpoints: service.endpoints },
          node,
        ),
      };
      const size = packetSize(serviceRecords(zone, MDNS_RECORD_TTL));
      if (size > MAX_UDP_PAYLOAD) {
        throw payloadTooLarge(
          ErrorIds.registry,
          `mdns: the records of node ${node.id} take ${size} bytes, more than one UDP packet holds`,
        );
      }
      if (size > MDNS_PACKET_LIMIT) {
        this.#logger.warn('mdns: records larger than an mDNS packet should be', {
          node: node.id,
          bytes: size,
        });
      }
      const local = this.#decode(this.#entryOf(zone));
      if (!local) throw badRequest(ErrorIds.registry, `mdns: node ${node.id} cannot be encoded`);
      prepared.push({
        zone,
        service: local,
        fingerprint: JSON.stringify([zone.txt, zone.ip, zone.port]),
        timers: [],
      });
    }
    return prepared;
  }

  #entryOf(zone: Zone): MdnsEntry {
    return {
      instance: zone.instance,
      host: zone.hostname,
      port: zone.port,
      ipv4: zone.family === 4 ? zone.ip : undefined,
      ipv6: zone.family === 6 ? zone.ip : undefined,
      txt: zone.txt,
      ttl: MDNS_RECORD_TTL,
    };
  }

  /** Sends the node's records unsolicited now, and again on go-micro's schedule. */
  #announce(node: LocalNode): Promise<void> {
    const send = () =>
      this.#multicast({ answers: serviceRecords(node.zone, MDNS_RECORD_TTL) }, 'announcement');
    for (const delay of ANNOUNCE_DELAYS) {
      const timer = setTimeout(() => void send(), delay);
      timer.unref();
      node.timers.push(timer);
    }
    return send();
  }

  /** Sends the node's records with TTL 0 (RFC 6762 §10.1), as go-micro's `unregister`. */
  #goodbye(node: LocalNode): Promise<void> {
    return this.#multicast({ answers: serviceRecords(node.zone, 0) }, 'goodbye');
  }

  async #multicast(packet: { answers: Answer[] }, what: string): Promise<void> {
    const sockets = this.#sockets;
    if (!sockets) return;
    try {
      await this.#respond(sockets.main, packet);
    } catch (error) {
      this.#logger.warn(`mdns: could not send an ${what}`, { error: message(error) });
    }
  }

  // ---------------------------------------------------------------------------------
  // answering

  #onQuery(main: MulticastDns, packet: IncomingPacket, rinfo: RemoteInfo): void {
    if (this.#closed || !this.#accepts(rinfo.address) || !this.#isStandard(packet)) return;
    const questions = (packet.questions ?? []).filter(isQuestion);
    const groups = new Map<string, Answer[]>();
    for (const question of questions) {
      for (const [zone, answers] of this.#answer(question)) {
        const group = groups.get(zone);
        if (group) group.push(...answers);
        else groups.set(zone, [...answers]);
      }
    }
    if (groups.size === 0) return;
    // A querier not on the mDNS port is a one-shot resolver (go-micro's client is one):
    // RFC 6762 §6.7 and go-micro's server answer it by unicast, with its question.
    const unicast =
      rinfo.port !== this.#port || questions.some((question) => question.class === QU_CLASS);
    const echoed = questions.map((question) => ({
      name: question.name,
      type: question.type as Question['type'],
      class: 'IN' as const,
    }));
    const destination = unicast ? { port: rinfo.port, address: rinfo.address } : undefined;
    // One zone per packet, as go-micro (one server per node): its client takes one
    // instance from each packet.
    for (const answers of groups.values()) {
      const response = { id: unicast ? (packet.id ?? 0) : 0, questions: echoed, answers };
      this.#respond(main, response, destination).catch((error: unknown) =>
        this.#logger.debug('mdns: could not send an answer', {
          to: `${rinfo.address}:${rinfo.port}`,
          error: message(error),
        }),
      );
    }
  }

  /** The records answering one question, grouped by the zone that owns them. */
  #answer(question: IncomingQuestion): [string, Answer[]][] {
    const name = trimDot(question.name).toLowerCase();
    const type = question.type;
    const ptr = type === 'PTR' || type === 'ANY';
    const ttl = MDNS_RECORD_TTL;
    const out: [string, Answer[]][] = [];
    const services = new Map<string, string>();
    for (const node of this.#local.values()) {
      const zone = node.zone;
      services.set(node.service.name.toLowerCase(), node.service.name);
      if (name === zone.ptrName.toLowerCase()) {
        if (ptr) out.push([zone.instance, serviceRecords(zone, ttl)]);
      } else if (name === zone.instance.toLowerCase()) {
        const answers = instanceAnswer(zone, type, ttl);
        if (answers.length > 0) out.push([zone.instance, answers]);
      }
    }
    for (const service of services.values()) {
      const zone = this.#wildcard(service);
      if (name === zone.ptrName.toLowerCase()) {
        if (ptr) out.push([zone.instance, serviceRecords(zone, ttl)]);
      } else if (name === zone.instance.toLowerCase()) {
        const answers = instanceAnswer(zone, type, ttl);
        if (answers.length > 0) out.push([zone.instance, answers]);
      }
    }
    if (name === enumerationName(this.#domain).toLowerCase() && ptr && services.size > 0) {
      const enumeration = enumerationName(this.#domain);
      out.push([
        enumeration,
        [
          ...[...services.values()].map((service) =>
            ptrRecord(enumeration, serviceName(service, this.#domain), ttl),
          ),
          ptrRecord(enumeration, listName(this.#domain), ttl),
        ],
      ]);
    }
    if (
      name === this.#hostname.toLowerCase() &&
      (type === 'A' || type === 'AAAA' || type === 'ANY')
    ) {
      const seen = new Set<string>();
      const answers: Answer[] = [];
      for (const node of this.#local.values()) {
        if (seen.has(node.zone.ip)) continue;
        if (type !== 'ANY' && (type === 'A') !== (node.zone.family === 4)) continue;
        seen.add(node.zone.ip);
        answers.push(...addressRecords(node.zone, ttl));
      }
      if (answers.length > 0) out.push([this.#hostname, answers]);
    }
    return out;
  }

  /** go-micro's per-service wildcard entry: port 9999, IP 0.0.0.0, no TXT strings. */
  #wildcard(service: string): Zone {
    return {
      ptrName: listName(this.#domain),
      instance: wildcardName(service, this.#domain),
      hostname: this.#hostname,
      ip: '0.0.0.0',
      family: 4,
      port: WILDCARD_PORT,
      txt: [],
    };
  }

  // ---------------------------------------------------------------------------------
  // asking

  #checkedName(name: string): string {
    if (typeof name !== 'string' || name.length === 0) {
      throw badRequest(ErrorIds.registry, 'mdns: a service name is required');
    }
    const question = serviceName(name, this.#domain);
    const problem = invalidDnsName(question);
    if (problem) throw badRequest(ErrorIds.registry, `mdns: service name ${problem}`);
    return question;
  }

  /**
   * Sends a PTR query from the query socket and feeds every response to `collect` for
   * `timeout` ms; the query is sent again halfway in case a packet was lost.
   */
  async #lookup(sockets: Sockets, name: string, collect: Collector): Promise<void> {
    this.#collectors.add(collect);
    try {
      try {
        await this.#query(sockets.query, name);
      } catch (error) {
        throw unavailable(ErrorIds.registry, `mdns: cannot send a query: ${message(error)}`, error);
      }
      await new Promise<void>((resolve) => {
        const again = setTimeout(() => {
          this.#query(sockets.query, name).catch((error: unknown) =>
            this.#logger.debug('mdns: could not repeat a query', { error: message(error) }),
          );
        }, this.#timeout / 2);
        setTimeout(() => {
          clearTimeout(again);
          resolve();
        }, this.#timeout);
      });
    } finally {
      this.#collectors.delete(collect);
    }
  }

  #onResponse(packet: IncomingPacket, rinfo: RemoteInfo): void {
    if (this.#closed || !this.#accepts(rinfo.address) || !this.#isStandard(packet)) return;
    const content = readResponse(packet);
    const suffix = `.${this.#domain.toLowerCase()}`;
    const ours = (instance: string) => instance.toLowerCase().endsWith(suffix);
    const relevant: ResponseContent = {
      entries: content.entries.filter((entry) => ours(entry.instance)),
      goodbyes: content.goodbyes.filter(ours),
      incomplete: content.incomplete.filter(ours),
    };
    for (const instance of relevant.incomplete) {
      this.#logger.debug('mdns: ignoring an instance without TXT or address', {
        instance,
        from: rinfo.address,
      });
    }
    if (relevant.entries.length === 0 && relevant.goodbyes.length === 0) return;
    for (const collect of this.#collectors) collect(relevant);
    if (this.#known) this.#observe(relevant);
  }

  /** RFC 6762 §18.3, §18.11: messages with an OPCODE or RCODE other than 0 are ignored. */
  #isStandard(packet: IncomingPacket): boolean {
    const flags = packet.flags ?? 0;
    return ((flags >> 11) & 0xf) === 0 && (flags & 0xf) === 0;
  }

  /**
   * The single-node Service an entry describes, as go-micro decodes it; undefined (and a
   * debug log) when its TXT is not go-micro's encoding or the name does not fit.
   */
  #decode(entry: MdnsEntry): Service | undefined {
    if (serviceOfWildcard(entry.instance, this.#domain) !== undefined) return undefined;
    let txt: ReturnType<typeof decodeMdnsTxt>;
    try {
      txt = decodeMdnsTxt(entry.txt);
    } catch (error) {
      this.#logger.debug('mdns: ignoring an instance whose TXT is not go-micro encoding', {
        instance: entry.instance,
        error: message(error),
      });
      return undefined;
    }
    const id = txt.Service ? nodeIdOf(entry.instance, txt.Service, this.#domain) : undefined;
    if (id === undefined) {
      this.#logger.debug('mdns: ignoring an instance not named <node>.<service>.<domain>', {
        instance: entry.instance,
        service: txt.Service,
      });
      return undefined;
    }
    const address =
      entry.ipv4 !== undefined
        ? joinHostPort(entry.ipv4, entry.port)
        : joinHostPort(entry.ipv6 ?? '', entry.port);
    return normalizeService({
      name: txt.Service,
      version: txt.Version,
      metadata: {},
      endpoints: txt.Endpoints,
      nodes: [{ id, address, metadata: txt.Metadata }],
    });
  }

  // ---------------------------------------------------------------------------------
  // watching

  #knownLocal(node: LocalNode): KnownNode {
    return {
      service: node.service,
      fingerprint: JSON.stringify(node.service),
      local: true,
      seenAt: Date.now(),
      ttl: MDNS_RECORD_TTL * 1000,
      refreshes: 0,
    };
  }

  #observeLocal(key: string, node: LocalNode): void {
    if (!this.#known) return;
    const previous = this.#known.get(key);
    const next = this.#knownLocal(node);
    this.#known.set(key, next);
    if (!previous) this.#emit('create', node.service);
    else if (previous.fingerprint !== next.fingerprint) this.#emit('update', node.service);
  }

  #observe({ entries, goodbyes }: ResponseContent): void {
    const known = this.#known!;
    const now = Date.now();
    for (const [key, until] of this.#tombstones) if (until <= now) this.#tombstones.delete(key);
    for (const instance of goodbyes) {
      const key = instance.toLowerCase();
      const record = known.get(key);
      if (!record || record.local) continue;
      known.delete(key);
      this.#emit('delete', record.service);
    }
    for (const entry of entries) {
      const key = entry.instance.toLowerCase();
      if (this.#local.has(key) || this.#tombstones.has(key)) continue;
      const service = this.#decode(entry);
      if (!service) continue;
      const fingerprint = JSON.stringify(service);
      const previous = known.get(key);
      known.set(key, {
        service,
        fingerprint,
        local: false,
        seenAt: now,
        ttl: entry.ttl * 1000,
        refreshes: 0,
      });
      if (!previous) this.#emit('create', service);
      else if (previous.fingerprint !== fingerprint) this.#emit('update', service);
    }
    this.#scheduleSweep();
  }

  #emit(action: WatchAction, service: Service): void {
    for (const entry of this.#watchers) {
      if (entry.service === undefined || entry.service === service.name) {
        entry.watcher.push({ action, service: normalizeService(service) });
      }
    }
  }

  #nextDeadline(record: KnownNode): number {
    const fraction = REFRESH_AT[record.refreshes];
    return record.seenAt + record.ttl * (fraction ?? 1);
  }

  #scheduleSweep(): void {
    if (this.#sweepTimer) clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    if (!this.#known) return;
    let next = Number.POSITIVE_INFINITY;
    for (const record of this.#known.values()) {
      if (!record.local) next = Math.min(next, this.#nextDeadline(record));
    }
    if (next === Number.POSITIVE_INFINITY) return;
    this.#sweepTimer = setTimeout(() => this.#sweep(), Math.max(20, next - Date.now()));
    this.#sweepTimer.unref();
  }

  /** Asks again for nodes close to the end of their TTL; reports those past it deleted. */
  #sweep(): void {
    this.#sweepTimer = undefined;
    const known = this.#known;
    const sockets = this.#sockets;
    if (!known || !sockets) return;
    const now = Date.now();
    const ask = new Set<string>();
    for (const [key, record] of known) {
      if (record.local) continue;
      if (now >= record.seenAt + record.ttl) {
        known.delete(key);
        this.#emit('delete', record.service);
        continue;
      }
      while (record.refreshes < REFRESH_AT.length && now >= this.#nextDeadline(record)) {
        record.refreshes += 1;
        ask.add(record.service.name);
      }
    }
    for (const service of ask) {
      this.#query(sockets.query, serviceName(service, this.#domain)).catch((error: unknown) =>
        this.#logger.debug('mdns: could not send a refresh query', { error: message(error) }),
      );
    }
    this.#scheduleSweep();
  }

  #stopTracking(): void {
    if (this.#sweepTimer) clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#known = undefined;
  }

  // ---------------------------------------------------------------------------------
  // sockets

  #closedError() {
    return unavailable(ErrorIds.registry, 'mdns: the registry is closed');
  }

  #start(): Promise<Sockets> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (!this.#starting) {
      const starting = this.#open();
      this.#starting = starting;
      starting.catch(() => {
        if (this.#starting === starting) this.#starting = undefined;
      });
    }
    return this.#starting;
  }

  async #open(): Promise<Sockets> {
    const iface = this.#interface;
    let memberships: string[];
    if (iface) {
      const info = Object.values(networkInterfaces())
        .flat()
        .find((item) => item?.family === 'IPv4' && item.address === iface);
      if (!info) {
        throw unavailable(ErrorIds.registry, `mdns: ${iface} is not an IPv4 address of this host`);
      }
      const mask = ipToNumber(info.netmask);
      const network = ipToNumber(iface) & mask;
      this.#accepts = (address) => isIPv4(address) && (ipToNumber(address) & mask) === network;
      memberships = [iface];
    } else {
      // go-micro joins the group on every interface; one IPv4 address names each.
      memberships = Object.values(networkInterfaces()).flatMap((items) => {
        const first = items?.find((item) => item.family === 'IPv4');
        return first ? [first.address] : [];
      });
    }
    const mainSocket = createSocket({ type: 'udp4', reuseAddr: true });
    const querySocket = createSocket({ type: 'udp4' });
    const joined: string[] = [];
    try {
      await bind(mainSocket, this.#port, '0.0.0.0');
      for (const address of memberships) {
        try {
          mainSocket.addMembership(MDNS_GROUP_IPV4, address);
          joined.push(address);
        } catch (error) {
          this.#logger.debug('mdns: could not join the group', {
            interface: address,
            error: message(error),
          });
          if (iface) throw error;
        }
      }
      if (joined.length === 0) throw new Error('could not join the mDNS group on any interface');
      await bind(querySocket, 0, iface ?? '0.0.0.0');
      for (const socket of [mainSocket, querySocket]) {
        if (iface) socket.setMulticastInterface(iface);
        socket.setMulticastTTL(255);
        socket.setMulticastLoopback(true);
      }
    } catch (error) {
      for (const socket of [mainSocket, querySocket]) {
        try {
          socket.close();
        } catch {
          // not bound yet
        }
      }
      throw unavailable(
        ErrorIds.registry,
        `mdns: cannot listen on udp port ${this.#port}: ${message(error)}`,
        error,
      );
    }
    const options = {
      bind: false as const,
      multicast: false,
      port: this.#port,
      ip: MDNS_GROUP_IPV4,
    };
    const main = makeMdns({ ...options, socket: mainSocket });
    const query = makeMdns({ ...options, socket: querySocket });
    for (const instance of [main, query]) {
      instance.on('response', (packet: IncomingPacket, rinfo: RemoteInfo) =>
        this.#guard('response', rinfo, () => this.#onResponse(packet, rinfo)),
      );
      instance.on('warning', (error: Error) =>
        this.#logger.debug('mdns: ignoring a malformed packet', { error: message(error) }),
      );
      instance.on('error', (error: Error) =>
        this.#logger.error('mdns: socket error', { error: message(error) }),
      );
    }
    main.on('query', (packet: IncomingPacket, rinfo: RemoteInfo) =>
      this.#guard('query', rinfo, () => this.#onQuery(main, packet, rinfo)),
    );
    const sockets: Sockets = { main, mainSocket, query, querySocket, memberships: joined };
    this.#sockets = sockets;
    this.#updateRef();
    this.#logger.debug('mdns: listening', {
      port: this.#port,
      interface: iface ?? 'all',
      queryPort: querySocket.address().port,
    });
    return sockets;
  }

  /** Packets come from the network: nothing in them may crash the process. */
  #guard(what: string, rinfo: RemoteInfo, handle: () => void): void {
    try {
      handle();
    } catch (error) {
      this.#logger.debug(`mdns: ignoring a ${what} that could not be handled`, {
        from: `${rinfo.address}:${rinfo.port}`,
        error: message(error),
      });
    }
  }

  #respond(
    instance: MulticastDns,
    packet: { id?: number; questions?: Question[]; answers: Answer[] },
    destination?: { port: number; address: string },
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error: Error | null) => (error ? reject(error) : resolve());
      try {
        if (destination) instance.respond(packet, destination, done);
        else instance.respond(packet, done);
      } catch (error) {
        reject(error);
      }
    });
  }

  #query(instance: MulticastDns, name: string): Promise<void> {
    const packet = { questions: [{ name, type: 'PTR' as const, class: 'IN' as const }] };
    return new Promise((resolve, reject) => {
      try {
        instance.query(packet, (error: Error | null) => (error ? reject(error) : resolve()));
      } catch (error) {
        reject(error);
      }
    });
  }

  /** Sockets keep the process alive only while something is published or watched. */
  #updateRef(): void {
    const sockets = this.#sockets;
    if (!sockets) return;
    const busy = this.#local.size > 0 || this.#watchers.size > 0;
    for (const socket of [sockets.mainSocket, sockets.querySocket]) {
      if (busy) socket.ref();
      else socket.unref();
    }
  }

  #destroy(instance: MulticastDns, socket: Socket, memberships: string[]): Promise<void> {
    for (const address of memberships) {
      try {
        socket.dropMembership(MDNS_GROUP_IPV4, address);
      } catch {
        // the socket may already be gone
      }
    }
    return new Promise((resolve) => instance.destroy(() => resolve()));
  }
}

function bind(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    socket.once('error', onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

/**
 * Creates go-micro's default registry: mDNS, with no server to run.
 * @param options interface, port, domain, timeout and logger
 * @returns a registry that starts its sockets on first use
 * @throws {@link MicroError} 400 when an option is invalid
 * @example
 * // keep discovery on this host, on a port of its own
 * const registry = createMdnsRegistry({ interface: '127.0.0.1', port: 15353 });
 */
export function createMdnsRegistry(options: MdnsRegistryOptions = {}): MdnsRegistry {
  return new MdnsRegistry(options);
}
